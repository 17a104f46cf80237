package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// Strong customer authentication in the authorization flow: after a right
// password, a customer with an authenticator app or a passkey
// (SecondFactors) confirms with a code or the passkey (authorize_passkey.go)
// on the SCA page; the confirmation is bound to the
// interaction and to linkHash of what is authorised, and consent()
// consumes it at approval against a fresh description (a payment changed
// in between is refused). Customers without a second factor (or no
// SecondFactors) go from the password to the consent page as before.

// linkSetDomain separates the hash of several consents' link hashes from
// every other SHA-256 of the platform.
const linkSetDomain = "bankbridge/sca/dynamic-link-set/v1"

// Messages of the SCA page.
const (
	scaMsgEmpty    = "Please enter the code from your authenticator app."
	scaMsgEmptyRec = "Please enter one of your recovery codes."
	scaMsgWrong    = "That code is not right. Please check your authenticator app and try again."
	scaMsgWrongRec = "That recovery code is not right. Please check it and try again."
	scaMsgUsed     = "That code was already used. Please wait for the next code in your authenticator app."
	scaMsgUsedRec  = "That recovery code was already used. Please use another one."
	scaMsgLocked   = "Too many failed attempts. For your safety, confirming is blocked for 15 minutes at most. Please try again later."
	scaMsgBusy     = "We could not check your code just now. Please try again in a moment."
)

// hintPaymentChanged is the access_denied hint of an approval whose
// payment is not the one the customer confirmed.
const hintPaymentChanged = "The payment changed after the customer confirmed it."

// hintNotConfirmed is the access_denied hint of an approval without a
// usable confirmation (the SCA step skipped, its confirmation expired).
const hintNotConfirmed = "The customer did not complete strong customer authentication."

// needsSCA reports whether the customer must confirm with a second factor:
// whether the customer has any (an authenticator app or a passkey).
func (s *Server) needsSCA(ctx context.Context, customerID string) (bool, error) {
	f, err := s.enrolled(ctx, customerID)
	return f.Any(), err
}

// enrolled is which second factors the customer has (none without
// SecondFactors).
func (s *Server) enrolled(ctx context.Context, customerID string) (EnrolledFactors, error) {
	if s.deps.SecondFactors == nil {
		return EnrolledFactors{}, nil
	}
	return s.deps.SecondFactors.Enrolled(ctx, customerID)
}

