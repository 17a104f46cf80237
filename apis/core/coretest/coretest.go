// Package coretest is the conformance suite for core.Core: run it against any
// implementation of the port (the reference core, or a bank's own adapter on a
// test system) to check that it behaves as the layers above expect.
//
//	coretest.Run(t, func(t *testing.T) *coretest.Fixture { … })
//
// newFixture is called once per subtest and must return a core in a known
// state (the accounts named in the Fixture, funded as documented there).
package coretest

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
)

// Credentials is a login at the bank.
type Credentials struct {
	Username, Password string
	CustomerID         string // the id Authenticate must return (empty for a locked login)
}

// Fixture names what the suite may use in a core. Account ids must be distinct
// unless stated.
type Fixture struct {
	Core core.Core
	// CustomerID holds at least two accounts, among them FundedAccountID.
	CustomerID string
	// FundedAccountID is enabled, has at least 100.00 available and at least
	// 120 transactions spread over at least 120 days.
	FundedAccountID string
	// InternalCreditor identifies InternalCreditorAccountID (enabled, same
	// currency, another customer's) by sort code and account number.
	InternalCreditor          core.Creditor
	InternalCreditorAccountID string
	// ExternalCreditor is an account at another bank.
	ExternalCreditor core.Creditor
	// UnknownInternalCreditor carries this bank's sort code and an account
	// number that does not exist.
	UnknownInternalCreditor core.Creditor
	// PoorAccountID is enabled with less than 10.00 available.
	PoorAccountID string
	// ClosedAccountID and BlockedAccountID are closed / blocked.
	ClosedAccountID  string
	BlockedAccountID string
	// DrainAccountID is enabled, has no credit line and at least 50.00; the
	// concurrency test empties it.
	DrainAccountID string
	// Currency of all the accounts above.
	Currency string
	// Environment (environment.Sandbox or environment.Production) of CustomerID,
	// the logins and every account above.
	Environment environment.Environment
	// OtherEnvironmentAccountID is an enabled account in Currency with at
	// least 10.00 available, of a customer of the other environment;
	// OtherEnvironmentCreditor identifies it by sort code and account number.
	// Leave both empty for a core that serves one environment only: the
	// cross-environment cases are then skipped.
	OtherEnvironmentAccountID string
	OtherEnvironmentCreditor  core.Creditor
	// Authenticator, when set, is checked with Login and LockedLogin (of
	// Environment) and, when its Username is set, OtherEnvironmentLogin: a
	// customer of the other environment whose credentials are not a login of
	// Environment.
	Authenticator         oauth.CustomerAuthenticator
	Login                 Credentials
	LockedLogin           Credentials
	OtherEnvironmentLogin Credentials
}

// otherEnvironment is the environment that is not env.
func otherEnvironment(env environment.Environment) environment.Environment {
	if env == environment.Production {
		return environment.Sandbox
	}
	return environment.Production
}

// Run runs the suite.
func Run(t *testing.T, newFixture func(t *testing.T) *Fixture) {
	t.Run("customers-and-accounts", func(t *testing.T) { testCustomers(t, newFixture(t)) })
	t.Run("balances", func(t *testing.T) { testBalances(t, newFixture(t)) })
	t.Run("lists-agree-with-balances", func(t *testing.T) { testListsAgree(t, newFixture(t)) })
	t.Run("pagination", func(t *testing.T) { testPagination(t, newFixture(t)) })
	t.Run("cursor-refusals", func(t *testing.T) { testCursorRefusals(t, newFixture(t)) })
	t.Run("funds-check", func(t *testing.T) { testFunds(t, newFixture(t)) })
	t.Run("payments", func(t *testing.T) { testPayments(t, newFixture(t)) })
	t.Run("payment-idempotency", func(t *testing.T) { testIdempotency(t, newFixture(t)) })
	t.Run("concurrent-payments", func(t *testing.T) { testConcurrentPayments(t, newFixture(t)) })
	t.Run("concurrent-opposite-transfers", func(t *testing.T) { testOppositeTransfers(t, newFixture(t)) })
	t.Run("environments-never-meet", func(t *testing.T) {
		f := newFixture(t)
		if f.OtherEnvironmentAccountID == "" {
			t.Skip("the fixture has no account of the other environment (the core serves one environment only)")
		}
		testEnvironmentsNeverMeet(t, f)
	})
	t.Run("sandbox-reversal", func(t *testing.T) {
		f := newFixture(t)
		if _, ok := f.Core.(core.SandboxReverser); !ok {
			t.Skip("the core does not implement core.SandboxReverser (optional)")
		}
		testReversal(t, f)
	})
	t.Run("authenticate", func(t *testing.T) {
		f := newFixture(t)
		if f.Authenticator == nil {
			t.Skip("no Authenticator in fixture")
		}
		testAuthenticate(t, f)
	})
}

var ctx = context.Background()

// All walks every page of an account's transactions for q (with page size
// limit) and returns them in order.
func All(tb testing.TB, c core.Core, accountID string, q core.TransactionQuery) []core.Transaction {
	tb.Helper()
	var out []core.Transaction
	for pages := 0; ; pages++ {
		if pages > 100000 {
			tb.Fatalf("pagination of %s does not end", accountID)
		}
		p, err := c.Transactions(ctx, accountID, q)
		if err != nil {
			tb.Fatalf("Transactions(%s, %+v): %v", accountID, q, err)
		}
		out = append(out, p.Transactions...)
		if p.NextCursor == "" {
			return out
		}
		if len(p.Transactions) == 0 {
			tb.Fatalf("empty page with a next cursor")
		}
		q.Cursor = p.NextCursor
	}
}

