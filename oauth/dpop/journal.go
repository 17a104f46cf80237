package dpop

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JournalReplayStore is the ReplayStore of a single node (a SQLite
// deployment, where one process serves the database): the keys live in
// memory, and every use is appended to a journal file in its directory
// before Use returns. A use that returned has reached the kernel, so it
// survives the process being killed (SIGKILL, a panic); like SQLite with
// synchronous=NORMAL it may be lost with the machine's power. Opening the
// store reads the journal back, so a proof accepted before a restart is
// refused after it.
//
// The directory is locked while the store is open: a second process (or a
// second store) on it fails to open, since two nodes each keeping their
// own keys would accept each other's replays. Several nodes share the
// database's store (GormReplayStore) or Redis's instead.
//
// A key is held as the first 16 bytes of its SHA-256 with its expiry.
// The journal is a series of segment files of fixed-size records (the
// hash, the expiry, a CRC-32 of both); a segment is deleted once every key
// in it has expired, and a torn record at a segment's end (a crash in the
// middle of a write) is ignored when it is read back.
type JournalReplayStore struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	dir  string
	lock *os.File

	mu     sync.Mutex
	closed bool
	seen   map[replayHash]int64 // hash → expiry (Unix nanoseconds)
	// expiring holds each key under the second its expiry falls in (the
	// next whole second), for dropping expired keys from seen without
	// sweeping it; swept is the last second dropped.
	expiring map[int64][]replayHash
	swept    int64
	uses     int
	// seg is the segment being appended to: its number, record count and
	// latest expiry; older are the closed segments still holding
	// unexpired keys.
	seg      *os.File
	segNum   uint64
	segCount int
	segMax   int64
	older    []journalSegment
	// segRecords is how many records a segment holds before the next one
	// starts (journalSegmentRecords; tests lower it).
	segRecords int
	rec        [journalRecordSize]byte
}

type replayHash [16]byte

type journalSegment struct {
	num uint64
	max int64 // latest expiry in it
}

const (
	// journalRecordSize is one record: 16 bytes of hash, 8 of expiry
	// (big-endian Unix nanoseconds), 4 of CRC-32 (IEEE) over those 24.
	journalRecordSize = 28
	// journalSegmentRecords is how many records a segment holds before
	// the next one starts (2.8 MB).
	journalSegmentRecords = 100_000
	// journalSweepEvery is how many uses pass between drops of expired
	// keys (and segments).
	journalSweepEvery = 512
	// journalExt ends a segment file's name (its number, 20 digits).
	journalExt = ".jtis"
	// journalLockName is the lock file in the directory.
	journalLockName = "lock"
)

// ErrJournalClosed is returned by Use after Close.
var ErrJournalClosed = errors.New("dpop: the replay journal is closed")

// OpenJournalReplayStore opens (creating it if needed) the journal in dir,
// locks it and reads back its unexpired keys. now is the clock (nil means
// time.Now). It fails when another process holds the directory.
func OpenJournalReplayStore(dir string, now func() time.Time) (*JournalReplayStore, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dpop: replay journal: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, journalLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dpop: replay journal: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("dpop: the replay journal in %s is held by another process (a SQLite database is served by one node): %w", dir, err)
	}
	s := &JournalReplayStore{Now: now, dir: dir, lock: lock, seen: make(map[replayHash]int64),
		expiring: make(map[int64][]replayHash), segRecords: journalSegmentRecords}
	s.swept = s.now() / int64(time.Second)
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *JournalReplayStore) now() int64 {
	if s.Now != nil {
		return s.Now().UnixNano()
	}
	return time.Now().UnixNano()
}

func hashKey(key string) replayHash {
	sum := sha256.Sum256([]byte(key))
	var h replayHash
	copy(h[:], sum[:16])
	return h
}

// load reads every segment back (the unexpired keys), deletes the
// segments with none left, and starts a new segment.
func (s *JournalReplayStore) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("dpop: replay journal: %w", err)
	}
	var nums []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), journalExt)
		if !ok || e.IsDir() {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	now := s.now()
	for _, n := range nums {
		max, err := s.readSegment(n, now)
		if err != nil {
			return err
		}
		if max <= now {
			if err := os.Remove(s.segPath(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("dpop: replay journal: %w", err)
			}
			continue
		}
		s.older = append(s.older, journalSegment{num: n, max: max})
	}
	next := uint64(1)
	if len(nums) > 0 {
		next = nums[len(nums)-1] + 1
	}
	return s.startSegment(next)
}

// readSegment adds segment n's unexpired keys; max is its latest expiry.
// Reading stops at the first record that is short or fails its checksum.
func (s *JournalReplayStore) readSegment(n uint64, now int64) (max int64, err error) {
	f, err := os.Open(s.segPath(n))
	if err != nil {
		return 0, fmt.Errorf("dpop: replay journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var rec [journalRecordSize]byte
	for {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return max, nil
			}
			return 0, fmt.Errorf("dpop: replay journal: %w", err)
		}
		h, exp, ok := decodeRecord(rec[:])
		if !ok {
			return max, nil
		}
		max = maxInt64(max, exp)
		if exp > now {
			s.remember(h, exp)
		}
	}
}

func maxInt64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func encodeRecord(dst []byte, h replayHash, exp int64) {
	copy(dst[:16], h[:])
	binary.BigEndian.PutUint64(dst[16:24], uint64(exp))
	binary.BigEndian.PutUint32(dst[24:28], crc32.ChecksumIEEE(dst[:24]))
}

func decodeRecord(rec []byte) (h replayHash, exp int64, ok bool) {
	if len(rec) != journalRecordSize || binary.BigEndian.Uint32(rec[24:28]) != crc32.ChecksumIEEE(rec[:24]) {
		return h, 0, false
	}
	copy(h[:], rec[:16])
	return h, int64(binary.BigEndian.Uint64(rec[16:24])), true
}

func (s *JournalReplayStore) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, journalExt))
}

