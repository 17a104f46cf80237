package ids

import "testing"

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := New("pay")
		if !HasPrefix(id, "pay") {
			t.Fatalf("New(pay) = %q: not recognised by HasPrefix", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"pay", "pay_", "cns_0123456789abcdefghjkmnpqrs", "pay_0123456789abcdefghjkmnpqrU", "pay_0123456789abcdefghjkmnpqrstv"} {
		if HasPrefix(bad, "pay") {
			t.Errorf("HasPrefix(%q, pay) = true", bad)
		}
	}
}
