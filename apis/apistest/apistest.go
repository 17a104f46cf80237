// Package apistest is the conformance suite for apis.Store: run it against any
// implementation to check that it behaves as the apis service expects.
//
//	apistest.Run(t, func(t *testing.T) apis.Store { … })
//
// newStore is called once per subtest; the stores it returns may share one
// database (every subtest uses fresh ids), but the database must hold the
// apis tables and nothing the subtests create.
package apistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"
)

// Run runs every conformance test against the Store newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) apis.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s apis.Store)
	}{
		{"consents", testConsents},
		{"consent-lists", testConsentLists},
		{"latest-partner-consents", testLatestPartnerConsents},
		{"payments", testPayments},
		{"payment-sums", testPaymentSums},
		{"payment-sums-by-app-and-customer", testAppCustomerSums},
		{"customer-history", testCustomerHistory},
		{"held-payments", testHeldPayments},
		{"idempotency-keys", testKeys},
		{"request-log", testRequestLog},
		{"request-log-purge", testRequestLogPurge},
		{"tx", testTx},
		{"publish", testPublish},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// base is a fixed instant (microsecond precision, UTC) the suite builds on.
var base = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func consent(partnerID string, env environment.Environment, status string, created time.Time) *apis.Consent {
	return &apis.Consent{ID: ids.New("cns"), Type: apis.TypeAccountAccess, PartnerID: partnerID, ClientID: ids.New("app"),
		Environment: env, Status: status, Permissions: []string{"ReadAccountsBasic"}, ExpiresAt: created.Add(90 * 24 * time.Hour),
		CreatedAt: created, StatusUpdatedAt: created}
}

func initiation(amount string) *apis.Initiation {
	return &apis.Initiation{InstructionIdentification: "i-1", EndToEndIdentification: "e-1",
		InstructedAmount: apis.OBAmount{Amount: amount, Currency: "GBP"},
		CreditorAccount:  apis.OBAccountRef{SchemeName: "UK.OBIE.SortCodeAccountNumber", Identification: "40400412345678", Name: "Acme"}}
}

func payment(partnerID string, env environment.Environment, debtor string, minor int64, currency, status string, created time.Time) *apis.Payment {
	p := &apis.Payment{ID: ids.New("pay"), ConsentID: ids.New("pcn"), PartnerID: partnerID, ClientID: ids.New("app"),
		Environment: env, DebtorAccountID: debtor, Initiation: initiation("1.00"), Status: status,
		CreatedAt: created, StatusUpdatedAt: created}
	p.Amount.Minor, p.Amount.Currency = minor, currency
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func testConsents(t *testing.T, s apis.Store) {
	ctx := context.Background()
	c := consent(ids.New("ptn"), "sandbox", apis.StatusAwaitingAuthorisation, base)
	c.TransactionFrom = base.Add(-30 * 24 * time.Hour)
	must(t, s.CreateConsent(ctx, c))

	got, err := s.Consent(ctx, c.ID)
	must(t, err)
	if got.ID != c.ID || got.Type != c.Type || got.PartnerID != c.PartnerID || got.ClientID != c.ClientID ||
		got.Environment != c.Environment || got.Status != c.Status || !slices.Equal(got.Permissions, c.Permissions) ||
		!got.ExpiresAt.Equal(c.ExpiresAt) || !got.TransactionFrom.Equal(c.TransactionFrom) || !got.TransactionTo.IsZero() ||
		!got.CreatedAt.Equal(c.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("read back %+v\nwrote %+v", got, c)
	}

	_, err = s.Consent(ctx, "cns_unknown")
	wantErr(t, err, apis.ErrNotFound)

	t.Run("ok/set-status", func(t *testing.T) {
		upd := *c
		upd.Status, upd.CustomerID, upd.AccountIDs, upd.StatusUpdatedAt = apis.StatusAuthorised, "cus_1", []string{"acc_1", "acc_2"}, base.Add(time.Minute)
		must(t, s.SetConsentStatus(ctx, &upd, apis.StatusAwaitingAuthorisation, apis.StatusAuthorised))
		got, err := s.Consent(ctx, c.ID)
		must(t, err)
		if got.Status != apis.StatusAuthorised || got.CustomerID != "cus_1" || !slices.Equal(got.AccountIDs, upd.AccountIDs) || !got.StatusUpdatedAt.Equal(upd.StatusUpdatedAt) {
			t.Fatalf("after SetConsentStatus: %+v", got)
		}
	})
	t.Run("fail/set-status-stale", func(t *testing.T) {
		upd := *c
		upd.Status = apis.StatusRevoked
		wantErr(t, s.SetConsentStatus(ctx, &upd, apis.StatusAwaitingAuthorisation), apis.ErrStale)
		got, err := s.Consent(ctx, c.ID)
		must(t, err)
		if got.Status != apis.StatusAuthorised {
			t.Fatalf("stale update changed the status to %s", got.Status)
		}
	})
	t.Run("fail/set-status-unknown", func(t *testing.T) {
		upd := *c
		upd.ID = "cns_unknown"
		wantErr(t, s.SetConsentStatus(ctx, &upd, apis.StatusAuthorised), apis.ErrStale)
	})
}

func testConsentLists(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner, customer := ids.New("ptn"), ids.New("cus")
	old := consent(partner, "sandbox", apis.StatusAuthorised, base)
	mid := consent(partner, "sandbox", apis.StatusRevoked, base.Add(time.Hour))
	recent := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base.Add(2*time.Hour))
	prod := consent(partner, "production", apis.StatusAuthorised, base.Add(3*time.Hour))
	for _, c := range []*apis.Consent{recent, old, prod, mid} {
		c.CustomerID = customer
		must(t, s.CreateConsent(ctx, c))
	}
	idsOf := func(cs []apis.Consent) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	got, err := s.ConsentsForCustomer(ctx, customer)
	must(t, err)
	if want := []string{prod.ID, recent.ID, mid.ID, old.ID}; !slices.Equal(idsOf(got), want) {
		t.Fatalf("ConsentsForCustomer %v, want newest first %v", idsOf(got), want)
	}
	got, err = s.ConsentsForCustomer(ctx, "cus_nobody")
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("ConsentsForCustomer of nobody: %v", got)
	}
	got, err = s.PartnerConsents(ctx, partner, "sandbox", apis.StatusAwaitingAuthorisation, apis.StatusAuthorised)
	must(t, err)
	if want := []string{old.ID, recent.ID}; !slices.Equal(idsOf(got), want) {
		t.Fatalf("PartnerConsents %v, want oldest first, sandbox only, open only %v", idsOf(got), want)
	}
}

