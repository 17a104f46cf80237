package core

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth"
)

// SandboxSortCode is the reference core's sort code (fictitious). Every
// account it opens, in either environment, is 99-01-01 plus an 8-digit number
// unique across both, so an identification names at most one account.
const SandboxSortCode = "990101"

// Options configures the reference core.
type Options struct {
	// CursorKey MACs transaction page cursors. Every node serving the same
	// database must use the same key (derive it from the platform secret);
	// empty means a random per-process key (cursors then die with the process).
	CursorKey []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SandboxFactors enrols the sandbox personas' second factors (a
	// Persona's TOTPSecret) after Seed and ResetSandbox; nil means the
	// personas get none.
	SandboxFactors SandboxFactors
	// Bus, when set, lets each node cache customers by id (CustomerCacheTopic),
	// invalidated on every node when customers change (ResetSandbox); nil
	// caches nothing.
	Bus cachebus.Bus
}

// CustomerCacheTopic is the cachebus topic of customer invalidations (keys:
// a customer id, or cachebus.AllKeys).
const CustomerCacheTopic = "core.customers"

// Customer cache bounds (the TTL is a safety net).
const (
	customerCacheTTL = time.Minute
	customerCacheMax = 50_000
)

// SandboxFactors sets up the second factors of sandbox personas; the
// customers' second factors live outside the core (wired to oauth/sca in
// cmd).
type SandboxFactors interface {
	// EnrollSandboxTOTP makes the base32 secret the active authenticator
	// app of the sandbox customer customerID (labelled username). It is
	// called after every Seed, so it must be idempotent: a customer whose
	// app is already active keeps it and gets nil.
	EnrollSandboxTOTP(ctx context.Context, customerID, username, secret string) error
}

// Reference is the embedded reference core: the sandbox bank (and the
// customers an operator creates in production with `bankbridge customers
// create --env production`), stored in the platform's own database (tables
// core_*). It implements Core and oauth.CustomerAuthenticator.
type Reference struct {
	db        *db.DB
	cursorKey []byte
	now       func() time.Time
	factors   SandboxFactors
	bus       cachebus.Bus
	customers *cachebus.Cache[*Customer]
	pages     txPageCache
}

var (
	_ Core                        = (*Reference)(nil)
	_ SandboxReverser             = (*Reference)(nil)
	_ oauth.CustomerAuthenticator = (*Reference)(nil)
)

// NewReference returns the reference core on d (migrated).
func NewReference(d *db.DB, opts Options) *Reference {
	key := opts.CursorKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("core: crypto/rand failed: " + err.Error())
		}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Reference{db: d, cursorKey: key, now: func() time.Time { return now().UTC() }, factors: opts.SandboxFactors,
		bus: opts.Bus, customers: cachebus.NewCache[*Customer](opts.Bus, CustomerCacheTopic, customerCacheTTL, customerCacheMax)}
}

// memoCustomer and memoAccounts name a customer's row and account list in
// a request's memo (internal/reqmemo): the pages of the authorization flow
// read them several times in one request.
func memoCustomer(id string) string { return "core.customer:" + id }
func memoAccounts(id string) string { return "core.accounts:" + id }

