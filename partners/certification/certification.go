// Package certification holds the platform's integration checks a partner's
// sandbox app must pass before go-live (partners.CertificationEvidence): a
// pushed, DPoP-bound code flow, an account read, a payment with an
// idempotency key and a webhook endpoint that acknowledged a signed
// delivery. Each check reads the evidence the platform already keeps (the
// authorization server's token rows, the partner API request log, the
// webhook delivery attempts) through a small interface of its own.
package certification

import (
	"context"
	"fmt"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/webhooks"
)

// Certification check names, in the order they run and are shown.
const (
	CheckCodeFlow = "PAR + DPoP code flow"
	CheckAccounts = "Account read"
	CheckPayment  = "Payment with idempotency key"
	CheckWebhooks = "Verified webhook endpoint"
)

// TokenEvidence finds a DPoP-bound access token from a pushed authorization
// code flow among clientIDs' tokens (implemented by *oauth.Store).
type TokenEvidence interface {
	DPoPCodeFlow(ctx context.Context, clientIDs []string) (*oauth.CodeFlowEvidence, error)
}

// CallEvidence finds the latest 2xx partner API call of clientIDs whose path
// starts with pathPrefix (implemented by *apis.Service over the request log).
type CallEvidence interface {
	LatestSuccess(ctx context.Context, clientIDs []string, method, pathPrefix string) (*apis.RequestLogEntry, error)
}

// WebhookEvidence finds an enabled endpoint of the app that acknowledged a
// signed delivery (implemented by *webhooks.Service).
type WebhookEvidence interface {
	VerifiedEndpoint(ctx context.Context, partnerID, appID string) (*webhooks.EndpointEvidence, error)
}

// Certifier implements partners.CertificationEvidence over the app's real
// sandbox traffic.
type Certifier struct {
	tokens TokenEvidence
	calls  CallEvidence
	hooks  WebhookEvidence // nil: the webhook check is skipped
	// checks run in order; each answers one CertificationCheck.
	checks []func(ctx context.Context, partnerID, appID string) (partners.CertificationCheck, error)
}

var _ partners.CertificationEvidence = (*Certifier)(nil)

// New returns the checks over the given evidence. hooks may be nil: the
// webhook check is then reported as skipped (passed).
func New(tokens TokenEvidence, calls CallEvidence, hooks WebhookEvidence) *Certifier {
	c := &Certifier{tokens: tokens, calls: calls, hooks: hooks}
	c.checks = append(c.checks, c.checkCodeFlow, c.checkAccountRead, c.checkPayment, c.checkWebhookEndpoint)
	return c
}

// Checks implements partners.CertificationEvidence: every check, in order.
func (c *Certifier) Checks(ctx context.Context, partnerID, appID string) ([]partners.CertificationCheck, error) {
	out := make([]partners.CertificationCheck, 0, len(c.checks))
	for _, check := range c.checks {
		r, err := check(ctx, partnerID, appID)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func at(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// checkCodeFlow: a DPoP-bound access token issued to the app for an
// authorization_code grant (every authorization request is pushed: PAR is
// enforced by the authorization server).
func (c *Certifier) checkCodeFlow(ctx context.Context, _, appID string) (partners.CertificationCheck, error) {
	r := partners.CertificationCheck{Name: CheckCodeFlow}
	ev, err := c.tokens.DPoPCodeFlow(ctx, []string{appID})
	if err != nil {
		return r, fmt.Errorf("code flow evidence: %w", err)
	}
	if ev == nil {
		r.Detail = "No DPoP-bound access token from a pushed (PAR) authorization-code flow was issued to " + appID + "."
		return r, nil
	}
	r.Passed = true
	r.Detail = "Authorization request pushed (PAR is enforced), code exchanged for a DPoP-bound access token."
	r.Evidence = map[string]any{"client_id": ev.ClientID, "grant_id": ev.GrantID, "jkt": ev.JKT,
		"issued_at": at(ev.IssuedAt), "grant_type": "authorization_code", "par_enforced": true}
	if ev.PARJKT != "" {
		r.Evidence["par_dpop_jkt"] = ev.PARJKT
	}
	return r, nil
}

// checkAccountRead: a 2xx GET on the accounts API.
func (c *Certifier) checkAccountRead(ctx context.Context, _, appID string) (partners.CertificationCheck, error) {
	r := partners.CertificationCheck{Name: CheckAccounts}
	path := apis.BasePath + "/aisp/accounts"
	e, err := c.calls.LatestSuccess(ctx, []string{appID}, "GET", path)
	if err != nil {
		return r, fmt.Errorf("account read evidence: %w", err)
	}
	if e == nil {
		r.Detail = "No successful GET " + path + "… by " + appID + " in the request log."
		return r, nil
	}
	r.Passed, r.Detail = true, "Accounts read with a customer's consent."
	r.Evidence = map[string]any{"request_log_id": e.ID, "at": at(e.At), "method": e.Method, "path": e.Path,
		"status": e.Status, "interaction_id": e.InteractionID}
	return r, nil
}

// checkPayment: a 2xx POST of a domestic payment; the API refuses that POST
// without an x-idempotency-key header, so a success proves the key was sent.
func (c *Certifier) checkPayment(ctx context.Context, _, appID string) (partners.CertificationCheck, error) {
	r := partners.CertificationCheck{Name: CheckPayment}
	path := apis.BasePath + "/pisp/domestic-payments"
	e, err := c.calls.LatestSuccess(ctx, []string{appID}, "POST", path)
	if err == nil && e != nil && e.Path != path {
		e = nil // only the collection itself
	}
	if err != nil {
		return r, fmt.Errorf("payment evidence: %w", err)
	}
	if e == nil {
		r.Detail = "No successful POST " + path + " (with " + apis.IdempotencyHeader + ") by " + appID + " in the request log."
		return r, nil
	}
	r.Passed, r.Detail = true, "Payment submitted with an idempotency key."
	r.Evidence = map[string]any{"request_log_id": e.ID, "at": at(e.At), "method": e.Method, "path": e.Path,
		"status": e.Status, "interaction_id": e.InteractionID, "idempotency_header": apis.IdempotencyHeader}
	return r, nil
}

// checkWebhookEndpoint: an enabled webhook endpoint of the app that
// acknowledged a signed delivery (e.g. the portal's or API's test event) with
// a 2xx. Without the webhooks service the check is skipped (not failed).
func (c *Certifier) checkWebhookEndpoint(ctx context.Context, partnerID, appID string) (partners.CertificationCheck, error) {
	r := partners.CertificationCheck{Name: CheckWebhooks}
	if c.hooks == nil {
		r.Passed, r.Detail = true, "Skipped: webhook endpoint verification is not yet available."
		r.Evidence = map[string]any{"skipped": true, "reason": "not yet available"}
		return r, nil
	}
	ev, err := c.hooks.VerifiedEndpoint(ctx, partnerID, appID)
	if err != nil {
		return r, fmt.Errorf("webhook evidence: %w", err)
	}
	if ev == nil {
		r.Detail = "No enabled webhook endpoint of " + appID + " has acknowledged a signed delivery with a 2xx (send it a test event)."
		return r, nil
	}
	r.Passed, r.Detail = true, "Webhook endpoint acknowledged a signed delivery."
	r.Evidence = map[string]any{"endpoint_id": ev.EndpointID, "url": ev.URL, "signing": ev.Signing, "event_id": ev.EventID,
		"event_type": ev.EventType, "status_code": ev.StatusCode, "at": at(ev.At)}
	return r, nil
}
