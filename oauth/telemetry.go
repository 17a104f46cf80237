package oauth

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
)

// TokenOutcome is what the token endpoint answered one request, left in the
// gin context (TokenOutcomeOf) for the platform's metrics and access log.
type TokenOutcome struct {
	// Error is the OAuth error code the request was refused with (RFC 6749
	// §5.2, RFC 9449 §7); empty when tokens were issued.
	Error string
	// ClientID and PartnerID are the authenticated client's, when client
	// authentication passed; empty otherwise.
	ClientID, PartnerID string
}

// keyTokenOutcome is the gin context key of the request's *TokenOutcome.
const keyTokenOutcome = "oauth.token_outcome"

// keyRequestClient is the gin context key of the *clientMemo of a request
// to the authorization server's endpoints (PAR, authorize, token).
const keyRequestClient = "oauth.request_client"

// RequestClientOf returns the registered client a PAR, authorize or token
// request named, once the server looked it up (whether or not it then
// authenticated); nil when c was not such a request or named no registered
// client. The platform attributes the request to the client's environment
// with it (monitoring's published statistics).
func RequestClientOf(c *gin.Context) *Client {
	v, ok := c.Get(keyRequestClient)
	if !ok {
		return nil
	}
	return v.(*clientMemo).c
}

// withRequestClient is withClient whose memo the gin context also holds
// (RequestClientOf).
func withRequestClient(c *gin.Context, ctx context.Context) context.Context {
	ctx = withClient(ctx, nil)
	c.Set(keyRequestClient, ctx.Value(ctxClient))
	return ctx
}

// tokenOutcomeKey is the context key under which the provider's writers
// find the request's *TokenOutcome.
type tokenOutcomeKey struct{}

// TokenOutcomeOf returns what the token endpoint answered the request of c;
// nil when c was not a token endpoint request or nothing was answered.
func TokenOutcomeOf(c *gin.Context) *TokenOutcome {
	v, ok := c.Get(keyTokenOutcome)
	if !ok {
		return nil
	}
	return v.(*TokenOutcome)
}

// noteTokenOutcome gives the token request of c a TokenOutcome, filled by
// observedProvider when the answer is written.
func noteTokenOutcome(c *gin.Context, ctx context.Context) context.Context {
	o := &TokenOutcome{}
	c.Set(keyTokenOutcome, o)
	return context.WithValue(ctx, tokenOutcomeKey{}, o)
}

// observedProvider is fosite's provider whose token endpoint writers record
// the request's TokenOutcome: every answer of the token endpoint goes
// through one of them, so every outcome is seen once.
type observedProvider struct{ fosite.OAuth2Provider }

func (p observedProvider) note(ctx context.Context, req fosite.AccessRequester, err error) {
	o, ok := ctx.Value(tokenOutcomeKey{}).(*TokenOutcome)
	if !ok {
		return
	}
	o.Error = ""
	if err != nil {
		o.Error = fosite.ErrorToRFC6749Error(err).ErrorField
	}
	if req != nil {
		if cl := clientOf(req.GetClient()); cl != nil {
			o.ClientID, o.PartnerID = cl.ID, cl.PartnerID
		}
	}
}

func (p observedProvider) WriteAccessError(ctx context.Context, rw http.ResponseWriter, req fosite.AccessRequester, err error) {
	p.note(ctx, req, err)
	p.OAuth2Provider.WriteAccessError(ctx, rw, req, err)
}

func (p observedProvider) WriteAccessResponse(ctx context.Context, rw http.ResponseWriter, req fosite.AccessRequester, resp fosite.AccessResponder) {
	p.note(ctx, req, nil)
	p.OAuth2Provider.WriteAccessResponse(ctx, rw, req, resp)
}
