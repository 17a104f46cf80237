package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

var supportedGrants = map[string]bool{GrantAuthorizationCode: true, GrantRefreshToken: true, GrantClientCredentials: true}

// grantTypes is the client's registered grant types (all three when the
// registry recorded none, see Client.GrantTypes).
func (c *Client) grantTypes() fosite.Arguments {
	if len(c.GrantTypes) == 0 {
		return fosite.Arguments{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials}
	}
	return fosite.Arguments(c.GrantTypes)
}

// errGrantNotRegistered is RFC 6749 §5.2 unauthorized_client for a grant
// type the client did not register.
func errGrantNotRegistered(c *Client, grant string) *fosite.RFC6749Error {
	return fosite.ErrUnauthorizedClient.WithHintf("The client is not registered for the grant type '%s' (its grant types: %s).",
		grant, strings.Join(c.grantTypes(), ", "))
}

// grantTypeHandler runs first among the token endpoint handlers, after
// client authentication: a client may use only the grant types it
// registered (RFC 7591 §2, RFC 6749 §5.2 unauthorized_client).
type grantTypeHandler struct{}

var _ fosite.TokenEndpointHandler = grantTypeHandler{}

func (grantTypeHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (grantTypeHandler) CanHandleTokenEndpointRequest(context.Context, fosite.AccessRequester) bool {
	return true
}

func (grantTypeHandler) HandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) error {
	client := clientOf(r.GetClient())
	if client == nil {
		return fosite.ErrServerError.WithDebug("token request without client")
	}
	for _, gt := range r.GetGrantTypes() {
		if !client.grantTypes().Has(gt) {
			return errGrantNotRegistered(client, gt)
		}
	}
	// Not "handled": the grant's own handler must still take the request.
	return fosite.ErrUnknownRequest
}

func (grantTypeHandler) PopulateTokenEndpointResponse(context.Context, fosite.AccessRequester, fosite.AccessResponder) error {
	return fosite.ErrUnknownRequest
}

