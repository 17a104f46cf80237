package apis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"
)

// Broker is the oauth.ConsentBroker over the Service's consents.
type Broker struct{ s *Service }

var _ oauth.ConsentBroker = Broker{}

// Broker returns the service's oauth.ConsentBroker.
func (s *Service) Broker() Broker { return Broker{s: s} }

func invalidDetails(format string, args ...any) error {
	return fmt.Errorf("%w: %s", oauth.ErrInvalidAuthorizationDetails, fmt.Sprintf(format, args...))
}

// Types implements oauth.ConsentBroker.
func (Broker) Types() []string {
	return []string{TypeAccountAccess, TypePaymentInitiation, TypeDataSharing}
}

// pending loads a detail's consent for the client: it must exist, belong to the
// client's partner and environment (another partner's is reported exactly like
// an unknown one), match the type, await authorisation and not be expired.
func (b Broker) pending(ctx context.Context, client *oauth.Client, d oauth.AuthorizationDetail) (*Consent, error) {
	if !slices.Contains(b.Types(), d.Type) {
		return nil, invalidDetails("authorization_details type %q is not supported", d.Type)
	}
	if d.ConsentID == "" {
		return nil, invalidDetails("authorization_details of type %s need a consent_id", d.Type)
	}
	c, err := b.s.consent(ctx, d.ConsentID)
	if errors.Is(err, ErrNotFound) || (err == nil && (c.PartnerID != client.PartnerID || c.Environment != client.Environment)) {
		return nil, invalidDetails("consent %s not found", d.ConsentID)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.Type != d.Type:
		return nil, invalidDetails("consent %s is of type %s, not %s", c.ID, c.Type, d.Type)
	case c.Status == StatusExpired:
		return nil, invalidDetails("consent %s has expired", c.ID)
	case c.Status != StatusAwaitingAuthorisation:
		return nil, invalidDetails("consent %s is %s, not AwaitingAuthorisation", c.ID, c.Status)
	}
	return c, nil
}

// CheckPushed implements oauth.ConsentBroker.
func (b Broker) CheckPushed(ctx context.Context, client *oauth.Client, details []oauth.AuthorizationDetail) error {
	if len(details) == 0 {
		return invalidDetails("at least one authorization_details entry is required")
	}
	seen := map[string]bool{}
	for _, d := range details {
		if seen[d.ConsentID] {
			return invalidDetails("consent %s is listed twice", d.ConsentID)
		}
		seen[d.ConsentID] = true
		if _, err := b.pending(ctx, client, d); err != nil {
			return err
		}
	}
	return nil
}

// Describe implements oauth.ConsentBroker. A customer of another environment
// than the client's is refused (ErrWrongEnvironment): their accounts are
// never offered.
func (b Broker) Describe(ctx context.Context, client *oauth.Client, customerID string, details []oauth.AuthorizationDetail) ([]oauth.ConsentDescription, error) {
	if _, err := b.s.customerIn(ctx, client.Environment, customerID); err != nil {
		return nil, err
	}
	accounts, err := b.s.core.Accounts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]oauth.ConsentDescription, 0, len(details))
	for _, d := range details {
		c, err := b.pending(ctx, client, d)
		if err != nil {
			return nil, err
		}
		desc := oauth.ConsentDescription{Type: c.Type, ConsentID: c.ID, Title: consentTitle(c.Type), ExpiresAt: c.ExpiresAt,
			SelectMode: "multi", Lines: c.PlainLines()}
		if c.Type == TypePaymentInitiation {
			desc.SelectMode = "single"
			desc.Payment = paymentSummary(c, accounts)
		}
		if !c.ExpiresAt.IsZero() {
			desc.Lines = append(desc.Lines, "Until "+c.ExpiresAt.Format("2 January 2006 15:04 MST"))
		} else {
			desc.Lines = append(desc.Lines, "Until you revoke it")
		}
		for _, a := range accounts {
			sa := oauth.SelectableAccount{ID: a.ID, Label: accountLabel(&a), Masked: masked(&a), Disabled: a.Status != core.AccountEnabled}
			if c.Type == TypePaymentInitiation {
				if a.Currency != c.Amount.Currency || a.SchemeName != core.SchemeSortCodeAccountNumber {
					sa.Disabled = true
				}
				if da := c.Initiation.DebtorAccount; da != nil && da.Identification == a.Identification {
					sa.Selected = !sa.Disabled
				}
			}
			desc.Accounts = append(desc.Accounts, sa)
		}
		out = append(out, desc)
	}
	return out, nil
}