// CheckAgrees asserts the account's transaction list and balance agree: newest
// first in non-increasing booking time, unique ids, positive amounts, each
// entry's BalanceAfter equal to the previous one's plus its signed amount, and
// the newest BalanceAfter equal to the booked balance.
func CheckAgrees(tb testing.TB, c core.Core, accountID string) []core.Transaction {
	tb.Helper()
	acc, err := c.Account(ctx, accountID)
	if err != nil {
		tb.Fatalf("Account(%s): %v", accountID, err)
	}
	txns := All(tb, c, accountID, core.TransactionQuery{Limit: 200})
	seen := map[string]bool{}
	for i, x := range txns {
		if seen[x.ID] {
			tb.Fatalf("%s: transaction %s listed twice", accountID, x.ID)
		}
		seen[x.ID] = true
		if x.AccountID != accountID || x.Amount.Minor <= 0 || x.Amount.Currency != acc.Currency ||
			(x.CreditDebit != core.Credit && x.CreditDebit != core.Debit) || x.Status == "" {
			tb.Fatalf("%s: malformed transaction %+v", accountID, x)
		}
		if i > 0 {
			newer := txns[i-1]
			if newer.BookedAt.Before(x.BookedAt) {
				tb.Fatalf("%s: %s (%s) listed before older %s (%s)", accountID, newer.ID, newer.BookedAt, x.ID, x.BookedAt)
			}
			if got, want := newer.BalanceAfter.Minor, x.BalanceAfter.Minor+newer.Signed(); got != want {
				tb.Fatalf("%s: balance after %s is %d, want %d (previous %d, %s %d)", accountID, newer.ID, got, want,
					x.BalanceAfter.Minor, newer.CreditDebit, newer.Amount.Minor)
			}
		}
	}
	if len(txns) > 0 && txns[0].BalanceAfter != acc.Balance {
		tb.Fatalf("%s: newest balance after %v, account balance %v", accountID, txns[0].BalanceAfter, acc.Balance)
	}
	return txns
}

func testCustomers(t *testing.T, f *Fixture) {
	c := f.Core
	if f.Environment != environment.Sandbox && f.Environment != environment.Production {
		t.Fatalf("fixture Environment %q is neither %q nor %q", f.Environment, environment.Sandbox, environment.Production)
	}
	cus, err := c.Customer(ctx, f.CustomerID)
	if err != nil || cus.ID != f.CustomerID || cus.DisplayName == "" || cus.Environment != f.Environment {
		t.Fatalf("Customer: %+v, %v (want environment %s)", cus, err, f.Environment)
	}
	// Email is "" (the platform mails nothing) or one plain address.
	if a, err := netmail.ParseAddress(cus.Email); cus.Email != "" && (err != nil || a.Address != cus.Email) {
		t.Fatalf("Customer.Email %q is neither empty nor a plain address", cus.Email)
	}
	accs, err := c.Accounts(ctx, f.CustomerID)
	if err != nil || len(accs) < 2 {
		t.Fatalf("Accounts: %d, %v", len(accs), err)
	}
	found := false
	for _, a := range accs {
		if a.CustomerID != f.CustomerID || a.ID == "" || a.Currency == "" || a.SchemeName == "" || a.Identification == "" ||
			a.Environment != f.Environment {
			t.Fatalf("malformed account %+v (want environment %s)", a, f.Environment)
		}
		one, err := c.Account(ctx, a.ID)
		if err != nil || one.ID != a.ID || one.Balance != a.Balance {
			t.Fatalf("Account(%s): %+v, %v", a.ID, one, err)
		}
		found = found || a.ID == f.FundedAccountID
	}
	if !found {
		t.Fatalf("FundedAccountID not among the customer's accounts")
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"fail/customer-unknown", func() error { _, err := c.Customer(ctx, "cus_unknown"); return err }},
		{"fail/accounts-unknown-customer", func() error { _, err := c.Accounts(ctx, "cus_unknown"); return err }},
		{"fail/account-unknown", func() error { _, err := c.Account(ctx, "acc_unknown"); return err }},
		{"fail/balances-unknown", func() error { _, err := c.Balances(ctx, "acc_unknown"); return err }},
		{"fail/transactions-unknown", func() error {
			_, err := c.Transactions(ctx, "acc_unknown", core.TransactionQuery{})
			return err
		}},
		{"fail/funds-unknown", func() error {
			_, err := c.CheckFunds(ctx, "acc_unknown", money.Money{Minor: 1, Currency: f.Currency})
			return err
		}},
		{"fail/payment-unknown", func() error { _, err := c.Payment(ctx, "pay_unknown"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("err = %v, want ErrNotFound", err)
			}
		})
	}
}

