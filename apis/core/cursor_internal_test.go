package core

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzCursor feeds arbitrary cursors (partner input) to the decoder: it must
// never panic, and must accept nothing but a cursor it issued for that very
// account and query.
func FuzzCursor(f *testing.F) {
	r := &Reference{cursorKey: []byte("fuzz-key")}
	q := TransactionQuery{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), CreditDebit: Debit}
	good := r.encodeCursor("acc_1", q, 42)
	for _, s := range []string{good, "", ".", "abc.def", good + "x", strings.Replace(good, ".", "..", 1), "djF8YWNjXzF8fHw.AAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		q := q
		q.Cursor = cursor
		seq, err := r.decodeCursor("acc_1", q)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if cursor != good || seq != 42 {
			t.Fatalf("accepted %q as seq %d", cursor, seq)
		}
	})
}

func TestCursorRoundTrip(t *testing.T) {
	r := &Reference{cursorKey: []byte("k")}
	q := TransactionQuery{To: time.Unix(1700000000, 5), CreditDebit: Credit}
	q.Cursor = r.encodeCursor("acc_x", q, 7)
	for _, tc := range []struct {
		name    string
		account string
		q       TransactionQuery
		want    int64
		err     error
	}{
		{"ok/same", "acc_x", q, 7, nil},
		{"fail/other-account", "acc_y", q, 0, ErrBadCursor},
		{"fail/other-key", "acc_x", q, 0, ErrBadCursor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := r
			if tc.name == "fail/other-key" {
				rr = &Reference{cursorKey: []byte("other")}
			}
			got, err := rr.decodeCursor(tc.account, tc.q)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("decode = %d, %v; want %d, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
