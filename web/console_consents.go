package web

import (
	"context"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/oauth"
)

// ConsentReader reads a partner's most recent consents for the console's
// partner page (apis.Store implements it).
type ConsentReader interface {
	// LatestPartnerConsents lists the partner's newest consents of both
	// environments, newest first, at most limit of them.
	LatestPartnerConsents(ctx context.Context, partnerID string, limit int) ([]apis.Consent, error)
}

// consoleConsentLimit is how many of a partner's consents its page lists.
const consoleConsentLimit = 50

// consentView is one row of the partner page's Consents table.
type consentView struct {
	ID, Type, Environment, Status, CustomerID string
	CreatedAt, StatusUpdatedAt                time.Time
	// Authentication is how the customer authorised the consent in plain
	// words, and AuthReason (may be "") why, shown below it.
	Authentication, AuthReason string
}

// consentsSection is the partner page's Consents section.
type consentsSection struct {
	Rows []consentView
	// Limit is the most rows the section lists.
	Limit int
	// Unavailable says why no list is shown ("" when Rows is the list).
	Unavailable string
}

var consentTypeWords = map[string]string{
	apis.TypeAccountAccess:     "Account access",
	apis.TypePaymentInitiation: "Payment",
	apis.TypeDataSharing:       "Data sharing",
}

var exemptionWords = map[string]string{
	oauth.ExemptionLowValue:           "Exempt: low value",
	oauth.ExemptionTrustedBeneficiary: "Exempt: trusted payee",
	oauth.ExemptionOwnAccounts:        "Exempt: own accounts",
}

// authenticationWords says in plain words how a consent was authorised:
// strong customer authentication (with its methods), the exemption that
// spared it, the password alone, or "—" before the customer decided. reason
// is the line shown below it ("" for none).
func authenticationWords(a oauth.ConsentAuthorisation) (words, reason string) {
	switch {
	case a.ACR == oauth.ACRStrong:
		if len(a.AMR) == 0 {
			return "Strong customer authentication", ""
		}
		return "Strong customer authentication (" + strings.Join(a.AMR, " ") + ")", ""
	case a.Exemption != "":
		w, ok := exemptionWords[a.Exemption]
		if !ok {
			w = "Exempt: " + strings.ReplaceAll(a.Exemption, "_", " ")
		}
		return w, a.Reason
	case a.ACR == oauth.ACRPassword:
		return "Password only", a.Reason
	case a.ACR == "":
		return "—", ""
	}
	return "Authenticated (" + a.ACR + ")", a.Reason
}

// partnerConsents loads the Consents section of partner pid's page.
func (k *Console) partnerConsents(ctx context.Context, pid string) consentsSection {
	out := consentsSection{Limit: consoleConsentLimit}
	if k.Consents == nil {
		out.Unavailable = "Consents are not available on this server."
		return out
	}
	list, err := k.Consents.LatestPartnerConsents(ctx, pid, consoleConsentLimit)
	if err != nil {
		k.log().Error("web: partner consents", "partner", pid, "err", err)
		out.Unavailable = "The consents could not be loaded. Please try again in a moment."
		return out
	}
	for _, c := range list {
		v := consentView{ID: c.ID, Type: consentTypeWords[c.Type], Environment: string(c.Environment), Status: c.Status,
			CustomerID: c.CustomerID, CreatedAt: c.CreatedAt, StatusUpdatedAt: c.StatusUpdatedAt}
		if v.Type == "" {
			v.Type = c.Type
		}
		v.Authentication, v.AuthReason = authenticationWords(c.Authorisation)
		out.Rows = append(out.Rows, v)
	}
	return out
}
