package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// screeningFixture is a file of risk/screening's testdata (official layouts).
func screeningFixture(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "risk", "screening", "testdata", name)
}

// runBinary runs the built bankbridge with args against s's database and
// returns stdout, stderr and the exit code.
func runBinary(t *testing.T, bin string, s *Server, args ...string) (string, string, int) {
	t.Helper()
	args = append(args, "--data-dir", s.DataDir, "--log-level", "warn")
	if s.DatabaseURL != "" {
		args = append(args, "--database-url", s.DatabaseURL)
	}
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", "", -1
}

// TestScreeningImportCLI runs `bankbridge screening import` as the real
// binary against a running server's database, on both engines: the server
// screens against what the CLI imported (told through the cache bus on
// PostgreSQL, by the lists' version on SQLite), a re-import replaces the
// list, a bad file is refused with its line and changes nothing.
func TestScreeningImportCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			ctx := context.Background()
			scr := s.Main.Platform.Services.Screening
			best := func(name string) string {
				t.Helper()
				ms, err := scr.Screen(ctx, name)
				if err != nil {
					t.Fatalf("Screen(%q): %v", name, err)
				}
				if len(ms) == 0 {
					return ""
				}
				return ms[0].List + "/" + ms[0].Reference + " " + ms[0].MatchedName
			}
			if got := best("Сергей Иванов"); got != "" {
				t.Fatalf("before the import: %q", got)
			}

			sdn, alt := screeningFixture(t, "sdn.csv"), screeningFixture(t, "alt.csv")
			out, errOut, code := runBinary(t, bin, s, "screening", "import", "--format", "ofac-sdn", "--aliases", alt, sdn, "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			var res struct{ Imports []map[string]any }
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			imps := res.Imports
			h := sha256.New()
			for _, f := range []string{sdn, alt} {
				b, _ := os.ReadFile(f)
				h.Write(b)
			}
			if len(imps) != 1 || imps[0]["list"] != "ofac-sdn" || imps[0]["entries"] != float64(5) ||
				imps[0]["file_sha256"] != hex.EncodeToString(h.Sum(nil)) || !strings.HasPrefix(imps[0]["imported_by"].(string), "operator") {
				t.Fatalf("imports %v", imps)
			}
			if got := best("Сергей Иванов"); got != "ofac-sdn/1001 IVANOV, Sergey" {
				t.Fatalf("after the import the server screens %q", got)
			}

			out, errOut, code = runBinary(t, bin, s, "screening", "import", "--format", "csv", screeningFixture(t, "watchlist.csv"))
			if code != 0 || !strings.HasPrefix(out, "imported list internal-watch: 2 entries from ") || !strings.Contains(out, "imported list pep: 1 entries") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if got := best("Jose Fernandez Garcia"); got != "internal-watch/W-1 José Fernández García" {
				t.Fatalf("after the csv import: %q", got)
			}
			next := filepath.Join(t.TempDir(), "next.csv")
			os.WriteFile(next, []byte("name,list,reference\nAnna Schmidt,internal-watch,W-9\n"), 0o600)
			if out, errOut, code = runBinary(t, bin, s, "screening", "import", "--format", "csv", next); code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if got := best("Jose Fernandez Garcia"); got != "" {
				t.Fatalf("the re-import did not replace the list: %q", got)
			}
			if got := best("Schmidt Anna"); got != "internal-watch/W-9 Anna Schmidt" {
				t.Fatalf("after the re-import: %q", got)
			}

			bad := filepath.Join(t.TempDir(), "bad.csv")
			os.WriteFile(bad, []byte("name,list,reference\nLi Na,pep,P-1\nBob,pep,\n"), 0o600)
			out, errOut, code = runBinary(t, bin, s, "screening", "import", "--format", "csv", bad)
			if want := "bankbridge: " + bad + ": Validation failed: line 3: reference is empty\n"; code != 1 || errOut != want || out != "" {
				t.Fatalf("bad file: exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, want)
			}
			if got := best("Wei Zhang"); got != "pep/P-77 Zhang Wei" {
				t.Fatalf("a refused file changed the pep list: %q", got)
			}
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"--format", "xml", bad}, "bankbridge screening import: --format must be ofac-sdn, uk-csv or csv, got \"xml\"\n"},
				{[]string{"--format", "csv"}, "bankbridge screening import: give exactly one FILE, got 0\n"},
				{[]string{bad}, "bankbridge screening import: --format is required\n"},
			} {
				if out, errOut, code := runBinary(t, bin, s, append([]string{"screening", "import"}, c.args...)...); code != 2 || errOut != c.want {
					t.Fatalf("%v: exit %d\n%s%q, want %q", c.args, code, out, errOut, c.want)
				}
			}

			ls, err := scr.Lists(ctx)
			if err != nil || len(ls) != 3 {
				t.Fatalf("lists %+v, %v", ls, err)
			}
			evs, err := audit.List(ctx, s.Main.Platform.DB.DB, audit.Filter{Action: "screening.list_imported"})
			if err != nil || len(evs) != 4 {
				t.Fatalf("audit %d events, %v (want 4: ofac-sdn, internal-watch, pep, internal-watch)", len(evs), err)
			}
		})
	}
}
