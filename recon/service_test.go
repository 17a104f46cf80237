package recon_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/recon"
)

// noDays is a platform with no payments on any day.
type noDays struct{}

func (noDays) ReconciliationOf(_ context.Context, _ string, env environment.Environment, day string) (*apis.Reconciliation, error) {
	d, err := apis.ParseDay(day)
	if err != nil {
		return nil, err
	}
	return &apis.Reconciliation{Day: d, Environment: env, Final: true}, nil
}

// knownSet knows the partners in it, as partners.Service's Partner answers.
type knownSet map[string]bool

func (k knownSet) Known(_ context.Context, id string) error {
	if !k[id] {
		return problem.New(problem.CodeNotFound, "partner %s not found", id)
	}
	return nil
}

// TestRecomputeUnknownPartner: finance's recompute of a partner the
// registry does not know is refused and records no day.
func TestRecomputeUnknownPartner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
		s := recon.New(recon.Config{Store: recon.NewGormStore(d), Days: noDays{}, Partners: knownSet{"ptn_known": true},
			Now: func() time.Time { return now }})
		fin := recon.Actor{ID: "stf_fin", Role: staff.RoleFinance}
		ctx := context.Background()
		_, err := s.Recompute(ctx, fin, "ptn_nobody", environment.Production, "2026-12-04")
		var p *problem.Error
		if !errors.As(err, &p) || p.Code != problem.CodeNotFound || p.Detail != "partner ptn_nobody not found" {
			t.Fatalf("unknown partner: %v, want not_found", err)
		}
		var n int64
		if err := d.Table("recon_days").Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("%d day rows (%v), want none", n, err)
		}
		if open, err := s.Recompute(ctx, fin, "ptn_known", environment.Production, "2026-12-04"); err != nil || open != 0 {
			t.Fatalf("known partner: %d open, %v", open, err)
		}
		if err := d.Table("recon_days").Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("%d day rows (%v), want 1", n, err)
		}
	})
}
