package webhooks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestSQLiteQueryPlans guards the dispatcher's statements against plans that
// read the whole backlog: SQLite has no statistics, so a plan that looks
// fine on an empty table is the one it keeps at 20,000 pending rows. (On
// PostgreSQL the planner decides from its statistics.)
func TestSQLiteQueryPlans(t *testing.T) {
	d := dbtest.MustSQLite(t)
	now := time.Now().UTC()
	plans := make([]planned, 64) // a batch longer than the ~10 rows SQLite guesses status = ? matches
	results := make([]result, len(plans))
	for i := range plans {
		results[i] = result{c: claimed{token: "tok", dl: deliveryRow{ID: fmt.Sprintf("dlv_%026d", i)}}, kind: resultAttempt, o: outcome{status: 204}}
		plans[i] = planned{r: &results[i], status: StatusSucceeded, delivered: true}
	}
	outcomeQ, outcomeArgs := deliveriesUpdate(db.SQLite, plans, now)
	tests := []struct {
		name      string
		q         string
		args      []any
		want, not string
	}{
		{name: "ok/outcome update of a batch finds its rows by id", q: outcomeQ, args: outcomeArgs,
			want: "USING INDEX sqlite_autoindex_webhook_deliveries_1 (id=?)", not: "webhook_deliveries_due"},
		{name: "ok/claim reads the due rows in order from the due index", q: claimQuery(db.SQLite),
			args: []any{"tok", now, now, now, now, 16}, want: "USING INDEX webhook_deliveries_due (status=? AND next_attempt_at<?)", not: "TEMP B-TREE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := explain(t, d, tc.q, tc.args)
			if !strings.Contains(plan, tc.want) || strings.Contains(plan, tc.not) {
				t.Fatalf("plan:\n%s\nwant %q, not %q", plan, tc.want, tc.not)
			}
		})
	}
}

// explain returns SQLite's EXPLAIN QUERY PLAN of q, one step a line.
func explain(tb testing.TB, d *db.DB, q string, args []any) string {
	tb.Helper()
	rows, err := d.WithContext(context.Background()).Raw("EXPLAIN QUERY PLAN "+q, args...).Rows()
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}