func testBalances(t *testing.T, f *Fixture) {
	ids := []string{f.FundedAccountID, f.PoorAccountID, f.ClosedAccountID, f.BlockedAccountID, f.DrainAccountID, f.InternalCreditorAccountID}
	accs, _ := f.Core.Accounts(ctx, f.CustomerID)
	for _, a := range accs {
		ids = append(ids, a.ID)
	}
	for _, id := range ids {
		acc, err := f.Core.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := f.Core.Balances(ctx, id)
		if err != nil {
			t.Fatalf("Balances(%s): %v", id, err)
		}
		byType := map[string]core.Balance{}
		for _, b := range bs {
			if b.AccountID != id || b.Amount.Currency != acc.Currency || b.DateTime.IsZero() {
				t.Fatalf("malformed balance %+v", b)
			}
			byType[b.Type] = b
		}
		booked, ok1 := byType[core.BalanceInterimBooked]
		avail, ok2 := byType[core.BalanceInterimAvailable]
		if !ok1 || !ok2 {
			t.Fatalf("%s: balances %+v lack InterimBooked or InterimAvailable", id, bs)
		}
		if booked.Amount != acc.Balance {
			t.Fatalf("%s: InterimBooked %v, account balance %v", id, booked.Amount, acc.Balance)
		}
		want := booked.Amount.Minor
		for _, cl := range avail.CreditLines {
			if cl.Included {
				want += cl.Amount.Minor
			}
		}
		if avail.Amount.Minor != want {
			t.Fatalf("%s: InterimAvailable %v, want booked + included credit lines = %d", id, avail.Amount, want)
		}
		if (booked.Amount.Minor < 0) != (booked.CreditDebit() == core.Debit) {
			t.Fatalf("%s: indicator %s for %v", id, booked.CreditDebit(), booked.Amount)
		}
	}
}

func testListsAgree(t *testing.T, f *Fixture) {
	accs, err := f.Core.Accounts(ctx, f.CustomerID)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{f.PoorAccountID, f.ClosedAccountID, f.BlockedAccountID, f.DrainAccountID, f.InternalCreditorAccountID}
	for _, a := range accs {
		ids = append(ids, a.ID)
	}
	for _, id := range ids {
		CheckAgrees(t, f.Core, id)
	}
	if n := len(All(t, f.Core, f.FundedAccountID, core.TransactionQuery{})); n < 120 {
		t.Fatalf("funded account has %d transactions, fixture promises ≥ 120", n)
	}
}

func testPagination(t *testing.T, f *Fixture) {
	c, id := f.Core, f.FundedAccountID
	full := All(t, c, id, core.TransactionQuery{Limit: core.MaxPageSize})
	if len(full) < 120 {
		t.Fatalf("funded account has %d transactions", len(full))
	}
	newest, oldest := full[0].BookedAt, full[len(full)-1].BookedAt
	from := oldest.Add(newest.Sub(oldest) / 4).Truncate(time.Second)
	to := oldest.Add(newest.Sub(oldest) * 3 / 4).Truncate(time.Second)
	for _, tc := range []struct {
		name string
		q    core.TransactionQuery
		keep func(core.Transaction) bool
	}{
		{"ok/everything-default-page", core.TransactionQuery{}, func(core.Transaction) bool { return true }},
		{"ok/date-window-page-7", core.TransactionQuery{From: from, To: to, Limit: 7}, func(x core.Transaction) bool {
			return !x.BookedAt.Before(from) && x.BookedAt.Before(to)
		}},
		{"ok/from-only-debits-page-13", core.TransactionQuery{From: from, CreditDebit: core.Debit, Limit: 13}, func(x core.Transaction) bool {
			return !x.BookedAt.Before(from) && x.CreditDebit == core.Debit
		}},
		{"ok/to-only-credits-page-1", core.TransactionQuery{To: to, CreditDebit: core.Credit, Limit: 1}, func(x core.Transaction) bool {
			return x.BookedAt.Before(to) && x.CreditDebit == core.Credit
		}},
		{"ok/empty-window", core.TransactionQuery{From: newest.Add(time.Hour), Limit: 5}, func(core.Transaction) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []core.Transaction
			for _, x := range full {
				if tc.keep(x) {
					want = append(want, x)
				}
			}
			got := All(t, c, id, tc.q)
			if len(got) != len(want) {
				t.Fatalf("walked %d transactions, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID {
					t.Fatalf("position %d: %s, want %s", i, got[i].ID, want[i].ID)
				}
			}
			// The same walk again gives the same order (stable).
			again := All(t, c, id, tc.q)
			for i := range again {
				if again[i].ID != got[i].ID {
					t.Fatalf("second walk differs at %d", i)
				}
			}
		})
	}
}