func testLatestPartnerConsents(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner, other := ids.New("ptn"), ids.New("ptn")
	old := consent(partner, "sandbox", apis.StatusRevoked, base)
	prod := consent(partner, "production", apis.StatusAuthorised, base.Add(time.Hour))
	prod.CustomerID, prod.AccountIDs = "cus_1", []string{"acc_1"}
	prod.Authorisation = oauth.ConsentAuthorisation{ACR: oauth.ACRPassword, AMR: []string{"pwd"},
		Exemption: oauth.ExemptionLowValue, Reason: "a low-value payment"}
	// Two created at the same instant: the larger id first.
	twinA := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base.Add(2*time.Hour))
	twinB := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base.Add(2*time.Hour))
	if twinA.ID < twinB.ID {
		twinA, twinB = twinB, twinA
	}
	others := consent(other, "sandbox", apis.StatusAuthorised, base.Add(3*time.Hour))
	for _, c := range []*apis.Consent{twinB, old, others, prod, twinA} {
		must(t, s.CreateConsent(ctx, c))
	}
	idsOf := func(cs []apis.Consent) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		partner string
		limit   int
		want    []string
	}{
		{"ok/newest-first-both-environments", partner, 0, []string{twinA.ID, twinB.ID, prod.ID, old.ID}},
		{"ok/limit", partner, 2, []string{twinA.ID, twinB.ID}},
		{"ok/other-partner-only-its-own", other, 10, []string{others.ID}},
		{"ok/none", ids.New("ptn"), 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.LatestPartnerConsents(ctx, tc.partner, tc.limit)
			must(t, err)
			if !slices.Equal(idsOf(got), tc.want) {
				t.Fatalf("LatestPartnerConsents(%d) = %v, want %v", tc.limit, idsOf(got), tc.want)
			}
		})
	}
	t.Run("ok/read-back", func(t *testing.T) {
		got, err := s.LatestPartnerConsents(ctx, partner, 0)
		must(t, err)
		c := got[2]
		if c.ID != prod.ID || c.Environment != "production" || c.Status != apis.StatusAuthorised || c.CustomerID != "cus_1" ||
			c.Type != prod.Type || !c.CreatedAt.Equal(prod.CreatedAt) || !c.StatusUpdatedAt.Equal(prod.StatusUpdatedAt) ||
			c.Authorisation.ACR != oauth.ACRPassword || !slices.Equal(c.Authorisation.AMR, []string{"pwd"}) ||
			c.Authorisation.Exemption != oauth.ExemptionLowValue || c.Authorisation.Reason != "a low-value payment" {
			t.Fatalf("read back %+v\nwrote %+v", c, prod)
		}
	})
	t.Run("ok/default-and-cap", func(t *testing.T) {
		many := ids.New("ptn")
		must(t, s.Tx(ctx, func(ctx context.Context) error {
			for i := 0; i < apis.MaxLatestConsents+1; i++ {
				if err := s.CreateConsent(ctx, consent(many, "sandbox", apis.StatusAuthorised, base.Add(time.Duration(i)*time.Second))); err != nil {
					return err
				}
			}
			return nil
		}))
		for _, x := range []struct{ limit, want int }{{0, apis.DefaultLatestConsents}, {-1, apis.DefaultLatestConsents},
			{apis.MaxLatestConsents + 1, apis.MaxLatestConsents}} {
			got, err := s.LatestPartnerConsents(ctx, many, x.limit)
			must(t, err)
			if len(got) != x.want || !got[0].CreatedAt.Equal(base.Add(apis.MaxLatestConsents*time.Second)) {
				t.Fatalf("LatestPartnerConsents(%d): %d consents (newest %v), want %d from the newest", x.limit, len(got), got[0].CreatedAt, x.want)
			}
		}
	})
}

