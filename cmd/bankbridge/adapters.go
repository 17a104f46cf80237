package main

import (
	"context"
	"errors"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/web"
)

// sandboxFactors enrols the sandbox personas' authenticator apps in
// oauth/sca for the reference core's Seed: a persona whose app is already
// active keeps it.
type sandboxFactors struct{ sca *sca.Service }

// EnrollSandboxTOTP implements core.SandboxFactors.
func (f sandboxFactors) EnrollSandboxTOTP(ctx context.Context, customerID, username, secret string) error {
	if _, err := f.sca.EnrollTOTP(ctx, customerID, username, secret); err != nil && !errors.Is(err, sca.ErrTOTPEnrolled) {
		return err
	}
	return nil
}

// customerConsents shows apis consents on the customer's dashboard, with the
// partner's and app's names from partners.
type customerConsents struct {
	apis     *apis.Service
	partners *partners.Service
	core     core.Core
}

func (c customerConsents) ListForCustomer(ctx context.Context, customerID string) ([]web.CustomerConsent, error) {
	list, err := c.apis.ListForCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]web.CustomerConsent, 0, len(list))
	for i := range list {
		x := &list[i]
		v := web.CustomerConsent{ID: x.ID, Kind: x.Title(), Status: x.Status, Active: x.Status == apis.StatusAuthorised && !x.Expired(time.Now()),
			Permissions: x.PlainLines(), AuthorisedAt: x.StatusUpdatedAt, ExpiresAt: x.ExpiresAt,
			PartnerName: x.PartnerID, AppName: x.ClientID}
		for _, id := range x.AccountIDs {
			if a, err := c.core.Account(ctx, id); err == nil {
				v.Accounts = append(v.Accounts, apis.AccountDisplay(a))
			}
		}
		if pt, err := c.partners.Partner(ctx, x.PartnerID); err == nil {
			v.PartnerName = pt.Name()
		}
		if app, err := c.partners.App(ctx, x.ClientID); err == nil {
			v.AppName = app.Name
		}
		out = append(out, v)
	}
	return out, nil
}

func (c customerConsents) RevokeByCustomer(ctx context.Context, customerID, consentID string) error {
	return c.apis.RevokeByCustomer(ctx, customerID, consentID)
}

// requestLog shows the apis request log in the portal.
type requestLog struct{ apis *apis.Service }

func (r requestLog) RequestLog(ctx context.Context, partnerID, clientID string, f web.RequestLogFilter) ([]web.RequestLogEntry, error) {
	rows, err := r.apis.RequestLog(ctx, partnerID, clientID, apis.RequestLogFilter{Query: f.Path, Status: f.Status, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]web.RequestLogEntry, 0, len(rows))
	for _, x := range rows {
		if f.InteractionID != "" && x.InteractionID != f.InteractionID {
			continue
		}
		out = append(out, web.RequestLogEntry{Time: x.At, Method: x.Method, Path: x.Path, Status: x.Status,
			Latency: time.Duration(x.LatencyUS) * time.Microsecond, InteractionID: x.InteractionID, ProblemType: x.ProblemType})
	}
	return out, nil
}

// sandboxReset lets a portal member reset their partner's own sandbox data
// (apis.Service.ResetSandbox), audited as the portal user.
type sandboxReset struct{ apis *apis.Service }

func (r sandboxReset) ResetSandbox(ctx context.Context, partnerID, userID string) (*web.SandboxResetResult, error) {
	rep, err := r.apis.ResetSandbox(ctx, partnerID, apis.Actor{Type: audit.ActorPartner, ID: userID})
	if err != nil {
		return nil, err
	}
	out := toWebReset(rep)
	return &out, nil
}

func toWebReset(r *apis.SandboxReset) web.SandboxResetResult {
	return web.SandboxResetResult{ConsentsRevoked: r.ConsentsRevoked, PaymentsReversed: r.PaymentsReversed,
		PaymentsNotReversed: len(r.NotReversed), ReversalUnsupported: r.ReversalUnsupported,
		RequestLogDeleted: r.RequestLogDeleted, IdempotencyKeysDeleted: r.IdempotencyKeysDeleted}
}