func testCursorRefusals(t *testing.T, f *Fixture) {
	c, id := f.Core, f.FundedAccountID
	q := core.TransactionQuery{Limit: 5}
	p, err := c.Transactions(ctx, id, q)
	if err != nil || p.NextCursor == "" {
		t.Fatalf("first page: %v, cursor %q", err, p.NextCursor)
	}
	cur := p.NextCursor
	flipped := []byte(cur)
	flipped[len(flipped)/3] ^= 0x01
	if flipped[len(flipped)/3] == '.' || string(flipped) == cur {
		flipped[len(flipped)/3+1] ^= 0x02
	}
	for _, tc := range []struct {
		name    string
		account string
		q       core.TransactionQuery
		want    error
	}{
		{"fail/garbage", id, core.TransactionQuery{Cursor: "not-a-cursor"}, core.ErrBadCursor},
		{"fail/garbage-with-dot", id, core.TransactionQuery{Cursor: "abc.def"}, core.ErrBadCursor},
		{"fail/tampered", id, core.TransactionQuery{Cursor: string(flipped)}, core.ErrBadCursor},
		{"fail/other-account", f.DrainAccountID, core.TransactionQuery{Cursor: cur}, core.ErrBadCursor},
		{"fail/other-filter", id, core.TransactionQuery{Cursor: cur, CreditDebit: core.Debit}, core.ErrBadCursor},
		{"fail/other-window", id, core.TransactionQuery{Cursor: cur, From: time.Unix(0, 0)}, core.ErrBadCursor},
		{"fail/to-before-from", id, core.TransactionQuery{From: time.Unix(100, 0), To: time.Unix(50, 0)}, core.ErrInvalid},
		{"fail/bad-indicator", id, core.TransactionQuery{CreditDebit: "Both"}, core.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Transactions(ctx, tc.account, tc.q); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("ok/same-query-other-page-size", func(t *testing.T) {
		if _, err := c.Transactions(ctx, id, core.TransactionQuery{Cursor: cur, Limit: 50}); err != nil {
			t.Fatal(err)
		}
	})
}

func testFunds(t *testing.T, f *Fixture) {
	c := f.Core
	amt := func(m int64) money.Money { return money.Money{Minor: m, Currency: f.Currency} }
	funded, _ := c.Account(ctx, f.FundedAccountID)
	for _, tc := range []struct {
		name    string
		account string
		amount  money.Money
		want    bool
		err     error
	}{
		{"ok/funded-small", f.FundedAccountID, amt(100), true, nil},
		{"ok/funded-exactly-available", f.FundedAccountID, amt(funded.Available().Minor), true, nil},
		{"ok/funded-one-penny-too-much", f.FundedAccountID, amt(funded.Available().Minor + 1), false, nil},
		{"ok/poor", f.PoorAccountID, amt(1000), false, nil},
		{"ok/closed", f.ClosedAccountID, amt(1), false, nil},
		{"ok/blocked", f.BlockedAccountID, amt(1), false, nil},
		{"fail/zero", f.FundedAccountID, amt(0), false, core.ErrInvalid},
		{"fail/negative", f.FundedAccountID, amt(-5), false, core.ErrInvalid},
		{"fail/currency", f.FundedAccountID, money.Money{Minor: 100, Currency: "XTS"}, false, core.ErrCurrencyMismatch},
		{"fail/unknown", "acc_unknown", amt(100), false, core.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.CheckFunds(ctx, tc.account, tc.amount)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("CheckFunds = %v, want %v", got, tc.want)
			}
		})
	}
}

var payCounter atomic.Int64

func payID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), payCounter.Add(1))
}

