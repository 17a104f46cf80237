package core

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"gorm.io/gorm"
)

// SandboxPassword is the password of every sandbox persona (documented for
// partner developers; the personas hold no real money).
const SandboxPassword = "sandbox-password-1"

// DefaultSeed seeds the sandbox when SeedOptions.Random is nil, so every
// installation's sandbox has the same customers, account ids and histories.
const DefaultSeed = 20260101

// Persona is a documented sandbox customer partner developers log in as.
type Persona struct {
	Username    string
	Password    string
	DisplayName string
	Description string // who they are and what they hold
	Purpose     string // what a tester uses them for
	// ConsentBehaviour is "" (the tester approves or denies on the consent page)
	// or "reject" (the consent layer rejects every consent this persona is asked for).
	ConsentBehaviour string
	Locked           bool // login fails with oauth.ErrCustomerLocked
	// TOTPSecret is the RFC 4648 base32 secret (no padding) of the
	// persona's authenticator app (RFC 6238: SHA-1, 6 digits, 30-second
	// steps), documented like the password; "" when the persona has no
	// second factor. See SandboxTOTPSecret.
	TOTPSecret string
}

type accountSpec struct {
	typ           string
	nickname      string
	startBalance  int64 // pence, at the start of the history window
	creditLimit   int64
	openedDaysAgo int // 0: opened years ago, before the history window
}

type personaSpec struct {
	Persona
	totp     bool          // the persona has an authenticator app (Persona.TOTPSecret)
	accounts []accountSpec // current first, then savings and/or card
	profile  func(now time.Time) profile
}

func ptr(v int64) *int64 { return &v }

