package environment_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/bankbridge/bankbridge/internal/environment"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     environment.Environment
		err      string
	}{
		{"ok/sandbox", "sandbox", environment.Sandbox, ""},
		{"ok/production", "production", environment.Production, ""},
		{"fail/empty", "", "", `environment must be "sandbox" or "production", not ""`},
		{"fail/upper-case", "Sandbox", "", `environment must be "sandbox" or "production", not "Sandbox"`},
		{"fail/spaces", " production", "", `environment must be "sandbox" or "production", not " production"`},
		{"fail/other", "staging", "", `environment must be "sandbox" or "production", not "staging"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := environment.Parse(tc.in)
			if tc.err != "" {
				var u *environment.UnknownError
				if err == nil || err.Error() != tc.err || !errors.As(err, &u) || u.Value != tc.in || got != "" {
					t.Fatalf("Parse(%q) = %q, %v; want error %s", tc.in, got, err, tc.err)
				}
				if got.Valid() {
					t.Fatalf("zero Environment is valid")
				}
				return
			}
			if err != nil || got != tc.want || !got.Valid() || got.String() != tc.in {
				t.Fatalf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestAll(t *testing.T) {
	all := environment.All()
	if !slices.Equal(all, []environment.Environment{environment.Sandbox, environment.Production}) {
		t.Fatalf("All() = %v", all)
	}
	for _, e := range all {
		if back, err := environment.Parse(string(e)); err != nil || back != e || !e.Valid() {
			t.Fatalf("Parse(%q) = %q, %v", e, back, err)
		}
	}
	all[0] = "changed"
	if environment.All()[0] != environment.Sandbox {
		t.Fatal("All shares its slice")
	}
}

func TestJSON(t *testing.T) {
	var v struct{ Environment environment.Environment }
	if err := json.Unmarshal([]byte(`{"Environment":"production"}`), &v); err != nil || v.Environment != environment.Production {
		t.Fatalf("Unmarshal = %+v, %v", v, err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"Environment":"production"}` {
		t.Fatalf("Marshal = %s", b)
	}
}
