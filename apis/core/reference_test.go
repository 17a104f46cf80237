package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/apis/core/coretest"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
)

var ctx = context.Background()

// seedNow is the fixed end of the seeded history in tests.
var seedNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	secrets.PasswordCost = 4 // bcrypt's minimum: tests check logic, not cost
	os.Exit(m.Run())
}

// MustSeeded returns a reference core on d seeded with the default seed, its
// clock a little after seedNow.
func MustSeeded(tb testing.TB, d *db.DB) (*core.Reference, *core.SeedReport) {
	tb.Helper()
	r := core.NewReference(d, core.Options{CursorKey: []byte("test-cursor-key"), Now: func() time.Time { return seedNow.Add(time.Hour) }})
	rep, err := r.Seed(ctx, core.SeedOptions{Now: seedNow})
	if err != nil {
		tb.Fatalf("Seed: %v", err)
	}
	return r, rep
}

func mustCustomer(tb testing.TB, r *core.Reference, username string) *core.Customer {
	tb.Helper()
	c, err := r.CustomerByUsername(ctx, environment.Sandbox, username)
	if err != nil {
		tb.Fatalf("CustomerByUsername(%s): %v", username, err)
	}
	return c
}

// mustAccount returns the customer's account of a type.
func mustAccount(tb testing.TB, r *core.Reference, username, typ string) core.Account {
	tb.Helper()
	accs, err := r.Accounts(ctx, mustCustomer(tb, r, username).ID)
	if err != nil {
		tb.Fatal(err)
	}
	for _, a := range accs {
		if a.Type == typ {
			return a
		}
	}
	tb.Fatalf("%s has no %s account", username, typ)
	return core.Account{}
}

// productionPassword is the password of the production customers tests make.
const productionPassword = "production-password-1"

// mustProductionAlice creates a production customer named like the sandbox
// persona alice (usernames are unique per environment) and returns her and
// her current account.
func mustProductionAlice(tb testing.TB, r *core.Reference) (*core.Customer, core.Account) {
	tb.Helper()
	c, err := r.CreateCustomer(ctx, environment.Production, "alice", productionPassword, "Alice Real")
	if err != nil {
		tb.Fatalf("CreateCustomer(production alice): %v", err)
	}
	accs, err := r.Accounts(ctx, c.ID)
	if err != nil || len(accs) != 1 {
		tb.Fatalf("production alice's accounts: %+v, %v", accs, err)
	}
	return c, accs[0]
}

func fixture(t *testing.T, d *db.DB) *coretest.Fixture {
	r, _ := MustSeeded(t, d)
	bobCurrent := mustAccount(t, r, "bob", core.AccountCurrent)
	prodAlice, prodAcc := mustProductionAlice(t, r)
	return &coretest.Fixture{
		Core:            r,
		CustomerID:      mustCustomer(t, r, "alice").ID,
		FundedAccountID: mustAccount(t, r, "alice", core.AccountCurrent).ID,
		InternalCreditor: core.Creditor{SchemeName: bobCurrent.SchemeName, Identification: bobCurrent.Identification,
			Name: bobCurrent.HolderName},
		InternalCreditorAccountID: bobCurrent.ID,
		ExternalCreditor:          core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "20000012345678", Name: "Acme Widgets Ltd"},
		UnknownInternalCreditor:   core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: core.SandboxSortCode + "00000000", Name: "Nobody"},
		PoorAccountID:             mustAccount(t, r, "carol.insufficient", core.AccountCurrent).ID,
		ClosedAccountID:           mustAccount(t, r, "frank.closed", core.AccountSavings).ID,
		BlockedAccountID:          mustAccount(t, r, "grace.blocked", core.AccountCurrent).ID,
		DrainAccountID:            mustAccount(t, r, "bob", core.AccountSavings).ID,
		Currency:                  "GBP",
		Environment:               environment.Sandbox,
		OtherEnvironmentAccountID: prodAcc.ID,
		OtherEnvironmentCreditor: core.Creditor{SchemeName: prodAcc.SchemeName, Identification: prodAcc.Identification,
			Name: prodAcc.HolderName},
		Authenticator:         r,
		Login:                 coretest.Credentials{Username: "alice", Password: core.SandboxPassword, CustomerID: mustCustomer(t, r, "alice").ID},
		LockedLogin:           coretest.Credentials{Username: "dave.locked", Password: core.SandboxPassword},
		OtherEnvironmentLogin: coretest.Credentials{Username: "alice", Password: productionPassword, CustomerID: prodAlice.ID},
	}
}

