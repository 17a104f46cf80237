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
	"gorm.io/gorm"

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
	// row (default 2 × (connect + response timeout) + 30 s). It must exceed the
	// longest delivery.
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
// deliveries (which are abandoned and released, to be retried) and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	wake := d.s.subscribe()
	defer d.s.unsubscribe(wake)
	listenCtx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { defer close(listening); d.s.listen(listenCtx, wake) }() // other nodes' commits (PostgreSQL)
	defer func() { stopListening(); <-listening }()
	sem := make(chan struct{}, d.o.Workers)
	done := make(chan struct{}, d.o.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	quick := len(quickPolls) // index into quickPolls; re-polls after a wake-up, as the publisher's commit may lag the wake
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		free := d.o.Workers - len(sem)
		got := 0
		if free > 0 && ctx.Err() == nil {
			token := d.o.ID + "/" + ids.Random(8)
			rows, err := d.claim(ctx, token, free)
			if err != nil && ctx.Err() == nil {
				d.s.log.Warn("webhooks: claim failed", "dispatcher", d.o.ID, "err", err)
			}
			got = len(rows)
			for _, r := range rows {
				sem <- struct{}{}
				wg.Add(1)
				go func(r deliveryRow) {
					defer wg.Done()
					d.deliver(ctx, token, r)
					<-sem
					select {
					case done <- struct{}{}:
					default:
					}
				}(r)
			}
		}
		if got > 0 && got == free {
			// Possibly more due: go on once a worker is free.
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
	lock := ""
	if d.s.db.Dialect == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := `UPDATE webhook_deliveries SET claimed_by = ?, lease_until = ?, updated_at = ?
WHERE id IN (SELECT id FROM webhook_deliveries
  WHERE status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
  ORDER BY next_attempt_at LIMIT ?` + lock + `)
RETURNING id, event_id, endpoint_id, partner_id, attempts`
	var out []deliveryRow
	err := d.s.db.WithContext(ctx).Raw(q, token, now.Add(d.o.Lease), now, now, now, n).Scan(&out).Error
	return out, err
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

// deliver makes one attempt of a claimed delivery and records it.
func (d *Dispatcher) deliver(ctx context.Context, token string, dl deliveryRow) {
	s := d.s
	g := s.db.WithContext(ctx)
	var ep endpointRow
	epErr := g.Where("id = ?", dl.EndpointID).Take(&ep).Error
	if epErr != nil && !errors.Is(epErr, gorm.ErrRecordNotFound) {
		d.release(token, dl.ID)
		return
	}
	if epErr != nil || !ep.Enabled {
		reason := "endpoint deleted"
		if epErr == nil {
			reason = "endpoint disabled"
		}
		d.finish(token, &dl, nil, StatusCancelled, reason)
		return
	}
	var ev eventRow
	if err := g.Where("id = ?", dl.EventID).Take(&ev).Error; err != nil {
		d.release(token, dl.ID)
		return
	}
	keys, err := s.signingKeys(&ep)
	if err != nil {
		s.log.Error("webhooks: cannot open endpoint secret", "endpoint", ep.ID, "err", err)
		d.release(token, dl.ID)
		return
	}
	started := s.now()
	o := d.post(ctx, &ep, ev.ID, []byte(ev.Payload), keys, started)
	if ctx.Err() != nil {
		d.release(token, dl.ID) // shutting down: not counted, retried by whoever claims next
		return
	}
	s.observe(o)
	d.record(token, &dl, &ep, &ev, started, o)
}

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

// record stores the attempt and moves the delivery on, fenced on our claim: if
// the lease was lost meanwhile nothing is written (the other claimer records).
func (d *Dispatcher) record(token string, dl *deliveryRow, ep *endpointRow, ev *eventRow, at time.Time, o outcome) {
	s := d.s
	now := s.now()
	n := dl.Attempts + 1
	att := attemptRow{DeliveryID: dl.ID, EndpointID: dl.EndpointID, EventID: dl.EventID, EventType: ev.Type,
		PartnerID: dl.PartnerID, Attempt: n, At: at, StatusCode: o.status, LatencyMS: o.latency.Milliseconds(),
		ResponseExcerpt: o.excerpt, Error: o.err, Dispatcher: d.o.ID}
	upd := map[string]any{"attempts": n, "claimed_by": "", "lease_until": nil, "updated_at": now,
		"last_status_code": o.status, "last_error": truncate(o.err, 500)}
	var epUpd map[string]any
	disableReason := ""
	switch {
	case o.ok():
		upd["status"], upd["delivered_at"] = StatusSucceeded, now
		if ep.FailingSince != nil {
			epUpd = map[string]any{"failing_since": nil}
		}
	case o.status == http.StatusGone:
		upd["status"] = StatusCancelled
		upd["last_error"] = "endpoint answered 410 Gone: endpoint disabled"
		disableReason = "the endpoint answered 410 Gone"
	default:
		since := now
		if ep.FailingSince != nil {
			since = *ep.FailingSince
		} else {
			epUpd = map[string]any{"failing_since": now}
		}
		if n >= len(s.cfg.Schedule) {
			upd["status"] = StatusDead
		} else {
			next := now.Add(s.delay(n))
			if ra := now.Add(o.retryAfter); ra.After(next) {
				next = ra
			}
			upd["status"], upd["next_attempt_at"] = StatusPending, next
			att.NextRetryAt = &next
		}
		if now.Sub(since) >= s.cfg.DisableAfter {
			disableReason = fmt.Sprintf("deliveries failed continuously since %s", since.Format(time.RFC3339))
		}
	}
	if disableReason != "" {
		epUpd = map[string]any{"enabled": false, "disabled_reason": disableReason, "updated_at": now}
	}
	err := s.tx(context.Background(), func(tx *gorm.DB) error {
		res := tx.Model(&deliveryRow{}).Where("id = ? AND claimed_by = ? AND status = ?", dl.ID, token, StatusPending).Updates(upd)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errLeaseLost
		}
		if err := tx.Create(&att).Error; err != nil {
			return err
		}
		if epUpd != nil {
			q := tx.Model(&endpointRow{}).Where("id = ?", ep.ID)
			switch {
			case disableReason != "":
				q = q.Where("enabled = ?", true)
			case !o.ok():
				q = q.Where("failing_since IS NULL") // a concurrent attempt may have started the run
			}
			res := q.Updates(epUpd)
			if res.Error != nil {
				return res.Error
			}
			if disableReason != "" && res.RowsAffected == 1 {
				return s.notifyDisabled(tx, ep, disableReason, now)
			}
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, errLeaseLost) {
			s.log.Error("webhooks: recording attempt failed", "delivery", dl.ID, "err", err)
			d.release(token, dl.ID)
		}
		return
	}
	if upd["status"] == StatusDead {
		s.log.Warn("webhooks: delivery dead-lettered", "delivery", dl.ID, "endpoint", ep.ID, "event", ev.ID)
	}
}

var errLeaseLost = errors.New("webhooks: lease lost")

// finish closes a delivery without an attempt (endpoint gone or disabled).
func (d *Dispatcher) finish(token string, dl *deliveryRow, _ *endpointRow, status, reason string) {
	d.s.db.WithContext(context.Background()).Model(&deliveryRow{}).
		Where("id = ? AND claimed_by = ? AND status = ?", dl.ID, token, StatusPending).
		Updates(map[string]any{"status": status, "last_error": reason, "claimed_by": "", "lease_until": nil, "updated_at": d.s.now()})
}

// release gives a claim back so the row is due again at once.
func (d *Dispatcher) release(token, id string) {
	d.s.db.WithContext(context.Background()).Model(&deliveryRow{}).
		Where("id = ? AND claimed_by = ? AND status = ?", id, token, StatusPending).
		Updates(map[string]any{"claimed_by": "", "lease_until": nil})
}
