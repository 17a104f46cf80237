package screening_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/risk/screening"
)

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var fixedNow = time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)

func mustService(tb testing.TB, d *db.DB, bus cachebus.Bus) *screening.Service {
	tb.Helper()
	s, err := screening.New(screening.Config{Store: screening.NewGormStore(d), Bus: bus, Now: func() time.Time { return fixedNow }})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustImport(tb testing.TB, s *screening.Service, f screening.Format, file, aliases []byte) []screening.Import {
	tb.Helper()
	imps, err := s.Import(context.Background(), screening.ImportInput{Format: f, File: file, Aliases: aliases,
		ActorType: audit.ActorSystem, ActorID: "operator:test"})
	if err != nil {
		tb.Fatalf("import %s: %v", f, err)
	}
	return imps
}

func sha(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func best(tb testing.TB, s *screening.Service, name string) string {
	tb.Helper()
	ms, err := s.Screen(context.Background(), name)
	if err != nil {
		tb.Fatalf("Screen(%q): %v", name, err)
	}
	if len(ms) == 0 {
		return ""
	}
	return ms[0].List + "/" + ms[0].Reference + " " + ms[0].MatchedName
}

func TestImportAndScreen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := mustService(t, d, cachebus.NewLocal())
		if got := best(t, s, "Sergei Ivanov"); got != "" {
			t.Fatalf("before any import: %s", got)
		}
		sdn, alt, uk, csv := fixture(t, "sdn.csv"), fixture(t, "alt.csv"), fixture(t, "ConList.csv"), fixture(t, "watchlist.csv")
		imps := mustImport(t, s, screening.FormatOFACSDN, sdn, alt)
		if len(imps) != 1 || imps[0].List != "ofac-sdn" || imps[0].Entries != 5 || imps[0].FileSHA256 != sha(sdn, alt) ||
			!strings.HasPrefix(imps[0].ID, "scr_") || imps[0].By != "operator:test" || !imps[0].At.Equal(fixedNow) {
			t.Fatalf("ofac import %+v", imps)
		}
		mustImport(t, s, screening.FormatUKCSV, uk, nil)
		if imps := mustImport(t, s, screening.FormatCSV, csv, nil); len(imps) != 2 || imps[0].List != "internal-watch" ||
			imps[0].Entries != 2 || imps[1].List != "pep" || imps[1].Entries != 1 || imps[1].FileSHA256 != sha(csv) {
			t.Fatalf("csv imports %+v", imps)
		}

		ls, err := s.Lists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.List+":"+string(l.Last.Format)+":"+itoa(l.Entries)+":"+l.Last.FileSHA256[:8])
		}
		want := []string{"internal-watch:csv:2:" + sha(csv)[:8], "ofac-sdn:ofac-sdn:5:" + sha(sdn, alt)[:8],
			"pep:csv:1:" + sha(csv)[:8], "uk-hmt:uk-csv:3:" + sha(uk)[:8]}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("lists %v\nwant %v", got, want)
		}

		for _, c := range []struct{ query, want string }{
			{"Иванов Сергей Петрович", "ofac-sdn/1001 IVANOV, Sergey"},
			{"Ivanov Sergei Petrovitch", "ofac-sdn/1001 IVANOV, Sergei Petrovich"},
			{"Sergey Ivanov", "ofac-sdn/1001 IVANOV, Sergey"},
			{"Alexander Petroff", "uk-hmt/15001 Alexander PETROFF"},
			{"Petrov Aleksandr", "uk-hmt/15001 Aleksandr Ivanovich PETROV"},
			{"Severnaya Zvezda LLC", "uk-hmt/15002 SEVERNAYA ZVEZDA"},
			{"Νικόλαος Καραγιάννης", "uk-hmt/15003 Nikolaos KARAGIANNIS"},
			{"Garcia Jose Fernandez", "internal-watch/W-1 José Fernández García"},
			{"Mueller Trading Co.", "ofac-sdn/1003 MUELLER TRADING COMPANY"},
			{"Ocean Star", "ofac-sdn/1002 OCEAN STAR"},
			{"Bright Ocean Shipping", ""},
		} {
			if got := best(t, s, c.query); got != c.want {
				t.Errorf("Screen(%q) = %q, want %q", c.query, got, c.want)
			}
		}

		evs, err := audit.List(ctx, d.DB, audit.Filter{Action: "screening.list_imported"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 4 {
			t.Fatalf("audit events %d, want 4 (one per list)", len(evs))
		}
		for _, e := range evs {
			if e.ActorType != audit.ActorSystem || e.ActorID != "operator:test" || e.ObjectType != "screening_list" ||
				!strings.Contains(e.Details, `"file_sha256":"`) || !strings.Contains(e.Details, `"import_id":"scr_`) {
				t.Fatalf("audit event %+v", e)
			}
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestReimportReplacesTheList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := mustService(t, d, cachebus.NewLocal())
		mustImport(t, s, screening.FormatCSV, fixture(t, "watchlist.csv"), nil)
		if got := best(t, s, "Jose Fernandez Garcia"); got != "internal-watch/W-1 José Fernández García" {
			t.Fatalf("first import: %q", got)
		}
		next := []byte("name,list,reference\nAnna Schmidt,internal-watch,W-9\n")
		mustImport(t, s, screening.FormatCSV, next, nil)
		if got := best(t, s, "Jose Fernandez Garcia"); got != "" {
			t.Fatalf("an entry the new file dropped still matches: %q", got)
		}
		if got := best(t, s, "Schmidt Anna"); got != "internal-watch/W-9 Anna Schmidt" {
			t.Fatalf("the new entry: %q", got)
		}
		if got := best(t, s, "Wei Zhang"); got != "pep/P-77 Zhang Wei" {
			t.Fatalf("another list was touched: %q", got)
		}
		ls, _ := s.Lists(ctx)
		if len(ls) != 2 || ls[0].List != "internal-watch" || ls[0].Entries != 1 || ls[0].Last.FileSHA256 != sha(next) ||
			ls[1].List != "pep" || ls[1].Entries != 1 {
			t.Fatalf("lists %+v", ls)
		}
	})
}

