package corrections

import (
	"context"
	"errors"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/oauth"
)

// The adapters between corrections and apis: the partner API (apis'
// Corrections port on the Service) and the Payments port on apis' store.

// PartnerAPI is apis.Corrections on a Service.
type PartnerAPI struct{ Service *Service }

var _ apis.Corrections = PartnerAPI{}

func partnerView(c *Correction) apis.PaymentCorrection {
	return apis.PaymentCorrection{ID: c.ID, PaymentID: c.PaymentID, Kind: c.Kind, Status: c.Status, Amount: c.Amount,
		Reason: c.Reason, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, PostedAt: c.PostedAt}
}

// RequestCorrection implements apis.Corrections.
func (a PartnerAPI) RequestCorrection(ctx context.Context, ac *oauth.AccessContext, paymentID string, req apis.CorrectionRequest, interactionID string) (*apis.PaymentCorrection, error) {
	c, err := a.Service.RequestByPartner(ctx, PartnerRequest{PartnerID: ac.PartnerID, Environment: ac.Environment,
		ClientID: ac.ClientID, PaymentID: paymentID, Kind: req.Kind, Amount: req.Amount, Reason: req.Reason,
		InteractionID: interactionID})
	if err != nil {
		return nil, err
	}
	v := partnerView(c)
	return &v, nil
}

// PaymentCorrections implements apis.Corrections.
func (a PartnerAPI) PaymentCorrections(ctx context.Context, ac *oauth.AccessContext, paymentID string) ([]apis.PaymentCorrection, error) {
	cs, err := a.Service.PartnerCorrections(ctx, ac.PartnerID, ac.Environment, paymentID)
	if err != nil {
		return nil, err
	}
	out := make([]apis.PaymentCorrection, len(cs))
	for i := range cs {
		out[i] = partnerView(&cs[i])
	}
	return out, nil
}

// APIPayments is the Payments port on apis' store.
type APIPayments struct{ Store apis.Store }

// Payment implements Payments.
func (a APIPayments) Payment(ctx context.Context, id string) (*Payment, error) {
	p, err := a.Store.Payment(ctx, id)
	if errors.Is(err, apis.ErrNotFound) {
		return nil, ErrPaymentNotFound
	}
	if err != nil {
		return nil, err
	}
	out := &Payment{ID: p.ID, PartnerID: p.PartnerID, ClientID: p.ClientID, Environment: p.Environment, CustomerID: p.CustomerID,
		Amount: p.Amount, Status: p.Status,
		Accepted: p.Status == apis.PaymentAcceptedSettlementInProcess || p.Status == apis.PaymentAcceptedSettlementCompleted}
	if p.Initiation != nil {
		out.CreditorName, out.Reference = p.Initiation.CreditorAccount.Name, p.Initiation.Reference()
	}
	return out, nil
}