// TestConformance runs the core.Core conformance suite on the reference core,
// on every engine.
func TestConformance(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			coretest.Run(t, func(t *testing.T) *coretest.Fixture { return fixture(t, e.Open(t)) })
		})
	}
}

// snapshot reads every seeded account with its full history.
type snapshot struct {
	Customers    []core.Customer
	Accounts     []core.Account
	Transactions map[string][]core.Transaction
}

func takeSnapshot(tb testing.TB, r *core.Reference) snapshot {
	s := snapshot{Transactions: map[string][]core.Transaction{}}
	for _, p := range core.Personas() {
		c := mustCustomer(tb, r, p.Username)
		s.Customers = append(s.Customers, *c)
		accs, err := r.Accounts(ctx, c.ID)
		if err != nil {
			tb.Fatal(err)
		}
		s.Accounts = append(s.Accounts, accs...)
		for _, a := range accs {
			s.Transactions[a.ID] = coretest.All(tb, r, a.ID, core.TransactionQuery{Limit: core.MaxPageSize})
		}
	}
	return s
}

func TestSeed(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) { testSeed(t, e) })
	}
}

func testSeed(t *testing.T, e dbtest.Engine) {
	{
		d := e.Open(t)
		started := time.Now()
		r, rep := MustSeeded(t, d)
		t.Logf("%s: seeded %d customers, %d accounts, %d transactions in %s", d.Dialect, rep.Customers, rep.Accounts,
			rep.Transactions, time.Since(started).Round(time.Millisecond))
		if rep.Customers != len(core.Personas()) || rep.Accounts != 16 || rep.Transactions < 3000 || len(rep.Skipped) != 0 {
			t.Fatalf("report %+v", rep)
		}
		snap := takeSnapshot(t, r)
		for _, c := range snap.Customers {
			if c.Environment != environment.Sandbox || !c.Synthetic {
				t.Fatalf("persona %s is not a synthetic sandbox customer: %+v", c.Username, c)
			}
		}
		n := 0
		for _, a := range snap.Accounts {
			if a.Environment != environment.Sandbox {
				t.Fatalf("persona account %s is in environment %q", a.ID, a.Environment)
			}
			txns := coretest.CheckAgrees(t, r, a.ID)
			n += len(txns)
			if a.Status == core.AccountEnabled && (a.Type == core.AccountCurrent && len(txns) < 100 || len(txns) < 20) {
				t.Errorf("%s %s has only %d transactions", a.ID, a.Type, len(txns))
			}
			for _, x := range txns {
				if x.BookedAt.After(seedNow) || x.BookedAt.Before(seedNow.AddDate(-1, 0, -1)) {
					t.Fatalf("%s booked at %s, outside the year before %s", x.ID, x.BookedAt, seedNow)
				}
				if x.Category == "" || x.Method == "" || x.Description == "" {
					t.Fatalf("transaction lacks category/method/description: %+v", x)
				}
				if x.Method == core.MethodCard && (x.MerchantName == "" || len(x.MerchantCategoryCode) != 4) {
					t.Fatalf("card transaction without merchant: %+v", x)
				}
			}
		}
		if n != rep.Transactions {
			t.Fatalf("listed %d transactions, seeded %d", n, rep.Transactions)
		}
		categories := map[string]bool{}
		for _, x := range snap.Transactions[mustAccount(t, r, "alice", core.AccountCurrent).ID] {
			categories[x.Category] = true
		}
		for _, c := range []string{core.CategorySalary, core.CategoryRent, core.CategoryUtilities, core.CategoryGroceries,
			core.CategoryTransport, core.CategoryEatingOut, core.CategorySubscriptions, core.CategoryTransfers, core.CategoryCash} {
			if !categories[c] {
				t.Errorf("alice's current account has no %s transaction", c)
			}
		}

		t.Run("personas", func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				check func() error
			}{
				{"ok/alice-three-accounts-with-credit-lines", func() error {
					accs, _ := r.Accounts(ctx, mustCustomer(t, r, "alice").ID)
					card := mustAccount(t, r, "alice", core.AccountCreditCard)
					if len(accs) != 3 || card.SchemeName != core.SchemePAN || card.CreditLimit.Minor != 300000 ||
						mustAccount(t, r, "alice", core.AccountCurrent).CreditLimit.Minor != 50000 {
						return errors.New("alice's accounts are not current+savings+card with limits")
					}
					return nil
				}},
				{"ok/carol-at-7.42", func() error {
					if b := mustAccount(t, r, "carol.insufficient", core.AccountCurrent).Balance; b != money.GBP(742) {
						return errors.New("carol's balance is " + b.String())
					}
					return nil
				}},
				{"ok/dave-locked", func() error {
					if mustCustomer(t, r, "dave.locked").Status != core.CustomerLocked {
						return errors.New("dave not locked")
					}
					return nil
				}},
				{"ok/erin-rejects", func() error {
					if mustCustomer(t, r, "erin.rejects").ConsentBehaviour != "reject" {
						return errors.New("erin has no reject behaviour")
					}
					return nil
				}},
				{"ok/frank-savings-closed-and-empty", func() error {
					a := mustAccount(t, r, "frank.closed", core.AccountSavings)
					if a.Status != core.AccountClosed || a.Balance.Minor != 0 || mustAccount(t, r, "frank.closed", core.AccountCurrent).Status != core.AccountEnabled {
						return errors.New("frank's savings not closed at zero: " + a.Status + " " + a.Balance.String())
					}
					return nil
				}},
				{"ok/grace-blocked", func() error {
					if a := mustAccount(t, r, "grace.blocked", core.AccountCurrent); a.Status != core.AccountBlocked || a.Balance.Minor <= 0 {
						return errors.New("grace's account not blocked with money in it")
					}
					return nil
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if err := tc.check(); err != nil {
						t.Fatal(err)
					}
				})
			}
		})

		t.Run("ok/idempotent", func(t *testing.T) {
			again, err := r.Seed(ctx, core.SeedOptions{Now: seedNow})
			if err != nil || again.Customers != 0 || again.Transactions != 0 || len(again.Skipped) != len(core.Personas()) {
				t.Fatalf("second Seed: %+v, %v", again, err)
			}
			if !reflect.DeepEqual(takeSnapshot(t, r), snap) {
				t.Fatalf("second Seed changed the data")
			}
		})

		t.Run("ok/deterministic", func(t *testing.T) {
			other, _ := MustSeeded(t, e.Open(t))
			if !reflect.DeepEqual(takeSnapshot(t, other), snap) {
				t.Fatalf("the same seed gave different data")
			}
			third := core.NewReference(e.Open(t), core.Options{})
			if _, err := third.Seed(ctx, core.SeedOptions{Now: seedNow, Random: rand.New(rand.NewPCG(7, 7))}); err != nil {
				t.Fatal(err)
			}
			if reflect.DeepEqual(takeSnapshot(t, third).Accounts, snap.Accounts) {
				t.Fatalf("another seed gave the same accounts")
			}
		})
	}
}