var personaSpecs = []personaSpec{
	{
		Persona: Persona{Username: "alice", Password: SandboxPassword, DisplayName: "Alice Fairweather",
			Description: "Salaried, renting in London: current account with a £500 arranged overdraft, a savings account fed monthly, and a credit card (£3,000 limit) repaid in full each month. A year of history.",
			Purpose:     "The happy path: account access with several accounts, balances with credit lines, long transaction lists, payments and internal transfers that succeed."},
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Everyday", startBalance: 124000, creditLimit: 50000},
			{typ: AccountSavings, nickname: "Rainy day", startBalance: 480000},
			{typ: AccountCreditCard, nickname: "Credit card", creditLimit: 300000, openedDaysAgo: 210},
		},
		profile: func(time.Time) profile {
			return profile{salary: 315000, employer: "Northwind Analytics Ltd", payday: 25, rent: 115000,
				landlord: "Harbour Lettings", spendBps: 10000, saveMonthly: 25000, cardShareBps: 4000}
		},
	},
	{
		Persona: Persona{Username: "bob", Password: SandboxPassword, DisplayName: "Bob Okonkwo",
			Description: "Nurse with a current account and a well-funded savings account. A year of history.",
			Purpose:     "A second happy customer: check that one customer never sees another's data, pay between two customers of the bank."},
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Main account", startBalance: 86000},
			{typ: AccountSavings, nickname: "House deposit", startBalance: 1250000},
		},
		profile: func(time.Time) profile {
			return profile{salary: 340000, employer: "Riverside NHS Trust", payday: 28, rent: 135000,
				landlord: "P Hughes", spendBps: 12000, saveMonthly: 40000}
		},
	},
	{
		Persona: Persona{Username: "carol.insufficient", Password: SandboxPassword, DisplayName: "Carol Pennington",
			Description: "Part-time café worker whose only current account (no overdraft) stands at £7.42.",
			Purpose:     "Funds confirmation answers false and payments are rejected for insufficient funds."},
		accounts: []accountSpec{{typ: AccountCurrent, nickname: "Current account", startBalance: 12000}},
		profile: func(time.Time) profile {
			return profile{salary: 138000, employer: "Bramble Cafe Ltd", payday: 15, rent: 78000,
				landlord: "Cityside Homes", spendBps: 9000, targetCurrent: ptr(742)}
		},
	},
	{
		Persona: Persona{Username: "dave.locked", Password: SandboxPassword, DisplayName: "Dave Lockhart",
			Description: "A customer whose online banking is locked by the bank.", Locked: true,
			Purpose: "Login fails with the locked-account message even with the right password."},
		accounts: []accountSpec{{typ: AccountCurrent, nickname: "Current account", startBalance: 210000}},
		profile: func(time.Time) profile {
			return profile{salary: 220000, employer: "Lockhart Joinery", payday: 1, rent: 90000,
				landlord: "Greenway Estates", spendBps: 8000}
		},
	},
	{
		Persona: Persona{Username: "erin.rejects", Password: SandboxPassword, DisplayName: "Erin Castellano",
			Description: "Current account and a credit card (£1,500 limit).", ConsentBehaviour: ConsentBehaviourReject,
			Purpose: "Every consent she is asked for is rejected: test the partner's handling of a denied consent."},
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Current account", startBalance: 64000},
			{typ: AccountCreditCard, nickname: "Card", creditLimit: 150000},
		},
		profile: func(time.Time) profile {
			return profile{salary: 290000, employer: "Castellano Design", payday: 27, rent: 105000,
				landlord: "Harbour Lettings", spendBps: 9000, cardShareBps: 5000}
		},
	},
	{
		Persona: Persona{Username: "frank.closed", Password: SandboxPassword, DisplayName: "Frank Mercer",
			Description: "Current account, and a savings account he closed three months ago (balance swept to the current account).",
			Purpose:     "Closed accounts: shown but not selectable on the consent page; payments from them are rejected as account_closed."},
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Current account", startBalance: 52000},
			{typ: AccountSavings, nickname: "Old savings", startBalance: 310000},
		},
		profile: func(now time.Time) profile {
			return profile{salary: 240000, employer: "Mercer & Sons", payday: 20, rent: 98000,
				landlord: "P Hughes", spendBps: 10000, closeSavingsAt: dayOf(now).AddDate(0, 0, -90)}
		},
	},
	{
		Persona: Persona{Username: "grace.blocked", Password: SandboxPassword, DisplayName: "Grace Holloway",
			Description: "Current account blocked by the bank twelve days ago (suspected fraud); history stops there.",
			Purpose:     "Payments from a blocked account are rejected as account_blocked; reading it still works."},
		accounts: []accountSpec{{typ: AccountCurrent, nickname: "Current account", startBalance: 150000}},
		profile: func(now time.Time) profile {
			return profile{salary: 250000, employer: "Holloway Consulting", payday: 26, rent: 100000,
				landlord: "Cityside Homes", spendBps: 9000, blockCurrentAt: dayOf(now).AddDate(0, 0, -12)}
		},
	},
	{
		Persona: Persona{Username: "hana.totp", Password: SandboxPassword, DisplayName: "Hana Sato",
			Description: "Architect with a current account and a savings account, who has set up an authenticator app (TOTP) as her second factor. A year of history.",
			Purpose:     "Strong customer authentication with an authenticator app: after the password the bank asks for a 6-digit code (for a payment, next to its amount and payee), and the id_token says acr urn:openbanking:psd2:sca, amr pwd otp mfa. Add the secret (or the otpauth URI) shown here to any authenticator app, or compute the code from it (RFC 6238: SHA-1, 6 digits, 30-second steps). Each code is accepted once; 5 wrong codes lock the factor for 15 minutes."},
		totp: true,
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Current account", startBalance: 98000},
			{typ: AccountSavings, nickname: "Savings", startBalance: 620000},
		},
		profile: func(time.Time) profile {
			return profile{salary: 362000, employer: "Sato Architects LLP", payday: 24, rent: 142000,
				landlord: "Harbour Lettings", spendBps: 10000, saveMonthly: 30000}
		},
	},
	{
		Persona: Persona{Username: "ivan.nofactor", Password: SandboxPassword, DisplayName: "Ivan Petrov",
			Description: "Courier with a current account and a credit card (£1,000 limit); he has set up no second factor: no passkey, no authenticator app. A year of history.",
			Purpose:     "A customer without a second factor: no passkey, no authenticator app; he signs in by password alone."},
		accounts: []accountSpec{
			{typ: AccountCurrent, nickname: "Current account", startBalance: 43000},
			{typ: AccountCreditCard, nickname: "Card", creditLimit: 100000},
		},
		profile: func(time.Time) profile {
			return profile{salary: 205000, employer: "Swift Couriers Ltd", payday: 28, rent: 88000,
				landlord: "Cityside Homes", spendBps: 9500, cardShareBps: 3000}
		},
	},
}

// Personas lists the sandbox customers Seed creates, with their documented
// credentials (TOTPSecret set for those with an authenticator app) and
// purpose.
func Personas() []Persona {
	out := make([]Persona, len(personaSpecs))
	for i, s := range personaSpecs {
		out[i] = s.Persona
		if s.totp {
			out[i].TOTPSecret = SandboxTOTPSecret(s.Username)
		}
	}
	return out
}

// SandboxTOTPSecret is the authenticator-app secret of the sandbox persona
// username: 160 bits derived from DefaultSeed and the username (SHA-256,
// truncated), base32 without padding. Like the personas' ids and password
// it is the same on every installation and after every re-seed, so it can
// be documented and used by tests; it is still stored sealed, like any
// customer's secret. It secures nothing real: sandbox personas hold no real
// money and reach only sandbox apps.
func SandboxTOTPSecret(username string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "bankbridge sandbox totp/%d/%s", DefaultSeed, username))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:20])
}

