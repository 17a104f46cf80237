package partners

import (
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// TestSetRiskRating: a partner starts at medium; a change updates the
// rating, appends to the history and audits in the caller's transaction (a
// rolled-back caller leaves nothing); the same rating again records
// nothing; the history rows cannot be rewritten; bad input is refused.
func TestSetRiskRating(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, pid := e.signUp("owner@risk.example", "Risk Ltd")
		p, err := e.s.Partner(ctx, pid)
		mustOK(t, err)
		if p.RiskRating != RiskMedium {
			t.Fatalf("initial rating %q", p.RiskRating)
		}
		set := func(c RiskChange) (bool, error) {
			var changed bool
			err := d.Tx(ctx, func(tx *gorm.DB) error {
				var err error
				changed, err = e.s.SetRiskRating(ctx, tx, c)
				return err
			})
			return changed, err
		}
		ok := RiskChange{PartnerID: pid, Rating: RiskHigh, Source: "review:prv_1", Reason: "exit", ActorType: audit.ActorStaff, ActorID: "stf_1"}
		for _, tc := range []struct {
			name   string
			edit   func(*RiskChange)
			code   problem.Code
			detail string
		}{
			{"fail/rating", func(c *RiskChange) { c.Rating = "severe" }, problem.CodeValidation, `risk rating must be low, medium or high, got "severe"`},
			{"fail/no-source", func(c *RiskChange) { c.Source = " " }, problem.CodeValidation, "source is required"},
			{"fail/no-reason", func(c *RiskChange) { c.Reason = "" }, problem.CodeValidation, "reason is required"},
			{"fail/no-actor", func(c *RiskChange) { c.ActorID = "" }, problem.CodeValidation, "a risk rating change needs an actor"},
			{"fail/unknown-partner", func(c *RiskChange) { c.PartnerID = "ptn_nope" }, problem.CodeNotFound, "partner ptn_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := ok
				tc.edit(&c)
				_, err := set(c)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		// The caller's transaction rolls back: nothing stays.
		err = d.Tx(ctx, func(tx *gorm.DB) error {
			if _, err := e.s.SetRiskRating(ctx, tx, ok); err != nil {
				return err
			}
			return problem.New(problem.CodeConflict, "caller fails")
		})
		wantProblem(t, err, problem.CodeConflict, "caller fails")
		if h, _ := e.s.RiskHistory(ctx, pid); len(h) != 0 {
			t.Fatalf("history after rollback: %+v", h)
		}

		changed, err := set(ok)
		mustOK(t, err)
		if !changed {
			t.Fatal("not changed")
		}
		again, err := set(ok)
		mustOK(t, err)
		if again {
			t.Fatal("same rating reported as a change")
		}
		low := ok
		low.Rating, low.Source, low.Reason = RiskLow, "staff", "reviewed"
		_, err = set(low)
		mustOK(t, err)
		if r, err := e.s.RiskRating(ctx, pid); err != nil || r != RiskLow {
			t.Fatalf("RiskRating = %q, %v; want low", r, err)
		}
		_, err = e.s.RiskRating(ctx, "ptn_nope")
		wantProblem(t, err, problem.CodeNotFound, "partner ptn_nope not found")
		p, _ = e.s.Partner(ctx, pid)
		h, err := e.s.RiskHistory(ctx, pid)
		mustOK(t, err)
		if p.RiskRating != RiskLow || len(h) != 2 || h[0].Rating != RiskLow || h[0].Previous != RiskHigh ||
			h[1].Rating != RiskHigh || h[1].Previous != RiskMedium || h[1].Source != "review:prv_1" || h[1].ActorID != "stf_1" {
			t.Fatalf("rating %q history %+v", p.RiskRating, h)
		}
		trail, _ := audit.List(ctx, d.DB, audit.Filter{ObjectID: pid, Action: "partner.risk_rating_changed"})
		if len(trail) != 2 || !strings.Contains(trail[1].Details, `"source":"review:prv_1"`) {
			t.Fatalf("audit %+v", trail)
		}
		err = d.DB.Exec("UPDATE partner_risk_ratings SET rating = 'low'").Error
		if err == nil || !strings.Contains(err.Error(), "history cannot be rewritten: UPDATE on partner_risk_ratings is refused") {
			t.Fatalf("update of history: %v", err)
		}
	})
}
