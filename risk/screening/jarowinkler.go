package screening

// Jaro–Winkler similarity (Winkler 1990): the Jaro similarity of two
// strings, raised for a common prefix of up to four characters by the
// scaling factor 0.1 when the Jaro similarity is above the boost threshold
// 0.7. Compared by runes. Published values it reproduces (tested):
// MARTHA/MARHTA 0.961, DWAYNE/DUANE 0.840, DIXON/DICKSONX 0.813.

const (
	jwPrefixScale = 0.1
	jwMaxPrefix   = 4
	jwBoost       = 0.7
)

// JaroWinkler returns the Jaro–Winkler similarity of a and b, from 0 (nothing
// in common) to 1 (equal). Two empty strings are equal (1).
func JaroWinkler(a, b string) float64 {
	return jaroWinklerRunes([]rune(a), []rune(b))
}

func jaroWinklerRunes(a, b []rune) float64 {
	j := jaro(a, b)
	if j <= jwBoost {
		return j
	}
	l := 0
	for l < len(a) && l < len(b) && l < jwMaxPrefix && a[l] == b[l] {
		l++
	}
	return j + float64(l)*jwPrefixScale*(1-j)
}

// jaro is the Jaro similarity: m matching characters (equal and no further
// apart than max(len)/2 - 1), t half the transpositions among them:
// (m/|a| + m/|b| + (m-t)/m) / 3.
func jaro(a, b []rune) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	window := len(b)/2 - 1
	if window < 0 {
		window = 0
	}
	// Names are short: stack buffers avoid allocating on the hot path.
	var ma, mb [64]bool
	var aMatched, bMatched []bool
	if len(b) <= len(mb) {
		aMatched, bMatched = ma[:len(a)], mb[:len(b)]
	} else {
		aMatched, bMatched = make([]bool, len(a)), make([]bool, len(b))
	}
	m := 0
	for i := range a {
		lo, hi := i-window, i+window+1
		if lo < 0 {
			lo = 0
		}
		if hi > len(b) {
			hi = len(b)
		}
		for k := lo; k < hi; k++ {
			if !bMatched[k] && a[i] == b[k] {
				aMatched[i], bMatched[k] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, k := 0, 0
	for i := range a {
		if !aMatched[i] {
			continue
		}
		for !bMatched[k] {
			k++
		}
		if a[i] != b[k] {
			t++
		}
		k++
	}
	fm := float64(m)
	return (fm/float64(len(a)) + fm/float64(len(b)) + (fm-float64(t)/2)/fm) / 3
}
