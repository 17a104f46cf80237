package apis

import "github.com/gin-gonic/gin"

// CallOf tells the platform's telemetry about the partner API call of c:
// the calling partner and app (once its access token was verified; empty
// before), the metered product and the problem code the call was refused
// with (empty when it was not, e.g. rate_limited or quota_exhausted).
func CallOf(c *gin.Context) (partnerID, appID, product, problemCode string) {
	if ac := accessOf(c); ac != nil {
		partnerID, appID = ac.PartnerID, ac.ClientID
	}
	return partnerID, appID, c.GetString(keyProduct), c.GetString(keyProblem)
}

// Outcomes is told about consent and payment outcomes once their change is
// committed (the platform's metrics).
type Outcomes interface {
	// ConsentOutcome is called with authorised, rejected, revoked or expired.
	ConsentOutcome(outcome string)
	// PaymentOutcome is called with the status a payment was created in or
	// moved to.
	PaymentOutcome(status string)
}

// consentOutcomes are the consent statuses reported to Outcomes, by name.
var consentOutcomes = map[string]string{StatusAuthorised: "authorised", StatusRejected: "rejected",
	StatusRevoked: "revoked", StatusExpired: "expired"}

// consentOutcome reports a consent that reached status (other statuses are
// not outcomes).
func (s *Service) consentOutcome(status string) {
	if o, ok := consentOutcomes[status]; ok && s.outcomes != nil {
		s.outcomes.ConsentOutcome(o)
	}
}

// paymentOutcome reports a payment created in, or moved to, status.
func (s *Service) paymentOutcome(status string) {
	if s.outcomes != nil {
		s.outcomes.PaymentOutcome(status)
	}
}
