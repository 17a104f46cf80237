package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/throttle"
)

// Passkeys on the SCA page: a customer with a passkey (EnrolledFactors)
// gets a "Use a passkey" button. Its script (web/static/sca-passkey.js)
// posts the page's form fields with FieldMethod MethodPasskeyOptions and
// receives JSON request options whose challenge is bound to linkHash of
// the interaction (passkeyOptions); it calls navigator.credentials.get and
// posts the answer as a form with MethodPasskey (confirmPasskey). Both
// posts go through handleAuthorizePost, so the CSRF token, the live
// interaction and the signed-in customer are checked as for a code. An
// accepted passkey records the interaction's confirmation with the
// passkey's amr, consumed at approval (strongAuthentication) like a code's:
// amr [pwd hwk mfa] or [pwd swk mfa]. Refused answers count with wrong
// codes (SecondFactors.ConfirmPasskey).

// Messages of the SCA page and of the passkey options' JSON.
const (
	scaMsgPasskeyEmpty   = "Please use your passkey to confirm."
	scaMsgPasskeyRefused = "Your passkey could not be checked. Please try again."
	scaMsgPasskeyChanged = "The payment changed after you confirmed it with your passkey. Please check the payment and confirm again."
	scaMsgNoPasskey      = "You have no passkey for this bank. Please confirm another way."
)

// passkeyOptionsReply is the JSON answer of MethodPasskeyOptions: the
// ceremony id to post back and the PublicKeyCredentialRequestOptionsJSON;
// or, when the options cannot be given, a message for the page.
type passkeyOptionsReply struct {
	CeremonyID string          `json:"ceremony_id,omitempty"`
	PublicKey  json.RawMessage `json:"publicKey,omitempty"`
	Error      string          `json:"error,omitempty"`
}

// writePasskeyJSON answers the passkey options request.
func writePasskeyJSON(w http.ResponseWriter, status int, reply passkeyOptionsReply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(reply)
}

// passkeyOptions answers the request options of a passkey assertion bound
// to linkHash of what the interaction authorises now.
func (s *Server) passkeyOptions(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	factors, err := s.enrolled(ctx, in.CustomerID)
	if err != nil {
		s.log.Error("oauth: second factors", "err", err)
		writePasskeyJSON(w, http.StatusServiceUnavailable, passkeyOptionsReply{Error: scaMsgBusy})
		return
	}
	if !factors.Passkey {
		writePasskeyJSON(w, http.StatusBadRequest, passkeyOptionsReply{Error: scaMsgNoPasskey})
		return
	}
	descs, err := s.describe(ctx, client, in.CustomerID, ar)
	if err != nil {
		s.log.Error("oauth: describe consent", "err", err)
		writePasskeyJSON(w, http.StatusBadRequest, passkeyOptionsReply{Error: "The request from the app is no longer valid. Please go back to the app and start again."})
		return
	}
	req, err := s.deps.SecondFactors.BeginPasskey(ctx, in.Nonce, in.CustomerID, linkHash(descs))
	switch {
	case errors.Is(err, ErrNoSecondFactor):
		writePasskeyJSON(w, http.StatusBadRequest, passkeyOptionsReply{Error: scaMsgNoPasskey})
		return
	case err != nil:
		s.log.Error("oauth: begin passkey", "err", err)
		writePasskeyJSON(w, http.StatusServiceUnavailable, passkeyOptionsReply{Error: scaMsgBusy})
		return
	}
	writePasskeyJSON(w, http.StatusOK, passkeyOptionsReply{CeremonyID: req.CeremonyID, PublicKey: req.Options})
}

// confirmPasskey handles the passkey's answer: it confirms linkHash of what
// the consent page will show; on success the consent page follows, else
// the SCA page again with the reason (the interaction stays).
func (s *Server) confirmPasskey(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	id := in.Token
	factors, err := s.enrolled(ctx, in.CustomerID)
	if err != nil {
		s.log.Error("oauth: second factors", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "We could not check your details just now. Please go back to the app and try again in a moment.")
		return
	}
	if !factors.Passkey {
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form could not be read. Please go back to the app and start again.")
		return
	}
	ceremony := strings.TrimSpace(r.PostForm.Get(FieldCeremony))
	assertion := r.PostForm.Get(FieldAssertion)
	if ceremony == "" || strings.TrimSpace(assertion) == "" {
		s.showSCA(ctx, w, r, id, ar, client, in.CustomerID, false, scaMsgPasskeyEmpty, http.StatusBadRequest)
		return
	}
	descs, err := s.describe(ctx, client, in.CustomerID, ar)
	if err != nil {
		s.log.Error("oauth: describe consent", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, "We cannot show this request", "The request from the app is no longer valid. Please go back to the app and start again.")
		return
	}
	ctx = throttle.WithClient(ctx, r)
	err = s.deps.SecondFactors.ConfirmPasskey(ctx, in.Nonce, in.CustomerID, ceremony, []byte(assertion), linkHash(descs))
	if err != nil {
		msg, status := passkeyRefusal(err)
		if status == http.StatusServiceUnavailable {
			s.log.Error("oauth: confirm passkey", "err", err)
		}
		s.showSCA(ctx, w, r, id, ar, client, in.CustomerID, false, msg, status)
		return
	}
	s.showConsent(ctx, w, r, id, ar, client, in.CustomerID, "", http.StatusOK)
}

// passkeyRefusal is the SCA page's message and status for a refused
// passkey answer (the lock first: a refusal that spent the budget is both).
func passkeyRefusal(err error) (string, int) {
	switch {
	case errors.Is(err, ErrSecondFactorLocked):
		return scaMsgLocked, http.StatusTooManyRequests
	case errors.Is(err, ErrConfirmationChanged):
		return scaMsgPasskeyChanged, http.StatusConflict
	case errors.Is(err, ErrPasskeyRefused):
		return scaMsgPasskeyRefused, http.StatusUnauthorized
	case errors.Is(err, ErrNoSecondFactor):
		return scaMsgNoPasskey, http.StatusBadRequest
	}
	return scaMsgBusy, http.StatusServiceUnavailable
}
