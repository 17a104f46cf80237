package oauth

import (
	"context"
	"strings"
)

// deferredTokens are the token rows (and their consent links) one request
// creates, written together by flushTokens: one multi-row INSERT for the
// rows and one for the links, instead of one statement each. The
// authorization response (code and PKCE rows) and the token endpoint's
// transaction (access and refresh tokens) defer their writes this way.
type deferredTokens struct {
	rows  []tokenRow
	links []tokenLink
}

// tokenLink is one oauth_token_consents row.
type tokenLink struct{ consentID, requestID string }

// deferTokens returns ctx in which Store.create defers its writes until
// flushTokens; ctx unchanged when it already defers them.
func deferTokens(ctx context.Context) context.Context {
	if deferredFrom(ctx) != nil {
		return ctx
	}
	return context.WithValue(ctx, ctxDeferred, &deferredTokens{})
}

func deferredFrom(ctx context.Context) *deferredTokens {
	d, _ := ctx.Value(ctxDeferred).(*deferredTokens)
	return d
}

// flushTokens writes the rows deferred in ctx (in ctx's transaction, if
// any) and forgets them; a no-op when there are none.
func (s *Store) flushTokens(ctx context.Context) error {
	d := deferredFrom(ctx)
	if d == nil || len(d.rows) == 0 && len(d.links) == 0 {
		return nil
	}
	rows, links := d.rows, d.links
	d.rows, d.links = nil, nil
	var tokens, consents string
	var args []any
	if len(rows) > 0 {
		tokens, args = insertTokensSQL(rows)
	}
	n := len(args) // the tokens' arguments come first
	if len(links) > 0 {
		consents = `INSERT INTO oauth_token_consents (consent_id, request_id) VALUES (?, ?)` +
			strings.Repeat(", (?, ?)", len(links)-1) + ` ON CONFLICT DO NOTHING`
		for _, l := range links {
			args = append(args, l.consentID, l.requestID)
		}
	}
	g := s.tx(ctx)
	switch {
	case tokens != "" && consents != "" && s.dialect.WritableCTE():
		// PostgreSQL: the tokens and their consent links in one statement
		// (a data-modifying WITH runs to completion with the statement).
		return g.Exec("WITH t AS ("+tokens+") "+consents, args...).Error
	case tokens != "" && consents != "":
		if err := g.Exec(tokens, args[:n]...).Error; err != nil {
			return err
		}
		return g.Exec(consents, args[n:]...).Error
	case tokens != "":
		return g.Exec(tokens, args...).Error
	}
	return g.Exec(consents, args...).Error
}

// insertTokensSQL is insertTokenSQL for several rows, and its arguments.
func insertTokensSQL(rows []tokenRow) (string, []any) {
	one := insertTokenSQL[strings.Index(insertTokenSQL, "VALUES ")+len("VALUES "):]
	var b strings.Builder
	b.WriteString(insertTokenSQL)
	args := make([]any, 0, len(rows)*len(tokenColumns))
	for i := range rows {
		if i > 0 {
			b.WriteString(", " + one)
		}
		args = append(args, rows[i].args()...)
	}
	return b.String(), args
}
