package screening

import (
	"strings"
	"testing"
)

// fixtureEntries is a small list set for the matching tests.
func fixtureEntries() []Entry {
	return []Entry{
		{List: "uk-hmt", Reference: "15001", Name: "Aleksandr Ivanovich PETROV", Kind: "individual",
			Aliases: []Alias{{Name: "Alexander PETROFF", Type: "AKA"}}},
		{List: "ofac-sdn", Reference: "1001", Name: "IVANOV, Sergei Petrovich", Kind: "individual"},
		{List: "ofac-sdn", Reference: "1003", Name: "MULLER HANDELS GMBH", Kind: "entity",
			Aliases: []Alias{{Name: "MUELLER TRADING COMPANY", Type: "fka"}}},
		{List: "internal-watch", Reference: "W-1", Name: "José Fernández García"},
		{List: "pep", Reference: "P-1", Name: "Zhang Wei"},
		{List: "ofac-sdn", Reference: "1004", Name: "AL-RASHID, Hassan Ali", Kind: "individual",
			Aliases: []Alias{{Name: "ABU ALI", Type: "aka"}}},
	}
}

func TestIndexMatch(t *testing.T) {
	x := NewIndex(fixtureEntries(), 1)
	for _, c := range []struct {
		name, query string
		// want is "list/reference" of the best match, "" for none.
		want, matched, method string
		alias                 bool
	}{
		{name: "ok/exact", query: "Sergei Petrovich Ivanov", want: "ofac-sdn/1001", matched: "IVANOV, Sergei Petrovich", method: MethodSortedTokens},
		{name: "ok/cyrillic-transliterated-matches-latin-entry", query: "Иванов Сергей Петрович",
			want: "ofac-sdn/1001", matched: "IVANOV, Sergei Petrovich", method: MethodSortedTokens},
		{name: "ok/reordered", query: "PETROV Aleksandr Ivanovich", want: "uk-hmt/15001", matched: "Aleksandr Ivanovich PETROV", method: MethodSortedTokens},
		{name: "ok/cyrillic-against-latin-uk-entry", query: "Петров Александр Иванович", want: "uk-hmt/15001", matched: "Aleksandr Ivanovich PETROV", method: MethodSortedTokens},
		{name: "ok/alias", query: "Alexander Petroff", want: "uk-hmt/15001", matched: "Alexander PETROFF", alias: true, method: MethodSortedTokens},
		{name: "ok/diacritics", query: "Jose Fernandez Garcia", want: "internal-watch/W-1", matched: "José Fernández García", method: MethodSortedTokens},
		{name: "ok/legal-form-noise", query: "Muller Handels Ltd", want: "ofac-sdn/1003", matched: "MULLER HANDELS GMBH", method: MethodSortedTokens},
		{name: "ok/one-letter-slip", query: "Sergey Petrovich Ivanof", want: "ofac-sdn/1001", matched: "IVANOV, Sergei Petrovich", method: MethodTokenAlignment},
		{name: "ok/fewer-tokens", query: "Sergei Ivanov", want: "ofac-sdn/1001", matched: "IVANOV, Sergei Petrovich", method: MethodTokenAlignment},
		{name: "ok/reversed-two-tokens", query: "Wei Zhang", want: "pep/P-1", matched: "Zhang Wei", method: MethodSortedTokens},
		{name: "fail/below-threshold-other-surname", query: "Sergei Ivanenko", want: ""},
		{name: "fail/below-threshold-other-first-name", query: "Aleksei Petrov", want: ""},
		{name: "fail/common-first-name-only", query: "Aleksandr Smith", want: ""},
		{name: "fail/one-token-of-a-longer-name", query: "Ivanov", want: ""},
		{name: "fail/unrelated", query: "Acme Widgets", want: ""},
		{name: "fail/only-punctuation", query: "...", want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ms := x.Match(c.query, DefaultThreshold)
			if c.want == "" {
				if len(ms) != 0 {
					t.Fatalf("Match(%q) = %+v, want none", c.query, ms)
				}
				return
			}
			if len(ms) == 0 {
				t.Fatalf("Match(%q): none, want %s", c.query, c.want)
			}
			m := ms[0]
			if got := m.List + "/" + m.Reference; got != c.want || m.MatchedName != c.matched || m.Alias != c.alias || m.Method != c.method {
				t.Fatalf("Match(%q) = %s via %q (alias %v, %s), want %s via %q (alias %v, %s)\n%+v",
					c.query, got, m.MatchedName, m.Alias, m.Method, c.want, c.matched, c.alias, c.method, m)
			}
			if m.Score < DefaultThreshold || m.Score > 1 || m.Query != Normalize(c.query) || m.Candidate != Normalize(m.MatchedName) {
				t.Fatalf("explanation %+v", m)
			}
			if m.Method == MethodTokenAlignment && len(m.Pairs) == 0 {
				t.Fatalf("token alignment without its pairs: %+v", m)
			}
		})
	}
}

func TestIndexExplainsTransliteration(t *testing.T) {
	ms := NewIndex(fixtureEntries(), 1).Match("Сергей Иванов", DefaultThreshold)
	if len(ms) != 1 {
		t.Fatalf("matches %+v", ms)
	}
	m := ms[0]
	if m.Query != "sergey ivanov" || m.Method != MethodTokenAlignment || m.Candidate != "ivanov sergei petrovich" || m.EntryName != "IVANOV, Sergei Petrovich" ||
		m.Kind != "individual" || m.Alias {
		t.Fatalf("explanation %+v", m)
	}
	var pairs []string
	for _, p := range m.Pairs {
		pairs = append(pairs, p.Query+"="+p.Candidate)
	}
	if got := strings.Join(pairs, " "); got != "sergey=sergei ivanov=ivanov" {
		t.Fatalf("pairs %s", got)
	}
	if m.Score != 0.933 {
		t.Fatalf("score %v", m.Score)
	}
}

func TestIndexThresholdIsApplied(t *testing.T) {
	x := NewIndex(fixtureEntries(), 1)
	if ms := x.Match("Sergey Petrovich Ivanof", 0.99); len(ms) != 0 {
		t.Fatalf("a 0.99 threshold still matched %+v", ms)
	}
	if ms := x.Match("Sergei Ivanenko", 0.85); len(ms) == 0 {
		t.Fatalf("a 0.80 threshold found nothing for a near name")
	}
}

func TestIndexOneMatchPerEntryBestFirst(t *testing.T) {
	entries := []Entry{
		{List: "a", Reference: "1", Name: "John Smith", Aliases: []Alias{{Name: "Jon Smith"}, {Name: "John Smyth"}}},
		{List: "b", Reference: "2", Name: "Jon Smith"},
	}
	ms := NewIndex(entries, 1).Match("John Smith", DefaultThreshold)
	if len(ms) != 2 || ms[0].Reference != "1" || ms[0].Alias || ms[0].Score != 1 || ms[1].Reference != "2" {
		t.Fatalf("matches %+v", ms)
	}
}
