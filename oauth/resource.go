package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// resourceAlgs is the algs parameter of WWW-Authenticate (RFC 9449 §7.1).
const resourceAlgs = `algs="ES256 PS256"`

// VerifyRequest implements ResourceVerifier: it requires Authorization: DPoP
// with one of our access tokens and a DPoP proof for this request (htm, htu =
// issuer + path, ath, the token's key), refuses expired or revoked tokens and
// tokens of clients no longer active. Errors are *ResourceError. It costs one
// token lookup by signature (none when the row is in the node's cache, see
// Store.UseCacheBus), one replay-store write and one client lookup (cached
// by the registry).
func (s *Server) VerifyRequest(ctx context.Context, r *http.Request) (*AccessContext, error) {
	ac, _, err := s.verifyRequest(ctx, r, false)
	return ac, err
}

// ProofClaim is a DPoP proof id VerifyRequestDeferred did not record: the
// caller records it with ClaimProofs.
type ProofClaim struct {
	key     string
	expires time.Time
}

// VerifyRequestDeferred implements DeferringVerifier: VerifyRequest, except
// that when the replay store is the database's (dpop.GormReplayStore on
// Deps.DB) the proof's id is not recorded and comes back as claim, for
// ClaimProofs in the transaction that records the call. claim is nil when
// the id was recorded already (another replay store).
func (s *Server) VerifyRequestDeferred(ctx context.Context, r *http.Request) (*AccessContext, *ProofClaim, error) {
	return s.verifyRequest(ctx, r, s.store.replay != nil)
}

// ClaimProofs implements DeferringVerifier: it records claims' proof ids in
// the transaction ctx carries (db.TxContext on Deps.DB), in order. refused[i]
// is, for a claim whose id was recorded before (by any node, or earlier in
// this batch), the exact refusal VerifyRequest answers a replayed proof
// with; nil when it is recorded now. err is the database's (on PostgreSQL it
// aborts the transaction; a replay does not).
func (s *Server) ClaimProofs(ctx context.Context, claims []*ProofClaim) (refused []*ResourceError, err error) {
	if s.store.replay == nil {
		return nil, errors.New("oauth: ClaimProofs without a database replay store")
	}
	ex := s.deps.DB.Conn(ctx).Statement.ConnPool
	refused = make([]*ResourceError, len(claims))
	for i, c := range claims {
		err := s.store.replay.UseIn(ctx, ex, c.key, c.expires)
		switch {
		case errors.Is(err, dpop.ErrReplay):
			refused[i] = s.proofResourceError(dpop.ReplayError())
		case err != nil:
			return nil, err
		}
	}
	return refused, nil
}

// NewProofClaim is a claim of the replay key key until expires, for a
// DeferringVerifier of another kind (a test's fake).
func NewProofClaim(key string, expires time.Time) *ProofClaim {
	return &ProofClaim{key: key, expires: expires}
}

// Key is the claim's replay key (opaque): two claims of one proof have
// the same key.
func (c *ProofClaim) Key() string { return c.key }

// ClaimRows implements StatementClaimer: claims as rows of the replay table
// (dpop.GormReplayStore.Rows, in claims' order), for a statement of the
// caller's own on Deps.DB. ok is false when the replay store cannot be
// written so (not the database's, or SQLite): use ClaimProofs.
func (s *Server) ClaimRows(claims []*ProofClaim) (rows db.Rows, ok bool) {
	if s.store.replay == nil {
		return db.Rows{}, false
	}
	keys := make([]string, len(claims))
	exps := make([]time.Time, len(claims))
	for i, c := range claims {
		keys[i], exps[i] = c.key, c.expires
	}
	return s.store.replay.Rows(keys, exps)
}

// ClaimRefused implements StatementClaimer: the refusal VerifyRequest (and
// ClaimProofs) answers a replayed proof with.
func (s *Server) ClaimRefused() *ResourceError {
	return s.proofResourceError(dpop.ReplayError())
}

func (s *Server) verifyRequest(ctx context.Context, r *http.Request, deferReplay bool) (*AccessContext, *ProofClaim, error) {
	ac, p, err := s.verifyRequestProof(ctx, r, deferReplay)
	if err != nil || !deferReplay {
		return ac, nil, err
	}
	return ac, &ProofClaim{key: p.ReplayKey, expires: p.ReplayExpires}, nil
}

