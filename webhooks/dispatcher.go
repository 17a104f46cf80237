package webhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/netguard"
)

// DispatcherOptions configures a Dispatcher; zero fields take defaults.
type DispatcherOptions struct {
	// ID names the dispatcher in claims and logs (default host-pid-random).
	ID string
	// Workers is how many deliveries run at once (default 8).
	Workers int
	// PollInterval is how often due rows are looked for (default 200 ms); a
	// Publish on the same node wakes the dispatcher at once, and on
	// PostgreSQL so does a commit on any node (LISTEN/NOTIFY).
	PollInterval time.Duration
	// Lease is how long a claim lasts before another dispatcher may retake the
	// row (default 2 × (connect + response timeout) + 30 s). It must exceed
	// two of the longest deliveries: a row claimed ahead may wait for a
	// worker's delivery to end before its own starts.
	Lease time.Duration
}

// Dispatcher claims due deliveries and sends them. Run any number per process
// and any number of processes against the same database.
type Dispatcher struct {
	s       *Service
	o       DispatcherOptions
	clients map[environment.Environment]*retryablehttp.Client // by environment
}

// NewDispatcher makes a dispatcher for s.
func NewDispatcher(s *Service, o DispatcherOptions) *Dispatcher {
	if o.ID == "" {
		h, _ := os.Hostname()
		o.ID = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), ids.Random(6))
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Lease <= 0 {
		o.Lease = 2*(s.cfg.ConnectTimeout+s.cfg.ResponseTimeout) + 30*time.Second
	}
	d := &Dispatcher{s: s, o: o, clients: map[environment.Environment]*retryablehttp.Client{}}
	for _, env := range environment.All() {
		d.clients[env] = s.newClient(s.policy(env), o.Workers)
	}
	return d
}

// ID is the dispatcher's name.
func (d *Dispatcher) ID() string { return d.o.ID }

// newClient builds the HTTP client of one environment: the address policy is
// enforced in the dialer's Control function (after DNS resolution, so DNS
// rebinding cannot reach a forbidden address), no proxy, no redirects, bounded
// connect and response times. retryablehttp makes exactly one attempt: the
// durable retry schedule lives in the database.
func (s *Service) newClient(pol netguard.Policy, workers int) *retryablehttp.Client {
	dialer := &net.Dialer{Timeout: s.cfg.ConnectTimeout, KeepAlive: 30 * time.Second, Control: pol.Control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   s.cfg.ConnectTimeout,
		ResponseHeaderTimeout: s.cfg.ResponseTimeout,
		MaxIdleConnsPerHost:   workers,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   s.cfg.ConnectTimeout + s.cfg.ResponseTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = hc
	c.RetryMax = 0
	c.Logger = nil
	c.CheckRetry = func(ctx context.Context, _ *http.Response, err error) (bool, error) { return false, nil }
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, _ int) {
		s.log.Debug("webhook delivery", "url", r.URL.Redacted(), "webhook_id", r.Header.Get(HeaderID))
	}
	return c
}

// Run claims and delivers until ctx is done, then waits for in-flight
// deliveries (which are abandoned and released, to be retried), records the
// outcomes not yet recorded and returns nil.
//
// The work of one delivery is spread over batches: once no more than
// Workers claims are in hand, a claim takes rows up to 2 × Workers in hand
// with one UPDATE … RETURNING and loads their events and endpoints with one
// SELECT each (opening each endpoint's secret once); the workers only sign
// and send; a recorder writes the outcomes gathered
// meanwhile in one transaction (one UPDATE for every delivery, one INSERT for
// every attempt). A crash between a receipt and its record leaves the row
// claimed until its lease ends, when it is delivered again with the same
// webhook-id (at least once).
func (d *Dispatcher) Run(ctx context.Context) error {
	wake := d.s.subscribe()
	defer d.s.unsubscribe(wake)
	listenCtx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { defer close(listening); d.s.listen(listenCtx, wake) }() // other nodes' commits (PostgreSQL)
	defer func() { stopListening(); <-listening }()
	results := make(chan result, 4*d.o.Workers)
	recorded := make(chan struct{})
	go func() { defer close(recorded); d.recorder(results) }()
	sem := make(chan struct{}, d.o.Workers)
	done := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	defer func() { wg.Wait(); close(results); <-recorded }()
	var queue []claimed // claimed ahead, waiting for a free worker
	defer func() {
		for _, c := range queue { // shutting down: give back what was not started
			results <- result{c: c, kind: resultRelease}
		}
	}()
	startQueued := func() {
		for len(queue) > 0 && len(sem) < d.o.Workers {
			c := queue[0]
			queue = queue[1:]
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- d.deliver(ctx, c)
				<-sem
				select {
				case done <- struct{}{}:
				default:
				}
			}()
		}
	}
	quick := len(quickPolls) // index into quickPolls; re-polls after a wake-up, as the publisher's commit may lag the wake
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		startQueued()
		full := false
		// Claim ahead once no more than one worker's worth is in hand, up
		// to two: one claim (and one load of events and endpoints) then
		// serves many deliveries.
		if inHand := len(sem) + len(queue); inHand <= d.o.Workers && ctx.Err() == nil {
			n := 2*d.o.Workers - inHand
			token := d.o.ID + "/" + ids.Random(8)
			batch, err := d.claimBatch(ctx, token, n)
			if err != nil && ctx.Err() == nil {
				d.s.log.Warn("webhooks: claim failed", "dispatcher", d.o.ID, "err", err)
			}
			for _, c := range batch {
				if c.skip != nil { // nothing to send: recorded (or released) at once
					results <- *c.skip
					continue
				}
				queue = append(queue, c)
			}
			full = len(batch) == n
			startQueued()
		}
		if full || len(queue) > 0 {
			// Possibly more due, or claims waiting: go on once a worker is free.
			select {
			case <-ctx.Done():
				return nil
			case <-done:
				continue
			}
		}
		wait := d.o.PollInterval
		if quick < len(quickPolls) {
			wait = quickPolls[quick]
			quick++
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			quick = 0
		case <-done:
		case <-timer.C:
		}
	}
}

