package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

const (
	partnerA = "ptn_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	partnerB = "ptn_bbbbbbbbbbbbbbbbbbbbbbbbbb"
	appA1    = "app_a1a1a1a1a1a1a1a1a1a1a1a1a1"
	appA2    = "app_a2a2a2a2a2a2a2a2a2a2a2a2a2"
	appB1    = "app_b1b1b1b1b1b1b1b1b1b1b1b1b1"
)

// fakeResolver answers from a table (for create-time SSRF checks without DNS).
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &netErr{host}
}

type netErr struct{ host string }

func (e *netErr) Error() string { return "no such host " + e.host }

var testResolver = fakeResolver{
	"localhost":           {netip.MustParseAddr("127.0.0.1")},
	"hooks.example.com":   {netip.MustParseAddr("93.184.216.34")},
	"rebind.example.com":  {netip.MustParseAddr("93.184.216.34")},
	"private.example.com": {netip.MustParseAddr("10.1.2.3")},
	"meta.example.com":    {netip.MustParseAddr("169.254.169.254")},
	"v6loop.example.com":  {netip.MustParseAddr("::1")},
	"nat64.example.com":   {netip.MustParseAddr("64:ff9b::a9fe:a9fe")},
	"mixed.example.com":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("192.168.1.1")},
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustBox(tb testing.TB) (*secrets.Box, []byte) {
	tb.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	b, err := secrets.NewBox(k)
	if err != nil {
		tb.Fatal(err)
	}
	return b, k
}

// fastSchedule retries at once (tests do not wait on real back-off).
var fastSchedule = []time.Duration{0, time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}

func mustService(tb testing.TB, d *db.DB, mod func(*Config)) *Service {
	tb.Helper()
	box, _ := mustBox(tb)
	cfg := Config{DB: d, Box: box, AllowLoopback: true, Schedule: fastSchedule, Jitter: -1, Resolver: testResolver,
		ConnectTimeout: 2 * time.Second, ResponseTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewService(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// runDispatchers starts n dispatchers until the test ends.
func runDispatchers(tb testing.TB, s *Service, n int, o DispatcherOptions) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		d := NewDispatcher(s, o)
		wg.Add(1)
		go func() { defer wg.Done(); d.Run(ctx) }()
	}
	tb.Cleanup(func() { cancel(); wg.Wait() })
}

// received is one request a receiver got.
type received struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a real HTTP server recording every request; answer decides the
// response (nil: 204).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
	notify chan struct{}
}

func newReceiver(tb testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{answer: answer, notify: make(chan struct{}, 1)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{Header: r.Header.Clone(), Body: b, At: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		select {
		case rc.notify <- struct{}{}:
		default:
		}
		rc.mu.Lock()
		answer := rc.answer
		rc.mu.Unlock()
		if answer != nil {
			answer(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

// setAnswer changes how the receiver answers from now on.
func (rc *receiver) setAnswer(f func(n int, w http.ResponseWriter, r *http.Request)) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) distinctIDs() map[string]int {
	out := map[string]int{}
	for _, r := range rc.all() {
		out[r.Header.Get(HeaderID)]++
	}
	return out
}

// eventually polls cond until it holds, failing after a generous bound (a
// guard against hangs, not a timing assertion).
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustCreate(tb testing.TB, s *Service, sc Scope, env environment.Environment, in EndpointInput) (*Endpoint, *Credentials) {
	tb.Helper()
	e, c, err := s.CreateEndpoint(context.Background(), sc, env, in)
	if err != nil {
		tb.Fatalf("create endpoint: %v", err)
	}
	return e, c
}

func mustPublish(tb testing.TB, s *Service, d *db.DB, e Event) {
	tb.Helper()
	if err := d.Tx(context.Background(), func(tx *gorm.DB) error { return s.Publish(context.Background(), tx, e) }); err != nil {
		tb.Fatalf("publish: %v", err)
	}
}

func deliveryStatuses(tb testing.TB, d *db.DB, endpointID string) map[string]int {
	tb.Helper()
	var rows []deliveryRow
	if err := d.Where("endpoint_id = ?", endpointID).Find(&rows).Error; err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status]++
	}
	return out
}

func countAttempts(tb testing.TB, d *db.DB, endpointID string) int {
	tb.Helper()
	var n int64
	d.Model(&attemptRow{}).Where("endpoint_id = ?", endpointID).Count(&n)
	return int(n)
}

func decodeBody(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("body %s: %v", b, err)
	}
	return m
}