// paymentSummary is the amount and payee of payment consent c; the payee is
// the customer's own account when one of accounts has the creditor account's
// scheme and identification.
func paymentSummary(c *Consent, accounts []core.Account) *oauth.PaymentSummary {
	cr := c.Initiation.CreditorAccount
	ps := &oauth.PaymentSummary{Amount: c.Amount, PayeeName: cr.Name, PayeeScheme: cr.SchemeName, PayeeIdentification: cr.Identification,
		RiskRequiresSCA: c.Scoring.Decision == risk.DecisionSCA}
	for _, a := range accounts {
		if a.SchemeName == cr.SchemeName && a.Identification == cr.Identification {
			ps.PayeeIsOwnAccount = true
		}
	}
	return ps
}

func window(from, to time.Time) string {
	f, t := "the beginning", "now"
	if !from.IsZero() {
		f = from.Format("2 January 2006")
	}
	if !to.IsZero() {
		t = to.Format("2 January 2006")
	}
	return "from " + f + " to " + t
}

func accountLabel(a *core.Account) string {
	if a.Nickname != "" {
		return a.Nickname
	}
	switch a.Type {
	case core.AccountSavings:
		return "Savings account"
	case core.AccountCreditCard:
		return "Credit card"
	}
	return "Current account"
}

func masked(a *core.Account) string {
	id := a.AccountNumber
	if id == "" {
		id = a.MaskedPAN
	}
	return maskTail(id)
}

// maskTail shows only an account identifier's last four characters
// ("•••• 5678"); one of four or fewer is not shown at all.
func maskTail(id string) string {
	if len(id) <= 4 {
		return "••••"
	}
	return "•••• " + id[len(id)-4:]
}

// Decide implements oauth.ConsentBroker. Approval binds the customer and the
// selected accounts (the customer's own, of the client's environment,
// enabled, at least one; exactly one, matching any DebtorAccount, for a
// payment) and returns the details enriched with "accounts"; denial marks the
// consents Rejected and returns nil. A customer of another environment than
// the client's (whose consents these are) is refused either way
// (ErrWrongEnvironment) and nothing is recorded.
func (b Broker) Decide(ctx context.Context, client *oauth.Client, customerID string, details []oauth.AuthorizationDetail, approve bool, selected map[string][]string, how map[string]oauth.ConsentAuthorisation) ([]oauth.AuthorizationDetail, error) {
	s := b.s
	cust, err := s.customerIn(ctx, client.Environment, customerID)
	if err != nil {
		return nil, err
	}
	// A sandbox persona scripted to reject (erin.rejects) turns an approval
	// into a rejection, so partners can test their handling of a denied
	// consent end to end.
	rejectedByBank := false
	if approve && cust.ConsentBehaviour == core.ConsentBehaviourReject {
		approve, rejectedByBank = false, true
	}
	// The customer's accounts, read once for every consent and selection
	// (and once per request: Describe read them too).
	var accounts []core.Account
	if approve {
		if accounts, err = s.core.Accounts(ctx, customerID); err != nil {
			return nil, err
		}
	}
	consents := make([]*Consent, len(details))
	for i, d := range details {
		c, err := b.pending(ctx, client, d)
		if err != nil {
			return nil, err
		}
		consents[i] = c
		if !approve {
			continue
		}
		picked := selected[c.ID]
		if len(picked) == 0 {
			return nil, invalidDetails("select at least one account for consent %s", c.ID)
		}
		if c.Type == TypePaymentInitiation && len(picked) != 1 {
			return nil, invalidDetails("select exactly one account to pay from for consent %s", c.ID)
		}
		seen := map[string]bool{}
		for _, id := range picked {
			a := customersAccount(accounts, client.Environment, id)
			if a == nil {
				return nil, invalidDetails("account %s is not one of the customer's accounts", id)
			}
			if a.Status != core.AccountEnabled {
				return nil, invalidDetails("account %s is %s", id, a.Status)
			}
			if seen[id] {
				return nil, invalidDetails("account %s is selected twice", id)
			}
			seen[id] = true
			if c.Type == TypePaymentInitiation {
				if a.Currency != c.Amount.Currency {
					return nil, invalidDetails("account %s holds %s, the payment is in %s", id, a.Currency, c.Amount.Currency)
				}
				if da := c.Initiation.DebtorAccount; da != nil && da.Identification != a.Identification {
					return nil, invalidDetails("account %s is not the payment's debtor account", id)
				}
			}
		}
		c.AccountIDs = picked
	}
	var out []oauth.AuthorizationDetail
	decide := func(ctx context.Context) error {
		out = nil
		for i, c := range consents {
			c.StatusUpdatedAt, c.CustomerID = s.now(), customerID
			action := "consent.rejected"
			if approve {
				c.Status, action = StatusAuthorised, "consent.authorised"
				c.Authorisation = how[c.ID]
			} else {
				c.Status, c.AccountIDs = StatusRejected, nil
			}
			d := ConsentDecision{Consent: c, From: []string{StatusAwaitingAuthorisation},
				Audit: audit.Entry{ActorType: audit.ActorCustomer, ActorID: customerID, Action: action,
					ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID,
					Details: auditDetails(client.ID, c)}}
			if approve && s.publisher != nil {
				d.Publisher, d.EventType, d.PartnerID, d.AppID = s.publisher, "consent.authorised", c.PartnerID, c.ClientID
				d.Data = map[string]any{"consent_id": c.ID, "consent_type": c.Type}
				if !c.ExpiresAt.IsZero() {
					d.Data["expires_at"] = c.ExpiresAt.Format(time.RFC3339)
				}
			}
			// The consent, its audit entry and its event, written only if
			// the consent still awaited authorisation: one statement on
			// PostgreSQL (Store.DecideConsent).
			if err := s.store.DecideConsent(ctx, d); err != nil {
				if errors.Is(err, ErrStale) {
					return invalidDetails("consent %s was decided concurrently", c.ID)
				}
				return err
			}
			if !approve {
				continue
			}
			extra := map[string]any{}
			for k, v := range details[i].Extra {
				extra[k] = v
			}
			extra["accounts"] = append([]string(nil), c.AccountIDs...)
			out = append(out, oauth.AuthorizationDetail{Type: details[i].Type, ConsentID: c.ID, Extra: extra})
		}
		return nil
	}
	if len(consents) == 1 {
		// One consent: DecideConsent is all or nothing on its own.
		err = decide(ctx)
	} else {
		// Several: all decided or none (a later one decided concurrently
		// undoes the earlier ones).
		err = s.store.Tx(ctx, decide)
	}
	for _, c := range consents {
		reqmemo.Forget(ctx, memoConsent(c.ID))
	}
	if err != nil {
		return nil, err
	}
	for _, c := range consents {
		s.consentOutcome(c.Status)
	}
	if rejectedByBank {
		return nil, fmt.Errorf("%w: customer %s is a sandbox persona that rejects every consent", oauth.ErrConsentRejected, customerID)
	}
	return out, nil
}

