package bankbridge

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// TransactionQuery narrows a transaction listing to booking times (both
// optional; the consent's own window applies too).
type TransactionQuery struct {
	From time.Time // fromBookingDateTime
	To   time.Time // toBookingDateTime
}

func (q *TransactionQuery) path(accountID string) string {
	p := PathAISP + "/accounts/" + esc(accountID) + "/transactions"
	if q == nil {
		return p
	}
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("fromBookingDateTime", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("toBookingDateTime", q.To.UTC().Format(time.RFC3339))
	}
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	return p
}

// TransactionPages iterates over the pages of an account's transactions,
// following each page's Links.Next (only on the platform's own origin, else
// it yields ErrForeignLink). An error is yielded once, with a nil page, and
// ends the iteration; stopping the loop early stops the fetching.
//
//	for page, err := range api.TransactionPages(ctx, accountID, nil) {
//		if err != nil { return err }
//		for _, t := range page.Data.Transaction { … }
//	}
func (a *API) TransactionPages(ctx context.Context, accountID string, q *TransactionQuery, opts ...CallOption) iter.Seq2[*OBReadTransaction6, error] {
	return pages[OBReadTransaction6](ctx, a, q.path(accountID), func(p *OBReadTransaction6) *Links { return p.Links }, opts)
}

// Transactions iterates over an account's transactions across all pages
// (see TransactionPages).
//
//	for t, err := range api.Transactions(ctx, accountID, nil) {
//		if err != nil { return err }
//		fmt.Println(t.BookingDateTime, t.Amount.Amount, t.Amount.Currency)
//	}
func (a *API) Transactions(ctx context.Context, accountID string, q *TransactionQuery, opts ...CallOption) iter.Seq2[OBTransaction6, error] {
	return func(yield func(OBTransaction6, error) bool) {
		for page, err := range a.TransactionPages(ctx, accountID, q, opts...) {
			if err != nil {
				yield(OBTransaction6{}, err)
				return
			}
			for _, t := range page.Data.Transaction {
				if !yield(t, nil) {
					return
				}
			}
		}
	}
}

// maxPages stops a server that links pages in a circle.
const maxPages = 100000

// pages iterates over the pages starting at path, following Links.Next.
func pages[T any](ctx context.Context, a *API, path string, links func(*T) *Links, opts []CallOption) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		seen := map[string]bool{}
		for next := path; next != ""; {
			if seen[next] || len(seen) >= maxPages {
				yield(nil, ErrUnexpectedResponse)
				return
			}
			seen[next] = true
			page, err := call[T](ctx, a, http.MethodGet, next, nil, opts)
			if err != nil {
				yield(nil, err)
				return
			}
			next = ""
			if l := links(page); l != nil && l.Next != nil {
				next = *l.Next
				// Check the link before yielding, so a foreign link is an
				// error rather than a silent end.
				if _, err := a.c.resourceURL(next); err != nil {
					if !yield(page, nil) {
						return
					}
					yield(nil, err)
					return
				}
			}
			if !yield(page, nil) {
				return
			}
		}
	}
}
