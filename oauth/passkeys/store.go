package passkeys

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// Store errors.
var (
	// ErrNotFound: no such row (for this customer).
	ErrNotFound = errors.New("passkeys: not found")
	// ErrExists: a credential with that id exists already.
	ErrExists = errors.New("passkeys: exists")
	// ErrStale: the stored signature counter is not below the new one.
	ErrStale = errors.New("passkeys: counter not behind")
)

// StoredCredential is a credential row: the customer's view plus what
// verifying an assertion needs.
type StoredCredential struct {
	Credential
	// CustomerID owns the credential.
	CustomerID string
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// RawAAGUID is the 16-byte AAGUID.
	RawAAGUID []byte
	// SignCount is the last signature counter accepted.
	SignCount uint32
	// AttestationFormat is the attestation statement format ("none", "packed" …).
	AttestationFormat string
	// Attachment is "platform", "cross-platform" or "".
	Attachment string
}

// Ceremony is a begun ceremony's row.
type Ceremony struct {
	ID         string
	Kind       string // KindRegistration or KindLogin
	CustomerID string
	// Session is go-webauthn's SessionData as JSON.
	Session   []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Store is the passkeys' persistence. A transaction travels in the context:
// Tx passes fn a context that carries it, and every method called with that
// context runs in it; called with any other context a method runs on its own.
// Errors not named in a method's comment are the database's.
type Store interface {
	// Tx runs fn in one transaction carried by the context fn receives; it
	// commits when fn returns nil and rolls back otherwise, returning fn's
	// error unchanged. Called with a context that already carries a
	// transaction, fn joins it.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// SaveCeremony stores c (its id is fresh and random: a clash is a
	// database error).
	SaveCeremony(ctx context.Context, c Ceremony) error
	// TakeCeremony deletes the ceremony with id, kind and customerID and
	// returns it, expired or not, in one atomic statement: of concurrent
	// callers at most one gets it. ErrNotFound when there is no such row
	// (unknown, taken before, another kind or another customer's; a row of
	// another customer is left alone).
	TakeCeremony(ctx context.Context, id, kind, customerID string) (Ceremony, error)
	// PurgeCeremonies deletes the ceremonies that expired at or before now and
	// returns how many.
	PurgeCeremonies(ctx context.Context, now time.Time) (int64, error)
	// AddCredential inserts c. ErrExists when a credential with c.ID is
	// registered already (to anyone).
	AddCredential(ctx context.Context, c StoredCredential) error
	// Credentials lists the customer's credentials, oldest first (none: an
	// empty list, no error).
	Credentials(ctx context.Context, customerID string) ([]StoredCredential, error)
	// Credential returns the customer's credential id. ErrNotFound when the
	// customer has none with that id (another customer's included).
	Credential(ctx context.Context, customerID, id string) (StoredCredential, error)
	// RecordUse stores an accepted assertion of the customer's credential id:
	// sign count, backup state and last use, in one conditional UPDATE that
	// applies only while the stored counter is below signCount, or both are
	// zero. ErrNotFound when the customer has no such credential; ErrStale
	// when the stored counter is not below signCount (and not both zero).
	RecordUse(ctx context.Context, customerID, id string, signCount uint32, backupState bool, at time.Time) error
	// DeleteCredential deletes the customer's credential id. ErrNotFound when
	// the customer has none with that id (another customer's is left alone).
	DeleteCredential(ctx context.Context, customerID, id string) error
	// Audit records e in the transaction of ctx (or on its own without one).
	Audit(ctx context.Context, e audit.Entry) error
}