func testPayments(t *testing.T, s apis.Store) {
	ctx := context.Background()
	p := payment(ids.New("ptn"), "sandbox", ids.New("acc"), 1050, "GBP", apis.PaymentPending, base)
	must(t, s.CreatePayment(ctx, p))
	got, err := s.Payment(ctx, p.ID)
	must(t, err)
	if got.ID != p.ID || got.ConsentID != p.ConsentID || got.DebtorAccountID != p.DebtorAccountID || got.Amount != p.Amount ||
		got.Status != p.Status || got.Initiation == nil || got.Initiation.InstructedAmount != p.Initiation.InstructedAmount ||
		got.Initiation.CreditorAccount != p.Initiation.CreditorAccount || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("read back %+v\nwrote %+v", got, p)
	}
	t.Run("fail/second-payment-of-consent", func(t *testing.T) {
		again := payment(p.PartnerID, "sandbox", p.DebtorAccountID, 1, "GBP", apis.PaymentPending, base)
		again.ConsentID = p.ConsentID
		wantErr(t, s.CreatePayment(ctx, again), apis.ErrConsentUsed)
	})
	t.Run("fail/unknown", func(t *testing.T) {
		_, err := s.Payment(ctx, "pay_unknown")
		wantErr(t, err, apis.ErrNotFound)
	})
	t.Run("ok/set-status", func(t *testing.T) {
		upd := *p
		upd.Status, upd.RejectReason, upd.StatusUpdatedAt = apis.PaymentRejected, "insufficient funds", base.Add(time.Second)
		must(t, s.SetPaymentStatus(ctx, &upd, apis.PaymentPending))
		got, err := s.Payment(ctx, p.ID)
		must(t, err)
		if got.Status != apis.PaymentRejected || got.RejectReason != "insufficient funds" || !got.StatusUpdatedAt.Equal(upd.StatusUpdatedAt) {
			t.Fatalf("after SetPaymentStatus: %+v", got)
		}
	})
	t.Run("fail/set-status-stale", func(t *testing.T) {
		upd := *p
		upd.Status = apis.PaymentAcceptedSettlementInProcess
		wantErr(t, s.SetPaymentStatus(ctx, &upd, apis.PaymentPending), apis.ErrStale)
	})
}

