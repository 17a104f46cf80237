package web

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// CustomerUsernames tells the Security page a customer's username: it
// labels the authenticator app entry and the passkey, and the password a
// customer re-enters to remove a factor is checked against it.
type CustomerUsernames interface {
	// Username returns the login name of the customer with that id.
	Username(ctx context.Context, customerID string) (string, error)
}

// DefaultPasskeyName is the name of a passkey whose customer typed none.
const DefaultPasskeyName = "Passkey"

// The Security page's readable refusals.
const (
	msgSessionExpired    = "Your session expired. Please try again."
	msgWrongTOTPCode     = "That code is not right. Enter the 6-digit code your authenticator app shows now (check that your phone's clock is right)."
	msgTOTPSetupGone     = "This setup has expired or was replaced by a newer one. Please start again."
	msgTOTPEnrolled      = "An authenticator app is already set up. Remove it first to set up another."
	msgNoTOTP            = "No authenticator app is set up."
	msgPasswordThrottled = "Too many wrong attempts. For your safety, signing in is blocked for 15 minutes at most. Please try again later."
	msgSignInLocked      = "This sign-in is locked. Please wait 15 minutes or call the bank."
	msgBusy              = "We are very busy just now. Please try again in a moment."
	msgSecurityFailed    = "We could not do that just now. Please try again."
	msgPasskeysOff       = "Passkeys need the bank's website on its domain name; they are not available at this address."
	msgPasskeyNotFound   = "You have no such passkey."
)

// securityDone are the Security page's flashes after a redirect, by the
// "done" query value.
var securityDone = map[string]string{
	"totp-removed":       "The authenticator app was removed.",
	"passkey-added":      "Your passkey was added.",
	"passkey-removed":    "The passkey was removed.",
	"payee-untrusted":    "The payee is no longer trusted.",
	stepUpDoneQueryValue: msgStepUpDone,
}

// registerSecurity mounts the Security page's routes under b (Register
// calls it when d.SCA is set).
func (d *CustomerDashboard) registerSecurity(r gin.IRouter, b string) {
	r.GET(b+"/security", d.security)
	r.POST(b+"/security/step-up", d.stepUp)
	r.POST(b+"/security/step-up/passkey/options", d.stepUpPasskeyOptions)
	r.POST(b+"/security/step-up/passkey", d.stepUpPasskey)
	r.POST(b+"/security/totp", d.beginTOTP)
	r.POST(b+"/security/totp/confirm", d.confirmTOTP)
	r.POST(b+"/security/totp/remove", d.removeTOTP)
	r.POST(b+"/security/recovery-codes", d.newRecoveryCodes)
	r.POST(b+"/security/passkeys/options", d.passkeyOptions)
	r.POST(b+"/security/passkeys", d.addPasskey)
	r.POST(b+"/security/passkeys/:id/remove", d.removePasskey)
	r.POST(b+"/security/trusted-payees/remove", d.untrustPayee)
}

// nav is the signed-in dashboard's navigation bar, current naming the page shown.
func (d *CustomerDashboard) nav(current string) *navBar {
	n := &navBar{Label: "Your bank", SignOut: d.base() + "/logout"}
	links := []navLink{{Href: d.base() + "/consents", Label: "Consents"}}
	if d.Complaints != nil {
		links = append(links, navLink{Href: d.base() + "/payments", Label: "Payments"})
	}
	if d.Accounts != nil {
		links = append(links, navLink{Href: d.base() + "/accounts", Label: "Accounts"})
	}
	if d.SCA != nil {
		links = append(links, navLink{Href: d.base() + "/security", Label: "Security"})
	}
	if len(links) == 1 {
		n.Label = "Your consents"
		return n
	}
	for _, l := range links {
		l.Current = l.Href == current
		n.Links = append(n.Links, l)
	}
	return n
}

// securityView is the Security page's data.
type securityView struct {
	dashboardView
	TOTP          *sca.Factor
	RecoveryCodes *sca.Factor
	Passkeys      []passkeys.Credential
	PasskeysOn    bool
	// TrustedPayees are the payees whose payments may not need SCA (PSD2
	// RTS art. 13); the customer may remove them without a step-up.
	TrustedPayees []sca.TrustedPayee
	// DefaultPasskeyName fills the passkey name field.
	DefaultPasskeyName string
	// SteppedUp: the session holds the step-up that changes need now, so
	// the page offers them; else it asks to confirm it's the customer.
	SteppedUp bool
	// NeedStrong: the customer has a second factor, so the step-up needs
	// one too (AskCode: an authenticator or recovery code can be entered;
	// AskPasskey: a passkey can be used).
	NeedStrong, AskCode, AskPasskey bool
}

