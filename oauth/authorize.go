package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("oauth: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// handleAuthorize is GET /authorize?client_id&request_uri: it consumes the
// pushed request (single use), keeps it server-side and shows the login page.
func (s *Server) handleAuthorize(c *gin.Context) {
	w, r := c.Writer, c.Request
	ctx := withRequestClient(c, r.Context())
	w.Header().Set("Cache-Control", "no-store")
	ar, err := s.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		s.authorizeError(ctx, w, r, ar, err)
		return
	}
	client := clientOf(ar.GetClient())
	if client == nil || !client.Active {
		s.authorizeError(ctx, w, r, ar, fosite.ErrUnauthorizedClient.WithHint("The client is not active."))
		return
	}
	if !client.grantTypes().Has(GrantAuthorizationCode) {
		// Its grant types changed after the request was pushed.
		s.authorizeError(ctx, w, r, ar, errCodeNotRegistered(client))
		return
	}
	raw, err := encodeRequest(ar)
	if err != nil {
		s.authorizeError(ctx, w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	in := &interaction{Nonce: randomID(), ClientID: client.ID, Request: raw, ExpiresAt: s.now().Add(interactionLifetime)}
	if err := s.sealInteraction(in); err != nil {
		s.authorizeError(ctx, w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	s.deps.Pages.Login(w, r, LoginPage{
		Action: pathAuthorize, InteractionID: in.Token, ClientName: client.Name, PartnerName: client.PartnerName, Status: http.StatusOK,
	})
}

// authorizeError redirects an error to the client (with state and iss,
// RFC 9207) when the redirect URI is known to be the client's, else shows the
// error page.
func (s *Server) authorizeError(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	s.logServerError("authorize", err)
	a, ok := ar.(*fosite.AuthorizeRequest)
	redirect := ok && a != nil && a.RedirectURI != nil && a.IsRedirectURIValid()
	if redirect && r.Method == http.MethodGet && a.GetClient() != nil && r.URL.Query().Get("client_id") != a.GetClient().GetID() {
		redirect = false // the request_uri was pushed by another client: do not send its user there
	}
	if redirect {
		u := *a.RedirectURI
		q := u.Query()
		q.Set("iss", s.cfg.Issuer)
		u.RawQuery = q.Encode()
		s.writeAuthorizeErrorRedirect(ctx, w, a, &u, err)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	status := rfc.CodeField
	if status < 400 {
		status = http.StatusBadRequest
	}
	s.deps.Pages.Error(w, r, ErrorPage{
		Status:  status,
		Title:   "We could not start the sign-in",
		Message: "The app sent a request the bank cannot accept, or the link has expired. Please go back to the app and try again.",
		Code:    rfc.ErrorField,
		Hint:    rfc.HintField,
	})
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.deps.Pages.Error(w, r, ErrorPage{Status: status, Title: title, Message: msg})
}

// loadInteraction returns the in-flight authorization sealed in the form.
// Errors: errInteractionGone, or decoding errors.
func (s *Server) loadInteraction(ctx context.Context, token string) (*interaction, fosite.AuthorizeRequester, error) {
	in, err := s.openInteraction(token)
	if err != nil {
		return nil, nil, err
	}
	ar, err := s.decodeInteraction(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	return in, ar, nil
}

// decodeInteraction is the authorization request in carries.
func (s *Server) decodeInteraction(ctx context.Context, in *interaction) (fosite.AuthorizeRequester, error) {
	req, err := s.store.decodeRequest(ctx, in.Request, nil)
	if err != nil {
		return nil, err
	}
	ar, ok := req.(*fosite.AuthorizeRequest)
	if !ok {
		return nil, errors.New("oauth: interaction without authorization request")
	}
	return ar, nil
}

// validDecision reports whether d is one of the consent form's decisions.
func validDecision(d string) bool { return d == DecisionApprove || d == DecisionDeny }

// handleAuthorizePost handles the login and consent forms.
func (s *Server) handleAuthorizePost(c *gin.Context) {
	w, r := c.Writer, c.Request
	// Each page reads the customer, their accounts and the consents
	// several times (plan, page, decision): once per request.
	ctx := reqmemo.With(withRequestClient(c, r.Context()))
	w.Header().Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form could not be read. Please go back to the app and start again.")
		return
	}
	if !s.deps.Pages.CheckCSRF(r) {
		s.errorPage(w, r, http.StatusForbidden, "This page has expired", "For your security the form could not be accepted. Please go back to the app and start again.")
		return
	}
	in, ar, err := s.loadInteraction(ctx, r.PostForm.Get(FieldInteraction))
	if err != nil {
		s.errorPage(w, r, http.StatusBadRequest, "This page has expired", "Too much time has passed or this step was already completed. Please go back to the app and start again.")
		return
	}
	client := clientOf(ar.GetClient())
	switch r.PostForm.Get(FieldStep) {
	case StepLogin:
		s.login(ctx, w, r, in, ar, client)
	case StepSCA:
		if in.CustomerID == "" {
			s.errorPage(w, r, http.StatusBadRequest, "Please log in first", "Please go back to the app and start again.")
			return
		}
		s.confirmSCA(ctx, w, r, in, ar, client)
	case StepNoSecondFactor:
		if in.CustomerID == "" {
			s.errorPage(w, r, http.StatusBadRequest, "Please log in first", "Please go back to the app and start again.")
			return
		}
		s.leaveWithoutSecondFactor(ctx, w, r, in, ar, client)
	case StepConsent:
		if in.CustomerID == "" {
			s.errorPage(w, r, http.StatusBadRequest, "Please log in first", "Please go back to the app and start again.")
			return
		}
		s.consent(ctx, w, r, in, ar, client)
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form could not be read. Please go back to the app and start again.")
	}
}

// lockedMessage answers every throttled login: the same for unknown and known
// usernames, whichever counter refused.
const lockedMessage = "Too many wrong attempts. For your safety, logging in is blocked for 15 minutes at most. Please try again later."

func (s *Server) login(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	username := strings.TrimSpace(r.PostForm.Get(FieldUsername))
	password := r.PostForm.Get(FieldPassword)
	page := LoginPage{Action: pathAuthorize, InteractionID: in.Token, ClientName: client.Name,
		PartnerName: client.PartnerName, Username: username}
	if username == "" || password == "" {
		page.Error, page.Status = "Please enter your username and your password.", http.StatusBadRequest
		s.deps.Pages.Login(w, r, page)
		return
	}
	ctx = throttle.WithClient(ctx, r)
	customerID, err := s.AuthenticateCustomer(ctx, client.Environment, username, password)
	switch {
	case errors.Is(err, ErrLoginThrottled):
		page.Error, page.Status = lockedMessage, http.StatusTooManyRequests
		s.deps.Pages.Login(w, r, page)
		return
	case errors.Is(err, ErrBadCredentials):
		page.Error, page.Status = "The username or password is not right. Please check them and try again.", http.StatusUnauthorized
		s.deps.Pages.Login(w, r, page)
		return
	case errors.Is(err, ErrCustomerLocked):
		page.Error, page.Status = "Your online banking access is blocked. Please contact the bank.", http.StatusForbidden
		s.deps.Pages.Login(w, r, page)
		return
	case err != nil:
		if !errors.Is(err, secrets.ErrBusy) {
			s.log.Error("oauth: authenticate customer", "err", err)
		}
		page.Error, page.Status = "We could not check your details just now. Please try again in a moment.", http.StatusServiceUnavailable
		s.deps.Pages.Login(w, r, page)
		return
	}
	// Whether a second factor follows (or cannot), asked before the
	// interaction is signed in so that a failure leaves the login form
	// usable.
	plan, err := s.planSCA(ctx, client, customerID, ar)
	if err != nil {
		s.log.Error("oauth: plan SCA", "err", err)
		page.Error, page.Status = "We could not check your details just now. Please try again in a moment.", http.StatusServiceUnavailable
		s.deps.Pages.Login(w, r, page)
		return
	}
	// The interaction, signed in, is sealed again for the pages that
	// follow. A second login on the same login page makes another signed-in
	// interaction of the same request; only one of them can be decided on
	// (consumeInteraction), and the pushed request was used once already.
	at := s.now()
	in.CustomerID, in.AuthTime = customerID, &at
	if err := s.sealInteraction(in); err != nil {
		s.log.Error("oauth: record login", "err", err)
		page.Error, page.Status = "We could not check your details just now. Please try again in a moment.", http.StatusServiceUnavailable
		s.deps.Pages.Login(w, r, page)
		return
	}
	switch {
	case plan.refusal != "":
		s.showNoSecondFactor(ctx, w, r, in.Token, client, customerID, plan)
		return
	case plan.sca:
		s.showPlannedSCA(ctx, w, r, in.Token, client, customerID, plan, false, "", http.StatusOK)
		return
	}
	s.showPlannedConsent(ctx, w, r, in.Token, ar, client, customerID, plan, "", http.StatusOK)
}

// showConsent renders the consent page of the interaction: what is asked,
// the accounts to choose, and the offers to trust payees after SCA.
func (s *Server) showConsent(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, ar fosite.AuthorizeRequester, client *Client, customerID, msg string, status int) {
	plan, err := s.planSCA(ctx, client, customerID, ar)
	if err != nil {
		s.log.Error("oauth: describe consent", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, "We cannot show this request", "The request from the app is no longer valid. Please go back to the app and start again.")
		return
	}
	s.showPlannedConsent(ctx, w, r, id, ar, client, customerID, plan, msg, status)
}

// showPlannedConsent is showConsent with the plan (and so the descriptions)
// the caller already made.
func (s *Server) showPlannedConsent(ctx context.Context, w http.ResponseWriter, r *http.Request, id string, ar fosite.AuthorizeRequester, client *Client, customerID string, plan scaPlan, msg string, status int) {
	name, err := s.deps.Customers.DisplayName(ctx, customerID)
	if err != nil {
		name = ""
	}
	page := ConsentPage{Action: pathAuthorize, InteractionID: id, ClientName: client.Name, PartnerName: client.PartnerName,
		CustomerName: name, Scopes: describeScopes(ar.GetRequestedScopes()), Error: msg, Status: status,
		Details: plan.descs, TrustOffers: s.trustOffers(plan)}
	s.deps.Pages.Consent(w, r, page)
}

// consent handles the consent form.
func (s *Server) consent(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction, ar fosite.AuthorizeRequester, client *Client) {
	id := in.Token
	sess := sessionOf(ar)
	if sess == nil {
		sess = &Session{}
	}
	decision := r.PostForm.Get(FieldDecision)
	if !validDecision(decision) {
		s.showConsent(ctx, w, r, id, ar, client, in.CustomerID, "Please choose Authorise or Deny.", http.StatusBadRequest)
		return
	}
	if decision == DecisionDeny {
		if !s.useInteraction(ctx, w, r, in) {
			return
		}
		s.rejectConsents(ctx, client, in.CustomerID, ar)
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("The customer denied the request."))
		return
	}
	// How the customer authenticated; the client's essential acr request
	// must be met before any consent is authorised.
	var signedInAt time.Time
	if in.AuthTime != nil {
		signedInAt = *in.AuthTime
	}
	auth := passwordAuthentication(signedInAt)
	// What the authorization needs, decided again on what is authorised
	// now: a customer the plan sends through SCA confirmed on the SCA page
	// (checked below, once the account choice is final); a payment an
	// exemption spares claims it.
	plan, err := s.planSCA(ctx, client, in.CustomerID, ar)
	if err != nil {
		s.authorizeError(ctx, w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	achievable := auth.ACR
	if plan.hasFactor {
		achievable = ACRStrong
	}
	if !meetsEssentialACR(sess.RequestedACR, achievable) {
		s.authorizeError(ctx, w, r, ar, errEssentialACR(sess.RequestedACR))
		return
	}
	if plan.refusal != "" {
		s.rejectConsents(ctx, client, in.CustomerID, ar)
		s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint(plan.refusal))
		return
	}
	details := sess.AuthorizationDetails
	hasConsents := len(details) > 0 && s.deps.Consents != nil
	selected := map[string][]string{}
	if hasConsents {
		for _, d := range details {
			if d.ConsentID != "" {
				selected[d.ConsentID] = r.PostForm[FieldAccountsPrefix+d.ConsentID]
			}
		}
		if msg := checkSelection(plan.descs, selected); msg != "" {
			// The interaction is not used yet: the customer can correct
			// the choice.
			s.showConsent(ctx, w, r, id, ar, client, in.CustomerID, msg, http.StatusBadRequest)
			return
		}
	}
	// The interaction is used once: of concurrent decisions only the first
	// goes on, on any node.
	if !s.useInteraction(ctx, w, r, in) {
		return
	}
	if plan.sca {
		// Dynamic linking: the confirmation must be of what is authorised
		// now; nothing is approved otherwise.
		strong, err := s.strongAuthentication(ctx, in.Nonce, client, in.CustomerID, ar, auth)
		if err != nil {
			s.authorizeError(ctx, w, r, ar, err)
			return
		}
		auth = strong
		s.afterSCA(ctx, in.CustomerID)
	} else if err := s.claimExemptions(ctx, in.CustomerID, plan); err != nil {
		s.authorizeError(ctx, w, r, ar, err)
		return
	}
	if hasConsents {
		enriched, err := s.deps.Consents.Decide(ctx, client, in.CustomerID, details, true, selected, plan.authorisations(auth))
		if err != nil {
			if errors.Is(err, ErrInvalidAuthorizationDetails) {
				s.authorizeError(ctx, w, r, ar, errInvalidDetails(err.Error()))
				return
			}
			if errors.Is(err, ErrConsentRejected) {
				s.authorizeError(ctx, w, r, ar, fosite.ErrAccessDenied.WithHint("The bank rejected the consent."))
				return
			}
			s.authorizeError(ctx, w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		details = enriched
		if plan.sca {
			s.trustPayees(ctx, r, in.CustomerID, plan)
		}
	}
	for _, sc := range ar.GetRequestedScopes() {
		ar.GrantScope(sc)
	}
	ns := &Session{
		Subject:              in.CustomerID,
		ClientID:             client.ID,
		PartnerID:            client.PartnerID,
		Environment:          client.Environment,
		CodeJKT:              sess.CodeJKT,
		AuthorizationDetails: details,
		Nonce:                sess.Nonce,
	}
	ns.setAuthentication(auth)
	// The code's rows (code, PKCE, OpenID Connect) are written together.
	ctx = deferTokens(ctx)
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, ns)
	if err == nil {
		err = s.store.flushTokens(ctx)
	}
	if err != nil {
		s.authorizeError(ctx, w, r, ar, err)
		return
	}
	resp.AddParameter("iss", s.cfg.Issuer)
	s.writeAuthorizeResponse(ctx, w, ar, resp)
}

// useInteraction claims in's single use (consumeInteraction); when that
// fails it has answered the request.
func (s *Server) useInteraction(ctx context.Context, w http.ResponseWriter, r *http.Request, in *interaction) bool {
	if err := s.consumeInteraction(ctx, in); err != nil {
		if !errors.Is(err, errInteractionGone) {
			s.log.Error("oauth: consume interaction", "err", err)
		}
		s.errorPage(w, r, http.StatusBadRequest, "This page has expired", "This step was already completed. Please go back to the app and start again.")
		return false
	}
	return true
}

// checkSelection checks the accounts chosen against what the consent page
// offered: one for "single", at least one for "multi", only offered ones.
func checkSelection(descs []ConsentDescription, selected map[string][]string) string {
	for _, d := range descs {
		offered := map[string]bool{}
		for _, a := range d.Accounts {
			if !a.Disabled {
				offered[a.ID] = true
			}
		}
		got := selected[d.ConsentID]
		for _, a := range got {
			if !offered[a] {
				return "Please choose only from the accounts shown."
			}
		}
		switch d.SelectMode {
		case "single":
			if len(got) != 1 {
				return "Please choose one account for \u201c" + d.Title + "\u201d."
			}
		case "multi":
			if len(got) == 0 {
				return "Please choose at least one account for \u201c" + d.Title + "\u201d."
			}
		}
	}
	return ""
}

// issRedirect is an authorization request whose (already validated) redirect
// URI carries iss (RFC 9207), so fosite's error writer sends it along.
type issRedirect struct {
	*fosite.AuthorizeRequest
	u *url.URL
}

func (i *issRedirect) GetRedirectURI() *url.URL {
	u := *i.u
	return &u
}

func (i *issRedirect) IsRedirectURIValid() bool { return true }
