package contracts_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

var (
	maker   = contracts.Actor{ID: "stf_maker", Role: staff.RoleFinance}
	checker = contracts.Actor{ID: "stf_checker", Role: staff.RoleAdmin}
	ctx     = context.Background()
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// published is one event the recording publisher saw.
type published struct {
	Type, PartnerID, AppID string
	Data                   map[string]any
}

// recorder is an events.Publisher standing in for the webhooks outbox (another
// package): it records what it was given, and fails when told to.
type recorder struct {
	mu     sync.Mutex
	events []published
	fail   error
}

func (r *recorder) Publish(ctx context.Context, tx *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		return errors.New("no transaction")
	}
	if r.fail != nil {
		return r.fail
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, published{typ, partnerID, appID, data})
	return nil
}

type hook struct {
	mu     sync.Mutex
	marked []string
}

func (h *hook) MarkContracted(ctx context.Context, partnerID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.marked = append(h.marked, partnerID)
	return nil
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// standardTerms: accounts calls 0.5 then 0.25 cent, payments 10 cents + 15 bps,
// 50 EUR minimum, revenue share 10% (20% from 10,000 EUR of payments).
func standardTerms() contracts.Terms {
	return contracts.Terms{
		Start: date(2026, 1, 1), End: date(2027, 1, 1), NoticeDays: 60, Currency: "EUR",
		FeeSchedule: contracts.FeeSchedule{
			CallFees: []contracts.ProductFee{
				{Product: "accounts", Tiers: []contracts.Tier{{From: 0, To: 1000, UnitPriceMicros: 500_000}, {From: 1000, To: 0, UnitPriceMicros: 250_000}}},
				{Product: "payments", Tiers: []contracts.Tier{{From: 0, To: 0, UnitPriceMicros: 0}}},
			},
			PaymentFee:     contracts.PaymentFee{FixedMinor: 10, BPS: 15},
			MonthlyMinimum: 5000,
		},
		RevenueShare: contracts.RevenueShare{Tiers: []contracts.ShareTier{{From: 0, To: 1_000_000, BPS: 1000}, {From: 1_000_000, To: 0, BPS: 2000}}},
		DataScopes:   []string{"transactions", "balances"},
	}
}

type env struct {
	d      *db.DB
	s      *contracts.Service
	clock  *clock
	events *recorder
	hook   *hook
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	e := &env{d: d, clock: &clock{t: date(2026, 2, 1)}, events: &recorder{}, hook: &hook{}}
	e.s = contracts.New(d, contracts.Options{Events: e.events, Partners: e.hook, Now: e.clock.Now})
	return e
}

// activeContract drafts, submits and approves a contract for partnerID.
func (e *env) activeContract(t *testing.T, partnerID string, terms contracts.Terms) contracts.Contract {
	t.Helper()
	c, err := e.s.Draft(ctx, maker, partnerID, terms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Submit(ctx, maker, c.ID); err != nil {
		t.Fatal(err)
	}
	c, err = e.s.Approve(ctx, checker, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantProblem asserts err is a problem with exactly this code and detail.
func wantProblem(t *testing.T, err error, code problem.Code, detail string) *problem.Error {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("error %v, want problem %s %q", err, code, detail)
	}
	if p.Code != code || p.Detail != detail {
		t.Fatalf("problem %s %q, want %s %q", p.Code, p.Detail, code, detail)
	}
	return p
}

// wantFields asserts the validation problem lists exactly these field errors.
func wantFields(t *testing.T, err error, detail string, want ...contracts.FieldError) {
	t.Helper()
	p := wantProblem(t, err, problem.CodeValidation, detail)
	got, _ := p.Extra["errors"].([]contracts.FieldError)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("field errors:\n got %v\nwant %v", got, want)
	}
}

func mustRecord(t testing.TB, s *contracts.Service, rs ...contracts.UsageRecord) {
	t.Helper()
	for _, r := range rs {
		if err := s.RecordUsage(ctx, nil, r); err != nil {
			t.Fatal(err)
		}
	}
}

func call(key, partner, product string, at time.Time) contracts.UsageRecord {
	return contracts.UsageRecord{Key: key, PartnerID: partner, AppID: "app_" + partner, Environment: environment.Production,
		Product: product, Kind: contracts.KindCall, Billable: true, Status: 200, At: at}
}

func payment(key, partner string, amount int64, at time.Time) contracts.UsageRecord {
	return contracts.UsageRecord{Key: key, PartnerID: partner, AppID: "app_" + partner, Environment: environment.Production,
		Product: "payments", Kind: contracts.KindPayment, Billable: true, Status: 201,
		PaymentAmount: money.Money{Minor: amount, Currency: "EUR"}, At: at}
}

func keyf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// dropLedgerGuard removes the triggers that keep the ledger append-only, as
// only the owner of the schema could, so a test can tamper with the ledger.
func dropLedgerGuard(t *testing.T, d *db.DB) {
	t.Helper()
	stmts := []string{`DROP TRIGGER ledger_postings_no_update`, `DROP TRIGGER ledger_postings_no_delete`,
		`DROP TRIGGER ledger_entries_no_update`, `DROP TRIGGER ledger_entries_no_delete`}
	if d.Dialect == db.Postgres {
		stmts = []string{`DROP TRIGGER ledger_postings_append_only ON ledger_postings`, `DROP TRIGGER ledger_entries_append_only ON ledger_entries`}
	}
	for _, s := range stmts {
		if err := d.Exec(s).Error; err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}
