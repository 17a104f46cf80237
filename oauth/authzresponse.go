package oauth

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/ory/fosite"
)

// JWT Secured Authorization Response Mode (JARM, FAPI 2.0 Message Signing):
// response_mode=jwt (for response_type=code the same as query.jwt) sends the
// authorization response, success or error, as one signed JWT in the
// "response" query parameter.
const (
	responseModeJWT      fosite.ResponseModeType = "jwt"
	responseModeQueryJWT fosite.ResponseModeType = "query.jwt"
	// jarmLifetime is the exp of an authorization response JWT: it is read
	// by the client right after the redirect.
	jarmLifetime = 2 * time.Minute
)

// jarmModes is fosite's extension point for the JARM response modes, so that
// its request parsing accepts them; Bankbridge's own writers below answer
// them, and fosite's writers come here too.
type jarmModes struct{ s *Server }

func (jarmModes) ResponseModes() fosite.ResponseModeTypes {
	return fosite.ResponseModeTypes{responseModeJWT, responseModeQueryJWT}
}

func (j jarmModes) WriteAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	j.s.writeAuthorizeResponse(ctx, w, ar, resp)
}

func (j jarmModes) WriteAuthorizeError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	j.s.writeAuthorizeErrorRedirect(ctx, w, ar, ar.GetRedirectURI(), err)
}

func isJARM(m fosite.ResponseModeType) bool {
	return m == responseModeJWT || m == responseModeQueryJWT
}

// writeAuthorizeResponse sends the authorization response to the client's
// redirect URI. Query and JARM responses are written here rather than by
// fosite so that a request without state gets a response without state
// (OAuth 2.1 §4.1.2: state is returned only "if the state parameter was
// present"); fosite would send an empty "state=".
func (s *Server) writeAuthorizeResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	mode := ar.GetResponseMode()
	if mode != fosite.ResponseModeQuery && mode != fosite.ResponseModeDefault && !isJARM(mode) {
		s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
		return
	}
	params := url.Values{}
	for k, v := range resp.GetParameters() {
		if k == "state" && ar.GetState() == "" {
			continue
		}
		params[k] = v
	}
	for k := range resp.GetHeader() {
		w.Header().Set(k, resp.GetHeader().Get(k))
	}
	if isJARM(mode) {
		s.redirectJARM(ctx, w, ar, ar.GetRedirectURI(), params)
		return
	}
	redirectWithQuery(w, ar.GetRedirectURI(), params)
}

// writeAuthorizeErrorRedirect sends an error to the client's (validated)
// redirect URI u (which carries iss, RFC 9207), with state only when the
// request carried one; a JARM request gets it signed instead, iss inside.
func (s *Server) writeAuthorizeErrorRedirect(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, u *url.URL, err error) {
	mode := ar.GetResponseMode()
	if mode != fosite.ResponseModeQuery && mode != fosite.ResponseModeDefault && !isJARM(mode) {
		s.provider.WriteAuthorizeError(ctx, w, &issRedirect{AuthorizeRequest: ar.(*fosite.AuthorizeRequest), u: u}, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err).
		WithLegacyFormat(s.fcfg.GetUseLegacyErrorFormat(ctx)).
		WithExposeDebug(s.fcfg.GetSendDebugMessagesToClients(ctx))
	params := rfc.ToValues()
	if st := ar.GetState(); st != "" {
		params.Set("state", st)
	}
	if isJARM(mode) {
		params.Set("iss", s.cfg.Issuer)
		s.redirectJARM(ctx, w, ar, ar.GetRedirectURI(), params)
		return
	}
	redirectWithQuery(w, u, params)
}

// redirectJARM signs params (JARM §2.1: iss, aud = client_id, exp) and
// redirects to u with the JWT as "response" (JARM §2.3.1, query.jwt).
func (s *Server) redirectJARM(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, u *url.URL, params url.Values) {
	now := s.now()
	claims := map[string]any{}
	for k := range params {
		claims[k] = params.Get(k)
	}
	claims["iss"] = s.cfg.Issuer
	claims["aud"] = ar.GetClient().GetID()
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(jarmLifetime).Unix()
	signed, err := s.signJWT(ctx, "JWT", claims)
	if err != nil {
		// Nothing can be sent to the client unsigned.
		s.logServerError("authorize", err)
		http.Error(w, "The bank could not complete this request. Please go back to the app and try again.", http.StatusInternalServerError)
		return
	}
	redirectWithQuery(w, u, url.Values{"response": {signed}})
}

// redirectWithQuery answers 303 to u with params added to its query
// (RFC 6749 §3.1.2: the redirect URI's own query is kept).
func redirectWithQuery(w http.ResponseWriter, u *url.URL, params url.Values) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	target := *u
	target.Fragment = ""
	q := target.Query()
	for k, v := range params {
		q[k] = v
	}
	target.RawQuery = q.Encode()
	w.Header().Set("Location", target.String())
	w.WriteHeader(http.StatusSeeOther)
}
