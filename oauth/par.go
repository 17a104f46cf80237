package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// pkceChallenge is a base64url SHA-256 (43 characters).
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// unsupportedAuthorizeParams are authorization request parameters Bankbridge
// does not support, refused at PAR with a precise error.
var unsupportedAuthorizeParams = map[string]*fosite.RFC6749Error{
	"registration": fosite.ErrRegistrationNotSupported.WithHint("The 'registration' parameter is not supported."),
}

// handlePAR is the pushed authorization request endpoint (RFC 9126).
func (s *Server) handlePAR(c *gin.Context) {
	w, r := c.Writer, c.Request
	ctx := withRequestClient(c, context.WithValue(r.Context(), ctxEndpoint, s.url(pathPAR)))
	w.Header().Set("Cache-Control", "no-store")
	empty := fosite.NewAuthorizeRequest()
	if err := r.ParseForm(); err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, empty, fosite.ErrInvalidRequest.WithHint("The request body is not a valid application/x-www-form-urlencoded form."))
		return
	}
	// RFC 9101: a signed request object's claims replace the form.
	signedRequest, err := s.applyRequestObject(ctx, r)
	if err != nil {
		s.provider.WritePushedAuthorizeError(ctx, w, empty, err)
		return
	}
	// RFC 9449 §10: a DPoP proof at PAR binds the code to its key; dpop_jkt
	// does so without a proof; both present must agree. With the SQL replay
	// store on our database, the proof's id is recorded with the client
	// assertion's, as at the token endpoint (pendingWrites): one write.
	var jkt string
	var pw *pendingWrites
	if len(r.Header.Values("DPoP")) > 0 {
		deferIDs := s.store.defersIDs()
		proof, err := s.verifyProof(ctx, r, s.url(pathPAR), dpop.VerifyOptions{DeferReplay: s.store.replay != nil})
		if err != nil {
			s.writeProofError(ctx, w, err, func(e error) { s.provider.WritePushedAuthorizeError(ctx, w, empty, e) })
			return
		}
		jkt = proof.JKT
		if deferIDs {
			pw = &pendingWrites{}
			if s.store.replay != nil {
				pw.proof = proof
			}
			ctx = context.WithValue(ctx, ctxPending, pw)
		}
	}
	// refuse answers err, once the ids verified so far are recorded (a
	// replay among them is the answer then).
	refuse := func(ar fosite.AuthorizeRequester, err error) {
		s.provider.WritePushedAuthorizeError(ctx, w, ar, s.refusalAfter(ctx, pw, err))
	}
	if dj := r.PostForm.Get("dpop_jkt"); dj != "" {
		if jkt != "" && dj != jkt {
			refuse(empty, errDPoPProof("The dpop_jkt parameter does not match the key of the DPoP proof."))
			return
		}
		jkt = dj
	}
	for p, e := range unsupportedAuthorizeParams {
		if r.PostForm.Has(p) {
			refuse(empty, e)
			return
		}
	}
	ar, err := s.provider.NewPushedAuthorizeRequest(ctx, r)
	if err != nil && errors.Is(err, fosite.ErrInvalidState) && ar != nil && ar.GetClient() != nil {
		// OAuth 2.1 §4.1.1 and FAPI 2.0: with PKCE, state is optional and
		// of any length. fosite v0.49 always demands 8 characters (a
		// MinParameterEntropy of 0 or less means its default 8); its state
		// check is the last step of the request's validation, so the
		// request is otherwise complete and valid.
		err = nil
	}
	if err != nil {
		refuse(ar, err)
		return
	}
	client := clientOf(ar.GetClient())
	if client.RequireSignedRequestObject && !signedRequest {
		// RFC 9101 §10.5.
		refuse(ar, fosite.ErrInvalidRequest.WithHint("The client requires signed request objects (require_signed_request_object): push the authorization parameters in a 'request' JWT."))
		return
	}
	if !client.grantTypes().Has(GrantAuthorizationCode) {
		refuse(ar, errCodeNotRegistered(client))
		return
	}
	if err := s.checkPushed(r); err != nil {
		refuse(ar, err)
		return
	}
	acr, err := parseACRRequest(r.PostForm)
	if err != nil {
		refuse(ar, err)
		return
	}
	details, err := s.parseDetails(ctx, client, r.PostForm["authorization_details"])
	if err != nil {
		refuse(ar, err)
		return
	}
	sess := &Session{
		ClientID:             client.ID,
		PartnerID:            client.PartnerID,
		Environment:          client.Environment,
		CodeJKT:              jkt,
		AuthorizationDetails: details,
		Nonce:                r.PostForm.Get("nonce"),
		RequestedACR:         acr,
	}
	if err := s.store.flushPending(ctx, pw); err != nil {
		// Not reached with fosite's client authentication (it records the
		// ids); kept so nothing is stored before they are.
		var rfc *fosite.RFC6749Error
		if !errors.As(err, &rfc) {
			err = fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		refuse(ar, err)
		return
	}
	resp, err := s.provider.NewPushedAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.logServerError("par", err)
		refuse(ar, err)
		return
	}
	s.provider.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// errCodeNotRegistered refuses response_type code to a client that did not
// register the authorization_code grant (RFC 6749 §4.1.2.1 unauthorized_client).
func errCodeNotRegistered(c *Client) *fosite.RFC6749Error {
	return fosite.ErrUnauthorizedClient.WithHintf("The client is not registered for the grant type '%s', so it may not request response_type 'code' (its grant types: %s).",
		GrantAuthorizationCode, strings.Join(c.grantTypes(), ", "))
}

