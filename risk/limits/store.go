package limits

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// Store errors.
var (
	ErrNotFound  = errors.New("limits: not found")
	ErrDuplicate = errors.New("limits: a rule with this key exists")
	ErrStale     = errors.New("limits: changed concurrently")
)

// Store is the limits' persistence. A transaction travels in the context:
// Tx passes fn a context carrying it and every method called with that
// context joins it. Errors not named are the database's.
type Store interface {
	// Tx runs fn in one transaction (joining one already in ctx); it
	// commits when fn returns nil and returns fn's error unchanged.
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// Audit records e in the transaction in ctx.
	Audit(ctx context.Context, e audit.Entry) error

	// Rules lists the rules of env ("": every environment) ordered by
	// environment, currency, scope, subject and kind.
	Rules(ctx context.Context, env environment.Environment) ([]Rule, error)
	// Rule returns one rule, or ErrNotFound.
	Rule(ctx context.Context, id string) (Rule, error)
	// InsertRule inserts r; ErrDuplicate when a rule has its Key.
	InsertRule(ctx context.Context, r Rule) error
	// UpdateRule writes r's bound (Amount, Count, Window) and who changed
	// it; ErrNotFound when it does not exist.
	UpdateRule(ctx context.Context, r Rule) error
	// DeleteRule deletes a rule; ErrNotFound when it does not exist.
	DeleteRule(ctx context.Context, id string) error

	// CreateProposal inserts p (its id must be new).
	CreateProposal(ctx context.Context, p Proposal) error
	// Proposal returns one proposal, or ErrNotFound.
	Proposal(ctx context.Context, id string) (Proposal, error)
	// Proposals lists the proposals in status ("": all), newest first, at
	// most limit (≤ 0: 200).
	Proposals(ctx context.Context, status string, limit int) ([]Proposal, error)
	// DecideProposal moves a pending proposal to status, recording who,
	// the note and when, and ruleID when the proposal has none yet (a
	// creation); ErrStale when it is not pending (or does not exist).
	DecideProposal(ctx context.Context, id, status, by, note, ruleID string, at time.Time) error
}
