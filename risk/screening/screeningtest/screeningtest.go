// Package screeningtest is the conformance suite of screening.Store: every
// implementation runs it (the GORM store on both engines in
// risk/screening's tests).
package screeningtest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/risk/screening"
)

// Run runs the suite; newStore returns an empty store.
func Run(t *testing.T, newStore func(t *testing.T) screening.Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	a := []screening.Entry{
		{List: "a", Reference: "2", Name: "Zed Two", Kind: "entity", Program: "P", Aliases: []screening.Alias{{Name: "Zed 2", Type: "aka"}}},
		{List: "a", Reference: "1", Name: "Anna One"},
	}
	b := []screening.Entry{{List: "b", Reference: "9", Name: "Boris Nine", Kind: "individual"}}
	imp := func(id, list string, n int) screening.Import {
		return screening.Import{ID: id, List: list, Format: screening.FormatCSV, FileSHA256: "ab", Entries: n, At: at, By: "operator:t"}
	}

	t.Run("ok/empty", func(t *testing.T) {
		s := newStore(t)
		if v, err := s.Version(ctx); err != nil || v != 0 {
			t.Fatalf("Version = %d, %v", v, err)
		}
		if es, err := s.Entries(ctx); err != nil || len(es) != 0 {
			t.Fatalf("Entries = %v, %v", es, err)
		}
		if ls, err := s.Lists(ctx); err != nil || len(ls) != 0 {
			t.Fatalf("Lists = %v, %v", ls, err)
		}
	})

	t.Run("ok/replace-and-read", func(t *testing.T) {
		s := newStore(t)
		for _, step := range []struct {
			list    string
			entries []screening.Entry
			id      string
		}{{"a", a, "scr_1"}, {"b", b, "scr_2"}, {"a", a[1:], "scr_3"}} {
			if err := s.ReplaceList(ctx, step.list, step.entries); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordImport(ctx, imp(step.id, step.list, len(step.entries))); err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.Entries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []screening.Entry{a[1], b[0]}; !reflect.DeepEqual(es, want) {
			t.Fatalf("Entries\n%+v\nwant\n%+v", es, want)
		}
		ls, err := s.Lists(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 2 || ls[0].List != "a" || ls[0].Entries != 1 || !reflect.DeepEqual(ls[0].Last, imp("scr_3", "a", 1)) ||
			ls[1].List != "b" || ls[1].Entries != 1 || ls[1].Last.ID != "scr_2" {
			t.Fatalf("Lists %+v", ls)
		}
		v1, _ := s.Version(ctx)
		if err := s.RecordImport(ctx, imp("scr_4", "b", 1)); err != nil {
			t.Fatal(err)
		}
		if v2, _ := s.Version(ctx); v2 <= v1 {
			t.Fatalf("Version %d after an import, was %d", v2, v1)
		}
	})

	t.Run("ok/aliases-round-trip", func(t *testing.T) {
		s := newStore(t)
		if err := s.ReplaceList(ctx, "a", a); err != nil {
			t.Fatal(err)
		}
		es, _ := s.Entries(ctx)
		if len(es) != 2 || !reflect.DeepEqual(es[1], a[0]) {
			t.Fatalf("Entries %+v", es)
		}
	})

	t.Run("fail/invalid-entries", func(t *testing.T) {
		s := newStore(t)
		if err := s.ReplaceList(ctx, "a", b); !errors.Is(err, screening.ErrInvalidEntry) {
			t.Fatalf("an entry of another list: %v", err)
		}
		if err := s.ReplaceList(ctx, "a", []screening.Entry{{List: "a", Reference: "1"}}); !errors.Is(err, screening.ErrInvalidEntry) ||
			err.Error() != "screening: invalid entry: name is empty" {
			t.Fatalf("an entry without a name: %v", err)
		}
		if es, _ := s.Entries(ctx); len(es) != 0 {
			t.Fatalf("a refused replacement wrote %+v", es)
		}
	})

	t.Run("ok/tx-rolls-back", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("boom")
		err := s.Tx(ctx, func(ctx context.Context) error {
			if err := s.ReplaceList(ctx, "a", a); err != nil {
				return err
			}
			if err := s.RecordImport(ctx, imp("scr_9", "a", 2)); err != nil {
				return err
			}
			if err := s.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "t", Action: "screening.list_imported"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if es, _ := s.Entries(ctx); len(es) != 0 {
			t.Fatalf("rolled back, yet %+v", es)
		}
		if v, _ := s.Version(ctx); v != 0 {
			t.Fatalf("rolled back, yet version %d", v)
		}
	})
}
