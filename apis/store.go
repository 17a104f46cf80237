package apis

import (
	"context"
	"errors"
	"github.com/bankbridge/bankbridge/internal/mail"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
)

// Store errors.
var (
	// ErrNotFound: no such consent, payment or idempotency key.
	ErrNotFound = errors.New("apis: not found")
	// ErrConsentUsed: a payment already exists for the consent.
	ErrConsentUsed = errors.New("apis: consent already has a payment")
	// ErrKeyTaken: the idempotency key row exists already.
	ErrKeyTaken = errors.New("apis: idempotency key exists")
	// ErrStale: the row was not in the status the change expected (another
	// request moved it first).
	ErrStale = errors.New("apis: row changed concurrently")
)

// ConsentDecision is what Store.DecideConsent writes for one consent.
type ConsentDecision struct {
	// Consent carries the new status, customer, accounts, authorisation and
	// status time; From are the statuses it may move from.
	Consent *Consent
	From    []string
	// Audit is the decision's audit entry.
	Audit audit.Entry
	// Publisher publishes the event EventType of PartnerID (and AppID) with
	// Data; nil publishes none.
	Publisher                   events.Publisher
	EventType, PartnerID, AppID string
	Data                        map[string]any
}

// Idempotency key statuses.
const (
	KeyInProgress = "in_progress"
	KeyDone       = "done"
)

// IdempotencyRecord is one stored idempotency key and, when done, its response.
type IdempotencyRecord struct {
	PartnerID      string
	Environment    environment.Environment // of the request that claimed the key (sandbox reset deletes by it)
	Key            string
	RequestHash    string
	Status         string // KeyInProgress or KeyDone
	ResponseStatus int
	ResponseType   string
	ResponseBody   []byte
	CreatedAt      time.Time
}