// checkPushed enforces the FAPI 2.0 profile on the pushed parameters fosite
// leaves open: response_type=code only, redirect_uri present, PKCE S256.
func (s *Server) checkPushed(r *http.Request) error {
	f := r.PostForm
	if rt := f.Get("response_type"); rt != "code" {
		return fosite.ErrUnsupportedResponseType.WithHintf("Only response_type 'code' is supported, got '%s'.", rt)
	}
	if f.Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("The redirect_uri parameter is required.")
	}
	switch m := f.Get("code_challenge_method"); m {
	case "S256":
	case "plain":
		return fosite.ErrInvalidRequest.WithHint("Clients must use code_challenge_method=S256, plain is not allowed.")
	case "":
		if f.Get("code_challenge") == "" {
			return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
		}
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method parameter is required and must be S256.")
	default:
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method is not supported, use S256 instead.")
	}
	if ch := f.Get("code_challenge"); ch == "" {
		return fosite.ErrInvalidRequest.WithHint("Clients must include a code_challenge when performing the authorize code flow, but it is missing.")
	} else if !pkceChallenge.MatchString(ch) {
		return fosite.ErrInvalidRequest.WithHint("The code_challenge must be the base64url SHA-256 of the code verifier (43 characters).")
	}
	return nil
}

// parseAuthorizationDetails parses the RFC 9396 authorization_details
// parameter: a JSON array of objects each with a string "type".
func parseAuthorizationDetails(values []string) ([]AuthorizationDetail, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > 1 {
		return nil, fosite.ErrInvalidRequest.WithHint("The authorization_details parameter may appear only once.")
	}
	raw := strings.TrimSpace(values[0])
	if raw == "" {
		return nil, nil
	}
	if len(raw) > 64<<10 {
		return nil, fosite.ErrInvalidRequest.WithHint("The authorization_details parameter is too large.")
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil || items == nil {
		return nil, errInvalidDetails("authorization_details must be a JSON array of objects.")
	}
	if len(items) == 0 {
		return nil, errInvalidDetails("authorization_details must not be empty.")
	}
	out := make([]AuthorizationDetail, 0, len(items))
	for i, it := range items {
		var d AuthorizationDetail
		if err := json.Unmarshal(it, &d); err != nil {
			return nil, errInvalidDetails("authorization_details entry " + itoa(i) + ": " + err.Error() + ".")
		}
		if d.Type == "" {
			return nil, errInvalidDetails("authorization_details entry " + itoa(i) + " has an empty type.")
		}
		out = append(out, d)
	}
	return out, nil
}

// parseDetails parses and validates authorization_details with the consent broker.
func (s *Server) parseDetails(ctx context.Context, client *Client, values []string) ([]AuthorizationDetail, error) {
	details, err := parseAuthorizationDetails(values)
	if err != nil || len(details) == 0 {
		return nil, err
	}
	if s.deps.Consents == nil {
		return nil, errInvalidDetails("authorization_details type '" + details[0].Type + "' is not supported.")
	}
	supported := map[string]bool{}
	for _, t := range s.deps.Consents.Types() {
		supported[t] = true
	}
	for _, d := range details {
		if !supported[d.Type] {
			return nil, errInvalidDetails("authorization_details type '" + d.Type + "' is not supported.")
		}
	}
	if err := s.deps.Consents.CheckPushed(ctx, client, details); err != nil {
		if errors.Is(err, ErrInvalidAuthorizationDetails) {
			return nil, errInvalidDetails(err.Error())
		}
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return details, nil
}

// errInvalidDetails is RFC 9396 §5's invalid_authorization_details.
func errInvalidDetails(hint string) *fosite.RFC6749Error {
	e := &fosite.RFC6749Error{
		ErrorField:       "invalid_authorization_details",
		DescriptionField: "The authorization_details are not valid.",
		CodeField:        http.StatusBadRequest,
	}
	return e.WithHint(hint)
}

// errDPoPProof is RFC 9449's invalid_dpop_proof.
func errDPoPProof(hint string) *fosite.RFC6749Error {
	e := &fosite.RFC6749Error{
		ErrorField:       "invalid_dpop_proof",
		DescriptionField: "The DPoP proof is not valid.",
		CodeField:        http.StatusBadRequest,
	}
	return e.WithHint(hint)
}

// errUseDPoPNonce is RFC 9449 §8's use_dpop_nonce.
func errUseDPoPNonce(hint string) *fosite.RFC6749Error {
	e := &fosite.RFC6749Error{
		ErrorField:       "use_dpop_nonce",
		DescriptionField: "The DPoP proof must carry the server-provided nonce.",
		CodeField:        http.StatusBadRequest,
	}
	return e.WithHint(hint)
}

// verifyProof checks the request's DPoP proof for POST url.
func (s *Server) verifyProof(ctx context.Context, r *http.Request, url string, opts dpop.VerifyOptions) (*dpop.Proof, error) {
	proof, err := dpop.FromHeader(r.Header)
	if err != nil {
		return nil, err
	}
	return s.dpop.Verify(ctx, proof, r.Method, url, opts)
}

// writeProofError answers a DPoP refusal at an authorization server endpoint
// (400, with a fresh DPoP-Nonce for use_dpop_nonce).
func (s *Server) writeProofError(_ context.Context, w http.ResponseWriter, err error, write func(error)) {
	var de *dpop.Error
	if !errors.As(err, &de) {
		write(fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	if de.Code == dpop.CodeUseNonce {
		w.Header().Set("DPoP-Nonce", s.nonces.Nonce())
		write(errUseDPoPNonce(de.Description + "."))
		return
	}
	write(errDPoPProof(de.Description + "."))
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