// totpSetupView is the authenticator app setup page's data.
type totpSetupView struct {
	dashboardView
	// Secret is the base32 secret in groups of four ("" when it is not shown
	// again: after a wrong code).
	Secret string
	// URI is the otpauth:// key URI, trusted as a link target: html/template
	// would otherwise refuse its scheme (only ever the URI BeginTOTP built).
	URI template.URL
}

// recoveryCodesView is the page that shows new recovery codes once.
type recoveryCodesView struct {
	dashboardView
	Codes       []string
	TOTPAdded   bool
	CodesFailed bool
}

// groupSecret writes a base32 secret in groups of four for reading aloud
// and typing.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// otpauthURL is uri as a link target when it is an otpauth://totp/ URI,
// else "" (no link).
func otpauthURL(uri string) template.URL {
	if !strings.HasPrefix(uri, "otpauth://totp/") {
		return ""
	}
	return template.URL(uri)
}

// security shows the customer's second factors.
func (d *CustomerDashboard) security(c *gin.Context) {
	sess, name := d.session(c)
	if sess == nil {
		return
	}
	d.renderSecurity(c, sess, name, http.StatusOK, securityDone[c.Query("done")], "")
}

func (d *CustomerDashboard) renderSecurity(c *gin.Context, sess *Session, name string, status int, flash, errMsg string) {
	ctx := c.Request.Context()
	customerID := sess.SubjectID
	data := securityView{dashboardView: d.view(), PasskeysOn: d.Passkeys != nil, DefaultPasskeyName: DefaultPasskeyName}
	factors, err := d.SCA.Factors(ctx, customerID)
	if err == nil && d.Passkeys != nil {
		data.Passkeys, err = d.Passkeys.Credentials(ctx, customerID)
	}
	if err == nil {
		data.TrustedPayees, err = d.SCA.TrustedPayees(ctx, customerID)
	}
	if err != nil {
		d.Log.Error("list second factors", "err", err)
		if errMsg == "" {
			status, errMsg = http.StatusInternalServerError, "We could not load your security settings just now. Please try again."
		}
	}
	for i := range factors {
		switch factors[i].Kind {
		case sca.KindTOTP:
			data.TOTP = &factors[i]
		case sca.KindRecoveryCodes:
			data.RecoveryCodes = &factors[i]
		}
	}
	fs := customerFactors{TOTP: data.TOTP != nil, RecoveryCodes: data.RecoveryCodes != nil && data.RecoveryCodes.Remaining > 0,
		Passkeys: len(data.Passkeys)}
	data.NeedStrong = fs.strength() == StepUpStrong
	data.AskCode = data.NeedStrong && (fs.TOTP || fs.RecoveryCodes)
	data.AskPasskey = data.NeedStrong && fs.Passkeys > 0
	data.SteppedUp = err == nil && d.Sessions.SteppedUp(sess, fs.strength())
	d.page(c, status, "customer/security", Page{Title: "Security", User: name, Flash: flash, Error: errMsg,
		Nav: d.nav(d.base() + "/security"), Data: data})
}

// record writes an audit entry of the customer's own change (or step-up,
// or refusal), after the change (the second-factor services commit on their
// own); a failure is logged, the change stands. details (may be nil) are
// recorded with the environment.
func (d *CustomerDashboard) record(ctx context.Context, customerID, action, objectType, objectID string, details map[string]any) {
	if d.DB == nil {
		return
	}
	all := map[string]any{"environment": string(d.Environment)}
	for k, v := range details {
		all[k] = v
	}
	err := audit.Record(ctx, d.DB.WithContext(ctx), audit.Entry{ActorType: audit.ActorCustomer, ActorID: customerID,
		Action: action, ObjectType: objectType, ObjectID: objectID, Details: all})
	if err != nil {
		d.Log.Error("audit second-factor change", "action", action, "err", err)
	}
}

// username is the signed-in customer's username (Register made sure
// Usernames is set).
func (d *CustomerDashboard) username(ctx context.Context, customerID string) (string, error) {
	return d.Usernames.Username(ctx, customerID)
}