func testPaymentSums(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner, debtor, other := ids.New("ptn"), ids.New("acc"), ids.New("acc")
	day := base.Truncate(24 * time.Hour)
	for _, p := range []*apis.Payment{
		payment(partner, "sandbox", debtor, 100, "GBP", apis.PaymentPending, day.Add(time.Hour)),
		payment(partner, "sandbox", debtor, 200, "GBP", apis.PaymentAcceptedSettlementCompleted, day.Add(2*time.Hour)),
		payment(partner, "sandbox", debtor, 400, "GBP", apis.PaymentRejected, day.Add(3*time.Hour)),                   // rejected: not counted in the total
		payment(partner, "sandbox", other, 800, "EUR", apis.PaymentPending, day.Add(3*time.Hour)),                     // other currency
		payment(partner, "production", other, 1600, "GBP", apis.PaymentPending, day.Add(3*time.Hour)),                 // other environment
		payment(partner, "sandbox", other, 3200, "GBP", apis.PaymentRejected, day.Add(-time.Hour)),                    // yesterday
		payment(partner, "sandbox", other, 6400, "GBP", apis.PaymentAcceptedSettlementInProcess, day.Add(-time.Hour)), // yesterday
	} {
		must(t, s.CreatePayment(ctx, p))
	}
	total, err := s.PartnerTotalSince(ctx, partner, "sandbox", "GBP", day)
	must(t, err)
	if total != 300 {
		t.Fatalf("PartnerTotalSince = %d, want 300", total)
	}
	total, err = s.PartnerTotalSince(ctx, ids.New("ptn"), "sandbox", "GBP", day)
	must(t, err)
	if total != 0 {
		t.Fatalf("PartnerTotalSince of a partner without payments = %d", total)
	}
	n, err := s.DebtorCountSince(ctx, debtor, day.Add(2*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("DebtorCountSince = %d, want 2 (at or after since, any status)", n)
	}
	rej, err := s.RejectedCount(ctx, []string{debtor, other, "acc_none"})
	must(t, err)
	if len(rej) != 2 || rej[debtor] != 1 || rej[other] != 1 {
		t.Fatalf("RejectedCount = %v", rej)
	}
	rej, err = s.RejectedCount(ctx, nil)
	must(t, err)
	if len(rej) != 0 {
		t.Fatalf("RejectedCount(nil) = %v", rej)
	}
	ps, err := s.PartnerPayments(ctx, partner, "sandbox", apis.PaymentRejected)
	must(t, err)
	if len(ps) != 2 || ps[0].Amount.Minor != 3200 || ps[1].Amount.Minor != 400 {
		t.Fatalf("PartnerPayments rejected, oldest first: %+v", ps)
	}
	// PaymentsCreated: one partner and environment, every status and
	// currency, from <= created < to, oldest first.
	ps, err = s.PaymentsCreated(ctx, partner, "sandbox", day, day.Add(24*time.Hour))
	must(t, err)
	if len(ps) != 4 || ps[0].Amount.Minor != 100 || ps[1].Amount.Minor != 200 || ps[2].Amount.Minor+ps[3].Amount.Minor != 1200 {
		t.Fatalf("PaymentsCreated of the day: %+v", ps)
	}
	ps, err = s.PaymentsCreated(ctx, partner, "sandbox", day.Add(2*time.Hour), day.Add(3*time.Hour))
	must(t, err)
	if len(ps) != 1 || ps[0].Amount.Minor != 200 {
		t.Fatalf("PaymentsCreated [day+2h, day+3h): %+v", ps)
	}
	ps, err = s.PaymentsCreated(ctx, ids.New("ptn"), "sandbox", day, day.Add(24*time.Hour))
	must(t, err)
	if len(ps) != 0 {
		t.Fatalf("PaymentsCreated of a partner without payments: %+v", ps)
	}
	// Every environment and currency, not rejected, from <= created < to.
	counts, err := s.PartnerPaymentCounts(ctx, day, day.Add(3*time.Hour))
	must(t, err)
	if counts[partner] != 2 {
		t.Fatalf("PartnerPaymentCounts [day, day+3h) = %d, want 2 (all %v)", counts[partner], counts)
	}
	counts, err = s.PartnerPaymentCounts(ctx, day.Add(-24*time.Hour), day.Add(24*time.Hour))
	must(t, err)
	if counts[partner] != 5 {
		t.Fatalf("PartnerPaymentCounts over two days = %d, want 5 (all %v)", counts[partner], counts)
	}
}

// testCustomerHistory: the risk scoring's reads of a customer's payments.
func testCustomerHistory(t *testing.T, s apis.Store) {
	ctx := context.Background()
	cust, other := ids.New("cus"), ids.New("cus")
	since := base.Add(-90 * 24 * time.Hour)
	mk := func(customer string, minor int64, currency, status, creditor string, created time.Time) {
		p := payment(ids.New("ptn"), "sandbox", ids.New("acc"), minor, currency, status, created)
		p.CustomerID, p.CreditorAccount = customer, creditor
		p.Scoring = apis.RiskScore{Score: 35, Decision: "sca", Reasons: []risk.Reason{{Code: "new_payee", Detail: "d", Points: 15}}}
		must(t, s.CreatePayment(ctx, p))
	}
	mk(cust, 1000, "GBP", apis.PaymentAcceptedSettlementCompleted, "S:1", base.Add(-time.Hour))
	mk(cust, 3000, "GBP", apis.PaymentPending, "S:2", base.Add(-30*time.Minute))
	mk(cust, 9000, "GBP", apis.PaymentRejected, "S:3", base.Add(-20*time.Minute)) // rejected: not history, not a payee paid
	mk(cust, 5000, "EUR", apis.PaymentPending, "S:1", base.Add(-10*time.Minute))  // other currency
	mk(cust, 7000, "GBP", apis.PaymentPending, "S:1", since.Add(-time.Minute))    // before the window
	mk(other, 8000, "GBP", apis.PaymentPending, "S:4", base.Add(-5*time.Minute))  // other customer
	h, err := s.CustomerHistory(ctx, cust, "GBP", since)
	must(t, err)
	if h != (apis.PaymentHistory{Count: 2, Sum: 4000, Max: 3000}) {
		t.Fatalf("CustomerHistory = %+v", h)
	}
	h, err = s.CustomerHistory(ctx, ids.New("cus"), "GBP", since)
	must(t, err)
	if h != (apis.PaymentHistory{}) {
		t.Fatalf("CustomerHistory of a customer without payments = %+v", h)
	}
	for creditor, want := range map[string]bool{"S:1": true, "S:2": true, "S:3": false, "S:4": false} {
		got, err := s.PaidCreditorBefore(ctx, cust, creditor)
		must(t, err)
		if got != want {
			t.Errorf("PaidCreditorBefore(%s) = %v, want %v", creditor, got, want)
		}
	}
	n, err := s.CustomerCountSince(ctx, cust, base.Add(-time.Hour))
	must(t, err)
	if n != 4 {
		t.Fatalf("CustomerCountSince = %d, want 4 (at or after since, any status and currency)", n)
	}
	// CustomerPayments: every status, currency and time, newest first; limit.
	ps, err := s.CustomerPayments(ctx, cust, 0)
	must(t, err)
	var got []int64
	for _, p := range ps {
		if p.CustomerID != cust {
			t.Fatalf("CustomerPayments listed another customer's payment %+v", p)
		}
		got = append(got, p.Amount.Minor)
	}
	if fmt.Sprint(got) != "[5000 9000 3000 1000 7000]" {
		t.Fatalf("CustomerPayments amounts = %v, want newest first [5000 9000 3000 1000 7000]", got)
	}
	ps, err = s.CustomerPayments(ctx, cust, 2)
	must(t, err)
	if len(ps) != 2 || ps[0].Amount.Minor != 5000 {
		t.Fatalf("CustomerPayments limit 2 = %+v", ps)
	}
	ps, err = s.CustomerPayments(ctx, ids.New("cus"), 0)
	must(t, err)
	if len(ps) != 0 {
		t.Fatalf("CustomerPayments of a customer without payments = %+v", ps)
	}
}

// testHeldPayments: a held payment reads back held with its scoring;
// ReleasePayment lifts the hold once.
func testHeldPayments(t *testing.T, s apis.Store) {
	ctx := context.Background()
	p := payment(ids.New("ptn"), "sandbox", ids.New("acc"), 100, "GBP", apis.PaymentPending, base)
	p.Held, p.CustomerID, p.CreditorAccount = true, ids.New("cus"), "S:1"
	p.Scoring = apis.RiskScore{Score: 60, Decision: "hold", Reasons: []risk.Reason{{Code: "screening_match", Detail: "d", Points: 30}}}
	must(t, s.CreatePayment(ctx, p))
	got, err := s.Payment(ctx, p.ID)
	must(t, err)
	if !got.Held || got.CustomerID != p.CustomerID || got.CreditorAccount != "S:1" || got.Scoring.Score != 60 ||
		got.Scoring.Decision != "hold" || len(got.Scoring.Reasons) != 1 || got.Scoring.Reasons[0] != p.Scoring.Reasons[0] {
		t.Fatalf("read back %+v", got)
	}
	must(t, s.ReleasePayment(ctx, p.ID, base.Add(time.Minute)))
	got, err = s.Payment(ctx, p.ID)
	must(t, err)
	if got.Held || got.Status != apis.PaymentPending || !got.StatusUpdatedAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("after release %+v", got)
	}
	wantErr(t, s.ReleasePayment(ctx, p.ID, base), apis.ErrStale)
	wantErr(t, s.ReleasePayment(ctx, "pay_none", base), apis.ErrStale)
	q := payment(ids.New("ptn"), "sandbox", ids.New("acc"), 100, "GBP", apis.PaymentPending, base)
	must(t, s.CreatePayment(ctx, q))
	got, err = s.Payment(ctx, q.ID)
	must(t, err)
	if got.Held || got.Scoring.Decision != "" || got.Scoring.Reasons == nil || len(got.Scoring.Reasons) != 0 {
		t.Fatalf("unscored payment read back %+v", got)
	}
	wantErr(t, s.ReleasePayment(ctx, q.ID, base), apis.ErrStale)
}

