// Service: its configuration and defaults, the clock, the retry schedule,
// transactions, the in-process wake-ups of the dispatchers and small helpers
// shared by the other files. The service's topics each have their own file:
// endpoints.go, outbox.go (Publish), replay.go (test events and replays),
// attempts.go (delivery log), notices.go; dispatcher.go sends deliveries.

package webhooks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// DefaultSchedule is the delay before each attempt: immediately, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the previous
// failure (each delay ±10 % jitter). After the last attempt fails the delivery
// is dead-lettered.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Defaults for Config's zero fields.
const (
	DefaultRotationOverlap = 24 * time.Hour
	MaxRotationOverlap     = 7 * 24 * time.Hour
	DefaultDisableAfter    = 5 * 24 * time.Hour
	DefaultConnectTimeout  = 5 * time.Second
	DefaultResponseTimeout = 15 * time.Second
	// MaxResponseRead is how much of a receiver's answer is read.
	MaxResponseRead = 64 << 10
	// ResponseExcerptSize is how much of it the delivery log keeps.
	ResponseExcerptSize = 1 << 10
	// MaxEndpointsPerApp bounds the endpoints of one app.
	MaxEndpointsPerApp = 20
)

// Config configures a Service. DB and Box are required.
type Config struct {
	DB  *db.DB
	Box *secrets.Box
	// Clock returns now (default time.Now). Tests inject a fake one.
	Clock func() time.Time
	// AllowLoopback lets sandbox endpoints use http and loopback hosts
	// (--webhooks-allow-loopback). Production endpoints never may.
	AllowLoopback bool
	// Schedule is the delay before attempt i+1 (default DefaultSchedule); its
	// length is the number of attempts.
	Schedule []time.Duration
	// Jitter is the ± fraction applied to each delay (default 0.1; negative for none).
	Jitter float64
	// RotationOverlap is how long the previous secret keeps signing after a
	// rotation (default 24 h).
	RotationOverlap time.Duration
	// DisableAfter disables an endpoint that has failed continuously this long
	// (default 5 days).
	DisableAfter time.Duration
	// ConnectTimeout and ResponseTimeout bound a delivery (defaults 5 s, 15 s).
	ConnectTimeout, ResponseTimeout time.Duration
	// Resolver checks endpoint hosts at create/update time (default net.DefaultResolver).
	Resolver Resolver
	// Logger receives dispatcher logs (default slog.Default()).
	Logger *slog.Logger
	// Observer, when set, is told about every delivery attempt (metrics).
	Observer DeliveryObserver
	// ReplayInterval, ReplayMaxEvents and ReplayDailyDeliveries limit
	// deliveries queued on demand (see DefaultReplayInterval): one range
	// replay per endpoint per interval (default 1 minute), events per range
	// replay (default 1000), deliveries queued by replays and test events per
	// partner per UTC day (default 10000).
	ReplayInterval        time.Duration
	ReplayMaxEvents       int
	ReplayDailyDeliveries int
	// Bus, when set, carries the invalidations of the per-node cache of
	// each partner's enabled endpoints (endpointcache.go); without it
	// every event publish reads them.
	Bus cachebus.Bus
}

// Service manages endpoints and the outbox.
type Service struct {
	cfg Config
	db  *db.DB
	box *secrets.Box
	log *slog.Logger
	// endpoints caches each partner's enabled endpoints (endpointcache.go).
	endpoints *endpointCache

	mu     sync.Mutex
	wakers map[chan struct{}]struct{}
	// onListen, when set (tests), is called each time a dispatcher's LISTEN
	// connection is ready.
	onListen func()
}

// NewService checks cfg and fills its defaults.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil {
		return nil, errors.New("webhooks: Config.DB and Config.Box are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.RotationOverlap <= 0 {
		cfg.RotationOverlap = DefaultRotationOverlap
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReplayInterval <= 0 {
		cfg.ReplayInterval = DefaultReplayInterval
	}
	if cfg.ReplayMaxEvents <= 0 {
		cfg.ReplayMaxEvents = DefaultReplayMaxEvents
	}
	if cfg.ReplayDailyDeliveries <= 0 {
		cfg.ReplayDailyDeliveries = DefaultReplayDailyDeliveries
	}
	return &Service{cfg: cfg, db: cfg.DB, box: cfg.Box, log: cfg.Logger, wakers: map[chan struct{}]struct{}{},
		endpoints: cachebus.NewCache[[]endpointRow](cfg.Bus, EndpointCacheTopic, endpointCacheTTL, endpointCacheMax)}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

func secretPurpose(endpointID string) string { return "webhook-secret:" + endpointID }

// delay returns the jittered delay before attempt n+1 (n attempts made so far).
func (s *Service) delay(n int) time.Duration {
	d := s.cfg.Schedule[n]
	if s.cfg.Jitter > 0 && d > 0 {
		f := 1 + s.cfg.Jitter*(2*rand.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return d
}

// tx runs fn in a transaction. On SQLite it holds the write lock from BEGIN
// (internal/db opens SQLite with _txlock=immediate), so the read-then-write
// transactions here serialise instead of failing with SQLITE_BUSY.
func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.Tx(ctx, fn)
}

// ---- wake-ups ----

func (s *Service) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.wakers[ch] = struct{}{}
	s.mu.Unlock()
	return ch
}

func (s *Service) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	delete(s.wakers, ch)
	s.mu.Unlock()
}

// wake nudges this process's dispatchers (other nodes are woken by the
// PostgreSQL notification of the commit, see notifyQueued, or find the rows
// by polling).
func (s *Service) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

var forUpdate = clause.Locking{Strength: "UPDATE"}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