// handleToken is the token endpoint: every grant needs a DPoP proof and
// issues DPoP-bound tokens (RFC 9449 §5).
func (s *Server) handleToken(c *gin.Context) {
	w, r := c.Writer, c.Request
	// The memo: fosite reads an authorization code twice and its PKCE
	// request once per exchange (Store.get reads them once).
	ctx := reqmemo.With(withRequestClient(c, context.WithValue(r.Context(), ctxEndpoint, s.url(pathToken))))
	ctx = noteTokenOutcome(c, ctx)
	w.Header().Set("Cache-Control", "no-store")
	empty := fosite.NewAccessRequest(&Session{})
	if r.Method != http.MethodPost {
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The token endpoint accepts POST only."))
		return
	}
	if err := r.ParseForm(); err != nil {
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The request body is not a valid application/x-www-form-urlencoded form."))
		return
	}
	gt := r.PostForm.Get("grant_type")
	switch {
	case gt == "":
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing."))
		return
	case !supportedGrants[gt]:
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrUnsupportedGrantType.WithHintf("The grant_type '%s' is not supported; use authorization_code, refresh_token or client_credentials.", gt))
		return
	}
	// With the SQL replay store on our database, the proof's id is recorded
	// with the client assertion's and the token (pendingWrites); with a
	// journal (one node), as the proof is verified.
	deferIDs := s.store.defersIDs()
	proof, err := s.verifyProof(ctx, r, s.url(pathToken), dpop.VerifyOptions{DeferReplay: s.store.replay != nil})
	if err != nil {
		s.writeProofError(ctx, w, err, func(e error) { s.provider.WriteAccessError(ctx, w, empty, e) })
		return
	}
	ctx = context.WithValue(ctx, ctxProof, proof)
	var pw *pendingWrites
	if deferIDs {
		pw = &pendingWrites{fold: gt == "client_credentials"}
		if s.store.replay != nil {
			pw.proof = proof
		}
		if code := r.PostForm.Get("code"); gt == "authorization_code" && code != "" {
			// The code's rows are read with the ids (idsAndCode).
			pw.codeSignature = s.strategy.AuthorizeCodeSignature(ctx, code)
		}
		ctx = context.WithValue(ctx, ctxPending, pw)
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, &Session{})
	if err != nil {
		err = explainGrantError(gt, s.refusalAfter(ctx, pw, err))
		s.logServerError("token", err)
		s.provider.WriteAccessError(ctx, w, orEmpty(ar, empty), err)
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if gt == "authorization_code" && errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		s.revokeRaceWinner(ctx, ar)
	}
	if err == nil && pw != nil && !pw.done {
		// Not reached with fosite's handlers (the ids went with the token
		// or with client authentication); kept so nothing is answered
		// before the ids are recorded.
		err = s.store.flushPending(ctx, pw)
	}
	if err != nil {
		err = explainGrantError(gt, s.refusalAfter(ctx, pw, err))
		s.logServerError("token", err)
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	if s.cfg.DPoPRequireNonce {
		w.Header().Set("DPoP-Nonce", s.nonces.Nonce())
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

func orEmpty(ar fosite.AccessRequester, empty fosite.AccessRequester) fosite.AccessRequester {
	if ar == nil {
		return empty
	}
	return ar
}

// revokeRaceWinner handles the loser of two concurrent redemptions of one
// code: its transaction found the code already invalidated by a transaction
// that has committed (PostgreSQL's UPDATE waited for the winner's row lock;
// SQLite's BEGIN IMMEDIATE ran after it), so the winner's tokens are
// visible now. A code used twice means it may have leaked, so, as for a
// sequential reuse (RFC 6749 §4.1.2, RFC 9700 §4.5), everything issued for
// it is revoked. The loser's own transaction is rolled back, so this runs
// outside it.
func (s *Server) revokeRaceWinner(ctx context.Context, ar fosite.AccessRequester) {
	if ar == nil || ar.GetID() == "" {
		return
	}
	ctx = context.WithValue(context.WithoutCancel(ctx), ctxTx, nil)
	if err := s.store.RevokeGrant(ctx, ar.GetID()); err != nil {
		s.logServerError("token", fmt.Errorf("revoke tokens of a code redeemed twice: %w", err))
	}
}

// explainGrantError adds hints fosite leaves out for an unknown or expired code.
func explainGrantError(grant string, err error) error {
	if grant == "authorization_code" && errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		// Lost a race with a concurrent redemption of the same code.
		return fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.").WithWrap(err)
	}
	var rfc *fosite.RFC6749Error
	if !errors.As(err, &rfc) || rfc.HintField != "" || rfc.ErrorField != fosite.ErrInvalidGrant.ErrorField || grant != "authorization_code" {
		return err
	}
	switch {
	case errors.Is(err, fosite.ErrTokenExpired):
		return fosite.ErrInvalidGrant.WithHint("The authorization code has expired.").WithWrap(err)
	case errors.Is(err, fosite.ErrNotFound):
		return fosite.ErrInvalidGrant.WithHint("The authorization code is not valid.").WithWrap(err)
	}
	return err
}

func proofFrom(ctx context.Context) *dpop.Proof {
	p, _ := ctx.Value(ctxProof).(*dpop.Proof)
	return p
}

func sessionOf(r fosite.Requester) *Session {
	if s, ok := r.GetSession().(*Session); ok && s != nil {
		return s
	}
	return nil
}

// bindingHandler runs after fosite's code and client_credentials handlers:
// it binds the tokens to the DPoP proof's key, checks a dpop_jkt-bound code,
// grants client_credentials scopes, and adds token_type DPoP,
// authorization_details and the id_token to the response.
type bindingHandler struct{ s *Server }

var _ fosite.TokenEndpointHandler = (*bindingHandler)(nil)

func (h *bindingHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h *bindingHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne("authorization_code") || r.GetGrantTypes().ExactOne("client_credentials")
}

func (h *bindingHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	proof := proofFrom(ctx)
	sess := sessionOf(r)
	client := clientOf(r.GetClient())
	if proof == nil || sess == nil || client == nil {
		return fosite.ErrServerError.WithDebug("token request without DPoP proof, session or client")
	}
	if r.GetGrantTypes().ExactOne("authorization_code") {
		if sess.CodeJKT != "" && sess.CodeJKT != proof.JKT {
			return errDPoPProof("The DPoP proof key is not the key the authorization code is bound to (dpop_jkt).")
		}
	} else {
		for _, sc := range r.GetRequestedScopes() {
			if sc == "openid" {
				return fosite.ErrInvalidScope.WithHint("Scope 'openid' cannot be requested with client_credentials.")
			}
			r.GrantScope(sc)
		}
		sess.ClientID = client.ID
		sess.PartnerID = client.PartnerID
		sess.Environment = client.Environment
		// A time-ordered grant id (UUIDv7) instead of fosite's random one:
		// each token's row then lands at the right edge of the request_id
		// index instead of on a random page, one random B-tree page fewer
		// per token written (the id stays unguessable: 74 random bits).
		if id, err := uuid.NewV7(); err == nil {
			r.SetID(id.String())
		}
	}
	sess.JKT = proof.JKT
	return nil
}

func (h *bindingHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	sess := sessionOf(r)
	resp.SetTokenType("DPoP")
	if len(sess.AuthorizationDetails) > 0 {
		resp.SetExtra("authorization_details", sess.AuthorizationDetails)
	}
	if r.GetGrantTypes().ExactOne("authorization_code") && r.GetGrantedScopes().Has("openid") {
		idt, err := h.s.idToken(ctx, r, true)
		if err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		resp.SetExtra("id_token", idt)
	}
	return nil
}

// idToken signs the OpenID Connect id_token (ES256) of a grant: for the
// code grant with the request's nonce; for a refresh (OpenID Connect Core
// §12.2) without one, with the same sub, aud, auth_time, acr and amr as the
// code grant's.
func (s *Server) idToken(ctx context.Context, r fosite.Requester, withNonce bool) (string, error) {
	sess := sessionOf(r)
	kid, key, err := s.deps.Keys.Signing(ctx, "ES256")
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	now := s.now()
	claims := map[string]any{
		"iss": s.cfg.Issuer,
		"sub": s.pairwiseSubject(sess.PartnerID, sess.Subject),
		"aud": r.GetClient().GetID(),
		"iat": now.Unix(),
		"exp": now.Add(s.cfg.AccessTokenLifetime).Unix(),
	}
	if !sess.AuthTime.IsZero() {
		claims["auth_time"] = sess.AuthTime.Unix()
	}
	if withNonce && sess.Nonce != "" {
		claims["nonce"] = sess.Nonce
	}
	if sess.ACR != "" {
		claims["acr"] = sess.ACR
	}
	if len(sess.AMR) > 0 {
		claims["amr"] = sess.AMR
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// refreshHandler is Bankbridge's refresh_token grant: bound to the client and
// the DPoP key; rotation only when Config.RotateRefreshTokens, with a grace
// window for retries and revocation of the whole grant on later reuse.
type refreshHandler struct{ s *Server }

var _ fosite.TokenEndpointHandler = (*refreshHandler)(nil)

func (h *refreshHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h *refreshHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne("refresh_token")
}

func (h *refreshHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	s := h.s
	token := r.GetRequestForm().Get("refresh_token")
	if token == "" {
		return fosite.ErrInvalidRequest.WithHint("The refresh_token parameter is missing.")
	}
	sig := s.strategy.RefreshTokenSignature(ctx, token)
	row, err := s.store.get(ctx, kindRefresh, sig)
	if errors.Is(err, fosite.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The refresh token is malformed or not valid.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	orig, err := s.store.decodeRequest(ctx, row.Request, nil)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if err := s.strategy.ValidateRefreshToken(ctx, orig, token); err != nil {
		if errors.Is(err, fosite.ErrTokenExpired) {
			return fosite.ErrInvalidGrant.WithHint("The refresh token expired.")
		}
		return fosite.ErrInvalidGrant.WithHint("The refresh token is malformed or not valid.")
	}
	if orig.GetClient().GetID() != r.GetClient().GetID() {
		return fosite.ErrInvalidGrant.WithHint("The refresh token was issued to another client.")
	}
	if !row.Active {
		inGrace := s.cfg.RotateRefreshTokens && row.RotatedAt != nil && s.now().Sub(*row.RotatedAt) <= s.cfg.RefreshGraceWindow
		switch {
		case inGrace:
		case row.RotatedAt != nil:
			if err := s.store.RevokeGrant(ctx, row.RequestID); err != nil {
				return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
			}
			return fosite.ErrInvalidGrant.WithHint("The refresh token was already used; every token of this grant is now revoked.")
		default:
			return fosite.ErrInvalidGrant.WithHint("The refresh token has been revoked.")
		}
	}
	sess := orig.GetSession().(*Session)
	proof := proofFrom(ctx)
	if proof == nil || proof.JKT != sess.JKT {
		return errDPoPProof("The DPoP proof key is not the key the refresh token is bound to.")
	}
	if s.deps.Consents != nil {
		for _, id := range sess.consentIDs() {
			ok, err := s.deps.Consents.Active(ctx, id)
			if err != nil {
				return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
			}
			if !ok {
				return fosite.ErrInvalidGrant.WithHintf("The consent '%s' behind this grant is no longer active.", id)
			}
		}
	}
	// PSD2 RTS art. 10a: the customer's authentication behind a grant is
	// renewed at least every Config.Reauthentication (180 days); after
	// that the partner sends the customer through authorization again.
	if !sess.AuthTime.IsZero() && s.now().Sub(sess.AuthTime) > s.cfg.Reauthentication {
		return fosite.ErrInvalidGrant.WithHintf("The customer authenticated more than %d days ago; send the customer through authorization again.", int(s.cfg.Reauthentication.Hours()/24))
	}
	granted := orig.GetGrantedScopes()
	for _, sc := range r.GetRequestedScopes() {
		if !granted.Has(sc) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' was not granted to this refresh token.", sc)
		}
	}
	r.SetID(orig.GetID())
	ns := sess.Clone().(*Session)
	now := s.now()
	ns.SetExpiresAt(fosite.AccessToken, now.Add(s.cfg.AccessTokenLifetime).Round(time.Second))
	ns.SetExpiresAt(fosite.RefreshToken, sess.GetExpiresAt(fosite.RefreshToken))
	if s.cfg.RotateRefreshTokens {
		ns.SetExpiresAt(fosite.RefreshToken, now.Add(s.cfg.RefreshTokenLifetime).Round(time.Second))
	}
	r.SetSession(ns)
	r.SetRequestedScopes(orig.GetRequestedScopes())
	for _, sc := range granted {
		r.GrantScope(sc)
	}
	return nil
}

func (h *refreshHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	s := h.s
	access, accessSig, err := s.strategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	// Signed before anything is written, so a signing failure leaves the
	// refresh token as it was.
	var idt string
	if r.GetGrantedScopes().Has("openid") {
		if idt, err = s.idToken(ctx, r, false); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	storeReq := r.Sanitize(nil)
	storeReq.SetID(r.GetID())
	ctx, err = s.store.BeginTX(ctx)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	defer func() {
		if err != nil {
			_ = s.store.Rollback(ctx)
		}
	}()
	if s.cfg.RotateRefreshTokens {
		oldSig := s.strategy.RefreshTokenSignature(ctx, r.GetRequestForm().Get("refresh_token"))
		if err = s.store.RotateRefreshToken(ctx, r.GetID(), oldSig); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		refresh, refreshSig, gerr := s.strategy.GenerateRefreshToken(ctx, r)
		if gerr != nil {
			err = gerr
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		if err = s.store.CreateRefreshTokenSession(ctx, refreshSig, accessSig, storeReq); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		resp.SetExtra("refresh_token", refresh)
	}
	if err = s.store.CreateAccessTokenSession(ctx, accessSig, storeReq); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if err = s.store.Commit(ctx); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess := sessionOf(r)
	resp.SetAccessToken(access)
	resp.SetTokenType("DPoP")
	resp.SetExpiresIn(sess.GetExpiresAt(fosite.AccessToken).Sub(s.now()).Round(time.Second))
	resp.SetScopes(r.GetGrantedScopes())
	if len(sess.AuthorizationDetails) > 0 {
		resp.SetExtra("authorization_details", sess.AuthorizationDetails)
	}
	if idt != "" {
		resp.SetExtra("id_token", idt)
	}
	return nil
}

// tokenRequest reads what revocation (RFC 7009 §2.1) and introspection
// (RFC 7662 §2.1) share: a form, private_key_jwt client authentication and a
// token parameter. On a refusal it has answered with the RFC 6749 error and
// ok is false.
func (s *Server) tokenRequest(c *gin.Context, path string) (ctx context.Context, client *Client, token string, ok bool) {
	w, r := c.Writer, c.Request
	ctx = withClient(context.WithValue(r.Context(), ctxEndpoint, s.url(path)), nil)
	w.Header().Set("Cache-Control", "no-store")
	empty := fosite.NewAccessRequest(&Session{})
	if err := r.ParseForm(); err != nil {
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The request body is not a valid application/x-www-form-urlencoded form."))
		return ctx, nil, "", false
	}
	client, err := s.authenticate(ctx, r, r.PostForm)
	if err != nil {
		s.provider.WriteAccessError(ctx, w, empty, err)
		return ctx, nil, "", false
	}
	if token = r.PostForm.Get("token"); token == "" {
		s.provider.WriteAccessError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return ctx, nil, "", false
	}
	return ctx, client, token, true
}

// handleRevoke is RFC 7009 revocation: private_key_jwt, own tokens only.
func (s *Server) handleRevoke(c *gin.Context) {
	ctx, client, token, ok := s.tokenRequest(c, pathRevoke)
	if !ok {
		return
	}
	w, r := c.Writer, c.Request
	hint := fosite.TokenType(r.PostForm.Get("token_type_hint"))
	err := s.revoker.RevokeToken(ctx, token, hint, &fositeClient{c: client})
	if errors.Is(err, fosite.ErrUnauthorizedClient) || errors.Is(err, fosite.ErrNotFound) || errors.Is(err, fosite.ErrUnknownRequest) {
		// RFC 7009 §2.2: an unknown token, or another client's, is answered
		// 200 and left alone.
		err = nil
	}
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// handleIntrospect is RFC 7662 introspection: private_key_jwt, own tokens
// only; the answer carries cnf.jkt and authorization_details.
func (s *Server) handleIntrospect(c *gin.Context) {
	ctx, client, token, ok := s.tokenRequest(c, pathIntrospect)
	if !ok {
		return
	}
	out := s.introspect(ctx, client, token, c.Request.PostForm.Get("token_type_hint"))
	if acceptsIntrospectionJWT(c.GetHeader("Accept")) {
		// RFC 9701: a resource server may ask for a signed response.
		signed, err := s.signedIntrospection(ctx, client, out)
		if err != nil {
			s.logServerError("introspect", err)
			s.provider.WriteAccessError(ctx, c.Writer, fosite.NewAccessRequest(&Session{}), fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		c.Data(http.StatusOK, mediaIntrospectionJWT, []byte(signed))
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) introspect(ctx context.Context, client *Client, token, hint string) map[string]any {
	inactive := map[string]any{"active": false}
	kinds := []string{kindAccess, kindRefresh}
	if hint == "refresh_token" {
		kinds = []string{kindRefresh, kindAccess}
	}
	sig := s.strategy.AccessTokenSignature(ctx, token)
	for _, kind := range kinds {
		row, err := s.store.get(ctx, kind, sig)
		if err != nil {
			continue
		}
		if !row.Active || row.ClientID != client.ID || !row.ExpiresAt.After(s.now()) {
			return inactive
		}
		if err := s.strategy.enigma.Validate(ctx, token); err != nil {
			return inactive
		}
		req, err := s.store.decodeRequest(ctx, row.Request, nil)
		if err != nil {
			return inactive
		}
		sess := sessionOf(req)
		if s.deps.Consents != nil {
			for _, id := range sess.consentIDs() {
				if ok, err := s.deps.Consents.Active(ctx, id); err != nil || !ok {
					return inactive
				}
			}
		}
		out := map[string]any{
			"active":    true,
			"client_id": row.ClientID,
			"scope":     row.Scopes,
			"exp":       row.ExpiresAt.Unix(),
			"iat":       row.RequestedAt.Unix(),
			"iss":       s.cfg.Issuer,
		}
		if kind == kindAccess {
			out["token_type"] = "DPoP"
			out["cnf"] = map[string]string{"jkt": row.JKT}
		} else {
			out["token_type"] = "refresh_token"
			out["cnf"] = map[string]string{"jkt": sess.JKT}
		}
		if sess.Subject != "" {
			out["sub"] = s.pairwiseSubject(sess.PartnerID, sess.Subject)
		}
		if len(sess.AuthorizationDetails) > 0 {
			out["authorization_details"] = sess.AuthorizationDetails
		}
		return out
	}
	return inactive
}
