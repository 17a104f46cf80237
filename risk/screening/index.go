package screening

import (
	"math/bits"
	"sort"
	"strings"
	"sync"
)

// DefaultThreshold is the similarity at or above which a name matches
// (Config.Threshold). At 0.92 a one-letter slip or transliteration variant
// in a token still matches (SERGEY/SERGEI and IVANOF/IVANOV score 0.933,
// HASAN/HASSAN 0.961), while a different name with a common stem does not
// (IVANENKO/IVANOV 0.892, ALEKSEI/ALEKSANDR 0.854; tested in
// index_test.go). Lower it to catch more transliteration variants
// (MOHAMMED/MUHAMMAD) at the cost of more false positives to review.
const DefaultThreshold = 0.92

// The comparison methods of a Match.
const (
	// MethodSortedTokens compares both names' tokens sorted and joined by
	// one space ("PUTIN VLADIMIR" = "VLADIMIR PUTIN").
	MethodSortedTokens = "sorted tokens"
	// MethodTokenAlignment pairs each token of the name with fewer tokens
	// with its best counterpart in the other (each used once, best pairs
	// first); the score is the lowest pair's, so every token must match
	// ("Sergei Ivanov" matches "IVANOV, Sergei Petrovich"; "Sergei Ivanenko"
	// does not, however exact its first name). It needs at least two tokens
	// on each side, so one common word never matches a longer name.
	MethodTokenAlignment = "token alignment"
)

// indexedName is one name (primary or alias) of an entry, normalised.
type indexedName struct {
	entry  int32
	alias  int32 // -1: the primary name
	tokens [][]rune
	words  []string
	sorted []rune
	norm   string
}

// Index is the in-memory matcher over a set of entries. Its prefilter is a
// blocking index: every token of every name is filed under two keys, its
// first two letters and its first and last letters; a name is compared
// only when at least as many tokens of the screened name as the name with
// fewer tokens has share a key with it (every token must match for the
// token alignment). So a slip anywhere but in both the second and the last
// letter of a token still finds the name.
// An Index is immutable and safe for concurrent use.
type Index struct {
	entries []Entry
	names   []indexedName
	blocks  map[string][]int32
	// version is the lists' version the entries were read at.
	version int64
	scratch sync.Pool
}

// NewIndex indexes entries (version: see Store.Version).
func NewIndex(entries []Entry, version int64) *Index {
	x := &Index{entries: entries, blocks: map[string][]int32{}, version: version}
	for i, e := range entries {
		x.add(int32(i), -1, e.Name)
		for k, a := range e.Aliases {
			x.add(int32(i), int32(k), a.Name)
		}
	}
	n := len(x.names)
	x.scratch.New = func() any { return &scratch{mask: make([]uint64, n)} }
	return x
}

func (x *Index) add(entry, alias int32, name string) {
	words := Tokens(name)
	if len(words) == 0 {
		return
	}
	in := indexedName{entry: entry, alias: alias, words: words, norm: strings.Join(words, " "), sorted: []rune(sortedForm(words))}
	for _, w := range words {
		r := []rune(w)
		in.tokens = append(in.tokens, r)
	}
	id := int32(len(x.names))
	x.names = append(x.names, in)
	seen := map[string]bool{}
	for _, t := range in.tokens {
		for _, k := range blockKeys(t) {
			if !seen[k] {
				seen[k] = true
				x.blocks[k] = append(x.blocks[k], id)
			}
		}
	}
}

// blockKeys are a token's blocking keys: "p" + its first two runes (the
// whole token if shorter) and "e" + its first and last runes.
func blockKeys(t []rune) [2]string {
	p := t
	if len(p) > 2 {
		p = p[:2]
	}
	return [2]string{"p" + string(p), "e" + string([]rune{t[0], t[len(t)-1]})}
}

// Len is the number of entries.
func (x *Index) Len() int { return len(x.entries) }

// Version is the lists' version the index was built from.
func (x *Index) Version() int64 { return x.version }

type scratch struct {
	mask    []uint64
	touched []int32
}

