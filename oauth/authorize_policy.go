package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/ory/fosite"
)

// When strong customer authentication is needed (PSD2 RTS art. 4, 10–18),
// decided once after the password (which page follows) and again at
// approval (what is authorised then):
//
//   - a customer with a second factor performs SCA for account access and
//     data sharing (the first authorisation of each consent: RTS art. 10a
//     renews it through Config.Reauthentication), for a request without
//     authorization_details, for an essential acr of ACRStrong, and for a
//     payment no exemption spares (SCAExemptions.Assess);
//   - a payment an exemption spares is authorised after the password alone
//     (acr ACRPassword) and the exemption is claimed at approval;
//   - a customer without a second factor may grant account access with the
//     password alone unless Config.RequireSCAForAccountAccess (production
//     customers only: sandbox personas are synthetic), and cannot
//     authorise a payment that needs SCA: the no-second-factor page says how
//     to enrol and the partner gets access_denied (hintNoFactorPayment).
//
// Without SecondFactors nobody is asked for a second factor.

// The access_denied hints of an authorization that needs SCA from a
// customer without a second factor.
const (
	hintNoFactorPayment = "The payment needs strong customer authentication and the customer has no second factor (authenticator app or passkey) set up."
	hintNoFactorAccess  = "The bank requires strong customer authentication for account access and the customer has no second factor (authenticator app or passkey) set up."
	hintExemptionSpent  = "The payment needs strong customer authentication: the low-value exemption's limits were reached while the customer was deciding."
)

// The reasons recorded on a consent authorised without an exemption.
const (
	reasonSCA            = "the customer performed strong customer authentication"
	reasonNoFactorAccess = "the customer has no second factor; the bank allows account access with the password alone"
	// reasonRiskSCA is the assessment of a payment the bank's risk scoring
	// asks SCA for (PaymentSummary.RiskRequiresSCA): no exemption is tried.
	reasonRiskSCA = "the bank's risk scoring requires strong customer authentication"
)

// scaPlan is what one interaction's authorization needs of the customer.
type scaPlan struct {
	// descs are the request's consents as described now.
	descs []ConsentDescription
	// factors are the customer's second factors; hasFactor is
	// factors.Any().
	factors   EnrolledFactors
	hasFactor bool
	// sca: the customer confirms with a second factor (the SCA page).
	sca bool
	// refusal is the access_denied hint when the authorization cannot be
	// given (SCA needed, no second factor); "" otherwise.
	refusal string
	// payments are the assessments of the payment consents, by consent id.
	payments map[string]PaymentAssessment
}

// planSCA decides what the customer's authorization of ar needs.
func (s *Server) planSCA(ctx context.Context, client *Client, customerID string, ar fosite.AuthorizeRequester) (scaPlan, error) {
	descs, err := s.describe(ctx, client, customerID, ar)
	if err != nil {
		return scaPlan{}, err
	}
	p := scaPlan{descs: descs, payments: map[string]PaymentAssessment{}}
	if s.deps.SecondFactors == nil {
		return p, nil
	}
	if p.factors, err = s.enrolled(ctx, customerID); err != nil {
		return scaPlan{}, err
	}
	p.hasFactor = p.factors.Any()
	strong := len(descs) == 0 // a sign-in without consents: SCA when possible
	if sess := sessionOf(ar); sess != nil && !meetsEssentialACR(sess.RequestedACR, ACRPassword) {
		strong = true
	}
	paymentNeedsSCA, accessNeedsSCA := false, false
	for _, d := range descs {
		if d.Payment == nil {
			strong = true
			accessNeedsSCA = accessNeedsSCA || s.cfg.RequireSCAForAccountAccess && client.Environment == environment.Production
			continue
		}
		a := PaymentAssessment{SCARequired: true, Reason: "no exemption applies"}
		if d.Payment.RiskRequiresSCA {
			a.Reason = reasonRiskSCA
		} else if s.deps.Exemptions != nil {
			if a, err = s.deps.Exemptions.Assess(ctx, customerID, *d.Payment); err != nil {
				return scaPlan{}, err
			}
		}
		p.payments[d.ConsentID] = a
		if a.SCARequired {
			strong, paymentNeedsSCA = true, true
		}
	}
	switch {
	case p.hasFactor:
		p.sca = strong
	case paymentNeedsSCA:
		p.refusal = hintNoFactorPayment
	case accessNeedsSCA:
		p.refusal = hintNoFactorAccess
	}
	return p, nil
}

// authorisations is how each consent of p is authorised by auth: SCA, or
// the exemption of a payment, or the password alone.
func (p scaPlan) authorisations(auth Authentication) map[string]ConsentAuthorisation {
	out := make(map[string]ConsentAuthorisation, len(p.descs))
	for _, d := range p.descs {
		ca := ConsentAuthorisation{ACR: auth.ACR, AMR: append([]string(nil), auth.AMR...)}
		a, isPayment := p.payments[d.ConsentID]
		switch {
		case auth.ACR == ACRStrong:
			ca.Reason = reasonSCA
		case isPayment && !a.SCARequired:
			ca.Exemption, ca.Reason = a.Exemption, a.Reason
		case !isPayment && !p.hasFactor:
			ca.Reason = reasonNoFactorAccess
		}
		out[d.ConsentID] = ca
	}
	return out
}