func testKeys(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner := ids.New("ptn")
	rec := func(env environment.Environment, key string, at time.Time) *apis.IdempotencyRecord {
		return &apis.IdempotencyRecord{PartnerID: partner, Environment: env, Key: key, RequestHash: "h-" + key, CreatedAt: at}
	}
	notBefore := base.Add(-apis.IdempotencyTTL)
	must(t, s.ClaimKey(ctx, rec("sandbox", "k1", base), notBefore))
	t.Run("fail/taken", func(t *testing.T) {
		wantErr(t, s.ClaimKey(ctx, rec("sandbox", "k1", base.Add(time.Second)), notBefore), apis.ErrKeyTaken)
	})
	t.Run("ok/same-key-other-environment", func(t *testing.T) {
		must(t, s.ClaimKey(ctx, rec("production", "k1", base), notBefore))
	})
	t.Run("ok/read-finish", func(t *testing.T) {
		got, err := s.Key(ctx, partner, "sandbox", "k1")
		must(t, err)
		if got.Status != apis.KeyInProgress || got.RequestHash != "h-k1" || !got.CreatedAt.Equal(base) {
			t.Fatalf("Key = %+v", got)
		}
		done := rec("sandbox", "k1", base)
		done.ResponseStatus, done.ResponseType, done.ResponseBody = 201, "application/json", []byte(`{"ok":true}`)
		must(t, s.FinishKey(ctx, done))
		got, err = s.Key(ctx, partner, "sandbox", "k1")
		must(t, err)
		if got.Status != apis.KeyDone || got.ResponseStatus != 201 || got.ResponseType != "application/json" || string(got.ResponseBody) != `{"ok":true}` {
			t.Fatalf("after FinishKey: %+v", got)
		}
		must(t, s.ReleaseKey(ctx, partner, "sandbox", "k1")) // done: kept
		if _, err := s.Key(ctx, partner, "sandbox", "k1"); err != nil {
			t.Fatalf("ReleaseKey removed a done key: %v", err)
		}
	})
	t.Run("ok/release-in-progress", func(t *testing.T) {
		must(t, s.ClaimKey(ctx, rec("sandbox", "k2", base), notBefore))
		must(t, s.ReleaseKey(ctx, partner, "sandbox", "k2"))
		_, err := s.Key(ctx, partner, "sandbox", "k2")
		wantErr(t, err, apis.ErrNotFound)
	})
	t.Run("ok/expired-key-reclaimed", func(t *testing.T) {
		later := base.Add(apis.IdempotencyTTL + time.Second)
		must(t, s.ClaimKey(ctx, rec("sandbox", "k1", later), later.Add(-apis.IdempotencyTTL)))
		got, err := s.Key(ctx, partner, "sandbox", "k1")
		must(t, err)
		if got.Status != apis.KeyInProgress || !got.CreatedAt.Equal(later) {
			t.Fatalf("reclaimed key = %+v", got)
		}
	})
	t.Run("fail/unknown", func(t *testing.T) {
		_, err := s.Key(ctx, partner, "sandbox", "nope")
		wantErr(t, err, apis.ErrNotFound)
	})
	t.Run("ok/delete-and-purge", func(t *testing.T) {
		must(t, s.ClaimKey(ctx, rec("sandbox", "k3", base), notBefore))
		n, err := s.DeleteKeys(ctx, partner, "sandbox")
		must(t, err)
		if n != 2 {
			t.Fatalf("DeleteKeys = %d, want 2 (k1, k3)", n)
		}
		if _, err := s.Key(ctx, partner, "production", "k1"); err != nil {
			t.Fatalf("DeleteKeys sandbox removed the production key: %v", err)
		}
		n, err = s.PurgeKeys(ctx, base.Add(time.Second))
		must(t, err)
		if n < 1 {
			t.Fatalf("PurgeKeys = %d", n)
		}
		_, err = s.Key(ctx, partner, "production", "k1")
		wantErr(t, err, apis.ErrNotFound)
	})
}