// TestBadFileChangesNothing: a refused file is an exact validation_failed
// problem naming the line, and the lists, imports and audit are unchanged.
func TestBadFileChangesNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := mustService(t, d, cachebus.NewLocal())
		mustImport(t, s, screening.FormatCSV, fixture(t, "watchlist.csv"), nil)
		for _, c := range []struct {
			name   string
			in     screening.ImportInput
			code   problem.Code
			detail string
		}{
			{"fail/bad-row", screening.ImportInput{Format: screening.FormatCSV,
				File: []byte("name,list,reference\nAnna Schmidt,internal-watch,W-9\nBob,internal-watch,\n")},
				problem.CodeValidation, "line 3: reference is empty"},
			{"fail/bad-alias-file", screening.ImportInput{Format: screening.FormatOFACSDN, File: fixture(t, "sdn.csv"),
				Aliases: []byte("1001,1,\"aka\",\"X\",-0-\n77,2,\"aka\",\"Y\",-0-\n")},
				problem.CodeValidation, `aliases file line 2: ent_num "77" is not in the SDN file`},
			{"fail/uk-header", screening.ImportInput{Format: screening.FormatUKCSV, File: fixture(t, "sdn.csv")},
				problem.CodeValidation, `line 1: the first line must be "Last Updated,<date>", got "36,AEROCARIBBEAN AIRLINES,-0-,CUBA,-0-,-0-,-0-,-0-,-0-,-0-,-0-,Havana, Cuba."`},
			{"fail/format", screening.ImportInput{Format: "xml", File: []byte("x")},
				problem.CodeInvalidRequest, `unknown format "xml": want ofac-sdn, uk-csv or csv`},
		} {
			t.Run(c.name, func(t *testing.T) {
				c.in.ActorType, c.in.ActorID = audit.ActorSystem, "operator:test"
				_, err := s.Import(ctx, c.in)
				var p *problem.Error
				if !errors.As(err, &p) || p.Code != c.code || p.Detail != c.detail {
					t.Fatalf("Import = %v, want %s %q", err, c.code, c.detail)
				}
			})
		}
		_, err := s.Import(ctx, screening.ImportInput{Format: screening.FormatCSV, File: fixture(t, "watchlist.csv")})
		var p *problem.Error
		if !errors.As(err, &p) || p.Code != problem.CodeInvalidRequest || p.Detail != "an import needs who imports it" {
			t.Fatalf("import without an actor: %v", err)
		}
		ls, _ := s.Lists(ctx)
		if len(ls) != 2 || ls[0].Entries != 2 || ls[1].Entries != 1 {
			t.Fatalf("lists after refused imports %+v", ls)
		}
		if got := best(t, s, "Jose Fernandez Garcia"); got != "internal-watch/W-1 José Fernández García" {
			t.Fatalf("after refused imports: %q", got)
		}
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "screening.list_imported"})
		if len(evs) != 2 {
			t.Fatalf("audit events %d, want the first import's 2", len(evs))
		}
	})
}

// failingStore fails RecordImport of one list, after its entries were replaced.
type failingStore struct {
	*screening.GormStore
	list string
}

var errInjected = errors.New("injected failure")

func (f failingStore) RecordImport(ctx context.Context, imp screening.Import) error {
	if imp.List == f.list {
		return errInjected
	}
	return f.GormStore.RecordImport(ctx, imp)
}