func testPayments(t *testing.T, f *Fixture) {
	c := f.Core
	amt := func(m int64) money.Money { return money.Money{Minor: m, Currency: f.Currency} }
	pay := func(debtor string, cr core.Creditor, a money.Money) core.PaymentInstruction {
		return core.PaymentInstruction{PaymentID: payID("pay"), DebtorAccountID: debtor, Creditor: cr, Amount: a, Reference: "CONFORMANCE"}
	}
	self, _ := c.Account(ctx, f.FundedAccountID)
	for _, tc := range []struct {
		name     string
		in       core.PaymentInstruction
		status   string
		reason   string
		internal bool
	}{
		{"ok/external", pay(f.FundedAccountID, f.ExternalCreditor, amt(1234)), core.PaymentAccepted, "", false},
		{"ok/internal", pay(f.FundedAccountID, f.InternalCreditor, amt(2501)), core.PaymentAccepted, "", true},
		{"fail/insufficient-funds", pay(f.PoorAccountID, f.ExternalCreditor, amt(1000)), core.PaymentRejected, core.RejectInsufficientFunds, false},
		{"fail/closed", pay(f.ClosedAccountID, f.ExternalCreditor, amt(100)), core.PaymentRejected, core.RejectAccountClosed, false},
		{"fail/blocked", pay(f.BlockedAccountID, f.ExternalCreditor, amt(100)), core.PaymentRejected, core.RejectAccountBlocked, false},
		{"fail/creditor-scheme", pay(f.FundedAccountID, core.Creditor{SchemeName: "UK.OBIE.IBAN", Identification: "GB29NWBK60161331926819", Name: "X"}, amt(100)), core.PaymentRejected, core.RejectCreditorInvalid, false},
		{"fail/creditor-malformed", pay(f.FundedAccountID, core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "12-34-56 1234", Name: "X"}, amt(100)), core.PaymentRejected, core.RejectCreditorInvalid, false},
		{"fail/creditor-unknown-here", pay(f.FundedAccountID, f.UnknownInternalCreditor, amt(100)), core.PaymentRejected, core.RejectCreditorInvalid, false},
		{"fail/creditor-is-debtor", pay(f.FundedAccountID, core.Creditor{SchemeName: self.SchemeName, Identification: self.Identification, Name: "Me"}, amt(100)), core.PaymentRejected, core.RejectCreditorInvalid, false},
		{"fail/creditor-closed", pay(f.FundedAccountID, creditorOf(t, c, f.ClosedAccountID), amt(100)), core.PaymentRejected, core.RejectCreditorUnavailable, false},
		{"fail/currency", pay(f.FundedAccountID, f.ExternalCreditor, money.Money{Minor: 100, Currency: "XTS"}), core.PaymentRejected, core.RejectCurrencyMismatch, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.Account(ctx, tc.in.DebtorAccountID)
			beforeN := len(All(t, c, tc.in.DebtorAccountID, core.TransactionQuery{Limit: core.MaxPageSize}))
			var credBefore *core.Account
			if tc.internal {
				credBefore, _ = c.Account(ctx, f.InternalCreditorAccountID)
			}
			res, err := c.ExecutePayment(ctx, tc.in)
			if err != nil {
				t.Fatalf("ExecutePayment: %v", err)
			}
			if res.Status != tc.status || res.RejectReason != tc.reason || res.PaymentID != tc.in.PaymentID {
				t.Fatalf("result %+v, want %s/%s", res, tc.status, tc.reason)
			}
			after, _ := c.Account(ctx, tc.in.DebtorAccountID)
			txns := CheckAgrees(t, c, tc.in.DebtorAccountID)
			if tc.status == core.PaymentRejected {
				if after.Balance != before.Balance || len(txns) != beforeN || res.DebitTransactionID != "" {
					t.Fatalf("rejected payment changed the account: %v → %v, %d → %d entries", before.Balance, after.Balance, beforeN, len(txns))
				}
				return
			}
			if after.Balance.Minor != before.Balance.Minor-tc.in.Amount.Minor || len(txns) != beforeN+1 {
				t.Fatalf("balance %v → %v for %v; %d → %d entries", before.Balance, after.Balance, tc.in.Amount, beforeN, len(txns))
			}
			if txns[0].ID != res.DebitTransactionID || txns[0].CreditDebit != core.Debit || txns[0].Amount != tc.in.Amount ||
				txns[0].Reference != tc.in.Reference || !txns[0].BookedAt.Equal(res.BookedAt) {
				t.Fatalf("newest entry %+v does not record payment %+v", txns[0], res)
			}
			if tc.internal {
				credAfter, _ := c.Account(ctx, f.InternalCreditorAccountID)
				ctxns := CheckAgrees(t, c, f.InternalCreditorAccountID)
				if credAfter.Balance.Minor != credBefore.Balance.Minor+tc.in.Amount.Minor || ctxns[0].ID != res.CreditTransactionID ||
					ctxns[0].CreditDebit != core.Credit || ctxns[0].Amount != tc.in.Amount {
					t.Fatalf("creditor not credited: %v → %v, newest %+v", credBefore.Balance, credAfter.Balance, ctxns[0])
				}
			} else if res.CreditTransactionID != "" {
				t.Fatalf("external payment has a credit entry %s", res.CreditTransactionID)
			}
			got, err := c.Payment(ctx, tc.in.PaymentID)
			if err != nil || *got != *res {
				t.Fatalf("Payment = %+v, %v; want %+v", got, err, res)
			}
		})
	}
	for _, tc := range []struct {
		name string
		in   core.PaymentInstruction
		want error
	}{
		{"fail/no-payment-id", core.PaymentInstruction{DebtorAccountID: f.FundedAccountID, Creditor: f.ExternalCreditor, Amount: amt(1)}, core.ErrInvalid},
		{"fail/zero-amount", pay(f.FundedAccountID, f.ExternalCreditor, amt(0)), core.ErrInvalid},
		{"fail/no-creditor", pay(f.FundedAccountID, core.Creditor{}, amt(1)), core.ErrInvalid},
		{"fail/unknown-debtor", pay("acc_unknown", f.ExternalCreditor, amt(1)), core.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.ExecutePayment(ctx, tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func creditorOf(t *testing.T, c core.Core, accountID string) core.Creditor {
	a, err := c.Account(ctx, accountID)
	if err != nil {
		t.Fatal(err)
	}
	return core.Creditor{SchemeName: a.SchemeName, Identification: a.Identification, Name: a.HolderName}
}

func testIdempotency(t *testing.T, f *Fixture) {
	c := f.Core
	in := core.PaymentInstruction{PaymentID: payID("idem"), DebtorAccountID: f.FundedAccountID, Creditor: f.InternalCreditor,
		Amount: money.Money{Minor: 777, Currency: f.Currency}, Reference: "TWICE"}
	before, _ := c.Account(ctx, f.FundedAccountID)
	first, err := c.ExecutePayment(ctx, in)
	if err != nil || first.Status != core.PaymentAccepted {
		t.Fatalf("first: %+v, %v", first, err)
	}
	t.Run("ok/repeat-returns-first-result", func(t *testing.T) {
		again, err := c.ExecutePayment(ctx, in)
		if err != nil || *again != *first {
			t.Fatalf("again = %+v, %v; want %+v", again, err, first)
		}
		after, _ := c.Account(ctx, f.FundedAccountID)
		if after.Balance.Minor != before.Balance.Minor-777 {
			t.Fatalf("balance %v → %v: money moved more than once", before.Balance, after.Balance)
		}
		CheckAgrees(t, c, f.FundedAccountID)
		CheckAgrees(t, c, f.InternalCreditorAccountID)
	})
	t.Run("fail/same-id-other-amount", func(t *testing.T) {
		other := in
		other.Amount.Minor++
		if _, err := c.ExecutePayment(ctx, other); !errors.Is(err, core.ErrIdempotencyConflict) {
			t.Fatalf("err = %v, want ErrIdempotencyConflict", err)
		}
	})
	t.Run("ok/rejected-stays-rejected", func(t *testing.T) {
		rej := core.PaymentInstruction{PaymentID: payID("idem-rej"), DebtorAccountID: f.PoorAccountID, Creditor: f.ExternalCreditor,
			Amount: money.Money{Minor: 1000, Currency: f.Currency}}
		r1, err1 := c.ExecutePayment(ctx, rej)
		r2, err2 := c.ExecutePayment(ctx, rej)
		if err1 != nil || err2 != nil || r1.Status != core.PaymentRejected || *r1 != *r2 {
			t.Fatalf("%+v %v / %+v %v", r1, err1, r2, err2)
		}
	})
	t.Run("ok/concurrent-same-id-moves-money-once", func(t *testing.T) {
		in := in
		in.PaymentID = payID("idem-conc")
		before, _ := c.Account(ctx, f.FundedAccountID)
		const n = 8
		results := make([]*core.PaymentResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i], errs[i] = c.ExecutePayment(ctx, in)
			}(i)
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if errs[i] != nil || *results[i] != *results[0] || results[i].Status != core.PaymentAccepted {
				t.Fatalf("call %d: %+v, %v (first %+v)", i, results[i], errs[i], results[0])
			}
		}
		after, _ := c.Account(ctx, f.FundedAccountID)
		if after.Balance.Minor != before.Balance.Minor-in.Amount.Minor {
			t.Fatalf("balance %v → %v", before.Balance, after.Balance)
		}
		CheckAgrees(t, c, f.FundedAccountID)
	})
}

func testConcurrentPayments(t *testing.T, f *Fixture) {
	c := f.Core
	acc, err := c.Account(ctx, f.DrainAccountID)
	if err != nil {
		t.Fatal(err)
	}
	avail := acc.Available().Minor
	if acc.CreditLimit.Minor != 0 || avail < 5000 {
		t.Fatalf("drain account must have no credit line and ≥ 50.00: %+v", acc)
	}
	each := avail / 5 // 5 payments fit, a 6th never does (avail - 5*each < 5 ≤ each)
	const n = 20
	results := make([]*core.PaymentResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i], errs[i] = c.ExecutePayment(ctx, core.PaymentInstruction{
				PaymentID: payID(fmt.Sprintf("conc%d", i)), DebtorAccountID: f.DrainAccountID, Creditor: f.ExternalCreditor,
				Amount: money.Money{Minor: each, Currency: f.Currency}, Reference: "RACE"})
		}(i)
	}
	close(start)
	wg.Wait()
	accepted := 0
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("payment %d: %v", i, errs[i])
		}
		switch {
		case results[i].Status == core.PaymentAccepted:
			accepted++
		case results[i].RejectReason != core.RejectInsufficientFunds:
			t.Fatalf("payment %d rejected for %q", i, results[i].RejectReason)
		}
	}
	if accepted != 5 {
		t.Fatalf("%d payments accepted, want exactly 5", accepted)
	}
	after, _ := c.Account(ctx, f.DrainAccountID)
	if after.Balance.Minor != acc.Balance.Minor-5*each || after.Balance.Minor < 0 {
		t.Fatalf("balance %v → %v after 5 × %d", acc.Balance, after.Balance, each)
	}
	txns := CheckAgrees(t, c, f.DrainAccountID)
	for _, x := range txns[:5] {
		if x.Reference != "RACE" || x.Amount.Minor != each {
			t.Fatalf("newest entries are not the 5 payments: %+v", x)
		}
		if x.BalanceAfter.Minor < 0 {
			t.Fatalf("balance went negative: %+v", x)
		}
	}
}

