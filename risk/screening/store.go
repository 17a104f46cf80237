package screening

import (
	"context"

	"github.com/bankbridge/bankbridge/internal/audit"
)

// Store keeps the lists' entries and the record of imports. Errors other
// than those named are the database's, wrapped.
type Store interface {
	// Tx runs fn in a transaction carried in its context; every method
	// called with that context joins it (a nested Tx joins the outer one).
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// ReplaceList deletes every entry of list and inserts entries (each of
	// that list). Errors: ErrInvalidEntry (an entry of another list, or one
	// that does not validate).
	ReplaceList(ctx context.Context, list string, entries []Entry) error
	// RecordImport appends the record of an import.
	RecordImport(ctx context.Context, imp Import) error
	// Audit records e in the transaction in ctx (audit.Record).
	Audit(ctx context.Context, e audit.Entry) error
	// Lists returns every list that was imported, by list key: its current
	// entry count and its latest import.
	Lists(ctx context.Context) ([]ListSummary, error)
	// Entries returns every entry of every list, ordered by list and
	// reference.
	Entries(ctx context.Context) ([]Entry, error)
	// Version is the lists' version: the sequence number of the latest
	// import (0 before any). It grows with every import.
	Version(ctx context.Context) (int64, error)
}
