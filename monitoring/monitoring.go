// Package monitoring computes what the staff console's Monitoring section
// shows, from the platform's own tables: per partner and per app over a
// window (traffic, error rates, latency percentiles, quota refusals, webhook
// health, consents and payments by status), and the monthly API
// availability and performance statistics a UK Open Banking bank publishes.
//
// Every figure is computed in Go from the rows the Store reads (the
// latencies of request_log, counted per bucket), so SQLite and PostgreSQL
// give the same answer to the microsecond. Percentiles are nearest-rank:
// the p-th percentile of n sorted values is the ⌈p·n/100⌉-th smallest.
package monitoring

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// Errors the Service returns for input a caller can correct.
var (
	// ErrBadWindow is returned for a window other than Window24h and Window30d.
	ErrBadWindow = errors.New("monitoring: window must be 24h or 30d")
	// ErrBadMonth is returned for a month that is not YYYY-MM.
	ErrBadMonth = errors.New("monitoring: month must be YYYY-MM")
	// ErrBadEnvironment is returned for an environment other than sandbox,
	// production or "" (both, where allowed).
	ErrBadEnvironment = errors.New("monitoring: environment must be sandbox or production")
)

// Window is a monitoring period ending now.
type Window string

// The windows the Monitoring section offers.
const (
	// Window24h is the last 24 hours in hourly buckets (the current hour last).
	Window24h Window = "24h"
	// Window30d is the last 30 days in daily buckets (today last, UTC).
	Window30d Window = "30d"
)

// Scope narrows what is counted; a zero field matches everything.
type Scope struct {
	PartnerID string
	// AppID is the app (= OAuth client_id) whose calls are counted.
	AppID string
	// Environment is environment.Sandbox, environment.Production or "" (both).
	Environment environment.Environment
}

// Request is one request_log row as the aggregation needs it.
type Request struct {
	At        time.Time
	Path      string
	Status    int
	LatencyUS int64
	// ProblemType is the refusal's problem code ("" on success).
	ProblemType string
}

// WebhookHealth is the state of the scope's webhook deliveries.
type WebhookHealth struct {
	// Delivered counts deliveries that succeeded in the window.
	Delivered int64
	// Dead counts deliveries dead-lettered (given up) in the window.
	Dead int64
	// FailedAttempts counts attempts in the window that did not get a 2xx.
	FailedAttempts int64
	// Pending counts deliveries waiting to be made now (any age).
	Pending int64
	// OldestPending is when the oldest pending delivery was queued (zero: none).
	OldestPending time.Time
}

// StatusCount is how many rows have one status.
type StatusCount struct {
	Status string
	Count  int64
}

// Store reads the platform's tables and appends the authorization server's
// request counts (auth_request_stats, its only write). Every method returns the database's
// error as it is (wrapped) and nothing else; an empty result is not an error.
type Store interface {
	// EachRequest calls fn with every request_log row of scope with
	// from <= at < to, in no particular order, one at a time (a month of
	// every partner's traffic is never held as rows); an error from fn stops
	// the iteration and is returned.
	EachRequest(ctx context.Context, s Scope, from, to time.Time, fn func(Request) error) error
	// Webhooks reports the webhook deliveries of scope (an app's: those to
	// its endpoints): delivered, dead and failed attempts in [from, to), and
	// what is pending now.
	Webhooks(ctx context.Context, s Scope, from, to time.Time) (WebhookHealth, error)
	// Consents counts the consents of scope created in [from, to) by
	// status, ordered by status.
	Consents(ctx context.Context, s Scope, from, to time.Time) ([]StatusCount, error)
	// Payments counts the payments of scope created in [from, to) by
	// status, ordered by status.
	Payments(ctx context.Context, s Scope, from, to time.Time) ([]StatusCount, error)
	// EachAuthStat calls fn with every auth_request_stats row whose minute
	// is in [from, to) and whose environment is env or "" (env "": every
	// row), one at a time; an error from fn stops the iteration and is
	// returned.
	EachAuthStat(ctx context.Context, env environment.Environment, from, to time.Time, fn func(AuthStat) error) error
	AuthStatWriter
}

// Service computes the Monitoring section's figures.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a Service reading store; now is the clock (nil: time.Now).
func New(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}