// testOppositeTransfers pays back and forth between two accounts of the bank at
// the same time: no call may fail (e.g. on a lock deadlock), no money may
// appear or vanish, and both lists must still agree with their balances.
func testOppositeTransfers(t *testing.T, f *Fixture) {
	c := f.Core
	a, _ := c.Account(ctx, f.FundedAccountID)
	b, _ := c.Account(ctx, f.InternalCreditorAccountID)
	toA, toB := creditorOf(t, c, a.ID), creditorOf(t, c, b.ID)
	const n = 10
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 2*n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := core.PaymentInstruction{PaymentID: payID("swap"), DebtorAccountID: a.ID, Creditor: toB,
				Amount: money.Money{Minor: 100, Currency: f.Currency}, Reference: "SWAP"}
			if i%2 == 1 {
				in.DebtorAccountID, in.Creditor = b.ID, toA
			}
			<-start
			res, err := c.ExecutePayment(ctx, in)
			if err == nil && res.Status != core.PaymentAccepted {
				err = fmt.Errorf("rejected: %s", res.RejectReason)
			}
			errs[i] = err
		}(i)
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	a2, _ := c.Account(ctx, a.ID)
	b2, _ := c.Account(ctx, b.ID)
	if a2.Balance != a.Balance || b2.Balance != b.Balance {
		t.Fatalf("balances moved: %v → %v, %v → %v", a.Balance, a2.Balance, b.Balance, b2.Balance)
	}
	CheckAgrees(t, c, a.ID)
	CheckAgrees(t, c, b.ID)
}

