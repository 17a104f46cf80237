package monitoring

import (
	"context"
	"fmt"
	"time"
)

// Summary is a scope's figures over any period [From, To) as one total: the
// Overview's Total, webhook health, consents and payments without buckets.
// Performance reviews (monitoring/reviews) take a quarter's figures from it.
type Summary struct {
	Scope    Scope
	From, To time.Time
	Total    Stats
	Webhooks WebhookHealth
	Consents []StatusCount
	Payments []StatusCount
}

// Summary computes scope's figures over [from, to). It returns
// ErrBadEnvironment for a bad environment, else the Store's error.
func (s *Service) Summary(ctx context.Context, scope Scope, from, to time.Time) (*Summary, error) {
	if scope.Environment != "" && !scope.Environment.Valid() {
		return nil, ErrBadEnvironment
	}
	from, to = from.UTC(), to.UTC()
	sum := &Summary{Scope: scope, From: from, To: to}
	var lat []int64
	err := s.store.EachRequest(ctx, scope, from, to, func(r Request) error {
		sum.Total.count(r)
		lat = append(lat, r.LatencyUS)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("monitoring: requests: %w", err)
	}
	sum.Total.setPercentiles(lat)
	if sum.Webhooks, sum.Consents, sum.Payments, err = s.others(ctx, scope, from, to); err != nil {
		return nil, err
	}
	return sum, nil
}

// others reads the webhook health, consents and payments of scope over
// [from, to) (shared by Overview and Summary).
func (s *Service) others(ctx context.Context, scope Scope, from, to time.Time) (w WebhookHealth, consents, payments []StatusCount, err error) {
	if w, err = s.store.Webhooks(ctx, scope, from, to); err != nil {
		return w, nil, nil, fmt.Errorf("monitoring: webhooks: %w", err)
	}
	if consents, err = s.store.Consents(ctx, scope, from, to); err != nil {
		return w, nil, nil, fmt.Errorf("monitoring: consents: %w", err)
	}
	if payments, err = s.store.Payments(ctx, scope, from, to); err != nil {
		return w, nil, nil, fmt.Errorf("monitoring: payments: %w", err)
	}
	return w, consents, payments, nil
}

// Sum adds the counts of every status.
func Sum(counts []StatusCount) int64 {
	var n int64
	for _, c := range counts {
		n += c.Count
	}
	return n
}