func entry(partner, client, method, path string, status int, at time.Time) *apis.RequestLogEntry {
	return &apis.RequestLogEntry{At: at, ClientID: client, PartnerID: partner, Environment: "sandbox", Method: method,
		Path: path, Status: status, LatencyUS: 1200, InteractionID: "ia"}
}

func testRequestLog(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner, app1, app2 := ids.New("ptn"), ids.New("app"), ids.New("app")
	es := []*apis.RequestLogEntry{
		entry(partner, app1, "GET", "/open-banking/v3.1/aisp/accounts", 200, base),
		entry(partner, app1, "GET", "/open-banking/v3.1/aisp/accounts/acc_1", 404, base.Add(time.Second)),
		entry(partner, app2, "POST", "/open-banking/v3.1/pisp/domestic-payments", 201, base.Add(2*time.Second)),
		entry(partner, app2, "GET", "/open-banking/v3.1/aisp/accountsX", 200, base.Add(3*time.Second)),
		entry(partner, app1, "GET", "/"+strings.Repeat("é", apis.MaxLoggedPath), 200, base.Add(4*time.Second)),
	}
	for _, e := range es {
		must(t, s.LogRequest(ctx, e))
		if e.ID == 0 {
			t.Fatal("LogRequest left ID 0")
		}
	}
	got, err := s.RequestLog(ctx, partner, "", apis.RequestLogFilter{})
	must(t, err)
	if len(got) != 5 || got[0].ID != es[4].ID || got[4].ID != es[0].ID {
		t.Fatalf("RequestLog: %d entries, newest first expected", len(got))
	}
	if len(got[0].Path) > apis.MaxLoggedPath || !strings.HasSuffix(got[0].Path, "…") {
		t.Fatalf("long path stored as %d bytes", len(got[0].Path))
	}
	cases := []struct {
		name     string
		clientID string
		f        apis.RequestLogFilter
		want     []int64
	}{
		{"ok/by-client", app2, apis.RequestLogFilter{}, []int64{es[3].ID, es[2].ID}},
		{"ok/by-status", "", apis.RequestLogFilter{Status: 404}, []int64{es[1].ID}},
		{"ok/by-query-literal", "", apis.RequestLogFilter{Query: "pisp/domestic_"}, nil},
		{"ok/by-query", "", apis.RequestLogFilter{Query: "domestic-pay"}, []int64{es[2].ID}},
		{"ok/by-time", "", apis.RequestLogFilter{From: base.Add(time.Second), To: base.Add(3 * time.Second)}, []int64{es[2].ID, es[1].ID}},
		{"ok/limit", "", apis.RequestLogFilter{Limit: 2}, []int64{es[4].ID, es[3].ID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.RequestLog(ctx, partner, tc.clientID, tc.f)
			must(t, err)
			var gotIDs []int64
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if !slices.Equal(gotIDs, tc.want) {
				t.Fatalf("ids %v, want %v", gotIDs, tc.want)
			}
		})
	}
	t.Run("ok/latest-success", func(t *testing.T) {
		got, err := s.LatestSuccess(ctx, []string{app1, app2}, "GET", "/open-banking/v3.1/aisp/accounts")
		must(t, err)
		if got == nil || got.ID != es[3].ID {
			t.Fatalf("LatestSuccess = %+v, want entry %d", got, es[3].ID)
		}
		got, err = s.LatestSuccess(ctx, []string{app1}, "GET", "/open-banking/v3.1/aisp/accounts/")
		must(t, err)
		if got != nil {
			t.Fatalf("LatestSuccess of a 404-only prefix = %+v, want nil", got)
		}
		got, err = s.LatestSuccess(ctx, []string{app2}, "POST", "/open-banking/v3.1/pisp/domestic_")
		must(t, err)
		if got != nil {
			t.Fatalf("LatestSuccess took _ as a wildcard: %+v", got)
		}
		got, err = s.LatestSuccess(ctx, nil, "GET", "/")
		if got != nil || err != nil {
			t.Fatalf("LatestSuccess of no clients = %+v, %v", got, err)
		}
	})
	t.Run("ok/delete", func(t *testing.T) {
		n, err := s.DeleteRequestLog(ctx, partner, "production")
		must(t, err)
		if n != 0 {
			t.Fatalf("DeleteRequestLog production = %d", n)
		}
		n, err = s.DeleteRequestLog(ctx, partner, "sandbox")
		must(t, err)
		if n != 5 {
			t.Fatalf("DeleteRequestLog sandbox = %d, want 5", n)
		}
	})
}