func TestResetSandbox(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, rep := MustSeeded(t, d)
		own, err := r.CreateCustomer(ctx, environment.Sandbox, "zoe.tester", "correct horse", "Zoe Tester")
		if err != nil {
			t.Fatal(err)
		}
		_, prod := mustProductionAlice(t, r)
		alice := mustAccount(t, r, "alice", core.AccountCurrent)
		zoe, _ := r.Accounts(ctx, own.ID)
		res, err := r.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: "pay-before-reset", DebtorAccountID: alice.ID,
			Creditor: core.Creditor{SchemeName: zoe[0].SchemeName, Identification: zoe[0].Identification, Name: "Zoe"},
			Amount:   money.GBP(5000), Reference: "GIFT"})
		if err != nil || res.Status != core.PaymentAccepted {
			t.Fatalf("payment: %+v %v", res, err)
		}
		again, err := r.ResetSandbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again.Customers != rep.Customers || again.Accounts != rep.Accounts || len(again.Skipped) != 0 {
			t.Fatalf("reset reseeded %+v, first seed %+v", again, rep)
		}
		if _, err := r.Payment(ctx, "pay-before-reset"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("payment from a synthetic account survived the reset: %v", err)
		}
		if mustAccount(t, r, "alice", core.AccountCurrent).ID != alice.ID {
			t.Fatalf("account ids are not stable across resets")
		}
		// The customer made with CreateCustomer stays, with the money it received.
		coretest.CheckAgrees(t, r, zoe[0].ID)
		if z, err := r.Account(ctx, zoe[0].ID); err != nil || z.Balance.Minor != zoe[0].Balance.Minor+5000 {
			t.Fatalf("zoe's account after reset: %+v %v", z, err)
		}
		// Production is untouched, though its customer shares a persona's username.
		if c, err := r.CustomerByUsername(ctx, environment.Production, "alice"); err != nil || c.Environment != environment.Production {
			t.Fatalf("production alice after reset: %+v %v", c, err)
		}
		if a, err := r.Account(ctx, prod.ID); err != nil || a.Balance != prod.Balance {
			t.Fatalf("production account after reset: %+v %v, want balance %v", a, err, prod.Balance)
		}
		for _, a := range takeSnapshot(t, r).Accounts {
			coretest.CheckAgrees(t, r, a.ID)
		}
	})
}

