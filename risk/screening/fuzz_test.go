package screening

import (
	"math"
	"testing"
	"unicode/utf8"
)

// checkEntries is what every accepted file must give: valid entries with
// UTF-8 text.
func checkEntries(t *testing.T, es []Entry, err error) {
	if err != nil {
		if _, ok := err.(*ParseError); !ok {
			t.Fatalf("error %T %v, want *ParseError", err, err)
		}
		if es != nil {
			t.Fatalf("entries with an error: %+v", es)
		}
		return
	}
	if len(es) == 0 {
		t.Fatal("no entries and no error")
	}
	seen := map[string]bool{}
	for _, e := range es {
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted entry %+v: %v", e, err)
		}
		if seen[e.List+"\x00"+e.Reference] {
			t.Fatalf("reference %s of %s twice", e.Reference, e.List)
		}
		seen[e.List+"\x00"+e.Reference] = true
		if !utf8.ValidString(e.Name) {
			t.Fatalf("name %q not UTF-8", e.Name)
		}
	}
}

func FuzzParseOFACSDN(f *testing.F) {
	f.Add(mustRead(f, "sdn.csv"), mustRead(f, "alt.csv"))
	f.Add([]byte(`1,"A",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- `), []byte(`1,2,"aka","B",-0- `))
	f.Fuzz(func(t *testing.T, sdn, alt []byte) {
		es, err := ParseOFACSDN(sdn, alt)
		checkEntries(t, es, err)
	})
}

func FuzzParseUKCSV(f *testing.F) {
	f.Add(mustRead(f, "ConList.csv"))
	f.Add([]byte("Last Updated,1\nName 6,Name 1,Name 2,Name 3,Name 4,Name 5,Alias Type,Group ID\nB,A,,,,,AKA,1\nC,A,,,,,Primary name,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseUKCSV(b)
		checkEntries(t, es, err)
	})
}

func FuzzParseSimpleCSV(f *testing.F) {
	f.Add(mustRead(f, "watchlist.csv"))
	f.Add([]byte("name,list,reference\n\"a,b\",l,1\na,l,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseSimpleCSV(b)
		checkEntries(t, es, err)
	})
}

// FuzzMatch: normalisation never panics and gives lower-case ASCII-or-letter
// tokens; a name always matches itself with score 1; scores are in [0, 1].
func FuzzMatch(f *testing.F) {
	for _, s := range []string{"Иванов Сергей", "José García", "ООО Ltd", "Νικόλαος", "حسن علي", "a", "Ї й"} {
		f.Add(s, "Sergei Ivanov")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if s := JaroWinkler(a, b); s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("JaroWinkler(%q, %q) = %v", a, b, s)
		}
		if !utf8.ValidString(a) || len(a) > MaxNameLength {
			return
		}
		if Normalize(a) == "" {
			return
		}
		x := NewIndex([]Entry{{List: "l", Reference: "1", Name: a}}, 1)
		ms := x.Match(a, 1)
		if len(ms) != 1 || ms[0].Score != 1 {
			t.Fatalf("%q against itself: %+v", a, ms)
		}
		for _, m := range x.Match(b, 0.5) {
			if m.Score < 0.5 || m.Score > 1 {
				t.Fatalf("score %v", m.Score)
			}
		}
	})
}