// Store is the apis package's persistence. A transaction travels in the
// context: Tx passes fn a context that carries it, and every method called
// with that context runs in it; called with any other context a method runs
// on its own. Errors not named in a method's comment are the database's
// (unexpected, rendered as internal errors).
type Store interface {
	// Tx runs fn in one transaction carried by the context fn receives; it
	// commits when fn returns nil and rolls back otherwise, returning fn's
	// error unchanged. Called with a context that already carries a
	// transaction, fn joins it (no nested transaction).
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockPartnerPayments serialises one partner's payment creation until the
	// transaction in ctx ends, so a daily total read after the lock cannot be
	// overrun by a concurrent payment. It must be called inside Tx. An engine
	// that serialises writers anyway may do nothing.
	LockPartnerPayments(ctx context.Context, partnerID string) error
	// LockCustomerPayments is LockPartnerPayments for one customer's
	// payments through every partner (taken after the partner's lock).
	LockCustomerPayments(ctx context.Context, customerID string) error
	// Audit records e in the transaction in ctx (audit.Record), so the
	// trail commits or rolls back with the change it describes.
	Audit(ctx context.Context, e audit.Entry) error
	// Publish hands the event to pub in the transaction in ctx (the webhook
	// outbox commits with the change); pub's error is returned as is.
	Publish(ctx context.Context, pub events.Publisher, eventType, partnerID, appID string, data map[string]any) error
	// EnqueueMail writes m to the platform's email outbox (mail.Enqueue) in
	// the transaction in ctx, so the mail is sent only if the change commits.
	EnqueueMail(ctx context.Context, m mail.Message) error
	// PartnerName is the partner's name as customers see it on the consent
	// page (its trading name, else its legal name), or ErrNotFound.
	PartnerName(ctx context.Context, partnerID string) (string, error)

	// CreateConsent inserts c (its id must be new).
	CreateConsent(ctx context.Context, c *Consent) error
	// Consent returns one consent, or ErrNotFound.
	Consent(ctx context.Context, id string) (*Consent, error)
	// SetConsentStatus moves the consent from one of from to c.Status (also
	// writing CustomerID, AccountIDs, Authorisation and StatusUpdatedAt);
	// ErrStale when the
	// consent is not in one of from (or does not exist).
	SetConsentStatus(ctx context.Context, c *Consent, from ...string) error
	// DecideConsent writes a customer's decision on one consent: the
	// consent's status as SetConsentStatus writes it and, only if that moved
	// it, the audit entry and the event, all or nothing; ErrStale (nothing
	// written) when the consent is not in one of d.From. Without a
	// transaction in ctx it needs none of its own where the engine can write
	// all three in one statement (PostgreSQL, with an events.RowPublisher or
	// no event).
	DecideConsent(ctx context.Context, d ConsentDecision) error
	// ConsentsForCustomer lists a customer's consents, newest first (none: an
	// empty list, no error).
	ConsentsForCustomer(ctx context.Context, customerID string) ([]Consent, error)

	// CreatePayment inserts p; ErrConsentUsed when its consent has a payment.
	CreatePayment(ctx context.Context, p *Payment) error
	// Payment returns one payment, or ErrNotFound.
	Payment(ctx context.Context, id string) (*Payment, error)
	// SetPaymentStatus moves the payment from status from to p.Status (with
	// RejectReason, Held and StatusUpdatedAt); ErrStale when it is not in from
	// (or does not exist).
	SetPaymentStatus(ctx context.Context, p *Payment, from string) error
	// PartnerTotalSince sums the partner's non-rejected payments in currency
	// created at or after since, in env (0 when none).
	PartnerTotalSince(ctx context.Context, partnerID string, env environment.Environment, currency string, since time.Time) (int64, error)
	// ClientTotalSince is PartnerTotalSince for one app's payments.
	ClientTotalSince(ctx context.Context, clientID string, env environment.Environment, currency string, since time.Time) (int64, error)
	// CustomerTotalSince is PartnerTotalSince for the payments made under
	// one customer's consents (through every partner).
	CustomerTotalSince(ctx context.Context, customerID string, env environment.Environment, currency string, since time.Time) (int64, error)
	// DebtorCountSince counts payments from the debtor account created at or
	// after since.
	DebtorCountSince(ctx context.Context, accountID string, since time.Time) (int64, error)
	// CustomerHistory summarises the customer's non-rejected payments in
	// currency created at or after since (zeros when none).
	CustomerHistory(ctx context.Context, customerID, currency string, since time.Time) (PaymentHistory, error)
	// PaidCreditorBefore reports whether the customer has a non-rejected
	// payment to creditorAccount ("SchemeName:Identification").
	PaidCreditorBefore(ctx context.Context, customerID, creditorAccount string) (bool, error)
	// PartnerPaymentCounts counts each partner's non-rejected payments
	// created in [from, to), in every environment and currency (the risk
	// rating's volume signal); partners without any are absent.
	PartnerPaymentCounts(ctx context.Context, from, to time.Time) (map[string]int64, error)
	// CustomerPayments lists the customer's payments (every partner and
	// environment, every status), newest first (by creation, then id), at
	// most limit (≤ 0: DefaultCustomerPayments). None: an empty list, no
	// error of its own.
	CustomerPayments(ctx context.Context, customerID string, limit int) ([]Payment, error)
	// CustomerCountSince counts the customer's payments created at or after
	// since.
	CustomerCountSince(ctx context.Context, customerID string, since time.Time) (int64, error)
	// ReleasePayment clears the hold of payment id (its StatusUpdatedAt to
	// at); ErrStale when it is not a held Pending payment (or does not exist).
	ReleasePayment(ctx context.Context, id string, at time.Time) error
	// RejectedCount counts rejected payments per debtor account among ids
	// (accounts without any are absent from the map).
	RejectedCount(ctx context.Context, accountIDs []string) (map[string]int64, error)

	// ClaimKey inserts an in-progress key row; ErrKeyTaken when it exists. A
	// key is scoped to (partner, environment). A row of the same key created
	// before notBefore is deleted first (keys live IdempotencyTTL).
	ClaimKey(ctx context.Context, r *IdempotencyRecord, notBefore time.Time) error
	// Key returns the key row of partnerID in env, or ErrNotFound.
	Key(ctx context.Context, partnerID string, env environment.Environment, key string) (*IdempotencyRecord, error)
	// FinishKey stores the response and marks the key done (no error when the
	// key is gone).
	FinishKey(ctx context.Context, r *IdempotencyRecord) error
	// ReleaseKey deletes an in-progress key (the request failed with a 5xx);
	// a done or missing key is left as it is, without error.
	ReleaseKey(ctx context.Context, partnerID string, env environment.Environment, key string) error
	// DeleteKeys deletes the partner's idempotency keys claimed in env and
	// returns how many it deleted.
	DeleteKeys(ctx context.Context, partnerID string, env environment.Environment) (int64, error)
	// PurgeKeys deletes every key created before notBefore and returns how
	// many it deleted.
	PurgeKeys(ctx context.Context, notBefore time.Time) (int64, error)

	// LogRequest appends a request log entry and sets e.ID; a path longer
	// than MaxLoggedPath bytes is cut to it.
	LogRequest(ctx context.Context, e *RequestLogEntry) error
	// LogRequests appends entries in one statement (in the transaction in
	// ctx, if any), cutting paths as LogRequest does; it does not set their
	// IDs.
	LogRequests(ctx context.Context, es []*RequestLogEntry) error
	// RequestLog lists a partner's entries (of clientID, unless ""), newest
	// first, filtered by f; f.Limit ≤ 0 means 100, at most 1000.
	RequestLog(ctx context.Context, partnerID, clientID string, f RequestLogFilter) ([]RequestLogEntry, error)
	// LatestSuccess returns the newest 2xx entry of one of clientIDs for
	// method on a path starting with pathPrefix (taken literally), or nil and
	// no error when there is none.
	LatestSuccess(ctx context.Context, clientIDs []string, method, pathPrefix string) (*RequestLogEntry, error)
	// DeleteRequestLog deletes the partner's entries in env and returns how
	// many it deleted.
	DeleteRequestLog(ctx context.Context, partnerID string, env environment.Environment) (int64, error)
	// PurgeRequestLog looks at the batch oldest entries (by id) and deletes
	// those logged before notBefore, returning how many it deleted.
	PurgeRequestLog(ctx context.Context, notBefore time.Time, batch int) (int64, error)

	// PartnerConsents lists the partner's consents in env whose status is one
	// of statuses, oldest first.
	PartnerConsents(ctx context.Context, partnerID string, env environment.Environment, statuses ...string) ([]Consent, error)
	// PartnerPayments lists the partner's payments in env whose status is one
	// of statuses, oldest first.
	PartnerPayments(ctx context.Context, partnerID string, env environment.Environment, statuses ...string) ([]Payment, error)
	// PaymentsCreated lists the partner's payments in env created in
	// [from, to), oldest first (by creation, then id). None: an empty list;
	// it returns no error of its own (only the database's).
	PaymentsCreated(ctx context.Context, partnerID string, env environment.Environment, from, to time.Time) ([]Payment, error)
	// LatestPartnerConsents lists the partner's most recent consents of every
	// status in both environments, newest first (by creation, then id), at
	// most limit of them: limit ≤ 0 means DefaultLatestConsents, and it is
	// capped at MaxLatestConsents. One query. None: an empty list, no error;
	// it returns no error of its own (only the database's).
	LatestPartnerConsents(ctx context.Context, partnerID string, limit int) ([]Consent, error)
}

// PaymentHistory is Store.CustomerHistory's summary (minor units).
type PaymentHistory struct {
	Count, Sum, Max int64
}

// DefaultCustomerPayments is how many payments Store.CustomerPayments lists
// with a limit ≤ 0.
const DefaultCustomerPayments = 100

// Bounds of Store.LatestPartnerConsents.
const (
	// DefaultLatestConsents is how many consents a limit ≤ 0 lists.
	DefaultLatestConsents = 50
	// MaxLatestConsents is the most consents one call lists.
	MaxLatestConsents = 500
)
