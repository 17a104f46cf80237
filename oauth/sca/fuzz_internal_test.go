package sca

import (
	"strings"
	"testing"
)

// FuzzNormaliseRecoveryCode: whatever a customer types, the normal form is
// "" or 12 symbols of the alphabet, and a code written back in its shown
// form ("xxxx-xxxx-xxxx") normalises to itself.
func FuzzNormaliseRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn", "ABCD EFGH JKMN", "0000-0000-000u", "iloo-iloo-iloo", "", "----", "abcd-efgh-jkmn0", "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n := normaliseRecoveryCode(in)
		if n == "" {
			return
		}
		if len(n) != 12 {
			t.Fatalf("%q → %q: not 12 symbols", in, n)
		}
		for _, r := range n {
			if !strings.ContainsRune(recoveryAlphabet, r) {
				t.Fatalf("%q → %q: %q is not in the alphabet", in, n, r)
			}
		}
		if again := normaliseRecoveryCode(n[:4] + "-" + n[4:8] + "-" + n[8:]); again != n {
			t.Fatalf("%q → %q, shown form → %q", in, n, again)
		}
	})
}

func TestNewRecoveryCodeNormalises(t *testing.T) {
	for i := 0; i < 1000; i++ {
		c := newRecoveryCode()
		if n := normaliseRecoveryCode(c); n != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("%q normalises to %q", c, n)
		}
	}
}
