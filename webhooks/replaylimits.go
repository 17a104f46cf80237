package webhooks

import (
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Limits on deliveries a partner queues on demand. Without them one partner
// could make the dispatcher send any number of requests to any public URL it
// registers (a flood tool): a range replay queues one delivery per event,
// and a replay or test event can be asked for again and again.
//
//   - A range replay to one endpoint at most once per ReplayInterval
//     (default 1 minute), and at most ReplayMaxEvents events per range replay
//     (default 1000; a larger range is refused, so nothing is silently left
//     out: narrow it).
//   - At most ReplayDailyDeliveries deliveries queued on demand (range
//     replays, single-event replays and test events) per partner per UTC day
//     (default 10000), counted across the partner's apps and endpoints.
//
// The state is in the database (webhook_replay_windows,
// webhook_replay_budgets), each check-and-count one statement, so the limits
// hold across nodes and under concurrent requests. A refusal is a 429
// rate_limited problem whose "retry_after" member (seconds) handlers send as
// Retry-After; a replay refused for the daily budget queues nothing.
const (
	DefaultReplayInterval        = time.Minute
	DefaultReplayMaxEvents       = 1000
	DefaultReplayDailyDeliveries = 10000
)

// windowSQL claims an endpoint's range-replay slot: insert, or move next_at
// forward only if it has passed. No row affected means the slot is taken.
const windowSQL = `INSERT INTO webhook_replay_windows (endpoint_id, next_at) VALUES (?, ?)
ON CONFLICT (endpoint_id) DO UPDATE SET next_at = excluded.next_at
WHERE webhook_replay_windows.next_at <= ?`

// budgetSQL adds n deliveries to the partner's day unless that passes the
// cap. No row affected means the budget is exhausted.
const budgetSQL = `INSERT INTO webhook_replay_budgets (partner_id, day, deliveries) VALUES (?, ?, ?)
ON CONFLICT (partner_id, day) DO UPDATE SET deliveries = webhook_replay_budgets.deliveries + excluded.deliveries
WHERE webhook_replay_budgets.deliveries + excluded.deliveries <= ?`

// RetryAfter returns how long a rate_limited problem from this package asks
// the caller to wait (the Retry-After value), and whether err is one.
func RetryAfter(err error) (time.Duration, bool) {
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != problem.CodeRateLimited {
		return 0, false
	}
	secs, ok := p.Extra["retry_after"].(int64)
	if !ok {
		return 0, false
	}
	return time.Duration(secs) * time.Second, true
}

// retrySeconds is wait in whole seconds, rounded up, at least 1.
func retrySeconds(wait time.Duration) int64 {
	return max(int64((wait+time.Second-1)/time.Second), 1)
}

// claimReplayWindow takes the endpoint's range-replay slot for
// ReplayInterval, or refuses with rate_limited.
func (s *Service) claimReplayWindow(tx *gorm.DB, endpointID string, now time.Time) error {
	res := tx.Exec(windowSQL, endpointID, now.Add(s.cfg.ReplayInterval), now)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var next time.Time
	if err := tx.Raw(`SELECT next_at FROM webhook_replay_windows WHERE endpoint_id = ?`, endpointID).Row().Scan(&next); err != nil {
		return err
	}
	secs := retrySeconds(next.Sub(now))
	return problem.New(problem.CodeRateLimited, "webhook endpoint %s may have one range replay per %s; try again in %s",
		endpointID, per(s.cfg.ReplayInterval), seconds(secs)).With("retry_after", secs)
}

// spendReplayBudget counts n on-demand deliveries against the partner's
// daily budget, or refuses with rate_limited (retry at the next UTC day).
func (s *Service) spendReplayBudget(tx *gorm.DB, partnerID string, n int, now time.Time) error {
	if n <= 0 {
		return nil
	}
	day := now.UTC().Format(time.DateOnly)
	limit := int64(s.cfg.ReplayDailyDeliveries)
	if int64(n) <= limit {
		res := tx.Exec(budgetSQL, partnerID, day, n, limit)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected > 0 {
			// Earlier days are no longer needed.
			return tx.Exec(`DELETE FROM webhook_replay_budgets WHERE partner_id = ? AND day < ?`, partnerID, day).Error
		}
	}
	var used int64
	if err := tx.Raw(`SELECT COALESCE(SUM(deliveries), 0) FROM webhook_replay_budgets WHERE partner_id = ? AND day = ?`,
		partnerID, day).Row().Scan(&used); err != nil {
		return err
	}
	tomorrow := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return problem.New(problem.CodeRateLimited, "this would queue %d deliveries, and replays and test events may queue at most %d per partner per UTC day (%d left today)",
		n, limit, max(limit-used, 0)).With("retry_after", retrySeconds(tomorrow.Sub(now)))
}

// per says d after "per": "minute", "5 minutes", "hour", "90 seconds".
func per(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d == time.Minute:
		return "minute"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return seconds(int64((d + time.Second - 1) / time.Second))
}

func seconds(n int64) string {
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}