func testRequestLogPurge(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner, app := ids.New("ptn"), ids.New("app")
	old1 := entry(partner, app, "GET", "/a", 200, base.Add(-48*time.Hour))
	old2 := entry(partner, app, "GET", "/b", 200, base.Add(-47*time.Hour))
	fresh := entry(partner, app, "GET", "/c", 200, base)
	for _, e := range []*apis.RequestLogEntry{old1, old2, fresh} {
		must(t, s.LogRequest(ctx, e))
	}
	n, err := s.PurgeRequestLog(ctx, base.Add(-time.Hour), 1<<30)
	must(t, err)
	if n < 2 {
		t.Fatalf("PurgeRequestLog = %d, want at least 2", n)
	}
	got, err := s.RequestLog(ctx, partner, "", apis.RequestLogFilter{})
	must(t, err)
	if len(got) != 1 || got[0].ID != fresh.ID {
		t.Fatalf("after purge: %+v", got)
	}
}

// testAppCustomerSums: ClientTotalSince and CustomerTotalSince sum the
// non-rejected payments of one app, or made under one customer's consents
// through any partner, in one environment and currency since a time; the
// customer's lock is taken inside a transaction.
func testAppCustomerSums(t *testing.T, s apis.Store) {
	ctx := context.Background()
	day := base.Truncate(24 * time.Hour)
	customer, otherCustomer := ids.New("cus"), ids.New("cus")
	// pay creates a payment under a new authorised consent of cust.
	pay := func(partner, cust string, env environment.Environment, minor int64, currency, status string, at time.Time) *apis.Payment {
		c := consent(partner, env, apis.StatusAwaitingAuthorisation, at)
		c.Type = apis.TypePaymentInitiation
		must(t, s.CreateConsent(ctx, c))
		upd := *c
		upd.Status, upd.CustomerID, upd.AccountIDs, upd.StatusUpdatedAt = apis.StatusAuthorised, cust, []string{"acc_1"}, at
		must(t, s.SetConsentStatus(ctx, &upd, apis.StatusAwaitingAuthorisation))
		p := payment(partner, env, "acc_1", minor, currency, status, at)
		p.ConsentID = c.ID
		must(t, s.CreatePayment(ctx, p))
		return p
	}
	a := pay(ids.New("ptn"), customer, "sandbox", 100, "GBP", apis.PaymentPending, day.Add(time.Hour))
	pay(ids.New("ptn"), customer, "sandbox", 200, "GBP", apis.PaymentAcceptedSettlementCompleted, day.Add(2*time.Hour)) // another partner
	pay(ids.New("ptn"), customer, "sandbox", 400, "GBP", apis.PaymentRejected, day.Add(2*time.Hour))                    // rejected
	pay(ids.New("ptn"), customer, "sandbox", 800, "JPY", apis.PaymentPending, day.Add(2*time.Hour))                     // other currency
	pay(ids.New("ptn"), customer, "production", 1600, "GBP", apis.PaymentPending, day.Add(2*time.Hour))                 // other environment
	pay(ids.New("ptn"), customer, "sandbox", 3200, "GBP", apis.PaymentPending, day.Add(-time.Hour))                     // yesterday
	pay(ids.New("ptn"), otherCustomer, "sandbox", 6400, "GBP", apis.PaymentPending, day.Add(time.Hour))                 // other customer
	total, err := s.CustomerTotalSince(ctx, customer, "sandbox", "GBP", day)
	must(t, err)
	if total != 300 {
		t.Fatalf("CustomerTotalSince = %d, want 300", total)
	}
	total, err = s.ClientTotalSince(ctx, a.ClientID, "sandbox", "GBP", day)
	must(t, err)
	if total != 100 {
		t.Fatalf("ClientTotalSince = %d, want 100", total)
	}
	total, err = s.ClientTotalSince(ctx, a.ClientID, "sandbox", "GBP", day.Add(2*time.Hour))
	must(t, err)
	if total != 0 {
		t.Fatalf("ClientTotalSince after its payment = %d, want 0", total)
	}
	must(t, s.Tx(ctx, func(ctx context.Context) error {
		if err := s.LockPartnerPayments(ctx, a.PartnerID); err != nil {
			return err
		}
		return s.LockCustomerPayments(ctx, customer)
	}))
}

