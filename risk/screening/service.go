package screening

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// CacheTopic is the cachebus topic an import publishes on: every node's
// Screener drops its index and loads the lists again at its next Screen.
const CacheTopic = "screening.lists"

// MaxNameLength bounds a screened name (bytes).
const MaxNameLength = 1000

// Config builds a Service.
type Config struct {
	Store Store
	// Bus tells every node an import happened (nil: this node only; then
	// every Screen checks the lists' version in the database).
	Bus cachebus.Bus
	// Threshold is the similarity at or above which a name matches
	// (0: DefaultThreshold). It must be in (0, 1].
	Threshold float64
	Now       func() time.Time
	Logger    *slog.Logger
}

// Service imports lists and screens names against them.
type Service struct {
	store     Store
	bus       cachebus.Bus
	threshold float64
	now       func() time.Time
	log       *slog.Logger

	// trustBus is whether the bus reaches every process that imports
	// (PostgreSQL or Redis; not the in-process bus).
	trustBus bool

	mu    sync.Mutex // one load at a time
	idx   atomic.Pointer[Index]
	stale atomic.Bool
}

// Screener is what other domains screen names with (payment-consent
// creation, partner due diligence).
type Screener interface {
	// Screen returns the list entries name matches, explained, best first;
	// none is an empty slice. Errors: a *problem.Error validation_failed for
	// an empty name or one longer than MaxNameLength; the store's errors.
	Screen(ctx context.Context, name string) ([]Match, error)
}

var _ Screener = (*Service)(nil)

// New builds the Service and subscribes it to the bus.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("screening: a Store is required")
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) {
		return nil, fmt.Errorf("screening: threshold %v is not in (0, 1]", c.Threshold)
	}
	if c.Now == nil {
		c.Now = func() time.Time { return time.Now().UTC() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	s := &Service{store: c.Store, bus: c.Bus, threshold: c.Threshold, now: c.Now, log: c.Logger}
	// The in-process bus does not reach the operator's CLI process that
	// imports into the same SQLite file: with it every Screen compares the
	// lists' version too.
	_, local := c.Bus.(*cachebus.Local)
	s.trustBus = c.Bus != nil && !local
	if s.bus != nil {
		s.bus.Subscribe(CacheTopic, func(string) { s.stale.Store(true) })
	}
	return s, nil
}

// Threshold is the similarity at or above which a name matches.
func (s *Service) Threshold() float64 { return s.threshold }

// ImportInput is one import: the file in its format, OFAC's alt.csv with
// FormatOFACSDN (optional), and who imports.
type ImportInput struct {
	Format  Format
	File    []byte
	Aliases []byte
	// ActorType and ActorID are the audit's actor (audit.ActorSystem and
	// "operator:<user>" from the CLI, audit.ActorStaff and the staff id).
	ActorType, ActorID string
}

// Import parses the file and, in one transaction, replaces each list it
// holds (one for the official formats, every list named for the simple
// CSV), records an import row per list and audits it
// ("screening.list_imported"); then it tells every node to reload. Nothing
// is written when the file is refused. Errors (*problem.Error):
// invalid_request for an unknown format or no actor, validation_failed
// for a refused file (the detail is the *ParseError: line and reason).
func (s *Service) Import(ctx context.Context, in ImportInput) ([]Import, error) {
	if !in.Format.Valid() {
		return nil, problem.New(problem.CodeInvalidRequest, "unknown format %q: want ofac-sdn, uk-csv or csv", in.Format)
	}
	if in.ActorType == "" || in.ActorID == "" {
		return nil, problem.New(problem.CodeInvalidRequest, "an import needs who imports it")
	}
	entries, err := Parse(in.Format, in.File, in.Aliases)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, problem.Wrap(problem.CodeValidation, err, "%s", pe.Error())
		}
		return nil, err
	}
	byList := map[string][]Entry{}
	for _, e := range entries {
		if err := e.Validate(); err != nil {
			return nil, problem.Wrap(problem.CodeValidation, err, "entry %s of list %s: %s", e.Reference, e.List,
				strings.TrimPrefix(err.Error(), ErrInvalidEntry.Error()+": "))
		}
		byList[e.List] = append(byList[e.List], e)
	}
	lists := make([]string, 0, len(byList))
	for l := range byList {
		lists = append(lists, l)
	}
	sort.Strings(lists)
	h := sha256.New()
	h.Write(in.File)
	if in.Aliases != nil {
		h.Write(in.Aliases)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	at := s.now().UTC()
	var out []Import
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		out = out[:0]
		for _, l := range lists {
			imp := Import{ID: ids.New("scr"), List: l, Format: in.Format, FileSHA256: sum, Entries: len(byList[l]), At: at, By: in.ActorID}
			if err := s.store.ReplaceList(ctx, l, byList[l]); err != nil {
				return err
			}
			if err := s.store.RecordImport(ctx, imp); err != nil {
				return err
			}
			if err := s.store.Audit(ctx, audit.Entry{ActorType: in.ActorType, ActorID: in.ActorID, Action: "screening.list_imported",
				ObjectType: "screening_list", ObjectID: l, Details: map[string]any{"import_id": imp.ID, "format": string(in.Format),
					"file_sha256": sum, "entries": imp.Entries}}); err != nil {
				return err
			}
			out = append(out, imp)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.invalidate(ctx)
	return out, nil
}

// invalidate drops this node's index and tells the others; a failure to
// publish is logged (the import is committed, and a node whose
// subscription is down checks the version on each Screen).
func (s *Service) invalidate(ctx context.Context) {
	s.stale.Store(true)
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), CacheTopic, "lists"); err != nil {
		s.log.Warn("screening: publish list invalidation", "err", err)
	}
}

// Lists returns the imported lists with their entry counts and latest imports.
func (s *Service) Lists(ctx context.Context) ([]ListSummary, error) { return s.store.Lists(ctx) }

// Screen implements Screener against this node's index of the lists.
func (s *Service) Screen(ctx context.Context, name string) ([]Match, error) {
	if strings.TrimSpace(name) == "" {
		return nil, problem.New(problem.CodeValidation, "the name to screen is empty")
	}
	if len(name) > MaxNameLength {
		return nil, problem.New(problem.CodeValidation, "the name to screen is longer than %d bytes", MaxNameLength)
	}
	x, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	m := x.Match(name, s.threshold)
	if m == nil {
		m = []Match{}
	}
	return m, nil
}

// index returns the current index, loading it when there is none, when an
// import invalidated it, or, while the bus is not live (or there is none,
// or it is the in-process one), when the lists' version in the database
// moved on.
func (s *Service) index(ctx context.Context) (*Index, error) {
	x := s.idx.Load()
	if x != nil && !s.stale.Load() {
		if s.trustBus && s.bus.Live() {
			return x, nil
		}
		v, err := s.store.Version(ctx)
		if err != nil {
			return nil, err
		}
		if v == x.Version() {
			return x, nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if y := s.idx.Load(); y != nil && y != x && !s.stale.Load() {
		return y, nil // another caller loaded it meanwhile
	}
	s.stale.Store(false) // an invalidation from now on marks this load stale again
	v, err := s.store.Version(ctx)
	if err != nil {
		s.stale.Store(true)
		return nil, err
	}
	entries, err := s.store.Entries(ctx)
	if err != nil {
		s.stale.Store(true)
		return nil, err
	}
	y := NewIndex(entries, v)
	s.idx.Store(y)
	return y, nil
}
