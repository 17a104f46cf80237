package secondfactors

import (
	"context"
	"errors"
	"fmt"

	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// Exemptions is oauth's view (oauth.SCAExemptions) of the bank's
// exemptions from strong customer authentication in oauth/sca: its
// settings, the customers' trusted payees and low-value counters.
type Exemptions struct{ sca *sca.Service }

var _ oauth.SCAExemptions = Exemptions{}

// NewExemptions returns the authorization server's SCA exemptions over svc
// (whose Config.Settings are the bank's).
func NewExemptions(svc *sca.Service) Exemptions { return Exemptions{sca: svc} }

// Assess implements oauth.SCAExemptions with sca.Service.DecidePayment; the
// customer's own accounts are the payee's when the broker found it among
// them (PaymentSummary.PayeeIsOwnAccount).
func (e Exemptions) Assess(ctx context.Context, customerID string, p oauth.PaymentSummary) (oauth.PaymentAssessment, error) {
	payee := sca.Payee{Name: p.PayeeName, Scheme: p.PayeeScheme, Identification: p.PayeeIdentification}
	var own []sca.Account
	if p.PayeeIsOwnAccount {
		own = []sca.Account{payee.Account()}
	}
	d, err := e.sca.DecidePayment(ctx, customerID, p.Amount, payee, own)
	if err != nil {
		return oauth.PaymentAssessment{}, err
	}
	a := oauth.PaymentAssessment{SCARequired: d.SCARequired, Reason: d.Reason}
	switch d.Exemption {
	case sca.ExemptionLowValue:
		a.Exemption = oauth.ExemptionLowValue
	case sca.ExemptionTrustedBeneficiary:
		a.Exemption = oauth.ExemptionTrustedBeneficiary
	case sca.ExemptionOwnAccounts:
		a.Exemption = oauth.ExemptionOwnAccounts
	case "":
	default:
		return oauth.PaymentAssessment{}, fmt.Errorf("secondfactors: exemption %q has no oauth value", d.Exemption)
	}
	return a, nil
}

// Claim implements oauth.SCAExemptions: a low-value exemption counts the
// payment (sca.Service.RecordExempted, atomic on every node).
func (e Exemptions) Claim(ctx context.Context, customerID string, p oauth.PaymentSummary, a oauth.PaymentAssessment) error {
	if a.Exemption != oauth.ExemptionLowValue {
		return nil
	}
	err := e.sca.RecordExempted(ctx, customerID, p.Amount)
	if errors.Is(err, sca.ErrExemptionExhausted) {
		return fmt.Errorf("%w: %w", oauth.ErrExemptionSpent, err)
	}
	return err
}

// AfterSCA implements oauth.SCAExemptions (sca.Service.ResetAfterSCA).
func (e Exemptions) AfterSCA(ctx context.Context, customerID string) error {
	return e.sca.ResetAfterSCA(ctx, customerID)
}

// TrustsPayees implements oauth.SCAExemptions.
func (e Exemptions) TrustsPayees() bool { return e.sca.Settings().TrustedBeneficiaries }

// TrustPayee implements oauth.SCAExemptions (sca.Service.TrustPayee).
func (e Exemptions) TrustPayee(ctx context.Context, customerID string, p oauth.PaymentSummary) error {
	return e.sca.TrustPayee(ctx, customerID, sca.Payee{Name: p.PayeeName, Scheme: p.PayeeScheme, Identification: p.PayeeIdentification})
}