// TestReversePaymentSyntheticOnly covers what the conformance suite cannot:
// the reference core reverses only payments between synthetic (seeded
// persona) accounts, and a reversal is booked even when the creditor has
// spent the money since.
func TestReversePaymentSyntheticOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := MustSeeded(t, d)
		own, err := r.CreateCustomer(ctx, environment.Sandbox, "zoe.tester", "correct horse", "Zoe Tester")
		if err != nil {
			t.Fatal(err)
		}
		zoeAccs, _ := r.Accounts(ctx, own.ID)
		zoe := zoeAccs[0]
		alice := mustAccount(t, r, "alice", core.AccountCurrent)
		carol := mustAccount(t, r, "carol.insufficient", core.AccountCurrent)
		n := 0
		pay := func(debtor string, to core.Account, minor int64) *core.PaymentResult {
			t.Helper()
			n++
			res, err := r.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: "pay-syn-" + strconv.Itoa(n), DebtorAccountID: debtor,
				Creditor: core.Creditor{SchemeName: to.SchemeName, Identification: to.Identification, Name: to.HolderName},
				Amount:   money.GBP(minor), Reference: "SYN"})
			if err != nil || res.Status != core.PaymentAccepted {
				t.Fatalf("payment: %+v %v", res, err)
			}
			return res
		}
		balances := func() [3]int64 {
			var out [3]int64
			for i, id := range []string{alice.ID, zoe.ID, carol.ID} {
				a, err := r.Account(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				out[i] = a.Balance.Minor
			}
			return out
		}
		for _, tc := range []struct {
			name string
			pay  func() *core.PaymentResult
		}{
			{"fail/debtor-not-synthetic", func() *core.PaymentResult { return pay(zoe.ID, alice, 1000) }},
			{"fail/creditor-not-synthetic", func() *core.PaymentResult { return pay(alice.ID, zoe, 1000) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := tc.pay()
				before := balances()
				if _, err := r.ReversePayment(ctx, res.PaymentID, "sandbox reset"); !errors.Is(err, core.ErrNotReversible) {
					t.Fatalf("err = %v, want ErrNotReversible", err)
				}
				if after := balances(); after != before {
					t.Fatalf("a refused reversal moved money: %v → %v", before, after)
				}
			})
		}
		t.Run("ok/creditor-spent-the-money", func(t *testing.T) {
			res := pay(alice.ID, carol, 2000)
			drained, err := r.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: "pay-syn-drain", DebtorAccountID: carol.ID,
				Creditor: core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "20000012345678", Name: "Acme"},
				Amount:   money.GBP(carol.Balance.Minor + 2000), Reference: "ALL"})
			if err != nil || drained.Status != core.PaymentAccepted {
				t.Fatalf("carol spends everything: %+v %v", drained, err)
			}
			if _, err := r.ReversePayment(ctx, res.PaymentID, "sandbox reset"); err != nil {
				t.Fatal(err)
			}
			if a, _ := r.Account(ctx, carol.ID); a.Balance.Minor != -2000 {
				t.Fatalf("carol's balance after the reversal %v, want -20.00", a.Balance)
			}
			if a, _ := r.Account(ctx, alice.ID); a.Balance != alice.Balance {
				t.Fatalf("alice's balance %v, want %v back", a.Balance, alice.Balance)
			}
			coretest.CheckAgrees(t, r, carol.ID)
			coretest.CheckAgrees(t, r, alice.ID)
		})
	})
}