func (s *Server) verifyRequestProof(ctx context.Context, r *http.Request, deferReplay bool) (*AccessContext, *dpop.Proof, error) {
	authz := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(authz, " ")
	token = strings.TrimSpace(token)
	switch {
	case authz == "":
		return nil, nil, &ResourceError{Status: http.StatusUnauthorized, Code: "invalid_token",
			Description:     "No access token: send Authorization: DPoP <token> and a DPoP proof.",
			WWWAuthenticate: "DPoP " + resourceAlgs}
	case strings.EqualFold(scheme, "Bearer"):
		return nil, nil, s.tokenError("The access token is DPoP-bound: use the DPoP authorization scheme, not Bearer.")
	case !strings.EqualFold(scheme, "DPoP"):
		return nil, nil, s.tokenError("Unsupported authorization scheme: use DPoP.")
	case token == "" || len(token) > 512 || strings.ContainsAny(token, " ,\"") || !strings.Contains(token, "."):
		return nil, nil, s.tokenError("The access token is malformed.")
	}
	if err := s.strategy.enigma.Validate(ctx, token); err != nil {
		return nil, nil, s.tokenError("The access token is not valid.")
	}
	sig := s.strategy.AccessTokenSignature(ctx, token)
	row, err := s.store.cachedResourceRow(ctx, sig)
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return nil, nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "token lookup failed"}
	}
	now := s.now()
	switch {
	case err != nil || !row.Active:
		return nil, nil, s.tokenError("The access token is not active.")
	case !row.ExpiresAt.After(now):
		return nil, nil, s.tokenError("The access token has expired.")
	case row.JKT == "":
		return nil, nil, s.tokenError("The access token is not DPoP-bound.")
	}
	proof, err := dpop.FromHeader(r.Header)
	var p *dpop.Proof
	if err == nil {
		p, err = s.dpop.Verify(ctx, proof, r.Method, s.cfg.Issuer+r.URL.Path,
			dpop.VerifyOptions{AccessToken: token, ExpectedJKT: row.JKT, DeferReplay: deferReplay})
	}
	if err != nil {
		return nil, nil, s.proofResourceError(err)
	}
	client, err := s.deps.Clients.Client(ctx, row.ClientID)
	if errors.Is(err, ErrClientNotFound) || (err == nil && !client.Active) {
		return nil, nil, s.tokenError("The client the access token was issued to is no longer active.")
	} else if err != nil {
		return nil, nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "client lookup failed"}
	}
	ac := &AccessContext{
		ClientID:    row.ClientID,
		PartnerID:   client.PartnerID,
		Environment: client.Environment,
		CustomerID:  row.Subject,
		Scopes:      strings.Fields(row.Scopes),
		JKT:         row.JKT,
		GrantID:     row.RequestID,
		ExpiresAt:   row.ExpiresAt,
	}
	if row.AuthorizationDetails != "" {
		if err := json.Unmarshal([]byte(row.AuthorizationDetails), &ac.AuthorizationDetails); err != nil {
			return nil, nil, &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "stored authorization_details unreadable"}
		}
	}
	return ac, p, nil
}

func (s *Server) tokenError(desc string) *ResourceError {
	return &ResourceError{
		Status:          http.StatusUnauthorized,
		Code:            "invalid_token",
		Description:     desc,
		WWWAuthenticate: `DPoP error="invalid_token", error_description="` + desc + `", ` + resourceAlgs,
	}
}

func (s *Server) proofResourceError(err error) *ResourceError {
	var de *dpop.Error
	if !errors.As(err, &de) {
		return &ResourceError{Status: http.StatusInternalServerError, Code: "server_error", Description: "DPoP proof check failed"}
	}
	desc := de.Description + "."
	desc = strings.ReplaceAll(desc, `"`, `'`)
	e := &ResourceError{
		Status:          http.StatusUnauthorized,
		Code:            de.Code,
		Description:     desc,
		WWWAuthenticate: `DPoP error="` + de.Code + `", error_description="` + desc + `", ` + resourceAlgs,
	}
	if de.Code == dpop.CodeUseNonce {
		e.DPoPNonce = s.nonces.Nonce()
	}
	return e
}
