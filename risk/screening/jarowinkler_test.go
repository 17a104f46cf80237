package screening

import (
	"math"
	"testing"
)

// TestJaroWinklerPublishedValues checks the similarity against the values
// published by Winkler (1990) and used in every reference since.
func TestJaroWinklerPublishedValues(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{
		{"MARTHA", "MARHTA", 0.961},
		{"DWAYNE", "DUANE", 0.840},
		{"DIXON", "DICKSONX", 0.813},
		{"JELLYFISH", "SMELLYFISH", 0.896},
		{"", "", 1},
		{"ABC", "", 0},
		{"ABC", "XYZ", 0},
		{"SAME", "SAME", 1},
	} {
		got := JaroWinkler(c.a, c.b)
		if math.Abs(got-c.want) > 0.0005 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.3f", c.a, c.b, got, c.want)
		}
		if back := JaroWinkler(c.b, c.a); math.Abs(back-got) > 1e-12 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f but the reverse is %.4f", c.a, c.b, got, back)
		}
	}
	// Jaro alone (no prefix boost): MARTHA/MARHTA 0.944, DWAYNE/DUANE 0.822.
	for _, c := range []struct {
		a, b string
		want float64
	}{{"MARTHA", "MARHTA", 0.944}, {"DWAYNE", "DUANE", 0.822}, {"DIXON", "DICKSONX", 0.767}} {
		if got := jaro([]rune(c.a), []rune(c.b)); math.Abs(got-c.want) > 0.0005 {
			t.Errorf("jaro(%q, %q) = %.4f, want %.3f", c.a, c.b, got, c.want)
		}
	}
}

func TestJaroWinklerLongStrings(t *testing.T) {
	a := "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz"
	if got := JaroWinkler(a, a); got != 1 {
		t.Fatalf("a long string against itself: %v", got)
	}
	if got := JaroWinkler(a, a[:len(a)-1]); got < 0.99 || got >= 1 {
		t.Fatalf("a long string against itself less one letter: %v", got)
	}
}