// Customer implements Core. With Options.Bus the answer comes from this
// node's cache when it has it; within a request with a memo (reqmemo.With)
// it is looked up once. Each call returns its own copy.
func (r *Reference) Customer(ctx context.Context, customerID string) (*Customer, error) {
	c, err := reqmemo.Load(ctx, memoCustomer(customerID), func() (Customer, error) {
		if c, ok := r.customers.Get(customerID); ok {
			return *c, nil
		}
		t := r.customers.Ticket()
		var row customerRow
		if err := first(ctx, r.db.DB, &row, customerID); err != nil {
			return Customer{}, err
		}
		c := row.toCustomer()
		cp := *c
		r.customers.Put(t, customerID, &cp)
		return *c, nil
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// customersChanged invalidates every node's cached customers (key, or
// cachebus.AllKeys) after a commit that changed them.
func (r *Reference) customersChanged(ctx context.Context, key string) error {
	if r.bus == nil {
		return nil
	}
	if err := r.bus.Publish(ctx, CustomerCacheTopic, key); err != nil {
		r.customers.Invalidate(key)
		return fmt.Errorf("core: publish customer invalidation: %w", err)
	}
	return nil
}

// Accounts implements Core. Within a request with a memo the accounts are
// read once; each call returns its own copy of the list.
func (r *Reference) Accounts(ctx context.Context, customerID string) ([]Account, error) {
	list, err := reqmemo.Load(ctx, memoAccounts(customerID), func() ([]Account, error) {
		if _, err := r.Customer(ctx, customerID); err != nil {
			return nil, err
		}
		var rows []accountRow
		if err := r.db.WithContext(ctx).Where("customer_id = ?", customerID).
			Order("opened_at, id").Find(&rows).Error; err != nil {
			return nil, err
		}
		out := make([]Account, len(rows))
		for i := range rows {
			out[i] = rows[i].toAccount()
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return slices.Clone(list), nil
}

// Account implements Core.
func (r *Reference) Account(ctx context.Context, accountID string) (*Account, error) {
	var row accountRow
	if err := first(ctx, r.db.DB, &row, accountID); err != nil {
		return nil, err
	}
	a := row.toAccount()
	return &a, nil
}

// Balances implements Core. The reference core books everything at once, so
// InterimBooked is the ledger balance and InterimAvailable adds the credit
// line (arranged overdraft or card limit), which is then reported Included.
// It reads only the columns a balance needs.
func (r *Reference) Balances(ctx context.Context, accountID string) ([]Balance, error) {
	a, err := r.balanceOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	now := r.now()
	booked := Balance{AccountID: a.ID, Type: BalanceInterimBooked, Amount: a.Balance, DateTime: now}
	avail := Balance{AccountID: a.ID, Type: BalanceInterimAvailable, Amount: a.Available(), DateTime: now}
	if a.CreditLimit.Minor > 0 {
		typ := CreditLinePreAgreed
		if a.Type == AccountCreditCard {
			typ = CreditLineCredit
		}
		booked.CreditLines = []CreditLine{{Included: false, Type: typ, Amount: a.CreditLimit}}
		avail.CreditLines = []CreditLine{{Included: true, Type: typ, Amount: a.CreditLimit}}
	}
	return []Balance{booked, avail}, nil
}

// Transactions implements Core. Postings are numbered per account (seq) in the
// order they hit the balance and booking times never decrease along seq, so
// "newest first" is seq descending: a stable order the cursor can name.
func (r *Reference) Transactions(ctx context.Context, accountID string, q TransactionQuery) (*TransactionPage, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var below int64
	if q.Cursor != "" {
		var err error
		if below, err = r.decodeCursor(accountID, q); err != nil {
			return nil, err
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	if limit > MaxPageSize {
		limit = MaxPageSize
	}
	// The ledger's head first: while it is the head a cached page was read
	// at, that page is still the answer (txpagecache.go).
	head, hasHead, err := r.head(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("core: list transactions: %w", err)
	}
	if !hasHead {
		// An empty ledger: an empty page of an existing account, or
		// ErrNotFound.
		if _, err := r.Account(ctx, accountID); err != nil {
			return nil, err
		}
		return &TransactionPage{Transactions: []Transaction{}}, nil
	}
	key := pageKey(accountID, q, below, limit)
	if page, ok := r.pages.get(key, head); ok {
		return page, nil
	}
	g := r.db.WithContext(ctx).Where("account_id = ?", accountID)
	if below > 0 {
		g = g.Where("seq < ?", below)
	}
	if !q.From.IsZero() {
		g = g.Where("booked_at >= ?", q.From.UTC())
	}
	if !q.To.IsZero() {
		g = g.Where("booked_at < ?", q.To.UTC())
	}
	if q.CreditDebit != "" {
		g = g.Where("credit_debit = ?", q.CreditDebit)
	}
	var rows []transactionRow
	if err := g.Select(transactionPageColumns).Order("seq DESC").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("core: list transactions: %w", err)
	}
	page := &TransactionPage{Version: pageVersion(key, head)}
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = r.encodeCursor(accountID, q, rows[limit-1].Seq)
	}
	page.Transactions = make([]Transaction, len(rows))
	for i := range rows {
		rows[i].AccountID = accountID
		page.Transactions[i] = rows[i].toTransaction()
	}
	r.pages.put(key, head, page)
	return page, nil
}

// CheckFunds implements Core.
func (r *Reference) CheckFunds(ctx context.Context, accountID string, amount money.Money) (bool, error) {
	if amount.Minor <= 0 {
		return false, fmt.Errorf("%w: amount must be positive", ErrInvalid)
	}
	a, err := r.Account(ctx, accountID)
	if err != nil {
		return false, err
	}
	if amount.Currency != a.Currency {
		return false, ErrCurrencyMismatch
	}
	return a.Status == AccountEnabled && a.Available().Minor >= amount.Minor, nil
}