// testReversal checks the optional core.SandboxReverser: a reversal gives the
// debtor its money back (and takes it from an internal creditor) with booked
// entries that keep lists and balances agreeing, happens once however often
// or concurrently it is asked for, and refuses what it cannot reverse. The
// fixture's accounts must be ones the core may reverse (sandbox accounts).
func testReversal(t *testing.T, f *Fixture) {
	c := f.Core
	rv := c.(core.SandboxReverser)
	amt := money.Money{Minor: 1999, Currency: f.Currency}
	execute := func(t *testing.T, debtor string, cr core.Creditor) *core.PaymentResult {
		t.Helper()
		res, err := c.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: payID("rev"), DebtorAccountID: debtor,
			Creditor: cr, Amount: amt, Reference: "REVERSE ME"})
		if err != nil || res.Status != core.PaymentAccepted {
			t.Fatalf("ExecutePayment: %+v, %v", res, err)
		}
		return res
	}
	balance := func(t *testing.T, id string) int64 {
		t.Helper()
		a, err := c.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance.Minor
	}
	for _, tc := range []struct {
		name     string
		creditor core.Creditor
		internal bool
	}{
		{"ok/external", f.ExternalCreditor, false},
		{"ok/internal", f.InternalCreditor, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debtorBefore, creditorBefore := balance(t, f.FundedAccountID), balance(t, f.InternalCreditorAccountID)
			res := execute(t, f.FundedAccountID, tc.creditor)
			rev, err := rv.ReversePayment(ctx, res.PaymentID, "sandbox reset")
			if err != nil {
				t.Fatalf("ReversePayment: %v", err)
			}
			if rev.PaymentID != res.PaymentID || rev.AlreadyReversed || rev.Reason != "sandbox reset" ||
				rev.CreditTransactionID == "" || rev.ReversedAt.IsZero() || (rev.DebitTransactionID != "") != tc.internal {
				t.Fatalf("reversal %+v of %+v", rev, res)
			}
			if got := balance(t, f.FundedAccountID); got != debtorBefore {
				t.Fatalf("debtor balance %d after reversal, %d before the payment", got, debtorBefore)
			}
			txns := CheckAgrees(t, c, f.FundedAccountID)
			if x := txns[0]; x.ID != rev.CreditTransactionID || x.CreditDebit != core.Credit || x.Amount != amt ||
				x.PaymentID != res.PaymentID || x.Description != "Reversal of payment "+res.PaymentID+": sandbox reset" ||
				txns[1].ID != res.DebitTransactionID {
				t.Fatalf("newest debtor entries %+v, %+v do not record the reversal %+v", txns[0], txns[1], rev)
			}
			if got := balance(t, f.InternalCreditorAccountID); got != creditorBefore {
				t.Fatalf("creditor balance %d after reversal, %d before the payment", got, creditorBefore)
			}
			ctxns := CheckAgrees(t, c, f.InternalCreditorAccountID)
			if tc.internal {
				if x := ctxns[0]; x.ID != rev.DebitTransactionID || x.CreditDebit != core.Debit || x.Amount != amt || x.PaymentID != res.PaymentID {
					t.Fatalf("newest creditor entry %+v does not record the reversal %+v", x, rev)
				}
			}

			again, err := rv.ReversePayment(ctx, res.PaymentID, "sandbox reset")
			if err != nil || !again.AlreadyReversed || again.CreditTransactionID != rev.CreditTransactionID ||
				again.DebitTransactionID != rev.DebitTransactionID || !again.ReversedAt.Equal(rev.ReversedAt) {
				t.Fatalf("second ReversePayment = %+v, %v; first %+v", again, err, rev)
			}
			if got := balance(t, f.FundedAccountID); got != debtorBefore || len(CheckAgrees(t, c, f.FundedAccountID)) != len(txns) {
				t.Fatalf("the second reversal moved money: balance %d, want %d", got, debtorBefore)
			}
			// The payment itself still reads as executed; executing it again moves nothing.
			if got, err := c.Payment(ctx, res.PaymentID); err != nil || *got != *res {
				t.Fatalf("Payment after reversal = %+v, %v; want %+v", got, err, res)
			}
		})
	}
	t.Run("ok/concurrent-reversals-move-money-once", func(t *testing.T) {
		before := balance(t, f.FundedAccountID)
		res := execute(t, f.FundedAccountID, f.InternalCreditor)
		const n = 8
		revs := make([]*core.Reversal, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				revs[i], errs[i] = rv.ReversePayment(ctx, res.PaymentID, "sandbox reset")
			}(i)
		}
		close(start)
		wg.Wait()
		fresh := 0
		for i := 0; i < n; i++ {
			if errs[i] != nil || revs[i].CreditTransactionID != revs[0].CreditTransactionID {
				t.Fatalf("reversal %d: %+v, %v (first %+v)", i, revs[i], errs[i], revs[0])
			}
			if !revs[i].AlreadyReversed {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d calls reversed the payment, want exactly 1", fresh)
		}
		if got := balance(t, f.FundedAccountID); got != before {
			t.Fatalf("balance %d, want %d", got, before)
		}
		CheckAgrees(t, c, f.FundedAccountID)
		CheckAgrees(t, c, f.InternalCreditorAccountID)
	})
	rejected, err := c.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: payID("rev-rej"), DebtorAccountID: f.PoorAccountID,
		Creditor: f.ExternalCreditor, Amount: money.Money{Minor: 1000, Currency: f.Currency}, Reference: "POOR"})
	if err != nil || rejected.Status != core.PaymentRejected {
		t.Fatalf("payment from the poor account: %+v, %v", rejected, err)
	}
	accepted := execute(t, f.FundedAccountID, f.ExternalCreditor)
	for _, tc := range []struct {
		name, paymentID, reason string
		want                    error
	}{
		{"fail/rejected-payment", rejected.PaymentID, "sandbox reset", core.ErrNotReversible},
		{"fail/unknown-payment", "pay-never-made", "sandbox reset", core.ErrNotFound},
		{"fail/no-payment-id", "", "sandbox reset", core.ErrInvalid},
		{"fail/no-reason", accepted.PaymentID, "  ", core.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := balance(t, f.FundedAccountID)
			if _, err := rv.ReversePayment(ctx, tc.paymentID, tc.reason); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := balance(t, f.FundedAccountID); got != before {
				t.Fatalf("a refused reversal moved money: %d → %d", before, got)
			}
		})
	}
}