// linkHash is what one confirmation of an interaction binds: for one
// consent, sca.LinkHash of its consent id, amount and payee (for account
// access and data sharing, which have no amount or payee, of the consent id
// with a zero amount and an empty payee); for several, the hex SHA-256 of
// a domain tag followed by their link hashes in the order of the request
// (each 64 hex characters, so the concatenation is unambiguous); for none
// (a request without authorization_details), sca.LinkHash of an empty
// consent id: the confirmation is bound to the interaction alone.
func linkHash(descs []ConsentDescription) string {
	hashes := make([]string, 0, len(descs))
	for _, d := range descs {
		var amount money.Money
		var payee sca.Payee
		if p := d.Payment; p != nil {
			amount = p.Amount
			payee = sca.Payee{Name: p.PayeeName, Scheme: p.PayeeScheme, Identification: p.PayeeIdentification}
		}
		hashes = append(hashes, sca.LinkHash(d.ConsentID, amount, payee))
	}
	switch len(hashes) {
	case 0:
		return sca.LinkHash("", money.Money{}, sca.Payee{})
	case 1:
		return hashes[0]
	}
	h := sha256.New()
	h.Write([]byte(linkSetDomain))
	for _, x := range hashes {
		h.Write([]byte(x))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// describe returns the descriptions of the request's authorization details
// (none when it has none or no ConsentBroker is plugged in).
func (s *Server) describe(ctx context.Context, client *Client, customerID string, ar fosite.AuthorizeRequester) ([]ConsentDescription, error) {
	sess := sessionOf(ar)
	if sess == nil || len(sess.AuthorizationDetails) == 0 || s.deps.Consents == nil {
		return nil, nil
	}
	return s.deps.Consents.Describe(ctx, client, customerID, sess.AuthorizationDetails)
}

// showSCA renders the SCA page of the interaction.
func (s *Server) showSCA(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, ar fosite.AuthorizeRequester, client *Client, customerID string, recovery bool, msg string, status int) {
	descs, err := s.describe(ctx, client, customerID, ar)
	if err != nil {
		s.log.Error("oauth: describe consent", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, "We cannot show this request", "The request from the app is no longer valid. Please go back to the app and start again.")
		return
	}
	factors, err := s.enrolled(ctx, customerID)
	if err != nil {
		s.log.Error("oauth: second factors", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "We could not check your details just now. Please go back to the app and try again in a moment.")
		return
	}
	s.showPlannedSCA(ctx, w, r, id, client, customerID, scaPlan{descs: descs, factors: factors}, recovery, msg, status)
}

// showPlannedSCA is showSCA with the descriptions and factors of a plan
// the caller already made.
func (s *Server) showPlannedSCA(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, client *Client, customerID string, plan scaPlan, recovery bool, msg string, status int) {
	name, err := s.deps.Customers.DisplayName(ctx, customerID)
	if err != nil {
		name = ""
	}
	factors := plan.factors
	page := SCAPage{Action: pathAuthorize, InteractionID: id, ClientName: client.Name, PartnerName: client.PartnerName,
		CustomerName: name, AuthenticatorApp: factors.AuthenticatorApp, Passkey: factors.Passkey,
		RecoveryCodes: factors.AuthenticatorApp || factors.RecoveryCodes, Recovery: recovery, Error: msg, Status: status}
	for _, d := range plan.descs {
		if d.Payment != nil {
			page.Payments = append(page.Payments, *d.Payment)
		}
	}
	s.deps.Pages.SCA(w, r, page)
}

// confirmSCA handles the SCA page's form: the code confirms linkHash of
// what the consent page will show; on success the consent page follows,
// else the SCA page again with the reason (the interaction stays).
func (s *Server) confirmSCA(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	switch r.PostForm.Get(FieldMethod) {
	case MethodPasskeyOptions:
		s.passkeyOptions(ctx, w, r, in, ar, client)
		return
	case MethodPasskey:
		s.confirmPasskey(ctx, w, r, in, ar, client)
		return
	}
	id := in.Token
	need, err := s.needsSCA(ctx, in.CustomerID)
	if err != nil {
		s.log.Error("oauth: second factors", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "We could not check your details just now. Please go back to the app and try again in a moment.")
		return
	}
	if !need {
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form could not be read. Please go back to the app and start again.")
		return
	}
	recovery := r.PostForm.Get(FieldMethod) == MethodRecoveryCode
	code := strings.TrimSpace(r.PostForm.Get(FieldCode))
	if code == "" {
		msg := scaMsgEmpty
		if recovery {
			msg = scaMsgEmptyRec
		}
		s.showSCA(ctx, w, r, id, ar, client, in.CustomerID, recovery, msg, http.StatusBadRequest)
		return
	}
	descs, err := s.describe(ctx, client, in.CustomerID, ar)
	if err != nil {
		s.log.Error("oauth: describe consent", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, "We cannot show this request", "The request from the app is no longer valid. Please go back to the app and start again.")
		return
	}
	link := linkHash(descs)
	ctx = throttle.WithClient(ctx, r)
	if recovery {
		err = s.deps.SecondFactors.ConfirmRecoveryCode(ctx, in.Nonce, in.CustomerID, code, link)
	} else {
		err = s.deps.SecondFactors.ConfirmTOTP(ctx, in.Nonce, in.CustomerID, code, link)
	}
	if err != nil {
		msg, status := scaRefusal(err, recovery)
		if status == http.StatusServiceUnavailable {
			s.log.Error("oauth: confirm second factor", "err", err)
		}
		s.showSCA(ctx, w, r, id, ar, client, in.CustomerID, recovery, msg, status)
		return
	}
	s.showConsent(ctx, w, r, id, ar, client, in.CustomerID, "", http.StatusOK)
}

// scaRefusal is the SCA page's message and status for a refused code.
func scaRefusal(err error, recovery bool) (string, int) {
	pick := func(totp, rec string) string {
		if recovery {
			return rec
		}
		return totp
	}
	switch {
	case errors.Is(err, ErrSecondFactorLocked):
		return scaMsgLocked, http.StatusTooManyRequests
	case errors.Is(err, ErrSecondFactorUsed):
		return pick(scaMsgUsed, scaMsgUsedRec), http.StatusUnauthorized
	case errors.Is(err, ErrSecondFactorWrong):
		return pick(scaMsgWrong, scaMsgWrongRec), http.StatusUnauthorized
	}
	return scaMsgBusy, http.StatusServiceUnavailable
}

// strongAuthentication consumes the interaction's confirmation against
// the request as it is described now and returns the authentication it
// makes: ACRStrong with amr [pwd, the factor's, mfa]. Errors are the
// access_denied or server_error to send the client.
func (s *Server) strongAuthentication(ctx context.Context, interactionID string, client *Client, customerID string, ar fosite.AuthorizeRequester, password Authentication) (Authentication, error) {
	descs, err := s.describe(ctx, client, customerID, ar)
	if err != nil {
		return Authentication{}, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	amr, err := s.deps.SecondFactors.CheckConfirmation(ctx, interactionID, customerID, linkHash(descs))
	switch {
	case errors.Is(err, ErrConfirmationChanged):
		return Authentication{}, fosite.ErrAccessDenied.WithHint(hintPaymentChanged)
	case errors.Is(err, ErrNotConfirmed):
		return Authentication{}, fosite.ErrAccessDenied.WithHint(hintNotConfirmed)
	case err != nil:
		return Authentication{}, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return strongAuthenticationOf(password, amr), nil
}

// strongAuthenticationOf is a password sign-in completed by a second
// factor of amr value amr (auth_time stays the password's).
func strongAuthenticationOf(password Authentication, amr string) Authentication {
	return Authentication{ACR: ACRStrong, AMR: []string{AMRPassword, amr, AMRMultiFactor}, Time: password.Time}
}