// quickPolls are the delays of the claims that follow an in-process wake-up:
// Publish wakes the dispatchers before its caller commits, so the rows may
// become visible a little later.
var quickPolls = []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 8 * time.Millisecond,
	16 * time.Millisecond, 32 * time.Millisecond, 64 * time.Millisecond}

// claim takes up to n due, unleased deliveries: one statement, FOR UPDATE SKIP
// LOCKED on PostgreSQL (concurrent claimers skip each other's rows), a
// conditional UPDATE on SQLite (whose single writer serialises claimers).
func (d *Dispatcher) claim(ctx context.Context, token string, n int) ([]deliveryRow, error) {
	now := d.s.now()
	var out []deliveryRow
	// In turn with the process's other SQLite writers (db.DB.Exclusive):
	// left to SQLite's busy retries, claims starved behind publishers.
	err := d.s.db.Exclusive(ctx, func(ctx context.Context) error {
		return d.s.db.WithContext(ctx).Raw(claimQuery(d.s.db.Dialect), token, now.Add(d.o.Lease), now, now, now, n).Scan(&out).Error
	})
	return out, err
}

// claimQuery is claim's statement; its arguments are the claim token, the
// lease's end, now (three times) and the most rows to take.
func claimQuery(dialect db.Dialect) string {
	lock := ""
	if dialect == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	return `UPDATE webhook_deliveries SET claimed_by = ?, lease_until = ?, updated_at = ?
WHERE id IN (SELECT id FROM webhook_deliveries
  WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
  ORDER BY next_attempt_at LIMIT ?` + lock + `)
RETURNING id, event_id, endpoint_id, partner_id, attempts`
}

// claimed is a claimed delivery with what sending it needs.
type claimed struct {
	token string
	dl    deliveryRow
	ep    *endpointRow
	ev    *eventRow
	keys  []string
	skip  *result // set when there is nothing to send (endpoint gone or disabled, event or secret unreadable)
}

// claimBatch claims up to n deliveries and loads their events and endpoints
// (one SELECT each for the whole batch) and the endpoints' signing keys.
func (d *Dispatcher) claimBatch(ctx context.Context, token string, n int) ([]claimed, error) {
	rows, err := d.claim(ctx, token, n)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	s := d.s
	out := make([]claimed, len(rows))
	evIDs, epIDs := make([]string, 0, len(rows)), make([]string, 0, len(rows))
	seenEp := map[string]bool{}
	for i, r := range rows {
		out[i] = claimed{token: token, dl: r}
		evIDs = append(evIDs, r.EventID)
		if !seenEp[r.EndpointID] {
			seenEp[r.EndpointID] = true
			epIDs = append(epIDs, r.EndpointID)
		}
	}
	g := s.db.WithContext(ctx)
	var evs []eventRow
	var eps []endpointRow
	if err = g.Where("id IN ?", evIDs).Find(&evs).Error; err == nil {
		err = g.Where("id IN ?", epIDs).Find(&eps).Error
	}
	if err != nil { // give the whole claim back
		for i := range out {
			out[i].skip = &result{c: out[i], kind: resultRelease}
		}
		return out, err
	}
	evByID := make(map[string]*eventRow, len(evs))
	for i := range evs {
		evByID[evs[i].ID] = &evs[i]
	}
	epByID := make(map[string]*endpointRow, len(eps))
	for i := range eps {
		epByID[eps[i].ID] = &eps[i]
	}
	keys := map[string][]string{}
	for i := range out {
		c := &out[i]
		c.ep, c.ev = epByID[c.dl.EndpointID], evByID[c.dl.EventID]
		switch {
		case c.ep == nil:
			c.skip = &result{c: *c, kind: resultFinish, reason: "endpoint deleted"}
		case !c.ep.Enabled:
			c.skip = &result{c: *c, kind: resultFinish, reason: "endpoint disabled"}
		case c.ev == nil:
			c.skip = &result{c: *c, kind: resultRelease}
		default:
			k, ok := keys[c.ep.ID]
			if !ok {
				if k, err = s.signingKeys(c.ep); err != nil {
					s.log.Error("webhooks: cannot open endpoint secret", "endpoint", c.ep.ID, "err", err)
					k = nil
				}
				keys[c.ep.ID] = k
			}
			if k == nil {
				c.skip = &result{c: *c, kind: resultRelease}
			}
			c.keys = k
		}
	}
	return out, nil
}