// TestImportIsOneTransaction: when writing the second list of a file fails,
// the first list's replacement is rolled back too.
func TestImportIsOneTransaction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		good := mustService(t, d, nil)
		mustImport(t, good, screening.FormatCSV, fixture(t, "watchlist.csv"), nil)
		bad, err := screening.New(screening.Config{Store: failingStore{screening.NewGormStore(d), "pep"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Import(ctx, screening.ImportInput{Format: screening.FormatCSV, ActorType: audit.ActorSystem, ActorID: "operator:test",
			File: []byte("name,list,reference\nAnna Schmidt,internal-watch,W-9\nLi Na,pep,P-1\n")})
		if !errors.Is(err, errInjected) {
			t.Fatalf("import: %v", err)
		}
		if got := best(t, good, "Jose Fernandez Garcia"); got != "internal-watch/W-1 José Fernández García" {
			t.Fatalf("internal-watch was replaced by a failed import: %q", got)
		}
		if got := best(t, good, "Anna Schmidt"); got != "" {
			t.Fatalf("a failed import's entry matches: %q", got)
		}
		evs, _ := audit.List(ctx, d.DB, audit.Filter{Action: "screening.list_imported"})
		if len(evs) != 2 {
			t.Fatalf("audit events %d, want 2", len(evs))
		}
	})
}

// TestOtherNodesReload: node B, which screened before node A's import, sees
// the import at its next Screen: through the bus, or without one by the
// lists' version.
func TestOtherNodesReload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bus := cachebus.NewLocal()
		a := mustService(t, d, bus)
		b := mustService(t, d, bus)
		c := mustService(t, d, nil)
		mustImport(t, a, screening.FormatCSV, []byte("name,list,reference\nAnna Schmidt,w,1\n"), nil)
		for _, n := range []*screening.Service{b, c} {
			if got := best(t, n, "Anna Schmidt"); got != "w/1 Anna Schmidt" {
				t.Fatalf("first load: %q", got)
			}
		}
		mustImport(t, a, screening.FormatCSV, []byte("name,list,reference\nBoris Kuznetsov,w,2\n"), nil)
		for i, n := range []*screening.Service{b, c} {
			if got := best(t, n, "Anna Schmidt"); got != "" {
				t.Fatalf("node %d still matches a replaced entry: %q", i, got)
			}
			if got := best(t, n, "Борис Кузнецов"); got != "w/2 Boris Kuznetsov" {
				t.Fatalf("node %d: %q", i, got)
			}
		}
	})
}

func TestScreenRefusals(t *testing.T) {
	s := mustService(t, dbtest.MustSQLite(t), nil)
	for _, c := range []struct{ name, in, detail string }{
		{"fail/empty", "  ", "the name to screen is empty"},
		{"fail/too-long", strings.Repeat("a", screening.MaxNameLength+1), "the name to screen is longer than 1000 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Screen(context.Background(), c.in)
			var p *problem.Error
			if !errors.As(err, &p) || p.Code != problem.CodeValidation || p.Detail != c.detail {
				t.Fatalf("Screen = %v, want validation_failed %q", err, c.detail)
			}
		})
	}
	if ms, err := s.Screen(context.Background(), "Anyone"); err != nil || ms == nil || len(ms) != 0 {
		t.Fatalf("no lists: %v, %v (want an empty slice)", ms, err)
	}
	for _, th := range []float64{-0.1, 1.5} {
		if _, err := screening.New(screening.Config{Store: screening.NewGormStore(dbtest.MustSQLite(t)), Threshold: th}); err == nil {
			t.Fatalf("threshold %v accepted", th)
		}
	}
}

// TestConcurrentScreensDuringImports (run by scripts/race.sh): screens on
// two nodes while imports replace the list never fail and always see a
// whole list, the old or the new one.
func TestConcurrentScreensDuringImports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		bus := cachebus.NewLocal()
		nodes := []*screening.Service{mustService(t, d, bus), mustService(t, d, bus)}
		files := [][]byte{[]byte("name,list,reference\nAnna Schmidt,w,1\nBoris Kuznetsov,w,2\n"),
			[]byte("name,list,reference\nAnna Schmidt,w,1\nCarla Rossi,w,3\n")}
		mustImport(t, nodes[0], screening.FormatCSV, files[0], nil)
		done := make(chan struct{})
		errs := make(chan string, 100)
		for _, n := range nodes {
			go func() {
				for {
					select {
					case <-done:
						errs <- ""
						return
					default:
					}
					ms, err := n.Screen(context.Background(), "Anna Schmidt")
					if err != nil || len(ms) != 1 || ms[0].Reference != "1" {
						errs <- fmt.Sprintf("Anna Schmidt: %v, %v", ms, err)
						return
					}
				}
			}()
		}
		for i := 0; i < 6; i++ {
			mustImport(t, nodes[i%2], screening.FormatCSV, files[i%2], nil)
		}
		close(done)
		for range nodes {
			if e := <-errs; e != "" {
				t.Fatal(e)
			}
		}
		// The last import was the second file.
		if got := best(t, nodes[0], "Boris Kuznetsov") + best(t, nodes[1], "Carla Rossi"); got != "w/3 Carla Rossi" {
			t.Fatalf("after the last import: %q", got)
		}
	})
}