// Match returns the entries with a name scoring at least threshold against
// name, one Match per entry (its best-scoring name), best first (then by
// list and reference).
func (x *Index) Match(name string, threshold float64) []Match {
	words := Tokens(name)
	if len(words) == 0 || len(x.names) == 0 {
		return nil
	}
	if len(words) > 64 {
		words = words[:64]
	}
	q := indexedName{entry: -1, words: words, norm: strings.Join(words, " "), sorted: []rune(sortedForm(words))}
	for _, w := range words {
		r := []rune(w)
		q.tokens = append(q.tokens, r)
	}
	sc := x.scratch.Get().(*scratch)
	defer func() {
		for _, id := range sc.touched {
			sc.mask[id] = 0
		}
		sc.touched = sc.touched[:0]
		x.scratch.Put(sc)
	}()
	for i, t := range q.tokens {
		bit := uint64(1) << uint(i)
		for _, k := range blockKeys(t) {
			for _, id := range x.blocks[k] {
				if sc.mask[id] == 0 {
					sc.touched = append(sc.touched, id)
				}
				sc.mask[id] |= bit
			}
		}
	}
	best := map[int32]Match{}
	for _, id := range sc.touched {
		n := &x.names[id]
		need := min(len(q.tokens), len(n.tokens))
		if bits.OnesCount64(sc.mask[id]) < need {
			continue
		}
		m, ok := compare(&q, n, threshold)
		if !ok {
			continue
		}
		if prev, seen := best[n.entry]; seen && (prev.Score > m.Score || prev.Score == m.Score && !prev.Alias) {
			continue
		}
		e := x.entries[n.entry]
		m.List, m.Reference, m.EntryName, m.Kind, m.Program = e.List, e.Reference, e.Name, e.Kind, e.Program
		m.MatchedName = e.Name
		if n.alias >= 0 {
			a := e.Aliases[n.alias]
			m.Alias, m.AliasType, m.MatchedName = true, a.Type, a.Name
		}
		best[n.entry] = m
	}
	out := make([]Match, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].List != out[j].List {
			return out[i].List < out[j].List
		}
		return out[i].Reference < out[j].Reference
	})
	return out
}

// compare scores q against n by both methods and keeps the better.
func compare(q, n *indexedName, threshold float64) (Match, bool) {
	m := Match{Query: q.norm, Candidate: n.norm, Method: MethodSortedTokens}
	if jwBound(len(q.sorted), len(n.sorted)) >= threshold-roundSlack {
		m.Score = jaroWinklerRunes(q.sorted, n.sorted)
	}
	if len(q.tokens) >= 2 && len(n.tokens) >= 2 && m.Score < 1 {
		if s, pairs := align(q, n, threshold); s > m.Score {
			m.Score, m.Method, m.Pairs = s, MethodTokenAlignment, pairs
		}
	}
	m.Score = round3(m.Score)
	return m, m.Score >= threshold
}

// jwBound is the highest Jaro–Winkler similarity two strings of lengths a
// and b can have: all of the shorter one matching in order, and the longest
// common prefix.
func jwBound(a, b int) float64 {
	if a == 0 || b == 0 {
		return 1
	}
	s, l := float64(min(a, b)), float64(max(a, b))
	j := (2 + s/l) / 3
	return j + jwMaxPrefix*jwPrefixScale*(1-j)
}

// roundSlack is how far below the threshold a score still rounds up to it.
const roundSlack = 0.0005

// round3 rounds a score to three decimals, as it is shown and compared.
func round3(s float64) float64 { return float64(int64(s*1000+0.5)) / 1000 }

// align pairs the tokens of the name with fewer tokens (a tie: the
// screened name) with the other's, best pairs first, each token used once,
// and returns the lowest pair's score.
//
// Pairs below floor are not computed exactly: once a token has no
// counterpart at floor or above, align returns its best score (below floor)
// without pairs.
func align(q, n *indexedName, floor float64) (float64, []TokenPair) {
	short, long := q, n
	swapped := false
	if len(n.tokens) < len(q.tokens) {
		short, long, swapped = n, q, true
	}
	type cell struct {
		i, j int
		s    float64
	}
	cells := make([]cell, 0, len(short.tokens)*len(long.tokens))
	for i, a := range short.tokens {
		top := 0.0
		for j, b := range long.tokens {
			s := 0.0
			if jwBound(len(a), len(b)) >= floor-roundSlack {
				s = jaroWinklerRunes(a, b)
			}
			top = max(top, s)
			cells = append(cells, cell{i, j, s})
		}
		if round3(top) < floor {
			return top, nil // this token matches nothing well enough: the lowest pair is at most top
		}
	}
	sort.Slice(cells, func(a, b int) bool {
		if cells[a].s != cells[b].s {
			return cells[a].s > cells[b].s
		}
		if cells[a].i != cells[b].i {
			return cells[a].i < cells[b].i
		}
		return cells[a].j < cells[b].j
	})
	usedS := make([]bool, len(short.tokens))
	usedL := make([]bool, len(long.tokens))
	pairs := make([]TokenPair, len(short.tokens))
	low, left := 1.0, len(short.tokens)
	for _, c := range cells {
		if left == 0 {
			break
		}
		if usedS[c.i] || usedL[c.j] {
			continue
		}
		usedS[c.i], usedL[c.j] = true, true
		left--
		low = min(low, c.s)
		p := TokenPair{Query: short.words[c.i], Candidate: long.words[c.j], Score: round3(c.s)}
		if swapped {
			p.Query, p.Candidate = long.words[c.j], short.words[c.i]
		}
		pairs[c.i] = p
	}
	return low, pairs
}
