package monitoring

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/webhooks"
)

// GormStore is the Store on the platform's database (SQLite or
// PostgreSQL). It reads request_log, webhook_deliveries, webhook_attempts,
// webhook_endpoints, api_consents and api_payments, and reads and appends
// auth_request_stats.
type GormStore struct{ db *db.DB }

// NewGormStore returns the Store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

func (s *GormStore) handle(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

// where narrows q (on the table whose partner, client and environment
// columns are named by the prefix, e.g. "" or "e.") to scope.
func where(q *gorm.DB, sc Scope, prefix, clientCol string) *gorm.DB {
	if sc.PartnerID != "" {
		q = q.Where(prefix+"partner_id = ?", sc.PartnerID)
	}
	if sc.AppID != "" {
		q = q.Where(prefix+clientCol+" = ?", sc.AppID)
	}
	if sc.Environment != "" {
		q = q.Where(prefix+"environment = ?", string(sc.Environment))
	}
	return q
}

// EachRequest implements Store.
func (s *GormStore) EachRequest(ctx context.Context, sc Scope, from, to time.Time, fn func(Request) error) error {
	q := s.handle(ctx).Table("request_log").Select("at, path, status, latency_us, problem_type").
		Where("at >= ? AND at < ?", from.UTC(), to.UTC())
	rows, err := where(q, sc, "", "client_id").Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r Request
		if err := rows.Scan(&r.At, &r.Path, &r.Status, &r.LatencyUS, &r.ProblemType); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// deliveries is webhook_deliveries joined to their endpoints (for the app
// and environment), narrowed to sc.
func (s *GormStore) deliveries(ctx context.Context, sc Scope) *gorm.DB {
	q := s.handle(ctx).Table("webhook_deliveries d").Joins("JOIN webhook_endpoints e ON e.id = d.endpoint_id")
	if sc.PartnerID != "" {
		q = q.Where("d.partner_id = ?", sc.PartnerID)
	}
	return where(q, Scope{AppID: sc.AppID, Environment: sc.Environment}, "e.", "app_id")
}

// Webhooks implements Store.
func (s *GormStore) Webhooks(ctx context.Context, sc Scope, from, to time.Time) (WebhookHealth, error) {
	var h WebhookHealth
	err := s.deliveries(ctx, sc).Where("d.status = ? AND d.delivered_at >= ? AND d.delivered_at < ?", webhooks.StatusSucceeded, from.UTC(), to.UTC()).
		Count(&h.Delivered).Error
	if err == nil {
		err = s.deliveries(ctx, sc).Where("d.status = ? AND d.updated_at >= ? AND d.updated_at < ?", webhooks.StatusDead, from.UTC(), to.UTC()).
			Count(&h.Dead).Error
	}
	if err == nil {
		err = s.deliveries(ctx, sc).Where("d.status = ?", webhooks.StatusPending).Count(&h.Pending).Error
	}
	if err == nil && h.Pending > 0 {
		var oldest struct{ CreatedAt time.Time }
		err = s.deliveries(ctx, sc).Select("d.created_at").Where("d.status = ?", webhooks.StatusPending).
			Order("d.created_at").Limit(1).Scan(&oldest).Error
		h.OldestPending = oldest.CreatedAt.UTC()
	}
	if err == nil {
		q := s.handle(ctx).Table("webhook_attempts a").Joins("JOIN webhook_endpoints e ON e.id = a.endpoint_id").
			Where("a.at >= ? AND a.at < ? AND (a.status_code < 200 OR a.status_code > 299)", from.UTC(), to.UTC())
		if sc.PartnerID != "" {
			q = q.Where("a.partner_id = ?", sc.PartnerID)
		}
		err = where(q, Scope{AppID: sc.AppID, Environment: sc.Environment}, "e.", "app_id").Count(&h.FailedAttempts).Error
	}
	return h, err
}

func (s *GormStore) countByStatus(ctx context.Context, table string, sc Scope, from, to time.Time) ([]StatusCount, error) {
	var out []StatusCount
	q := s.handle(ctx).Table(table).Select("status, COUNT(*) AS count").
		Where("created_at >= ? AND created_at < ?", from.UTC(), to.UTC())
	err := where(q, sc, "", "client_id").Group("status").Order("status").Scan(&out).Error
	return out, err
}

// Consents implements Store.
func (s *GormStore) Consents(ctx context.Context, sc Scope, from, to time.Time) ([]StatusCount, error) {
	return s.countByStatus(ctx, "api_consents", sc, from, to)
}

// Payments implements Store.
func (s *GormStore) Payments(ctx context.Context, sc Scope, from, to time.Time) ([]StatusCount, error) {
	return s.countByStatus(ctx, "api_payments", sc, from, to)
}

// authStatRow is one auth_request_stats row.
type authStatRow struct {
	ID             int64 `gorm:"primaryKey;autoIncrement"`
	Minute         time.Time
	Environment    string
	PartnerID      string
	ClientID       string
	Endpoint       string
	Requests       int64
	ServerErrors   int64
	LatencySumUS   int64 `gorm:"column:latency_sum_us"`
	LatencyBuckets string
}

func (authStatRow) TableName() string { return "auth_request_stats" }

// AddAuthStats implements Store (AuthStatWriter): one multi-row INSERT.
func (s *GormStore) AddAuthStats(ctx context.Context, stats []AuthStat) error {
	if len(stats) == 0 {
		return nil
	}
	rows := make([]authStatRow, len(stats))
	for i, st := range stats {
		b := make([]string, len(st.Buckets))
		for j, c := range st.Buckets {
			b[j] = strconv.FormatInt(c, 10)
		}
		rows[i] = authStatRow{Minute: st.Minute.UTC(), Environment: string(st.Environment), PartnerID: st.PartnerID,
			ClientID: st.ClientID, Endpoint: st.Endpoint, Requests: st.Requests, ServerErrors: st.ServerErrors,
			LatencySumUS: st.LatencySumUS, LatencyBuckets: strings.Join(b, ",")}
	}
	return s.handle(ctx).Create(&rows).Error
}

// EachAuthStat implements Store.
func (s *GormStore) EachAuthStat(ctx context.Context, env environment.Environment, from, to time.Time, fn func(AuthStat) error) error {
	q := s.handle(ctx).Model(&authStatRow{}).Where("minute >= ? AND minute < ?", from.UTC(), to.UTC())
	if env != "" {
		q = q.Where("environment IN (?, '')", string(env))
	}
	rows, err := q.Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r authStatRow
		if err := s.handle(ctx).ScanRows(rows, &r); err != nil {
			return err
		}
		st := AuthStat{Minute: r.Minute.UTC(), Environment: environment.Environment(r.Environment), PartnerID: r.PartnerID,
			ClientID: r.ClientID, Endpoint: r.Endpoint, Requests: r.Requests, ServerErrors: r.ServerErrors,
			LatencySumUS: r.LatencySumUS, Buckets: make([]int64, len(AuthLatencyBoundsUS)+1)}
		for j, f := range strings.Split(r.LatencyBuckets, ",") {
			c, err := strconv.ParseInt(f, 10, 64)
			if err != nil || j >= len(st.Buckets) {
				return fmt.Errorf("auth_request_stats row %d: bad latency_buckets %q", r.ID, r.LatencyBuckets)
			}
			st.Buckets[j] = c
		}
		if err := fn(st); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AuthStatsRetention is how long auth_request_stats rows are kept: the
// published statistics are monthly, and a year and a month back covers
// every month a bank publishes and compares.
const AuthStatsRetention = 400 * 24 * time.Hour

// PurgeAuthStats deletes the auth_request_stats rows of minutes before
// cutoff and returns how many. Errors: the database's.
func (s *GormStore) PurgeAuthStats(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.handle(ctx).Where("minute < ?", cutoff.UTC()).Delete(&authStatRow{})
	return res.RowsAffected, res.Error
}
