package screening

import (
	"math/rand"
	"strings"
	"testing"
)

// syntheticEntries makes n list entries of two to four tokens from common
// syllables (deterministic), a tenth of them with an alias.
func syntheticEntries(n int) []Entry {
	r := rand.New(rand.NewSource(16))
	syl := []string{"al", "an", "ar", "ba", "ben", "da", "de", "el", "fa", "ga", "ha", "hu", "i", "ka", "ko", "la", "li", "ma", "me",
		"mo", "na", "ni", "o", "pe", "ra", "ri", "sa", "se", "sha", "ta", "to", "va", "vi", "ya", "za", "rov", "ov", "ev", "in", "ski"}
	token := func() string {
		var b strings.Builder
		for k := 2 + r.Intn(3); k > 0; k-- {
			b.WriteString(syl[r.Intn(len(syl))])
		}
		return b.String()
	}
	name := func() string {
		t := make([]string, 2+r.Intn(3))
		for i := range t {
			t[i] = token()
		}
		return strings.Join(t, " ")
	}
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{List: "synthetic", Reference: itoa(i + 1), Name: name()}
		if i%10 == 0 {
			out[i].Aliases = []Alias{{Name: name(), Type: "aka"}}
		}
	}
	return out
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkScreen20k is one screen of a three-token name against a
// 20,000-entry list (22,000 names) in memory: the cost on the payment path.
func BenchmarkScreen20k(b *testing.B) {
	x := NewIndex(syntheticEntries(20000), 1)
	queries := []string{"Maria Fernanda Rodriguez", "Иванов Сергей Петрович", "Northern Star Shipping LLC", "kamari dalev"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.Match(queries[i%len(queries)], DefaultThreshold)
	}
}

// TestSyntheticListFindsItsOwnNames: the prefilter does not lose entries of
// the benchmark's list screened by their own name or with one letter
// changed.
func TestSyntheticListFindsItsOwnNames(t *testing.T) {
	es := syntheticEntries(20000)
	x := NewIndex(es, 1)
	for i := 0; i < len(es); i += 997 {
		e := es[i]
		if ms := x.Match(e.Name, 1); len(ms) == 0 {
			t.Fatalf("%q does not find itself", e.Name)
		}
		// the second letter of the first token changed
		rs := []rune(e.Name)
		rs[1] = 'x'
		found := false
		for _, m := range x.Match(string(rs), 0.85) {
			found = found || m.Reference == e.Reference
		}
		if !found {
			t.Fatalf("%q (from %q) does not find it", string(rs), e.Name)
		}
	}
}
