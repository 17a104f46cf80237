package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/partners"
)

// TestRatingSignals: the housekeeping job raises a partner's risk rating
// from its activity on both engines — one rejected risk case makes it
// medium, three make it high, each change in the rating's history with the
// signal as its source — never lowers it, and leaves alone a rating a
// person set within the incident window.
func TestRatingSignals(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhook-dispatchers", "0")
			p := s.Main.Platform
			ctx := context.Background()
			now := time.Now().UTC()
			var pid string
			if err := p.DB.DB.Raw("SELECT id FROM partners ORDER BY id LIMIT 1").Scan(&pid).Error; err != nil || pid == "" {
				t.Fatalf("no partner: %v", err)
			}
			set := func(r partners.RiskRating, actorType string) {
				t.Helper()
				if err := p.DB.Tx(ctx, func(tx *gorm.DB) error {
					_, err := p.Services.Partners.SetRiskRating(ctx, tx, partners.RiskChange{PartnerID: pid, Rating: r,
						Source: "test", Reason: "test", ActorType: actorType, ActorID: "stf_test"})
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			rejectCase := func(i int, decided time.Time) {
				t.Helper()
				if err := p.DB.DB.Exec(`INSERT INTO risk_cases (id, payment_id, consent_id, partner_id, client_id, environment, customer_id,
amount_minor, currency, score, status, decided_at, created_at) VALUES (?, ?, 'pcn_x', ?, 'app_x', 'sandbox', 'cus_x', 100, 'GBP', 60, 'rejected', ?, ?)`,
					fmt.Sprintf("rcs_sig%d", i), fmt.Sprintf("pay_sig%d", i), pid, decided, decided).Error; err != nil {
					t.Fatal(err)
				}
			}
			run := func(want int) {
				t.Helper()
				n, err := p.raiseRatingsFromSignals(ctx, now)
				if err != nil || n != want {
					t.Fatalf("raised %d, %v; want %d", n, err, want)
				}
			}
			rating := func() partners.RiskRating {
				t.Helper()
				r, err := p.Services.Partners.RiskRating(ctx, pid)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			// A system-set low rating, so that signals may raise it.
			set(partners.RiskLow, audit.ActorSystem)
			run(0)                                    // nothing happened
			rejectCase(1, now.Add(-100*24*time.Hour)) // outside the window
			run(0)
			rejectCase(2, now.Add(-time.Hour))
			run(1)
			if r := rating(); r != partners.RiskMedium {
				t.Fatalf("after one rejected case: %q", r)
			}
			run(0) // already medium: nothing recorded twice
			rejectCase(3, now.Add(-time.Hour))
			rejectCase(4, now.Add(-time.Minute))
			run(1)
			h, err := p.Services.Partners.RiskHistory(ctx, pid)
			if err != nil || rating() != partners.RiskHigh || h[0].Source != "signal:risk_cases" ||
				h[0].Reason != "3 held payments rejected by risk officers in 90 days" || h[0].ActorID != "risk-signals" {
				t.Fatalf("rating %q history %+v %v", rating(), h, err)
			}
			// A person lowers it (a review): the same activity does not
			// raise it again within the window.
			set(partners.RiskLow, audit.ActorStaff)
			run(0)
			if r := rating(); r != partners.RiskLow {
				t.Fatalf("signals overrode a person's rating: %q", r)
			}

			// Complaints (another partner, rated low by the system): three
			// of unauthorised or refunded payments in 90 days make it
			// medium; others, and older ones, do not count.
			var other string
			if err := p.DB.DB.Raw("SELECT id FROM partners WHERE id <> ? ORDER BY id LIMIT 1", pid).Scan(&other).Error; err != nil {
				t.Fatal(err)
			}
			if other == "" {
				pt, err := p.Services.Partners.CreatePartner(ctx, "Complained About Ltd")
				if err != nil {
					t.Fatal(err)
				}
				other = pt.ID
			}
			pid = other
			set(partners.RiskLow, audit.ActorSystem)
			complaint := func(i int, category, outcome string, received time.Time) {
				t.Helper()
				if err := p.DB.DB.Exec(`INSERT INTO complaints (id, payment_id, consent_id, partner_id, client_id, environment, customer_id,
amount_minor, currency, category, description, status, outcome, received_at, due_at, partner_due_at)
VALUES (?, ?, 'pcn_x', ?, 'app_x', 'sandbox', 'cus_x', 100, 'GBP', ?, 'x', 'resolved', ?, ?, ?, ?)`,
					fmt.Sprintf("cmp_sig%d", i), fmt.Sprintf("pay_sig%d", i), pid, category, outcome, received, received, received).Error; err != nil {
					t.Fatal(err)
				}
			}
			complaint(1, "unauthorised", "rejected", now.Add(-time.Hour))
			complaint(2, "wrong_amount", "refund", now.Add(-time.Hour))
			complaint(3, "wrong_amount", "rejected", now.Add(-time.Hour)) // neither unauthorised nor upheld
			complaint(4, "unauthorised", "", now.Add(-100*24*time.Hour))  // outside the window
			run(0)
			complaint(5, "unauthorised", "", now.Add(-time.Minute))
			run(1)
			h, err = p.Services.Partners.RiskHistory(ctx, pid)
			if err != nil || rating() != partners.RiskMedium || h[0].Source != "signal:complaints" ||
				h[0].Reason != "3 complaints of unauthorised or refunded payments in 90 days" {
				t.Fatalf("rating %q history %+v %v", rating(), h, err)
			}
		})
	}
}