// claimExemptions spends the exemptions of p's payments authorised without
// SCA (the low-value counters). Errors are the access_denied or
// server_error to send the client.
func (s *Server) claimExemptions(ctx context.Context, customerID string, p scaPlan) error {
	if s.deps.Exemptions == nil {
		return nil
	}
	for _, d := range p.descs {
		a, ok := p.payments[d.ConsentID]
		if !ok || a.SCARequired {
			continue
		}
		err := s.deps.Exemptions.Claim(ctx, customerID, *d.Payment, a)
		switch {
		case errors.Is(err, ErrExemptionSpent):
			return fosite.ErrAccessDenied.WithHint(hintExemptionSpent)
		case err != nil:
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	return nil
}

// afterSCA resets what counts towards the exemptions once the customer
// performed SCA; a failure is logged (the counters only make the next
// exempt payment need SCA sooner).
func (s *Server) afterSCA(ctx context.Context, customerID string) {
	if s.deps.Exemptions == nil {
		return
	}
	if err := s.deps.Exemptions.AfterSCA(ctx, customerID); err != nil {
		s.log.Error("oauth: reset SCA exemption counters", "err", err)
	}
}

// showNoSecondFactor renders the page that tells a customer without a
// second factor how to enrol one.
func (s *Server) showNoSecondFactor(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, client *Client, customerID string, p scaPlan) {
	name, err := s.deps.Customers.DisplayName(ctx, customerID)
	if err != nil {
		name = ""
	}
	page := NoSecondFactorPage{Action: pathAuthorize, InteractionID: id, ClientName: client.Name, PartnerName: client.PartnerName,
		CustomerName: name, Environment: client.Environment, Status: http.StatusForbidden}
	for _, d := range p.descs {
		if d.Payment != nil {
			page.Payments = append(page.Payments, *d.Payment)
		}
	}
	s.deps.Pages.NoSecondFactor(w, r, page)
}

// leaveWithoutSecondFactor handles the no-second-factor page's form: the
// interaction ends, its consents are rejected and the client gets
// access_denied saying why. A customer who enrolled a factor meanwhile (in
// another tab) gets the page the plan now asks for instead.
func (s *Server) leaveWithoutSecondFactor(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	id := in.Token
	p, err := s.planSCA(ctx, client, in.CustomerID, ar)
	if err != nil {
		s.log.Error("oauth: plan SCA", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "We could not check your details just now. Please go back to the app and try again in a moment.")
		return
	}
	switch {
	case p.refusal == "" && p.sca:
		s.showSCA(ctx, w, r, id, ar, client, in.CustomerID, false, "", http.StatusOK)
		return
	case p.refusal == "":
		s.showConsent(ctx, w, r, id, ar, client, in.CustomerID, "", http.StatusOK)
		return
	}
	if !s.useInteraction(ctx, w, r, in) {
		return
	}
	s.rejectConsents(ctx, client, in.CustomerID, ar)
	s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint(p.refusal))
}

// rejectConsents records the request's consents as rejected (the customer
// denied them, or could not authorise them); a failure is logged.
func (s *Server) rejectConsents(ctx context.Context, client *Client, customerID string, ar fosite.AuthorizeRequester) {
	sess := sessionOf(ar)
	if sess == nil || len(sess.AuthorizationDetails) == 0 || s.deps.Consents == nil {
		return
	}
	if _, err := s.deps.Consents.Decide(ctx, client, customerID, sess.AuthorizationDetails, false, nil, nil); err != nil {
		s.log.Error("oauth: record rejection", "err", err)
	}
}

// trustOffers are the payments of p whose payee the customer may trust: in
// an authorization with SCA, when the bank exempts payments to trusted
// payees, for payments that needed SCA (a payee already trusted would have
// spared it) to a payee with an account.
func (s *Server) trustOffers(p scaPlan) []TrustOffer {
	if !p.sca || s.deps.Exemptions == nil || !s.deps.Exemptions.TrustsPayees() {
		return nil
	}
	var out []TrustOffer
	for _, d := range p.descs {
		a, ok := p.payments[d.ConsentID]
		if !ok || !a.SCARequired || d.Payment.PayeeScheme == "" || d.Payment.PayeeIdentification == "" {
			continue
		}
		out = append(out, TrustOffer{ConsentID: d.ConsentID, PayeeName: d.Payment.PayeeName})
	}
	return out
}

// trustPayees adds to the customer's trusted payees the payees the
// customer chose to trust on the consent page (only offered ones, only
// after SCA); a failure is logged (the payment is authorised either way).
func (s *Server) trustPayees(ctx context.Context, r *http.Request, customerID string, p scaPlan) {
	for _, o := range s.trustOffers(p) {
		if r.PostForm.Get(FieldTrustPrefix+o.ConsentID) != "1" {
			continue
		}
		for _, d := range p.descs {
			if d.ConsentID == o.ConsentID {
				if err := s.deps.Exemptions.TrustPayee(ctx, customerID, *d.Payment); err != nil {
					s.log.Error("oauth: trust payee", "err", err)
				}
			}
		}
	}
}
