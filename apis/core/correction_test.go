package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
)

func gbp(minor int64) money.Money { return money.Money{Minor: minor, Currency: "GBP"} }

func mustBalance(tb testing.TB, r *core.Reference, accountID string) int64 {
	tb.Helper()
	a, err := r.Account(ctx, accountID)
	if err != nil {
		tb.Fatal(err)
	}
	return a.Balance.Minor
}

func mustPay(tb testing.TB, r *core.Reference, id, debtor string, cr core.Creditor, minor int64) {
	tb.Helper()
	res, err := r.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: id, DebtorAccountID: debtor, Creditor: cr,
		Amount: gbp(minor), Reference: "INV-" + id})
	if err != nil || res.Status != core.PaymentAccepted {
		tb.Fatalf("ExecutePayment(%s): %+v, %v", id, res, err)
	}
}

// TestPostCorrection: refunds and reversals through core.Corrector, for an
// internal creditor (its account debited), an external one (the suspense
// account debited) and production accounts; idempotent per correction id;
// never more than the payment.
func TestPostCorrection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := MustSeeded(t, d)
		alice := mustAccount(t, r, "alice", core.AccountCurrent)
		bob := mustAccount(t, r, "bob", core.AccountCurrent)
		bobCr := core.Creditor{SchemeName: bob.SchemeName, Identification: bob.Identification, Name: bob.HolderName}
		ext := core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "20000012345678", Name: "Acme Widgets Ltd"}
		mustPay(t, r, "pay_int", alice.ID, bobCr, 1000)
		mustPay(t, r, "pay_ext", alice.ID, ext, 500)
		a0, b0 := mustBalance(t, r, alice.ID), mustBalance(t, r, bob.ID)

		in := core.CorrectionInstruction{CorrectionID: "cor_1", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: gbp(400), Reason: "damaged goods"}
		res, err := r.PostCorrection(ctx, in)
		if err != nil || res.Already || res.Suspense || res.DebitAccountID != bob.ID {
			t.Fatalf("ok/internal-refund: %+v, %v", res, err)
		}
		if a, b := mustBalance(t, r, alice.ID), mustBalance(t, r, bob.ID); a != a0+400 || b != b0-400 {
			t.Fatalf("ok/internal-refund balances: alice %d (want %d), bob %d (want %d)", a, a0+400, b, b0-400)
		}
		page, err := r.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if e := page.Transactions[0]; e.ID != res.CreditTransactionID || e.Description != "Refund of payment pay_int: damaged goods" ||
			e.Reference != "INV-pay_int" || e.CreditDebit != core.Credit || e.Amount != gbp(400) || e.PaymentID != "pay_int" {
			t.Fatalf("ok/statement-entry: %+v", e)
		}

		again, err := r.PostCorrection(ctx, in)
		if err != nil || !again.Already || again.CreditTransactionID != res.CreditTransactionID {
			t.Fatalf("ok/idempotent: %+v, %v", again, err)
		}
		if a := mustBalance(t, r, alice.ID); a != a0+400 {
			t.Fatalf("ok/idempotent moved money: alice %d, want %d", a, a0+400)
		}

		for _, tc := range []struct {
			name string
			in   core.CorrectionInstruction
			want error
			msg  string
		}{
			{"fail/id-reused", core.CorrectionInstruction{CorrectionID: "cor_1", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: gbp(401), Reason: "damaged goods"},
				core.ErrIdempotencyConflict, "core: payment id reused with a different instruction"},
			{"fail/exceeds", core.CorrectionInstruction{CorrectionID: "cor_2", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: gbp(601), Reason: "more"},
				core.ErrNotReversible, "core: payment cannot be reversed: payment pay_int has 600 of 1000 minor units left to correct, not 601"},
			{"fail/reversal-after-refund", core.CorrectionInstruction{CorrectionID: "cor_3", PaymentID: "pay_int", Kind: core.CorrectionReversal, Amount: gbp(1000), Reason: "undo"},
				core.ErrNotReversible, "core: payment cannot be reversed: a reversal is the whole amount of payment pay_int, once, and nothing else corrected it"},
			{"fail/unknown-payment", core.CorrectionInstruction{CorrectionID: "cor_4", PaymentID: "pay_none", Kind: core.CorrectionRefund, Amount: gbp(1), Reason: "x"},
				core.ErrNotFound, "core: not found"},
			{"fail/currency", core.CorrectionInstruction{CorrectionID: "cor_5", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: money.Money{Minor: 1, Currency: "EUR"}, Reason: "x"},
				core.ErrCurrencyMismatch, "core: currency does not match the account: payment pay_int is in GBP, the correction in EUR"},
			{"fail/no-reason", core.CorrectionInstruction{CorrectionID: "cor_6", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: gbp(1), Reason: " "},
				core.ErrInvalid, "core: invalid argument: correction reason must be 1 to 100 characters"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := r.PostCorrection(ctx, tc.in)
				if !errors.Is(err, tc.want) || err.Error() != tc.msg {
					t.Fatalf("got %v, want %q", err, tc.msg)
				}
			})
		}

		// The rest of the payment: the refunds sum to it exactly.
		if _, err := r.PostCorrection(ctx, core.CorrectionInstruction{CorrectionID: "cor_7", PaymentID: "pay_int", Kind: core.CorrectionRefund, Amount: gbp(600), Reason: "rest"}); err != nil {
			t.Fatalf("ok/refund-the-rest: %v", err)
		}
		if a, b := mustBalance(t, r, alice.ID), mustBalance(t, r, bob.ID); a != a0+1000 || b != b0-1000 {
			t.Fatalf("ok/refund-the-rest balances: alice %d, bob %d", a, b)
		}
		// The sandbox reversal refuses a corrected payment (it would refund twice).
		if _, err := r.ReversePayment(ctx, "pay_int", "reset"); !errors.Is(err, core.ErrNotReversible) ||
			!strings.Contains(err.Error(), "payment pay_int was refunded or reversed by a correction") {
			t.Fatalf("fail/sandbox-reversal-after-correction: %v", err)
		}

		// An external creditor: the suspense account pays.
		res, err = r.PostCorrection(ctx, core.CorrectionInstruction{CorrectionID: "cor_8", PaymentID: "pay_ext", Kind: core.CorrectionReversal, Amount: gbp(500), Reason: "unauthorised"})
		if err != nil || !res.Suspense || res.DebitAccountID != core.SuspenseAccountID(environment.Sandbox, "GBP") {
			t.Fatalf("ok/external-reversal: %+v, %v", res, err)
		}
		if s := mustBalance(t, r, res.DebitAccountID); s != -500 {
			t.Fatalf("ok/suspense-balance: %d, want -500", s)
		}
		page, err = r.Transactions(ctx, alice.ID, core.TransactionQuery{Limit: 1})
		if err != nil || page.Transactions[0].Description != "Reversal of payment pay_ext: unauthorised" {
			t.Fatalf("ok/reversal-entry: %+v, %v", page, err)
		}

		// Production accounts too.
		_, prod := mustProductionAlice(t, r)
		if err := d.Exec(`UPDATE core_accounts SET balance_minor = 5000 WHERE id = ?`, prod.ID).Error; err != nil {
			t.Fatal(err)
		}
		mustPay(t, r, "pay_prod", prod.ID, ext, 2000)
		res, err = r.PostCorrection(ctx, core.CorrectionInstruction{CorrectionID: "cor_9", PaymentID: "pay_prod", Kind: core.CorrectionRefund, Amount: gbp(2000), Reason: "refund"})
		if err != nil || res.DebitAccountID != core.SuspenseAccountID(environment.Production, "GBP") {
			t.Fatalf("ok/production: %+v, %v", res, err)
		}
		if b := mustBalance(t, r, prod.ID); b != 5000 {
			t.Fatalf("ok/production balance: %d, want 5000", b)
		}
	})
}
