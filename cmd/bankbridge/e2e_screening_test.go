package main

import (
	"encoding/json"
	"testing"
)

// TestE2EScreening: the operator imports the UK consolidated list fixture
// (bankbridge screening import), then a risk officer opens Screening in
// chromium, sees the list with its entry count, screens a name written in
// Cyrillic and reads the explained match against the Latin entry, and a
// name that matches nothing. e2e/screening.mjs.
func TestE2EScreening(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			imp := runCLI(t, s, "screening", "import", "--format", "uk-csv", screeningFixture(t, "ConList.csv"), "--json")
			list := imp["imports"].([]any)[0].(map[string]any)
			ro := runCLI(t, s, "staff", "create", "--email", "rita.risk@bank.example", "--role", "risk_officer", "--json")
			res := runNode(t, "screening.mjs", map[string]string{"ISSUER": s.URL,
				"STAFF_EMAIL": ro["email"].(string), "STAFF_PASSWORD": ro["one_time_password"].(string), "STAFF_TOTP": ro["totp_secret"].(string),
				"QUERY": "Петров Александр", "MISS": "Maria Lopez", "CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			home := res.Step("screening_home")
			if home["path"] != "/console/screening" || home["h1"] != "Screening" || len(home["lists"].([]any)) != 1 {
				t.Fatalf("screening home: %v", home)
			}
			row := home["lists"].([]any)[0].(map[string]any)
			if row["List"] != "uk-hmt" || row["Entries"] != "3" || row["Format"] != "uk-csv" || row["File SHA-256"] != list["file_sha256"] ||
				row["By"] != list["imported_by"] || row["Imported"] == "" {
				t.Fatalf("lists %v, want uk-hmt with 3 entries imported by %v from a file of SHA-256 %v", row, list["imported_by"], list["file_sha256"])
			}
			m := res.Step("match")
			if m["path"] != "/console/screening/test" || m["value"] != "Петров Александр" || m["summary"] != "1 match for “Петров Александр”." {
				t.Fatalf("match: %v", m)
			}
			rows := m["rows"].([]any)
			if len(rows) != 1 {
				t.Fatalf("match rows: %v", rows)
			}
			r := rows[0].(map[string]any)
			if r["List"] != "uk-hmt" || r["Reference"] != "15001" || r["Entry"] != "Aleksandr Ivanovich PETROV\nindividual · Russia" ||
				r["Matched name"] != "Aleksandr Ivanovich PETROV\nprimary name" || r["Score"] != "1.000\ntoken alignment" ||
				r["Compared (normalised)"] != "petrov aleksandr ↔ aleksandr ivanovich petrov\npetrov↔petrov 1.000, aleksandr↔aleksandr 1.000" {
				t.Fatalf("match row: %#v", r)
			}
			if miss := res.Step("miss"); miss["text"] != "No match for “Maria Lopez”." || miss["rows"] != 0.0 {
				t.Fatalf("miss: %v", miss)
			}
			if v := res.Step("csp")["violations"].([]any); len(v) != 0 {
				t.Errorf("CSP violations: %v", v)
			}
		})
	}
}