// startSegment opens segment n for appending (it must not exist).
func (s *JournalReplayStore) startSegment(n uint64) error {
	f, err := os.OpenFile(s.segPath(n), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dpop: replay journal: %w", err)
	}
	s.seg, s.segNum, s.segCount, s.segMax = f, n, 0, 0
	return nil
}

// remember records h until exp in memory (the later expiry wins).
func (s *JournalReplayStore) remember(h replayHash, exp int64) {
	if old, ok := s.seen[h]; ok && old >= exp {
		return
	}
	s.seen[h] = exp
	// A key expiring in a second already swept (only with a clock set
	// back) waits for Purge's sweep.
	if sec := expirySecond(exp); sec > s.swept {
		s.expiring[sec] = append(s.expiring[sec], h)
	}
}

// expirySecond is the whole second at or after exp (Unix nanoseconds):
// once it has passed, so has exp.
func expirySecond(exp int64) int64 {
	sec := exp / int64(time.Second)
	if exp%int64(time.Second) > 0 {
		sec++
	}
	return sec
}

// Holds reports whether key is held by an unexpired use (Use would refuse
// it), without recording anything.
func (s *JournalReplayStore) Holds(key string) bool {
	h := hashKey(key)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.seen[h]
	return ok && now < exp
}

// Use implements ReplayStore: key is refused (ErrReplay) while an earlier
// use is unexpired; otherwise the use is appended to the journal (one
// write) and then held in memory. A failed write records nothing and is
// returned.
func (s *JournalReplayStore) Use(_ context.Context, key string, exp time.Time) error {
	h := hashKey(key)
	e := exp.UnixNano()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrJournalClosed
	}
	if old, ok := s.seen[h]; ok && now < old {
		return ErrReplay
	}
	if s.segCount >= s.segRecords {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	encodeRecord(s.rec[:], h, e)
	if _, err := s.seg.Write(s.rec[:]); err != nil {
		return fmt.Errorf("dpop: replay journal: %w", err)
	}
	s.segCount++
	s.segMax = maxInt64(s.segMax, e)
	s.remember(h, e)
	if s.uses++; s.uses%journalSweepEvery == 0 {
		s.dropExpired(now)
	}
	return nil
}

// rotate closes the current segment and starts the next.
func (s *JournalReplayStore) rotate() error {
	if err := s.seg.Close(); err != nil {
		return fmt.Errorf("dpop: replay journal: %w", err)
	}
	s.older = append(s.older, journalSegment{num: s.segNum, max: s.segMax})
	return s.startSegment(s.segNum + 1)
}

// dropExpired forgets the keys whose expiry second has passed at now and
// deletes the closed segments whose keys have all expired; it returns how
// many keys it forgot.
func (s *JournalReplayStore) dropExpired(now int64) int64 {
	var n int64
	last := now / int64(time.Second) // every second up to last has passed
	if last-s.swept > 24*3600 {
		// A clock moved far ahead: sweep once instead of second by second.
		n += s.sweep(now)
		s.swept = last
	}
	for ; s.swept < last; s.swept++ {
		sec := s.swept + 1
		for _, h := range s.expiring[sec] {
			if exp, ok := s.seen[h]; ok && exp <= now {
				delete(s.seen, h)
				n++
			}
		}
		delete(s.expiring, sec)
	}
	kept := s.older[:0]
	for _, seg := range s.older {
		if seg.max <= now {
			if err := os.Remove(s.segPath(seg.num)); err == nil || errors.Is(err, os.ErrNotExist) {
				continue
			}
		}
		kept = append(kept, seg)
	}
	s.older = kept
	return n
}

// Purge implements Purger: it forgets every expired key (also those the
// queue's order keeps behind a longer-lived one) and deletes the segments
// whose keys have all expired.
func (s *JournalReplayStore) Purge(context.Context) (int64, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropExpired(now) + s.sweep(now), nil
}

// sweep forgets every key expired at now, wherever it is filed.
func (s *JournalReplayStore) sweep(now int64) int64 {
	var n int64
	for h, exp := range s.seen {
		if exp <= now {
			delete(s.seen, h)
			n++
		}
	}
	for sec, hs := range s.expiring {
		if sec*int64(time.Second) <= now {
			delete(s.expiring, sec)
			continue
		}
		kept := hs[:0]
		for _, h := range hs {
			if _, ok := s.seen[h]; ok {
				kept = append(kept, h)
			}
		}
		s.expiring[sec] = kept
	}
	return n
}

// Preload holds key until exp in memory without writing it to the journal:
// for keys recorded elsewhere that the store must refuse too (the
// database's used_jtis rows, read once at start).
func (s *JournalReplayStore) Preload(key string, exp time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remember(hashKey(key), exp.UnixNano())
}

// Len is the number of keys held (expired ones not yet dropped included).
func (s *JournalReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// Dir is the journal's directory.
func (s *JournalReplayStore) Dir() string { return s.dir }

// Close closes the journal and releases its directory; Use fails after it.
// Closing twice is a no-op.
func (s *JournalReplayStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var first error
	if s.seg != nil {
		first = s.seg.Close()
	}
	if err := unlockFile(s.lock); err != nil && first == nil {
		first = err
	}
	if err := s.lock.Close(); err != nil && first == nil {
		first = err
	}
	return first
}