func testAuthenticate(t *testing.T, f *Fixture) {
	a := f.Authenticator
	env, other := f.Environment, otherEnvironment(f.Environment)
	type authCase struct {
		name               string
		env                environment.Environment
		user, pass, wantID string
		wantErr            error
	}
	cases := []authCase{
		{"ok/login", env, f.Login.Username, f.Login.Password, f.Login.CustomerID, nil},
		{"fail/wrong-password", env, f.Login.Username, f.Login.Password + "x", "", oauth.ErrBadCredentials},
		{"fail/empty-password", env, f.Login.Username, "", "", oauth.ErrBadCredentials},
		{"fail/unknown-user", env, "nobody-at-all", f.Login.Password, "", oauth.ErrBadCredentials},
		{"fail/locked", env, f.LockedLogin.Username, f.LockedLogin.Password, "", oauth.ErrCustomerLocked},
		{"fail/locked-wrong-password", env, f.LockedLogin.Username, "wrong-password", "", oauth.ErrBadCredentials},
		// An app of the other environment cannot sign this customer in: the
		// answer is the unknown-username answer.
		{"fail/login-from-other-environment", other, f.Login.Username, f.Login.Password, "", oauth.ErrBadCredentials},
		{"fail/locked-from-other-environment", other, f.LockedLogin.Username, f.LockedLogin.Password, "", oauth.ErrBadCredentials},
	}
	if o := f.OtherEnvironmentLogin; o.Username != "" {
		cases = append(cases,
			authCase{"ok/other-environment-login", other, o.Username, o.Password, o.CustomerID, nil},
			authCase{"fail/other-environment-customer", env, o.Username, o.Password, "", oauth.ErrBadCredentials})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := a.Authenticate(ctx, tc.env, tc.user, tc.pass)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || id != tc.wantID {
				t.Fatalf("Authenticate(%s, %s) = %q, %v; want %q, %v", tc.env, tc.user, id, err, tc.wantID, tc.wantErr)
			}
		})
	}
	t.Run("ok/display-name", func(t *testing.T) {
		if n, err := a.DisplayName(ctx, f.Login.CustomerID); err != nil || n == "" {
			t.Fatalf("DisplayName = %q, %v", n, err)
		}
	})
	t.Run("fail/display-name-unknown", func(t *testing.T) {
		if _, err := a.DisplayName(ctx, "cus_unknown"); !errors.Is(err, oauth.ErrCustomerUnknown) {
			t.Fatalf("err = %v, want ErrCustomerUnknown", err)
		}
	})
}

// testEnvironmentsNeverMeet checks that no payment moves money between a
// sandbox and a production account, in either direction: the payment is
// rejected as RejectCreditorInvalid (what an unknown account number at this
// bank gets, so the answer does not reveal that the account exists in the
// other environment), no entry is booked and no balance changes on either
// side. The other environment's account stays readable as itself.
func testEnvironmentsNeverMeet(t *testing.T, f *Fixture) {
	c := f.Core
	other, err := c.Account(ctx, f.OtherEnvironmentAccountID)
	if err != nil {
		t.Fatalf("Account(OtherEnvironmentAccountID): %v", err)
	}
	if other.Environment != otherEnvironment(f.Environment) || other.Status != core.AccountEnabled || other.Currency != f.Currency {
		t.Fatalf("OtherEnvironmentAccountID %+v must be an enabled %s account of environment %s", other, f.Currency, otherEnvironment(f.Environment))
	}
	if other.Available().Minor < 1000 {
		t.Fatalf("OtherEnvironmentAccountID has %v available, the fixture promises ≥ 10.00", other.Available())
	}
	for _, tc := range []struct {
		name     string
		debtor   string
		creditor core.Creditor
		// creditorAccount is the creditor's account at this bank, which must not move.
		creditorAccount string
	}{
		{"fail/to-other-environment", f.FundedAccountID, f.OtherEnvironmentCreditor, f.OtherEnvironmentAccountID},
		{"fail/from-other-environment", f.OtherEnvironmentAccountID, f.InternalCreditor, f.InternalCreditorAccountID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type state struct {
				balance money.Money
				entries int
			}
			read := func(id string) state {
				a, err := c.Account(ctx, id)
				if err != nil {
					t.Fatalf("Account(%s): %v", id, err)
				}
				return state{a.Balance, len(CheckAgrees(t, c, id))}
			}
			debtorBefore, creditorBefore := read(tc.debtor), read(tc.creditorAccount)
			in := core.PaymentInstruction{PaymentID: payID("env"), DebtorAccountID: tc.debtor, Creditor: tc.creditor,
				Amount: money.Money{Minor: 500, Currency: f.Currency}, Reference: "NEVER MEET"}
			res, err := c.ExecutePayment(ctx, in)
			if err != nil {
				t.Fatalf("ExecutePayment: %v", err)
			}
			if res.Status != core.PaymentRejected || res.RejectReason != core.RejectCreditorInvalid || res.PaymentID != in.PaymentID ||
				res.DebitTransactionID != "" || res.CreditTransactionID != "" {
				t.Fatalf("result %+v, want %s/%s with no entries", res, core.PaymentRejected, core.RejectCreditorInvalid)
			}
			if got := read(tc.debtor); got != debtorBefore {
				t.Fatalf("debtor moved: %+v → %+v", debtorBefore, got)
			}
			if got := read(tc.creditorAccount); got != creditorBefore {
				t.Fatalf("creditor of the other environment moved: %+v → %+v", creditorBefore, got)
			}
			again, err := c.ExecutePayment(ctx, in)
			if err != nil || *again != *res {
				t.Fatalf("retry = %+v, %v; want the first result %+v", again, err, res)
			}
		})
	}
}