// SeedOptions drives Seed.
type SeedOptions struct {
	Now    time.Time  // the end of the generated history; zero: the core's clock
	Random *rand.Rand // nil: rand.New(rand.NewPCG(DefaultSeed, 0))
}

// SeedReport counts what Seed inserted.
type SeedReport struct {
	Customers, Accounts, Transactions int
	Skipped                           []string // personas already present (not touched)
}

func dayOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// batchSize is how many rows one multi-row INSERT carries: well under both
// engines' bound-parameter limits; small on SQLite, whose pure-Go driver binds
// parameters in time quadratic in their number (50 measured fastest).
func (r *Reference) batchSize() int {
	if r.db.Dialect == db.SQLite {
		return 50
	}
	return 500
}

type seededCustomer struct {
	customer customerRow
	accounts []*simAccount
}

// generate builds every persona in memory. The output depends only on now and
// rng (ids included), so the sandbox looks the same after every reset.
func generate(now time.Time, rng *rand.Rand) []seededCustomer {
	now = now.UTC().Truncate(time.Second)
	start := dayOf(now).AddDate(0, 0, -365)
	usedNumbers := map[string]bool{}
	var out []seededCustomer
	for _, ps := range personaSpecs {
		c := customerRow{ID: detID(rng, "cus"), Environment: environment.Sandbox, Username: ps.Username, DisplayName: ps.DisplayName,
			Status: CustomerActive, ConsentBehaviour: ps.ConsentBehaviour, Synthetic: true,
			CreatedAt: start.AddDate(-3, 0, rng.IntN(365))}
		if ps.Locked {
			c.Status = CustomerLocked
		}
		sc := seededCustomer{customer: c}
		var current, savings, card *simAccount
		for _, as := range ps.accounts {
			opened := start.AddDate(-3-rng.IntN(5), 0, -rng.IntN(300)).Add(time.Duration(9+rng.IntN(8)) * time.Hour)
			balance := as.startBalance
			if as.openedDaysAgo > 0 {
				opened = dayOf(now).AddDate(0, 0, -as.openedDaysAgo).Add(10 * time.Hour)
				balance = 0
			}
			a := &simAccount{row: newAccountRow(detID(rng, "acc"), c.ID, c.Environment, ps.DisplayName, as.typ, as.nickname, opened), floor: -as.creditLimit}
			a.row.BalanceMinor, a.row.CreditLimitMinor, a.row.Synthetic = balance, as.creditLimit, true
			if as.typ == AccountCreditCard {
				last4 := fmt.Sprintf("%04d", rng.IntN(10000))
				a.row.SchemeName, a.row.MaskedPAN = SchemePAN, "400000******"+last4
				a.row.Identification = a.row.MaskedPAN
			} else {
				for {
					n := fmt.Sprintf("1%07d", rng.IntN(10000000))
					if !usedNumbers[n] {
						usedNumbers[n] = true
						a.row.setSortCodeAccountNumber(n)
						break
					}
				}
			}
			switch as.typ {
			case AccountCurrent:
				current = a
			case AccountSavings:
				savings = a
			default:
				card = a
			}
			sc.accounts = append(sc.accounts, a)
		}
		sim := &simulator{rng: rng, until: now}
		sim.live(ps.profile(now), current, savings, card, start)
		out = append(out, sc)
	}
	return out
}

// newAccountRow fills an account's fixed fields (identification set by the
// caller); env is the customer's environment.
func newAccountRow(id, customerID string, env environment.Environment, holder, typ, nickname string, opened time.Time) accountRow {
	sub := map[string]string{AccountCurrent: SubTypeCurrentAccount, AccountSavings: SubTypeSavings,
		AccountCreditCard: SubTypeCreditCard}[typ]
	return accountRow{ID: id, CustomerID: customerID, Environment: env, Type: typ, SubType: sub, Nickname: nickname,
		HolderName: holder, Currency: "GBP", Status: AccountEnabled, StatusUpdatedAt: opened,
		OpenedAt: opened, LastBookedAt: opened}
}

func (r *accountRow) setSortCodeAccountNumber(number string) {
	r.SchemeName, r.SortCode, r.AccountNumber = SchemeSortCodeAccountNumber, SandboxSortCode, number
	r.Identification = SandboxSortCode + number
}

