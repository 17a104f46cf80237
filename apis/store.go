package apis

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"gorm.io/gorm"
)

// Store errors.
var (
	// ErrNotFound: no such consent, payment or idempotency key.
	ErrNotFound = errors.New("apis: not found")
	// ErrConsentUsed: a payment already exists for the consent.
	ErrConsentUsed = errors.New("apis: consent already has a payment")
	// ErrKeyTaken: the idempotency key row exists already.
	ErrKeyTaken = errors.New("apis: idempotency key exists")
)

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

// Store is the apis package's persistence. Every method takes the gorm handle
// to run on (a transaction, or the database).
type Store interface {
	// CreateConsent inserts c.
	CreateConsent(ctx context.Context, g *gorm.DB, c *Consent) error
	// Consent returns one consent, or ErrNotFound.
	Consent(ctx context.Context, g *gorm.DB, id string) (*Consent, error)
	// SetConsentStatus moves the consent from one of from to c.Status (also
	// writing CustomerID, AccountIDs and StatusUpdatedAt); errStale when the
	// consent is not in one of from.
	SetConsentStatus(ctx context.Context, g *gorm.DB, c *Consent, from ...string) error
	// ConsentsForCustomer lists a customer's consents, newest first.
	ConsentsForCustomer(ctx context.Context, g *gorm.DB, customerID string) ([]Consent, error)

	// CreatePayment inserts p; ErrConsentUsed when its consent has a payment.
	CreatePayment(ctx context.Context, g *gorm.DB, p *Payment) error
	// Payment returns one payment, or ErrNotFound.
	Payment(ctx context.Context, g *gorm.DB, id string) (*Payment, error)
	// SetPaymentStatus moves the payment from status from to p.Status (with
	// RejectReason and StatusUpdatedAt); errStale when it is not in from.
	SetPaymentStatus(ctx context.Context, g *gorm.DB, p *Payment, from string) error
	// PartnerTotalSince sums the partner's non-rejected payments in currency
	// created at or after since, in env.
	PartnerTotalSince(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment, currency string, since time.Time) (int64, error)
	// DebtorCountSince counts payments from the debtor account since.
	DebtorCountSince(ctx context.Context, g *gorm.DB, accountID string, since time.Time) (int64, error)
	// RejectedCount counts rejected payments per debtor account among ids.
	RejectedCount(ctx context.Context, g *gorm.DB, accountIDs []string) (map[string]int64, error)

	// ClaimKey inserts an in-progress key row; ErrKeyTaken when it exists. A
	// key is scoped to (partner, environment). Rows older than notBefore are
	// deleted first (keys live 24 h).
	ClaimKey(ctx context.Context, g *gorm.DB, r *IdempotencyRecord, notBefore time.Time) error
	// Key returns the key row of partnerID in env, or ErrNotFound.
	Key(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment, key string) (*IdempotencyRecord, error)
	// FinishKey stores the response and marks the key done.
	FinishKey(ctx context.Context, g *gorm.DB, r *IdempotencyRecord) error
	// ReleaseKey deletes an in-progress key (the request failed with a 5xx).
	ReleaseKey(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment, key string) error

	// DeleteKeys deletes the partner's idempotency keys claimed in env and
	// returns how many it deleted.
	DeleteKeys(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment) (int64, error)

	// LogRequest appends a request log entry; a path longer than
	// MaxLoggedPath bytes is cut to it.
	LogRequest(ctx context.Context, g *gorm.DB, e *RequestLogEntry) error
	// RequestLog lists a partner's entries, newest first.
	RequestLog(ctx context.Context, g *gorm.DB, partnerID, clientID string, f RequestLogFilter) ([]RequestLogEntry, error)
	// DeleteRequestLog deletes the partner's entries in env and returns how
	// many it deleted.
	DeleteRequestLog(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment) (int64, error)

	// PartnerConsents lists the partner's consents in env whose status is one
	// of statuses, oldest first.
	PartnerConsents(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment, statuses ...string) ([]Consent, error)
	// PartnerPayments lists the partner's payments in env whose status is one
	// of statuses, oldest first.
	PartnerPayments(ctx context.Context, g *gorm.DB, partnerID string, env environment.Environment, statuses ...string) ([]Payment, error)
}
