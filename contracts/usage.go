package contracts

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// ParsePeriod parses a settlement period "YYYY-MM" into its UTC bounds [start, end).
func ParsePeriod(period string) (start, end time.Time, err error) {
	t, perr := time.Parse("2006-01", period)
	if perr != nil || len(period) != 7 {
		return time.Time{}, time.Time{}, problem.New(problem.CodeValidation, "period %q is not of the form YYYY-MM", period).
			With("errors", []FieldError{{Field: "period", Reason: "must be YYYY-MM"}})
	}
	start = t.UTC()
	return start, start.AddDate(0, 1, 0), nil
}

// PeriodOf is the period "YYYY-MM" containing t (UTC).
func PeriodOf(t time.Time) string { return t.UTC().Format("2006-01") }

const insertUsage = `INSERT INTO usage_records
	(key, partner_id, app_id, environment, product, kind, billable, status, amount, currency, at)
	VALUES `

const usageValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const onConflictKey = ` ON CONFLICT (key) DO NOTHING`

func usageArgs(r UsageRecord) []any {
	return []any{r.Key, r.PartnerID, r.AppID, r.Environment, r.Product, r.Kind, r.Billable, r.Status,
		r.PaymentAmount.Minor, r.PaymentAmount.Currency, r.At.UTC()}
}

// RecordUsage stores one usage record with a single INSERT … ON CONFLICT (key) DO
// NOTHING: recording a key again is a silent no-op, so a retried call is counted
// and billed once. tx is the caller's transaction (nil: its own). It returns a
// validation problem for a malformed record.
func (s *Service) RecordUsage(ctx context.Context, tx *gorm.DB, r UsageRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	g := s.db.DB.WithContext(ctx)
	if tx != nil {
		g = tx.WithContext(ctx)
	}
	return g.Exec(insertUsage+usageValues+onConflictKey, usageArgs(r)...).Error
}

// usageColumns are usage_records' columns in usageArgs' order, and
// usageTypes their PostgreSQL types.
var (
	usageColumns = []string{"key", "partner_id", "app_id", "environment", "product", "kind", "billable", "status", "amount", "currency", "at"}
	usageTypes   = []string{"text", "text", "text", "text", "text", "text", "boolean", "integer", "bigint", "text", "timestamptz"}
)

// UsageRows is rs as rows of usage_records, for a caller that writes them
// within a statement of its own (db.DB.InsertClaimed: the metering of
// partner calls on PostgreSQL), with RecordUsages' ON CONFLICT (key) DO
// NOTHING, so a key recorded already is skipped and each call is counted
// once. It validates every record first and returns the validation problem
// of RecordUsage for a malformed one.
func UsageRows(rs []UsageRecord) (db.Rows, error) {
	vals := make([][]any, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return db.Rows{}, err
		}
		vals[i] = usageArgs(r)
	}
	return db.Rows{Table: "usage_records", Columns: usageColumns, Types: usageTypes, Values: vals,
		Conflict: strings.TrimSpace(onConflictKey)}, nil
}

// usageBatch bounds the rows of one multi-row INSERT (11 parameters each).
const usageBatch = 100

// RecordUsageBatch stores many records with multi-row INSERTs (duplicate keys are
// skipped as in RecordUsage), for imports and load tests. It validates every
// record first and stores none if one is malformed.
func (s *Service) RecordUsageBatch(ctx context.Context, rs []UsageRecord) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		_, err := s.RecordUsages(ctx, tx, rs)
		return err
	})
}

// RecordUsages stores rs with multi-row INSERTs on tx (the caller's
// transaction; nil: each INSERT on its own), skipping keys already recorded
// as RecordUsage does, and returns how many records it added. The metering
// of partner calls writes through it, in the transaction that also holds the
// calls' request-log rows. It validates every record first and stores none
// if one is malformed (the validation problem of RecordUsage).
func (s *Service) RecordUsages(ctx context.Context, tx *gorm.DB, rs []UsageRecord) (int64, error) {
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return 0, err
		}
	}
	g := s.db.DB
	if tx != nil {
		g = tx
	}
	g = g.WithContext(ctx)
	batch := s.db.RowsPerInsert(usageBatch, tx != nil)
	var added int64
	for i := 0; i < len(rs); i += batch {
		chunk := rs[i:min(i+batch, len(rs))]
		var sb strings.Builder
		sb.Grow(len(insertUsage) + len(onConflictKey) + len(chunk)*(len(usageValues)+2))
		sb.WriteString(insertUsage)
		args := make([]any, 0, len(chunk)*11)
		for j, r := range chunk {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(usageValues)
			args = append(args, usageArgs(r)...)
		}
		sb.WriteString(onConflictKey)
		res := g.Exec(sb.String(), args...)
		if res.Error != nil {
			return added, res.Error
		}
		added += res.RowsAffected
	}
	return added, nil
}

// dayExpr is the UTC calendar day of the at column as text YYYY-MM-DD: the two
// engines spell it differently (SQLite stores the time as text).
func dayExpr(d db.Dialect) string {
	if d == db.Postgres {
		return `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
	}
	return `strftime('%Y-%m-%d', at)`
}

// Usage aggregates a partner's usage in [from, to) per day, app, environment,
// product, kind and currency, with one GROUP BY query, ordered by those columns.
func (s *Service) Usage(ctx context.Context, partnerID string, from, to time.Time) ([]UsageRow, error) {
	day := dayExpr(s.db.Dialect)
	var out []UsageRow
	err := s.db.DB.WithContext(ctx).Raw(`SELECT `+day+` AS day, app_id, environment, product, kind, currency,
			COUNT(*) AS count,
			SUM(CASE WHEN billable THEN 1 ELSE 0 END) AS billable,
			COALESCE(SUM(CASE WHEN billable THEN amount ELSE 0 END), 0) AS payment_amount
		FROM usage_records
		WHERE partner_id = ? AND at >= ? AND at < ?
		GROUP BY `+day+`, app_id, environment, product, kind, currency
		ORDER BY 1, app_id, environment, product, kind, currency`,
		partnerID, from.UTC(), to.UTC()).Scan(&out).Error
	return out, err
}

// MonthlyCount counts the billable records of a partner's app (appID "" for every
// app) for one product in the UTC calendar month containing month, for quota
// threshold checks. Refused (non-billable) calls do not count.
func (s *Service) MonthlyCount(ctx context.Context, partnerID, appID, product string, month time.Time) (int64, error) {
	start, _, _ := ParsePeriod(PeriodOf(month))
	q := `SELECT COUNT(*) FROM usage_records WHERE partner_id = ? AND at >= ? AND at < ? AND product = ? AND billable = ?`
	args := []any{partnerID, start, start.AddDate(0, 1, 0), product, true}
	if appID != "" {
		q += ` AND app_id = ?`
		args = append(args, appID)
	}
	var n int64
	err := s.db.DB.WithContext(ctx).Raw(q, args...).Scan(&n).Error
	return n, err
}
