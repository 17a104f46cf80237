package monitoring

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Stats are the request figures of one bucket (or of a whole window).
type Stats struct {
	// Requests counts every logged request.
	Requests int64
	// OK counts 1xx–3xx answers, ClientErrors 4xx, ServerErrors 5xx and
	// Unanswered the requests logged without an answer (status 0).
	OK, ClientErrors, ServerErrors, Unanswered int64
	// QuotaRefusals counts requests refused by the quota: a 429, or the
	// problem type rate_limited or quota_exhausted.
	QuotaRefusals int64
	// RateLimited and QuotaExhausted split QuotaRefusals by problem type
	// (a 429 of neither type counts in QuotaRefusals only).
	RateLimited, QuotaExhausted int64
	// P50, P95 and P99 are nearest-rank latency percentiles in microseconds
	// (0 when there are no requests).
	P50, P95, P99 int64
}

// Bucket is one hour or one day of a window.
type Bucket struct {
	// Start is the bucket's first instant (UTC); it lasts Overview.Step.
	Start time.Time
	Stats
}

// Overview is the Monitoring page's data for one scope and window.
type Overview struct {
	Scope  Scope
	Window Window
	// From and To bound the window: From <= at < To.
	From, To time.Time
	// Step is the bucket length (an hour or a day).
	Step    time.Duration
	Buckets []Bucket
	// Total is the whole window's Stats (its percentiles over every request).
	Total    Stats
	Webhooks WebhookHealth
	Consents []StatusCount
	Payments []StatusCount
	// Now is when the overview was computed (for the pending age).
	Now time.Time
}

// OldestPendingAge is how long the oldest pending delivery has waited (0: none).
func (o *Overview) OldestPendingAge() time.Duration {
	if o.Webhooks.OldestPending.IsZero() {
		return 0
	}
	return o.Now.Sub(o.Webhooks.OldestPending)
}

// bounds returns the window's start, end and step for w at now.
func bounds(w Window, now time.Time) (from, to time.Time, step time.Duration, n int, err error) {
	now = now.UTC()
	switch w {
	case Window24h:
		to = now.Truncate(time.Hour).Add(time.Hour)
		return to.Add(-24 * time.Hour), to, time.Hour, 24, nil
	case Window30d:
		day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		to = day.AddDate(0, 0, 1)
		return to.AddDate(0, 0, -30), to, 24 * time.Hour, 30, nil
	}
	return time.Time{}, time.Time{}, 0, 0, ErrBadWindow
}

// Overview computes scope's figures over window w ending now. It returns
// ErrBadWindow or ErrBadEnvironment for bad input, else the Store's error.
func (s *Service) Overview(ctx context.Context, scope Scope, w Window) (*Overview, error) {
	if scope.Environment != "" && !scope.Environment.Valid() {
		return nil, ErrBadEnvironment
	}
	now := s.now().UTC()
	from, to, step, n, err := bounds(w, now)
	if err != nil {
		return nil, err
	}
	o := &Overview{Scope: scope, Window: w, From: from, To: to, Step: step, Now: now}
	perBucket := make([][]int64, n)
	o.Buckets = make([]Bucket, n)
	for i := range o.Buckets {
		o.Buckets[i].Start = from.Add(time.Duration(i) * step)
	}
	err = s.store.EachRequest(ctx, scope, from, to, func(r Request) error {
		i := int(r.At.UTC().Sub(from) / step)
		if i < 0 || i >= n {
			return nil
		}
		o.Buckets[i].count(r)
		o.Total.count(r)
		perBucket[i] = append(perBucket[i], r.LatencyUS)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("monitoring: requests: %w", err)
	}
	all := make([]int64, 0, o.Total.Requests)
	for i := range o.Buckets {
		o.Buckets[i].setPercentiles(perBucket[i])
		all = append(all, perBucket[i]...)
		perBucket[i] = nil
	}
	o.Total.setPercentiles(all)
	if o.Webhooks, o.Consents, o.Payments, err = s.others(ctx, scope, from, to); err != nil {
		return nil, err
	}
	return o, nil
}

// count adds one request to st.
func (st *Stats) count(r Request) {
	st.Requests++
	switch {
	case r.Status == 0:
		st.Unanswered++
	case r.Status >= 500:
		st.ServerErrors++
	case r.Status >= 400:
		st.ClientErrors++
	default:
		st.OK++
	}
	switch {
	case r.ProblemType == string(problem.CodeRateLimited):
		st.RateLimited++
		st.QuotaRefusals++
	case r.ProblemType == string(problem.CodeQuotaExhausted):
		st.QuotaExhausted++
		st.QuotaRefusals++
	case r.Status == 429:
		st.QuotaRefusals++
	}
}

// setPercentiles sets P50, P95 and P99 from the latencies (sorted in place).
func (st *Stats) setPercentiles(lat []int64) {
	slices.Sort(lat)
	st.P50, st.P95, st.P99 = Percentile(lat, 50), Percentile(lat, 95), Percentile(lat, 99)
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted:
// its ⌈p·n/100⌉-th smallest value, or 0 when sorted is empty.
func Percentile(sorted []int64, p int) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// Share is part/whole in basis points (hundredths of a percent), rounded
// down; 0 when whole is 0.
func Share(part, whole int64) int64 {
	if whole == 0 {
		return 0
	}
	return part * 10000 / whole
}
