package dpop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MustOpenJournal opens a JournalReplayStore in dir at clock now, closed
// at the test's end.
func MustOpenJournal(tb testing.TB, dir string, now time.Time) *JournalReplayStore {
	tb.Helper()
	s, err := OpenJournalReplayStore(dir, clockAt(now))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// copyJournal copies dir's segment files (not its lock) to a new
// directory: the journal as a killed process left it, since nothing of the
// store's Close ran on the copy.
func copyJournal(tb testing.TB, dir string) string {
	tb.Helper()
	out := tb.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), journalExt) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, e.Name()), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

// segments lists dir's segment files.
func segments(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+journalExt))
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func TestJournalReplayStore(t *testing.T) {
	s := MustOpenJournal(t, t.TempDir(), time.Now())
	replayConformance(t, s, func(n time.Time) { s.Now = clockAt(n) })
}

func TestJournalReplayStoreDurability(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	use := func(t *testing.T, s *JournalReplayStore, key string, exp time.Time) {
		t.Helper()
		if err := s.Use(ctx, key, exp); err != nil {
			t.Fatalf("Use(%q): %v", key, err)
		}
	}
	// reopenHolding opens dir's journal and checks it holds n keys.
	reopenHolding := func(t *testing.T, dir string, n int) *JournalReplayStore {
		t.Helper()
		r := MustOpenJournal(t, dir, t0.Add(30*time.Second))
		if r.Len() != n {
			t.Fatalf("reopened with %d keys, want %d", r.Len(), n)
		}
		return r
	}
	wantReplay := func(t *testing.T, s *JournalReplayStore, key string) {
		t.Helper()
		if err := s.Use(ctx, key, t0.Add(time.Hour)); !errors.Is(err, ErrReplay) {
			t.Fatalf("Use(%q) = %v, want ErrReplay", key, err)
		}
	}

	t.Run("ok/killed: every use that returned is refused after reopening", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		for i := range 100 {
			use(t, s, "jkt:k"+string(rune('a'+i%26))+strings.Repeat("x", i), t0.Add(time.Minute))
		}
		// No Close: the copy is what the kernel holds once the process
		// is gone.
		r := reopenHolding(t, copyJournal(t, dir), 100)
		for i := range 100 {
			wantReplay(t, r, "jkt:k"+string(rune('a'+i%26))+strings.Repeat("x", i))
		}
		use(t, r, "jkt:new", t0.Add(time.Minute))
	})
	t.Run("ok/closed and reopened: expired keys are free, the rest refused", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		use(t, s, "short", t0.Add(10*time.Second))
		use(t, s, "long", t0.Add(time.Minute))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, "after-close", t0.Add(time.Minute)); !errors.Is(err, ErrJournalClosed) {
			t.Fatalf("Use after Close = %v, want ErrJournalClosed", err)
		}
		r := MustOpenJournal(t, dir, t0.Add(20*time.Second))
		wantReplay(t, r, "long")
		use(t, r, "short", t0.Add(time.Minute))
	})
	t.Run("fail/a second store on a held directory", func(t *testing.T) {
		dir := t.TempDir()
		MustOpenJournal(t, dir, t0)
		_, err := OpenJournalReplayStore(dir, nil)
		want := "dpop: the replay journal in " + dir + " is held by another process (a SQLite database is served by one node): resource temporarily unavailable"
		if err == nil || err.Error() != want {
			t.Fatalf("second open: %v\nwant %s", err, want)
		}
	})
	t.Run("ok/released by Close", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		MustOpenJournal(t, dir, t0)
	})
	t.Run("ok/a torn record at a segment's end is ignored", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		use(t, s, "before-tear", t0.Add(time.Minute))
		segs := segments(t, dir)
		f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, journalRecordSize/2)) // a crash in the middle of a write
		f.Close()
		wantReplay(t, reopenHolding(t, copyJournal(t, dir), 1), "before-tear")
	})
	t.Run("ok/a record failing its checksum ends its segment", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		use(t, s, "good", t0.Add(time.Minute))
		use(t, s, "flipped", t0.Add(time.Minute))
		use(t, s, "after", t0.Add(time.Minute))
		seg := segments(t, dir)[0]
		b, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		b[journalRecordSize+3] ^= 0x40 // a bit of the second record's hash
		dir2 := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir2, filepath.Base(seg)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		wantReplay(t, reopenHolding(t, dir2, 1), "good") // reading stopped at the bad record
	})
	t.Run("ok/segments rotate and expired ones are deleted", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		s.segRecords = 2
		for i, k := range []string{"a", "b", "c", "d", "e"} {
			use(t, s, k, t0.Add(time.Duration(10*(i+1))*time.Second))
		}
		if got := len(segments(t, dir)); got != 3 {
			t.Fatalf("%d segments after 5 uses of 2 per segment, want 3", got)
		}
		s.Now = clockAt(t0.Add(25 * time.Second)) // a and b expired: the first segment
		if _, err := s.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if got := len(segments(t, dir)); got != 2 {
			t.Fatalf("%d segments after the first one's keys expired, want 2", got)
		}
		use(t, s, "a", t0.Add(time.Hour))
		wantReplay(t, s, "c")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Reopened after every key expired: the old segments are deleted
		// and a new one starts.
		r := MustOpenJournal(t, dir, t0.Add(2*time.Hour))
		if got := segments(t, dir); len(got) != 1 || r.Len() != 0 {
			t.Fatalf("after reopening with every key expired: segments %v, %d keys; want 1 new segment, 0 keys", got, r.Len())
		}
	})
	t.Run("ok/preloaded keys are refused and not journaled", func(t *testing.T) {
		dir := t.TempDir()
		s := MustOpenJournal(t, dir, t0)
		s.Preload("from-the-table", t0.Add(time.Minute))
		wantReplay(t, s, "from-the-table")
		r := MustOpenJournal(t, copyJournal(t, dir), t0)
		use(t, r, "from-the-table", t0.Add(time.Minute))
	})
	t.Run("ok/expired keys are dropped from memory as uses go on", func(t *testing.T) {
		s := MustOpenJournal(t, t.TempDir(), t0)
		// A key used first and held for an hour (a client assertion) does
		// not hold back the shorter-lived ones used after it.
		use(t, s, "long-lived", t0.Add(time.Hour))
		for i := range journalSweepEvery - 1 {
			use(t, s, "old-"+strings.Repeat("k", i%7)+string(rune('A'+i%50))+string(rune('a'+i/50)), t0.Add(time.Second))
		}
		s.Now = clockAt(t0.Add(time.Minute))
		for i := range journalSweepEvery {
			use(t, s, "new-"+string(rune('A'+i%50))+string(rune('a'+i/50)), t0.Add(2*time.Minute))
		}
		if s.Len() != journalSweepEvery+1 {
			t.Fatalf("%d keys held, want %d (the expired ones dropped)", s.Len(), journalSweepEvery+1)
		}
		if !s.Holds("long-lived") || s.Holds("old-A") {
			t.Fatalf("Holds: long-lived %v, an expired key %v; want true, false", s.Holds("long-lived"), s.Holds("old-A"))
		}
	})
}

func BenchmarkJournalReplayStoreUse(b *testing.B) {
	s := MustOpenJournal(b, b.TempDir(), time.Now())
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "Gl3jY8rjcZa3nAqS3cxKkZsvlbD2b8lKkN4w4U5cdmY:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Use(ctx, keys[i], exp); err != nil {
			b.Fatal(err)
		}
	}
}