// customersAccount is the account of accounts (one customer's) with id, in
// environment env; nil when there is none.
func customersAccount(accounts []core.Account, env environment.Environment, id string) *core.Account {
	for i := range accounts {
		if accounts[i].ID == id && accounts[i].Environment == env {
			return &accounts[i]
		}
	}
	return nil
}

// auditDetails are the audit entry details of the customer's decision on
// c: the client, the accounts and, on approval, how the customer
// authenticated (acr, amr) and the SCA exemption granted, with its reason.
func auditDetails(clientID string, c *Consent) map[string]any {
	d := map[string]any{"client_id": clientID, "accounts": c.AccountIDs}
	if a := c.Authorisation; a.ACR != "" {
		d["acr"], d["amr"] = a.ACR, a.AMR
		if a.Exemption != "" {
			d["sca_exemption"] = a.Exemption
		}
		if a.Reason != "" {
			d["sca_reason"] = a.Reason
		}
	}
	return d
}

// Active implements oauth.ConsentBroker: an Authorised, unexpired consent, or
// a Consumed payment consent (its token may still read the payment and replay
// the idempotent POST until the token expires).
func (b Broker) Active(ctx context.Context, consentID string) (bool, error) {
	c, err := b.s.consent(ctx, consentID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return c.Status == StatusAuthorised || c.Status == StatusConsumed, nil
}

// PlainLines says in plain words what the consent allows (every permission,
// the transaction window, the datasets, or the payment's amount, payee and
// reference), for the consent page and the customer's dashboard.
func (c *Consent) PlainLines() []string {
	var lines []string
	switch c.Type {
	case TypeAccountAccess:
		for _, p := range c.Permissions {
			lines = append(lines, permissionText[p])
		}
		if !c.TransactionFrom.IsZero() || !c.TransactionTo.IsZero() {
			lines = append(lines, "Transactions "+window(c.TransactionFrom, c.TransactionTo))
		}
	case TypeDataSharing:
		for _, ds := range c.Datasets {
			lines = append(lines, datasetText[ds])
		}
	case TypePaymentInitiation:
		in := c.Initiation
		lines = append(lines,
			"Pay "+c.Amount.String(),
			fmt.Sprintf("To %s (sort code %s, account %s)", in.CreditorAccount.Name,
				in.CreditorAccount.Identification[:6], in.CreditorAccount.Identification[6:]),
			"Reference: "+in.Reference())
	}
	return lines
}

// Title is the consent's kind in plain words ("Read your account information", …).
func (c *Consent) Title() string { return consentTitle(c.Type) }

// AccountDisplay is how a customer recognises one of their accounts:
// "Everyday current •••• 1234".
func AccountDisplay(a *core.Account) string { return accountLabel(a) + " " + masked(a) }
