package oauth

import (
	"context"
	"strings"

	"github.com/ory/fosite"
	"gorm.io/gorm"
)

// deferredTokens are the token rows (and their consent links) one request
// creates, written together by flushTokens: one multi-row INSERT for the
// rows and one for the links, instead of one statement each. The
// authorization response (code and PKCE rows) and the token endpoint's
// transaction (access and refresh tokens) defer their writes this way.
type deferredTokens struct {
	rows  []tokenRow
	links []tokenLink
	// invalidateCode is the signature of the authorization code whose
	// invalidation InvalidateAuthorizeCodeSession deferred (PostgreSQL):
	// the rows and links are written only if it invalidates the code.
	invalidateCode string
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
	if d == nil || len(d.rows) == 0 && len(d.links) == 0 && d.invalidateCode == "" {
		return nil
	}
	rows, links, code := d.rows, d.links, d.invalidateCode
	d.rows, d.links, d.invalidateCode = nil, nil, ""
	if code != "" {
		return s.redeemCode(ctx, code, rows, links)
	}
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
	g := s.oneStatement(ctx)
	switch {
	case tokens != "" && consents != "" && s.dialect.WritableCTE():
		// PostgreSQL: the tokens and their consent links in one statement
		// (a data-modifying WITH runs to completion with the statement).
		return g.Exec("WITH t AS ("+tokens+") "+consents, args...).Error
	case tokens != "" && consents != "":
		g = s.tx(ctx) // two statements: in the transaction
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

// redeemCode is the code exchange's writes on PostgreSQL as one statement,
// atomic on its own (so the exchange needs no BEGIN and COMMIT): the code is
// invalidated, and the tokens and their consent links are written only if
// that invalidated it. A code already invalidated — used before, or by a
// concurrent exchange whose UPDATE took the row first (READ COMMITTED
// re-checks active = TRUE after waiting for its lock) — writes nothing and
// is fosite.ErrInvalidatedAuthorizeCode, as InvalidateAuthorizeCodeSession
// answers when it runs on its own.
func (s *Store) redeemCode(ctx context.Context, code string, rows []tokenRow, links []tokenLink) error {
	var b strings.Builder
	args := []any{code, kindCode}
	b.WriteString("WITH inv AS (UPDATE oauth_tokens SET active = FALSE WHERE signature = ? AND kind = ? AND active = TRUE RETURNING 1)")
	const ifInvalidated = " WHERE EXISTS (SELECT 1 FROM inv)"
	if len(rows) > 0 {
		ins := insertTokenInto(true) // INSERT INTO oauth_tokens (…) SELECT ?::type, …
		b.WriteString(",\nt AS (" + ins + ifInvalidated)
		args = append(args, rows[0].args()...)
		sel := ins[strings.Index(ins, ") SELECT ")+2:]
		for i := 1; i < len(rows); i++ {
			b.WriteString(" UNION ALL " + sel + ifInvalidated)
			args = append(args, rows[i].args()...)
		}
		b.WriteString(" RETURNING 1)")
	}
	if len(links) > 0 {
		b.WriteString(",\nc AS (INSERT INTO oauth_token_consents (consent_id, request_id) ")
		for i, l := range links {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			b.WriteString("SELECT ?::text, ?::text" + ifInvalidated)
			args = append(args, l.consentID, l.requestID)
		}
		b.WriteString(" ON CONFLICT DO NOTHING RETURNING 1)")
	}
	b.WriteString("\nSELECT count(*) FROM inv")
	var n int64
	if err := s.oneStatement(ctx).Raw(b.String(), args...).Scan(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return nil
}

// oneStatement returns where a write that is one statement runs: in ctx's
// transaction once that has begun, else on its own (a statement is atomic by
// itself, so a transaction that has run nothing needs no BEGIN for it).
func (s *Store) oneStatement(ctx context.Context) *gorm.DB {
	if h := txHandleOf(ctx); h != nil && h.tx == nil {
		return h.db
	}
	return s.tx(ctx)
}