// result is what became of one claimed delivery, for the recorder.
type result struct {
	c      claimed
	kind   int
	at     time.Time // when the attempt started
	o      outcome
	reason string // resultFinish: why the delivery is cancelled
}

// Kinds of result.
const (
	resultAttempt = iota // an HTTP attempt was made: record it
	resultFinish         // cancelled without an attempt (endpoint gone or disabled)
	resultRelease        // not attempted: give the claim back
)

// deliver makes one attempt of a claimed delivery.
func (d *Dispatcher) deliver(ctx context.Context, c claimed) result {
	started := d.s.now()
	o := d.post(ctx, c.ep, c.ev.ID, []byte(c.ev.Payload), c.keys, started)
	if ctx.Err() != nil {
		return result{c: c, kind: resultRelease} // shutting down: not counted, retried by whoever claims next
	}
	d.s.observe(o)
	return result{c: c, kind: resultAttempt, at: started, o: o}
}

// outcome is what one HTTP attempt gave.
type outcome struct {
	status     int
	latency    time.Duration
	excerpt    string
	err        string
	retryAfter time.Duration
}

func (o outcome) ok() bool { return o.err == "" && o.status >= 200 && o.status < 300 }

// signingKeys opens the endpoint's current key and, during a rotation
// overlap, its previous one.
func (s *Service) signingKeys(ep *endpointRow) ([]string, error) {
	cur, err := s.box.Open(ep.SecretSealed, secretPurpose(ep.ID))
	if err != nil {
		return nil, err
	}
	keys := []string{string(cur)}
	if ep.PrevSecretSealed != "" && ep.PrevValidUntil != nil && ep.PrevValidUntil.After(s.now()) {
		prev, err := s.box.Open(ep.PrevSecretSealed, secretPurpose(ep.ID))
		if err != nil {
			return nil, err
		}
		keys = append(keys, string(prev))
	}
	return keys, nil
}

func (d *Dispatcher) post(ctx context.Context, ep *endpointRow, id string, payload []byte, keys []string, at time.Time) outcome {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, ep.URL, payload)
	if err != nil {
		return outcome{err: "invalid endpoint URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Bankbridge-Webhooks/1")
	if err := SignHeaders(req.Header, keys, id, at, payload); err != nil {
		return outcome{err: "signing failed"}
	}
	client := d.clients[ep.Environment]
	if client == nil {
		client = d.clients[environment.Production]
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return outcome{latency: time.Since(t0), err: describeErr(err)}
	}
	defer resp.Body.Close()
	buf, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseRead))
	o := outcome{status: resp.StatusCode, latency: time.Since(t0), excerpt: truncate(string(buf), ResponseExcerptSize)}
	if rerr != nil && o.status >= 200 && o.status < 300 {
		o.err = "reading response: " + describeErr(rerr)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), d.s.now())
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		o.err = "redirect not followed (Location: " + truncate(resp.Header.Get("Location"), 200) + ")"
	}
	return o
}

// describeErr names a transport failure without leaking internals.
func describeErr(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, ErrForbiddenAddress):
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return "refused: " + op.Err.Error()
		}
		return "refused: forbidden destination address"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads delay-seconds or an HTTP-date (RFC 9110 §10.2.3),
// capped at 24 h.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	if d > 24*time.Hour {
		d = 24 * time.Hour
	}
	return d
}

// release gives a claim back so the row is due again at once.
func (d *Dispatcher) release(token, id string) {
	d.s.db.WithContext(context.Background()).Model(&deliveryRow{}).
		Where("id = ? AND claimed_by = ? AND status = ?", id, token, StatusPending).
		Updates(map[string]any{"claimed_by": "", "lease_until": nil})
}