// Seed creates the sandbox personas (Personas), customers of the sandbox
// environment (environment.Sandbox), with their accounts and a year of
// transactions ending at opts.Now. It is idempotent: a persona whose
// username exists in the sandbox is skipped (reported in Skipped), so running it twice adds
// nothing. Everything is inserted in one transaction, in batches. Then,
// with Options.SandboxFactors, the personas with a TOTPSecret get it as
// their authenticator app (one that is already active is kept); an error
// there leaves the customers seeded, and running Seed again completes it.
func (r *Reference) Seed(ctx context.Context, opts SeedOptions) (*SeedReport, error) {
	var rep *SeedReport
	err := r.writeTx(ctx, func(tx *gorm.DB) error {
		var err error
		rep, err = r.seed(tx, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, r.enrollSandboxFactors(ctx)
}

// enrollSandboxFactors enrols the authenticator apps of the personas that
// have one, through r.factors (nothing without it). It runs after the
// seeding transaction commits: the factors live in another domain's tables,
// written in transactions of their own.
func (r *Reference) enrollSandboxFactors(ctx context.Context) error {
	if r.factors == nil {
		return nil
	}
	for _, p := range Personas() {
		if p.TOTPSecret == "" {
			continue
		}
		c, err := r.CustomerByUsername(ctx, environment.Sandbox, p.Username)
		if err != nil {
			return fmt.Errorf("core: seed: find persona %s: %w", p.Username, err)
		}
		if err := r.factors.EnrollSandboxTOTP(ctx, c.ID, p.Username, p.TOTPSecret); err != nil {
			return fmt.Errorf("core: seed: authenticator app of %s: %w", p.Username, err)
		}
	}
	return nil
}

func (r *Reference) seed(tx *gorm.DB, opts SeedOptions) (*SeedReport, error) {
	if opts.Now.IsZero() {
		opts.Now = r.now()
	}
	if opts.Random == nil {
		opts.Random = rand.New(rand.NewPCG(DefaultSeed, 0))
	}
	all := generate(opts.Now, opts.Random)
	var existing []string
	if err := tx.Model(&customerRow{}).Where("environment = ? AND username IN ?", environment.Sandbox, personaUsernames()).
		Pluck("username", &existing).Error; err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, u := range existing {
		have[u] = true
	}
	rep := &SeedReport{}
	var (
		customers []customerRow
		accounts  []accountRow
		txns      []transactionRow
	)
	for _, sc := range all {
		if have[sc.customer.Username] {
			rep.Skipped = append(rep.Skipped, sc.customer.Username)
			continue
		}
		customers = append(customers, sc.customer)
		for _, a := range sc.accounts {
			accounts = append(accounts, a.row)
			txns = append(txns, a.txns...)
		}
	}
	if len(customers) == 0 {
		return rep, nil
	}
	hash, err := secrets.HashPassword(SandboxPassword)
	if err != nil {
		return nil, err
	}
	for i := range customers {
		customers[i].PasswordHash = hash
	}
	if err := tx.CreateInBatches(customers, r.batchSize()).Error; err != nil {
		return nil, fmt.Errorf("core: seed customers: %w", err)
	}
	if err := tx.CreateInBatches(accounts, r.batchSize()).Error; err != nil {
		return nil, fmt.Errorf("core: seed accounts: %w", err)
	}
	if err := tx.CreateInBatches(txns, r.batchSize()).Error; err != nil {
		return nil, fmt.Errorf("core: seed transactions: %w", err)
	}
	rep.Customers, rep.Accounts, rep.Transactions = len(customers), len(accounts), len(txns)
	return rep, nil
}

// personaUsernames lists the persona usernames.
func personaUsernames() []string {
	out := make([]string, len(personaSpecs))
	for i, s := range personaSpecs {
		out[i] = s.Username
	}
	return out
}

// ResetSandbox deletes every synthetic sandbox customer, their accounts,
// transactions and the payments made from them, and seeds the personas afresh
// (default seed, history ending now), in one transaction; then enrols the
// personas' authenticator apps as Seed does. Customers made with
// CreateCustomer, and everything in production, are kept.
func (r *Reference) ResetSandbox(ctx context.Context) (*SeedReport, error) {
	var rep *SeedReport
	err := r.writeTx(ctx, func(tx *gorm.DB) error {
		synthetic := tx.Session(&gorm.Session{NewDB: true}).Model(&accountRow{}).Select("id").
			Where("synthetic = ? AND environment = ?", true, environment.Sandbox)
		if err := tx.Where("account_id IN (?)", synthetic).Delete(&transactionRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("debtor_account_id IN (?)", synthetic).Delete(&paymentRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("synthetic = ? AND environment = ?", true, environment.Sandbox).Delete(&accountRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("synthetic = ? AND environment = ?", true, environment.Sandbox).Delete(&customerRow{}).Error; err != nil {
			return err
		}
		var err error
		rep, err = r.seed(tx, SeedOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	// Every synthetic customer is gone: no node may serve one from its cache.
	if err := r.customersChanged(ctx, cachebus.AllKeys); err != nil {
		return nil, err
	}
	return rep, r.enrollSandboxFactors(ctx)
}