func TestCreateCustomer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := MustSeeded(t, d)
		c, err := r.CreateCustomer(ctx, environment.Sandbox, "  Zoe.Tester ", "correct horse", "Zoe Tester")
		if err != nil {
			t.Fatal(err)
		}
		if c.Username != "zoe.tester" || c.Synthetic || c.Status != core.CustomerActive || c.Environment != environment.Sandbox {
			t.Fatalf("customer %+v", c)
		}
		accs, err := r.Accounts(ctx, c.ID)
		if err != nil || len(accs) != 1 || accs[0].Type != core.AccountCurrent || accs[0].Status != core.AccountEnabled ||
			accs[0].Environment != environment.Sandbox {
			t.Fatalf("accounts %+v, %v", accs, err)
		}
		if txns := coretest.CheckAgrees(t, r, accs[0].ID); len(txns) < 20 {
			t.Fatalf("only %d transactions of history", len(txns))
		}
		if id, err := r.Authenticate(ctx, environment.Sandbox, "ZOE.TESTER", "correct horse"); err != nil || id != c.ID {
			t.Fatalf("Authenticate = %q, %v", id, err)
		}
		// The same username in production is another customer, with its own
		// password and accounts; each environment signs in only its own.
		p, err := r.CreateCustomer(ctx, environment.Production, "zoe.tester", "other horse", "Zoe Real")
		if err != nil {
			t.Fatalf("same username in production: %v", err)
		}
		paccs, err := r.Accounts(ctx, p.ID)
		if p.ID == c.ID || p.Environment != environment.Production || err != nil || len(paccs) != 1 ||
			paccs[0].Environment != environment.Production || paccs[0].Identification == accs[0].Identification {
			t.Fatalf("production customer %+v, accounts %+v, %v", p, paccs, err)
		}
		for _, tc := range []struct {
			name         string
			env          environment.Environment
			pass, wantID string
			wantErr      error
		}{
			{"ok/sandbox-gets-sandbox-zoe", environment.Sandbox, "correct horse", c.ID, nil},
			{"ok/production-gets-production-zoe", environment.Production, "other horse", p.ID, nil},
			{"fail/sandbox-with-production-password", environment.Sandbox, "other horse", "", oauth.ErrBadCredentials},
			{"fail/production-with-sandbox-password", environment.Production, "correct horse", "", oauth.ErrBadCredentials},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id, err := r.Authenticate(ctx, tc.env, "zoe.tester", tc.pass)
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) || id != tc.wantID {
					t.Fatalf("Authenticate = %q, %v; want %q, %v", id, err, tc.wantID, tc.wantErr)
				}
			})
		}
		for _, env := range []environment.Environment{environment.Sandbox, environment.Production} {
			if got, err := r.CustomerByUsername(ctx, env, "Zoe.Tester"); err != nil || got.Environment != env {
				t.Fatalf("CustomerByUsername(%s) = %+v, %v", env, got, err)
			}
		}
		for _, tc := range []struct {
			name                string
			env                 environment.Environment
			user, pass, display string
			want                error
		}{
			{"fail/username-taken", environment.Sandbox, "zoe.tester", "correct horse", "Z", core.ErrUsernameTaken},
			{"fail/username-taken-in-production", environment.Production, "ZOE.tester", "correct horse", "Z", core.ErrUsernameTaken},
			{"fail/username-taken-persona-other-case", environment.Sandbox, "ALICE", "correct horse", "A", core.ErrUsernameTaken},
			{"fail/environment-unknown", "staging", "zoe4", "correct horse", "Z", core.ErrInvalid},
			{"fail/environment-empty", "", "zoe5", "correct horse", "Z", core.ErrInvalid},
			{"fail/username-short", environment.Sandbox, "zo", "correct horse", "Z", core.ErrInvalid},
			{"fail/username-chars", environment.Sandbox, "zoe tester", "correct horse", "Z", core.ErrInvalid},
			{"fail/password-short", environment.Sandbox, "zoe2", "short", "Z", core.ErrInvalid},
			{"fail/display-name-empty", environment.Sandbox, "zoe3", "correct horse", "  ", core.ErrInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := r.CreateCustomer(ctx, tc.env, tc.user, tc.pass, tc.display); !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}
		t.Run("ok/persona-username-free-in-production", func(t *testing.T) {
			if _, err := r.CreateCustomer(ctx, environment.Production, "ALICE", "correct horse", "Alice Real"); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestAuthenticateErrorsAreOAuthSentinels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		r, _ := MustSeeded(t, d)
		var a oauth.CustomerAuthenticator = r
		if _, err := a.Authenticate(ctx, environment.Sandbox, "erin.rejects", core.SandboxPassword); err != nil {
			t.Fatalf("erin logs in: %v", err)
		}
		if _, err := a.Authenticate(ctx, environment.Sandbox, "dave.locked", core.SandboxPassword); !errors.Is(err, oauth.ErrCustomerLocked) {
			t.Fatalf("dave: %v", err)
		}
		// Personas are sandbox customers: a production app cannot sign them in.
		if _, err := a.Authenticate(ctx, environment.Production, "erin.rejects", core.SandboxPassword); !errors.Is(err, oauth.ErrBadCredentials) {
			t.Fatalf("erin from production: %v", err)
		}
		// A wiring bug (no environment) is refused, never a sign-in.
		if id, err := a.Authenticate(ctx, "", "erin.rejects", core.SandboxPassword); !errors.Is(err, core.ErrInvalid) || id != "" {
			t.Fatalf("no environment: %q, %v", id, err)
		}
	})
}

