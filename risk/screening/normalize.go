package screening

import (
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalisation, the same for screened names and list names:
//
//  1. Unicode NFKD (compatibility decomposition: "ﬁ" → "fi", "Ⅱ" → "II",
//     "é" → "e" + combining acute);
//  2. Cyrillic, Greek and Arabic letters transliterated to Latin
//     (cyrillic/greek/arabic below: Cyrillic after BGN/PCGN without
//     diacritics, й → "y" and ї → "yi" before their marks are dropped; Greek after ELOT 743;
//     Arabic consonants only, as the script writes no short vowels);
//  3. combining marks dropped (diacritics), and the Latin letters that do
//     not decompose spelled out (ß → ss, æ → ae, ø → o, ł → l, đ → d,
//     þ → th, œ → oe, ı → i);
//  4. case folded (lower case);
//  5. anything but letters and digits (punctuation, symbols, spaces) → one
//     space;
//  6. noise words dropped (NoiseWords: honorifics and legal forms);
//  7. tokens; the sorted-token form joins them sorted by one space.

// NoiseWords are the tokens dropped after normalisation: honorifics and
// titles, legal forms of companies (also in Cyrillic, as transliterated:
// ООО → "ooo", ПАО → "pao") and articles. A name made only of noise words
// keeps them (so "Ltd" alone is still a name).
var NoiseWords = []string{
	// honorifics and titles
	"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady", "madam", "mme", "mlle", "herr", "frau",
	"messrs", "rev", "hon",
	// legal forms
	"ltd", "limited", "llc", "llp", "lp", "plc", "inc", "incorporated", "corp", "corporation", "co", "company",
	"gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "pte", "pty", "bhd",
	"jsc", "ojsc", "cjsc", "pjsc", "ooo", "oao", "zao", "pao", "tov",
	// articles
	"the",
}

var noise = func() map[string]bool {
	m := make(map[string]bool, len(NoiseWords))
	for _, w := range NoiseWords {
		m[w] = true
	}
	return m
}()

// latinSpecial spells out Latin letters NFKD does not decompose.
var latinSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d",
	'þ': "th", 'Þ': "th", 'œ': "oe", 'Œ': "oe", 'ı': "i", 'ð': "d", 'Ð': "d", 'ħ': "h", 'Ħ': "h", 'ŧ': "t", 'Ŧ': "t",
}

// translit maps Cyrillic, Greek and Arabic letters (lower and upper case) to Latin.
var translit = func() map[rune]string {
	m := map[rune]string{}
	add := func(pairs string) {
		f := strings.Fields(pairs)
		for i := 0; i+1 < len(f); i += 2 {
			r := []rune(f[i])[0]
			v := f[i+1]
			if v == "-" {
				v = ""
			}
			m[r] = v
			if u := unicode.ToUpper(r); u != r {
				m[u] = v
			}
		}
	}
	// Cyrillic (Russian, Ukrainian, Belarusian, Serbian, Macedonian, Kazakh letters).
	add(`а a б b в v г g д d е e ё e ж zh з z и i й y к k л l м m н n о o п p р r с s т t у u ф f х kh ц ts
ч ch ш sh щ shch ъ - ы y ь - э e ю yu я ya і i ї yi є ye ґ g ў u ђ dj ј j љ lj њ nj ћ c џ dz ѓ gj ќ kj
ѕ dz қ k ғ g ң n ө o ұ u ү u һ h ә a`)
	// Greek.
	add(`α a β v γ g δ d ε e ζ z η i θ th ι i κ k λ l μ m ν n ξ x ο o π p ρ r σ s ς s τ t υ y φ f χ ch ψ ps ω o`)
	// Arabic (and Persian letters).
	add(`ا a أ a إ i آ a ٱ a ب b ت t ث th ج j ح h خ kh د d ذ dh ر r ز z س s ش sh ص s ض d ط t ظ z ع - غ gh
ف f ق q ك k ل l م m ن n ه h و w ي y ى a ة a ء - ؤ w ئ y پ p چ ch ژ zh گ g ک k ی y`)
	return m
}()

const (
	breve     = '\u0306'
	diaeresis = '\u0308'
	cyrShortI = 'и'
)

// Normalize returns name's normalised form: its tokens (noise words dropped)
// joined by one space, in their original order.
func Normalize(name string) string { return strings.Join(Tokens(name), " ") }

// Tokens returns name's normalised tokens in their original order.
func Tokens(name string) []string {
	d := norm.NFKD.String(name)
	var b strings.Builder
	b.Grow(len(d))
	rs := []rune(d)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		// й and Й decompose to и + breve: keep them "y".
		if (r == cyrShortI || r == 'И') && i+1 < len(rs) && rs[i+1] == breve {
			b.WriteByte('y')
			i++
			continue
		}
		// ї and Ї (Ukrainian) decompose to і + diaeresis: keep them "yi".
		if (r == 'і' || r == 'І') && i+1 < len(rs) && rs[i+1] == diaeresis {
			b.WriteString("yi")
			i++
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if s, ok := translit[r]; ok {
			b.WriteString(s)
			continue
		}
		if s, ok := latinSpecial[r]; ok {
			b.WriteString(s)
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteByte(' ')
	}
	all := strings.Fields(b.String())
	out := all[:0:0]
	for _, t := range all {
		if !noise[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return all
	}
	return out
}

// sortedForm is tokens sorted and joined by one space.
func sortedForm(tokens []string) string {
	s := append([]string(nil), tokens...)
	sort.Strings(s)
	return strings.Join(s, " ")
}
