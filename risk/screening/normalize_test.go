package screening

import "testing"

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"ok/case-and-punctuation", "IVANOV, Sergei-Petrovich!", "ivanov sergei petrovich"},
		{"ok/diacritics", "José Fernández García", "jose fernandez garcia"},
		{"ok/latin-specials", "Straße Øster Łódź Æbelø", "strasse oster lodz aebelo"},
		{"ok/compatibility", "ＡＢＣ ﬁsh Ⅱ", "abc fish ii"},
		{"ok/cyrillic", "Петров Александр Иванович", "petrov aleksandr ivanovich"},
		{"ok/cyrillic-short-i-and-yo", "Сергей Алексеевич Фёдоров", "sergey alekseevich fedorov"},
		{"ok/cyrillic-soft-signs-and-ukrainian", "Игорь Ковальчук Їжак Євген", "igor kovalchuk yizhak yevgen"},
		{"ok/greek-with-accents", "Νικόλαος Καραγιάννης", "nikolaos karagiannis"},
		{"ok/arabic", "حسن علي", "hsn ly"},
		{"ok/honorifics-and-legal-forms", "Mr. John Smith Holdings Ltd", "john smith holdings"},
		{"ok/cyrillic-legal-form", "ООО Северная Звезда", "severnaya zvezda"},
		{"ok/only-noise-is-kept", "Ltd.", "ltd"},
		{"ok/digits-kept", "Agent 007 Ltd", "agent 007"},
		{"ok/collapse-spaces", "  a \t  b\n", "a b"},
		{"ok/empty", " ,.- ", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Normalize(c.in); got != c.want {
				t.Fatalf("Normalize(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