func BenchmarkTransactionsPage(b *testing.B) {
	for _, e := range dbtest.Engines() {
		r, _ := MustSeeded(b, e.Open(b))
		acc := mustAccount(b, r, "alice", core.AccountCurrent).ID
		b.Run(e.Name, func(b *testing.B) {
			q := core.TransactionQuery{Limit: 50}
			for i := 0; i < b.N; i++ {
				p, err := r.Transactions(ctx, acc, q)
				if err != nil || len(p.Transactions) == 0 {
					b.Fatal(err)
				}
				q.Cursor = p.NextCursor // walk the year's history, then start again
			}
		})
	}
}

func BenchmarkExecutePayment(b *testing.B) {
	n := 0
	for _, e := range dbtest.Engines() {
		r, _ := MustSeeded(b, e.Open(b))
		acc := mustAccount(b, r, "bob", core.AccountSavings).ID
		alice := mustAccount(b, r, "alice", core.AccountSavings)
		for _, kind := range []string{"external", "internal"} {
			cr := core.Creditor{SchemeName: core.SchemeSortCodeAccountNumber, Identification: "20000012345678", Name: "Acme"}
			if kind == "internal" {
				cr = core.Creditor{SchemeName: alice.SchemeName, Identification: alice.Identification, Name: alice.HolderName}
			}
			b.Run(e.Name+"/"+kind, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					n++ // a new payment every time (a repeated id would only read the stored result)
					res, err := r.ExecutePayment(ctx, core.PaymentInstruction{PaymentID: "bench-" + strconv.Itoa(n),
						DebtorAccountID: acc, Creditor: cr, Amount: money.GBP(1), Reference: "BENCH"})
					if err != nil || res.Status != core.PaymentAccepted {
						b.Fatalf("%+v %v", res, err)
					}
				}
			})
		}
	}
}