var errBoom = errors.New("apistest: boom")

func testTx(t *testing.T, s apis.Store) {
	ctx := context.Background()
	partner := ids.New("ptn")
	t.Run("ok/commit", func(t *testing.T) {
		c := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base)
		must(t, s.Tx(ctx, func(ctx context.Context) error {
			if err := s.LockPartnerPayments(ctx, partner); err != nil {
				return err
			}
			if err := s.CreateConsent(ctx, c); err != nil {
				return err
			}
			if _, err := s.Consent(ctx, c.ID); err != nil { // reads its own write
				return err
			}
			return s.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "apistest", Action: "consent.created",
				ObjectType: "consent", ObjectID: c.ID, PartnerID: partner})
		}))
		if _, err := s.Consent(ctx, c.ID); err != nil {
			t.Fatalf("committed consent: %v", err)
		}
	})
	t.Run("fail/rollback", func(t *testing.T) {
		c := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base)
		p := payment(partner, "sandbox", ids.New("acc"), 100, "GBP", apis.PaymentPending, base)
		err := s.Tx(ctx, func(ctx context.Context) error {
			if err := s.CreateConsent(ctx, c); err != nil {
				return err
			}
			if err := s.CreatePayment(ctx, p); err != nil {
				return err
			}
			return errBoom
		})
		if err != errBoom {
			t.Fatalf("Tx returned %v, want fn's error unchanged", err)
		}
		_, err = s.Consent(ctx, c.ID)
		wantErr(t, err, apis.ErrNotFound)
		_, err = s.Payment(ctx, p.ID)
		wantErr(t, err, apis.ErrNotFound)
	})
	t.Run("fail/nested-joins-outer", func(t *testing.T) {
		outer := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base)
		inner := consent(partner, "sandbox", apis.StatusAwaitingAuthorisation, base)
		err := s.Tx(ctx, func(ctx context.Context) error {
			if err := s.CreateConsent(ctx, outer); err != nil {
				return err
			}
			if err := s.Tx(ctx, func(ctx context.Context) error { return s.CreateConsent(ctx, inner) }); err != nil {
				return err
			}
			return errBoom // the inner write must roll back with the outer one
		})
		wantErr(t, err, errBoom)
		for _, id := range []string{outer.ID, inner.ID} {
			_, err := s.Consent(ctx, id)
			wantErr(t, err, apis.ErrNotFound)
		}
	})
}

// recPublisher records what Publish hands it.
type recPublisher struct {
	got []string
	err error
}

func (p *recPublisher) Publish(_ context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	if tx == nil {
		return errors.New("apistest: Publish without a database handle")
	}
	p.got = append(p.got, eventType+" "+partnerID+" "+appID)
	return p.err
}

func testPublish(t *testing.T, s apis.Store) {
	ctx := context.Background()
	t.Run("ok/in-tx", func(t *testing.T) {
		pub := &recPublisher{}
		must(t, s.Tx(ctx, func(ctx context.Context) error {
			return s.Publish(ctx, pub, "consent.revoked", "ptn_1", "app_1", map[string]any{"consent_id": "cns_1"})
		}))
		if !slices.Equal(pub.got, []string{"consent.revoked ptn_1 app_1"}) {
			t.Fatalf("published %v", pub.got)
		}
	})
	t.Run("fail/publisher-error", func(t *testing.T) {
		pub := &recPublisher{err: errBoom}
		err := s.Tx(ctx, func(ctx context.Context) error {
			return s.Publish(ctx, pub, "consent.revoked", "ptn_1", "app_1", nil)
		})
		if err != errBoom {
			t.Fatalf("err = %v, want the publisher's error unchanged", err)
		}
	})
}
