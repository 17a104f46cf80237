package oauth

import (
	"strings"

	"github.com/bankbridge/bankbridge/oauth/internal/sqldialect"
)

// clientAssertions is the client assertion replay table: an id is free again
// only once its expiry is before the cutoff (ClientAssertionJWTValid treats
// expires_at >= now as used).
var clientAssertions = sqldialect.Claim{Table: "oauth_client_assertions", Key: "jti"}

// tokenColumns are oauth_tokens' columns a new token writes, in
// tokenRow.args order, with their PostgreSQL types (for typed placeholders
// in a data-modifying WITH).
var tokenColumns = []struct{ name, typ string }{
	{"signature", "text"}, {"kind", "text"}, {"request_id", "text"}, {"client_id", "text"},
	{"subject", "text"}, {"jkt", "text"}, {"scopes", "text"}, {"authorization_details", "text"},
	{"active", "boolean"}, {"requested_at", "timestamptz"}, {"expires_at", "timestamptz"},
	{"access_signature", "text"}, {"request", "text"},
}

func (r *tokenRow) args() []any {
	return []any{r.Signature, r.Kind, r.RequestID, r.ClientID, r.Subject, r.JKT, r.Scopes,
		r.AuthorizationDetails, r.Active, r.RequestedAt, r.ExpiresAt, r.AccessSignature, r.Request}
}

// insertTokenInto is INSERT INTO oauth_tokens (…) followed by the values
// clause: "VALUES (?, …)" when typed is false, "SELECT ?::type, …" when true.
func insertTokenInto(typed bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO oauth_tokens (")
	for i, c := range tokenColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.name)
	}
	if typed {
		b.WriteString(") SELECT ")
	} else {
		b.WriteString(") VALUES (")
	}
	for i, c := range tokenColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?")
		if typed {
			b.WriteString("::" + c.typ)
		}
	}
	if !typed {
		b.WriteString(")")
	}
	return b.String()
}

// Statements with ? placeholders, for gorm (which binds them itself) and for
// tokenSQL.
var (
	insertTokenSQL        = insertTokenInto(false)
	insertTokenConsentSQL = `INSERT INTO oauth_token_consents (consent_id, request_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
)

// tokenSQL is the token hot path's SQL bound to the store's dialect, built
// once when the store is made.
type tokenSQL struct {
	assertion    string // clientAssertions.Insert(): jti, expiry, now
	token        string // insertTokenSQL: tokenRow.args()
	tokenConsent string // insertTokenConsentSQL: consent id, request id
	// resourceToken is resourceTokenSQL (the resource server's lookup).
	resourceToken string
	// With Dialect.WritableCTE and the DPoP replay store on the same
	// database (else empty): a token request's writes as one statement,
	// atomic on its own — the assertion id only if the proof id was free,
	// the token only if both were. Arguments: proof key, expiry, replay
	// cutoff; assertion jti, expiry, now; then (idsAndToken) the token's.
	// The result row counts what each step wrote (proof, assertion, token;
	// ids answers 1 for the token).
	idsAndToken string
	ids         string
	// idsAndCode is ids that also reads the authorization code's rows (the
	// code and its PKCE request; argument 7: the code's signature) in the
	// same round trip, one result row each (or one with NULL token columns
	// when there is none), so the exchange that follows does not read them
	// again (Store.get's memo).
	idsAndCode string
}

// codeColumns are the oauth_tokens columns idsAndCode reads, in
// tokenRow.scanTargets order.
const codeColumns = "o.signature, o.kind, o.request_id, o.client_id, o.subject, o.jkt, o.scopes, o.authorization_details, " +
	"o.active, o.requested_at, o.expires_at, o.rotated_at, o.access_signature, o.request"

func newTokenSQL(d sqldialect.Dialect, replay *sqldialect.Claim) tokenSQL {
	t := tokenSQL{
		assertion:    d.Bind(clientAssertions.Insert()),
		token:        d.Bind(insertTokenSQL),
		tokenConsent: d.Bind(insertTokenConsentSQL),

		resourceToken: d.Bind(resourceTokenSQL),
	}
	if replay == nil || !d.WritableCTE() {
		return t
	}
	ids := "WITH d AS (" + replay.Insert() + " RETURNING 1),\n" +
		"a AS (" + clientAssertions.InsertIf("d") + " RETURNING 1)"
	t.ids = d.Bind(ids + "\nSELECT (SELECT count(*) FROM d), (SELECT count(*) FROM a), 1")
	t.idsAndCode = d.Bind(ids + "\nSELECT d.n, a.n, 1, " + codeColumns +
		" FROM (SELECT count(*) AS n FROM d) d CROSS JOIN (SELECT count(*) AS n FROM a) a" +
		" LEFT JOIN oauth_tokens o ON o.signature = ? AND o.kind IN ('" + kindCode + "', '" + kindPKCE + "')")
	t.idsAndToken = d.Bind(ids + ",\nt AS (" + insertTokenInto(true) + " WHERE EXISTS (SELECT 1 FROM a) RETURNING 1)" +
		"\nSELECT (SELECT count(*) FROM d), (SELECT count(*) FROM a), (SELECT count(*) FROM t)")
	return t
}