// changeForm parses the POST form of a change to the customer's second
// factors and checks its CSRF token, then that the session holds the
// step-up the change needs (checkStepUp; change names it in the audit
// trail). On a refusal it shows the Security page with it and answers nil.
func (d *CustomerDashboard) changeForm(c *gin.Context, change string) (*Session, string) {
	sess, name := d.session(c)
	if sess == nil {
		return nil, ""
	}
	c.Request.ParseForm()
	if !d.CSRF.Verify(c.Request) {
		d.renderSecurity(c, sess, name, http.StatusForbidden, "", msgSessionExpired)
		return nil, ""
	}
	if status, msg := d.checkStepUp(c.Request.Context(), sess, change); status != 0 {
		d.renderSecurity(c, sess, name, status, "", msg)
		return nil, ""
	}
	return sess, name
}

// beginTOTP starts setting up an authenticator app (a step-up first).
func (d *CustomerDashboard) beginTOTP(c *gin.Context) {
	sess, name := d.changeForm(c, "totp_setup")
	if sess == nil {
		return
	}
	id := sess.SubjectID
	ctx := c.Request.Context()
	username, err := d.username(ctx, id)
	var en sca.TOTPEnrollment
	if err == nil {
		en, err = d.SCA.BeginTOTP(ctx, id, username)
	}
	switch {
	case errors.Is(err, sca.ErrTOTPEnrolled):
		d.renderSecurity(c, sess, name, http.StatusConflict, "", msgTOTPEnrolled)
		return
	case err != nil:
		d.Log.Error("begin TOTP", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	d.page(c, http.StatusOK, "customer/security_totp", Page{Title: "Set up an authenticator app", User: name,
		Nav: d.nav(d.base() + "/security"), Data: totpSetupView{dashboardView: d.view(), Secret: groupSecret(en.Secret), URI: otpauthURL(en.URI)}})
}

// confirmTOTP activates the app beginTOTP set up pending. It needs no
// step-up of its own: only beginTOTP, behind one, makes a pending app, and a
// setup may take longer than a step-up lasts.
func (d *CustomerDashboard) confirmTOTP(c *gin.Context) {
	sess, name := d.session(c)
	if sess == nil {
		return
	}
	id := sess.SubjectID
	c.Request.ParseForm()
	if !d.CSRF.Verify(c.Request) {
		d.renderSecurity(c, sess, name, http.StatusForbidden, "", msgSessionExpired)
		return
	}
	ctx := c.Request.Context()
	code := strings.Join(strings.Fields(c.PostForm("code")), "")
	err := d.SCA.ConfirmTOTP(ctx, id, code)
	retry := func(status int, msg string) {
		d.page(c, status, "customer/security_totp", Page{Title: "Set up an authenticator app", User: name, Error: msg,
			Nav: d.nav(d.base() + "/security"), Data: totpSetupView{dashboardView: d.view()}})
	}
	switch {
	case errors.Is(err, sca.ErrInvalidCode):
		retry(http.StatusUnprocessableEntity, msgWrongTOTPCode)
		return
	case errors.Is(err, sca.ErrNoTOTP):
		d.renderSecurity(c, sess, name, http.StatusConflict, "", msgTOTPSetupGone)
		return
	case err != nil:
		d.Log.Error("confirm TOTP", "err", err)
		retry(http.StatusInternalServerError, msgSecurityFailed)
		return
	}
	d.record(ctx, id, "customer.totp_added", "customer", id, nil)
	codes, err := d.SCA.GenerateRecoveryCodes(ctx, id)
	if err != nil {
		d.Log.Error("generate recovery codes", "err", err)
	} else {
		d.record(ctx, id, "customer.recovery_codes_generated", "customer", id, nil)
	}
	d.page(c, http.StatusOK, "customer/security_codes", Page{Title: "Your recovery codes", User: name,
		Flash: "Your authenticator app is set up.", Nav: d.nav(d.base() + "/security"),
		Data: recoveryCodesView{dashboardView: d.view(), Codes: codes, TOTPAdded: true, CodesFailed: err != nil}})
}

// newRecoveryCodes replaces the recovery codes (a step-up first).
func (d *CustomerDashboard) newRecoveryCodes(c *gin.Context) {
	sess, name := d.changeForm(c, "recovery_codes")
	if sess == nil {
		return
	}
	id := sess.SubjectID
	ctx := c.Request.Context()
	codes, err := d.SCA.GenerateRecoveryCodes(ctx, id)
	if err != nil {
		d.Log.Error("generate recovery codes", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	d.record(ctx, id, "customer.recovery_codes_generated", "customer", id, nil)
	d.page(c, http.StatusOK, "customer/security_codes", Page{Title: "Your recovery codes", User: name,
		Flash: "New recovery codes were made. The old ones no longer work.", Nav: d.nav(d.base() + "/security"),
		Data: recoveryCodesView{dashboardView: d.view(), Codes: codes}})
}

// freshPassword checks the password the customer re-entered (to step up)
// with the sign-in's throttled authenticator, within the request. It
// answers the status and message of a refusal (wrong: the message of a
// wrong password), or 0 and "".
func (d *CustomerDashboard) freshPassword(c *gin.Context, customerID, password, wrong string) (int, string) {
	ctx := c.Request.Context()
	username, err := d.username(ctx, customerID)
	if err != nil {
		d.Log.Error("customer username", "err", err)
		return http.StatusInternalServerError, msgSecurityFailed
	}
	got, err := d.Customers.Authenticate(throttle.WithClient(ctx, c.Request), d.Environment, username, password)
	switch {
	case err == nil && got == customerID:
		return 0, ""
	case err == nil, errors.Is(err, oauth.ErrBadCredentials):
		return http.StatusUnauthorized, wrong
	case errors.Is(err, oauth.ErrLoginThrottled):
		return http.StatusTooManyRequests, msgPasswordThrottled
	case errors.Is(err, oauth.ErrCustomerLocked):
		return http.StatusForbidden, msgSignInLocked
	case errors.Is(err, secrets.ErrBusy):
		return http.StatusServiceUnavailable, msgBusy
	}
	d.Log.Error("customer password check", "err", err)
	return http.StatusInternalServerError, msgSecurityFailed
}

// removeTOTP removes the authenticator app (a step-up first).
func (d *CustomerDashboard) removeTOTP(c *gin.Context) {
	sess, name := d.changeForm(c, "totp_removal")
	if sess == nil {
		return
	}
	id := sess.SubjectID
	ctx := c.Request.Context()
	switch err := d.SCA.RemoveTOTP(ctx, id); {
	case errors.Is(err, sca.ErrNoTOTP):
		d.renderSecurity(c, sess, name, http.StatusNotFound, "", msgNoTOTP)
		return
	case err != nil:
		d.Log.Error("remove TOTP", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	d.record(ctx, id, "customer.totp_removed", "customer", id, nil)
	c.Redirect(http.StatusSeeOther, d.base()+"/security?done=totp-removed")
}

// removePasskey removes one of the customer's passkeys (a step-up first).
func (d *CustomerDashboard) removePasskey(c *gin.Context) {
	if d.Passkeys == nil {
		sess, name := d.session(c)
		if sess != nil {
			d.renderSecurity(c, sess, name, http.StatusNotFound, "", msgPasskeysOff)
		}
		return
	}
	sess, name := d.changeForm(c, "passkey_removal")
	if sess == nil {
		return
	}
	switch err := d.Passkeys.Remove(c.Request.Context(), sess.SubjectID, c.Param("id")); {
	case errors.Is(err, passkeys.ErrCredentialNotFound):
		d.renderSecurity(c, sess, name, http.StatusNotFound, "", msgPasskeyNotFound)
		return
	case err != nil:
		d.Log.Error("remove passkey", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/security?done=passkey-removed")
}

// jsonCustomer is the session of a JSON endpoint of the Security page: it
// answers a problem (and false) when there is no session, the X-CSRF-Token
// header is missing or wrong, or passkeys are off.
func (d *CustomerDashboard) jsonCustomer(c *gin.Context) (*Session, bool) {
	s, err := d.Sessions.Get(c.Request.Context(), c.Request, d.kind())
	switch {
	case err != nil:
		httpx.Abort(c, problem.New(problem.CodeUnauthorized, "You are signed out. Please sign in again."))
		return nil, false
	case !d.CSRF.Verify(c.Request):
		httpx.Abort(c, problem.New(problem.CodeForbidden, msgSessionExpired))
		return nil, false
	case d.Passkeys == nil:
		httpx.Abort(c, problem.New(problem.CodeNotFound, msgPasskeysOff))
		return nil, false
	}
	return s, true
}

// PasskeyOptions is the answer of the passkey options endpoint: the
// ceremony to finish and the PublicKeyCredentialCreationOptionsJSON for
// navigator.credentials.create.
type PasskeyOptions struct {
	CeremonyID string          `json:"ceremony_id"`
	PublicKey  json.RawMessage `json:"publicKey"`
}

// NewPasskey is the body the page posts to add a passkey: the ceremony of
// PasskeyOptions, the name the customer typed (DefaultPasskeyName when
// empty) and the PublicKeyCredential as JSON.
type NewPasskey struct {
	CeremonyID string          `json:"ceremony_id"`
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// passkeyProblem renders a passkeys refusal as it is, and any other error
// as an internal one (logged).
func (d *CustomerDashboard) passkeyProblem(c *gin.Context, what string, err error) {
	var p *problem.Error
	if errors.As(err, &p) && p.Code != problem.CodeInternal {
		httpx.Abort(c, p)
		return
	}
	d.Log.Error(what, "err", err)
	httpx.Abort(c, problem.New(problem.CodeInternal, msgSecurityFailed))
}

// passkeyOptions begins registering a passkey (a step-up first; the
// ceremony it begins is the customer's and expires, so finishing it needs
// none of its own).
func (d *CustomerDashboard) passkeyOptions(c *gin.Context) {
	sess, ok := d.jsonCustomer(c)
	if !ok {
		return
	}
	id := sess.SubjectID
	ctx := c.Request.Context()
	if status, msg := d.checkStepUp(ctx, sess, "passkey_setup"); status != 0 {
		code := problem.CodeForbidden
		if status != http.StatusForbidden {
			code = problem.CodeInternal
		}
		httpx.Abort(c, problem.New(code, "%s", msg))
		return
	}
	username, err := d.username(ctx, id)
	if err != nil {
		d.passkeyProblem(c, "customer username", err)
		return
	}
	display, _ := d.Customers.DisplayName(ctx, id)
	begun, err := d.Passkeys.BeginRegistration(ctx, passkeys.Customer{ID: id, Username: username, DisplayName: display})
	if err != nil {
		d.passkeyProblem(c, "begin passkey registration", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, PasskeyOptions{CeremonyID: begun.CeremonyID, PublicKey: begun.Options})
}

// addPasskey finishes registering a passkey.
func (d *CustomerDashboard) addPasskey(c *gin.Context) {
	sess, ok := d.jsonCustomer(c)
	if !ok {
		return
	}
	id := sess.SubjectID
	var in NewPasskey
	if err := httpx.DecodeJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = DefaultPasskeyName
	}
	cred, err := d.Passkeys.FinishRegistration(c.Request.Context(), in.CeremonyID, id, in.Credential, in.Name)
	if err != nil {
		d.passkeyProblem(c, "finish passkey registration", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, gin.H{"id": cred.ID, "name": cred.Name, "next": d.base() + "/security?done=passkey-added"})
}

// untrustPayee removes one of the customer's trusted payees (no step-up:
// it only makes later payments to the payee ask for SCA again).
func (d *CustomerDashboard) untrustPayee(c *gin.Context) {
	sess, name := d.session(c)
	if sess == nil {
		return
	}
	c.Request.ParseForm()
	if !d.CSRF.Verify(c.Request) {
		d.renderSecurity(c, sess, name, http.StatusForbidden, "", msgSessionExpired)
		return
	}
	id, ctx := sess.SubjectID, c.Request.Context()
	acct := sca.Account{Scheme: c.PostForm("scheme"), Identification: c.PostForm("identification")}
	switch err := d.SCA.UntrustPayee(ctx, id, acct); {
	case errors.Is(err, sca.ErrNotFound), errors.Is(err, sca.ErrInvalid):
		d.renderSecurity(c, sess, name, http.StatusNotFound, "", msgNoTrustedPayee)
		return
	case err != nil:
		d.Log.Error("untrust payee", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	d.record(ctx, id, "customer.payee_untrusted", "customer", id, map[string]any{"scheme": acct.Scheme, "identification": acct.Identification})
	c.Redirect(http.StatusSeeOther, d.base()+"/security?done=payee-untrusted")
}

// msgNoTrustedPayee answers the removal of a payee the customer does not trust.
const msgNoTrustedPayee = "That payee is not one of your trusted payees."
