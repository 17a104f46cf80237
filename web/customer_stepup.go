package web

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// The step-up's readable refusals and notes.
const (
	msgStepUpFirst        = "For your safety, first confirm it's you at the top of this page. Nothing was changed."
	msgStepUpWrongPw      = "The password is not right. Please try again."
	msgStepUpNeedCode     = "Please also enter the code your authenticator app shows now or one of your recovery codes, or use a passkey."
	msgStepUpNeedPasskey  = "Please confirm with your passkey as well: enter your password and press “Use a passkey”."
	msgStepUpWrongCode    = "That code is not right. Please check your authenticator app and try again."
	msgStepUpWrongRec     = "That recovery code is not right. Please check it and try again."
	msgStepUpCodeUsed     = "That code was already used. Please wait for the next code in your authenticator app."
	msgStepUpRecUsed      = "That recovery code was already used. Please use another one."
	msgStepUpNoApp        = "You have no authenticator app set up. Please use a passkey or one of your recovery codes."
	msgStepUpLocked       = "Too many failed attempts. For your safety, confirming is blocked for 15 minutes at most. Please try again later."
	msgStepUpOtherSession = "This passkey confirmation was started in another session. Please try again here."
	msgStepUpDone         = "Thank you. For the next 5 minutes you can change your second factors."
	stepUpLinkDomain      = "bankbridge/web/step-up/v1"
	actionStepUp          = "customer.step_up"
	actionStepUpRefused   = "customer.step_up_refused"
	actionChangeRefused   = "customer.security_change_refused"
	reasonStepUpRequired  = "step_up_required"
	stepUpMethodPassword  = "password"
	stepUpMethodTOTP      = "totp"
	stepUpMethodRecovery  = "recovery_code"
	stepUpMethodPasskey   = "passkey"
	stepUpDoneQueryValue  = "stepped-up"
)

// customerFactors is what the step-up needs to know of the customer's
// second factors.
type customerFactors struct {
	TOTP, RecoveryCodes bool
	Passkeys            int
}

// strength is the step-up a change of the customer's factors needs: the
// password alone while they have no second factor (an authenticator app or
// a passkey; recovery codes alone are none), else the password and one of
// them (or a recovery code).
func (f customerFactors) strength() string {
	if f.TOTP || f.Passkeys > 0 {
		return StepUpStrong
	}
	return StepUpPassword
}

// factors lists the customer's second factors (passkeys only when the
// passkey service is on).
func (d *CustomerDashboard) factors(ctx context.Context, customerID string) (customerFactors, error) {
	var out customerFactors
	fs, err := d.SCA.Factors(ctx, customerID)
	if err != nil {
		return out, err
	}
	for _, f := range fs {
		switch f.Kind {
		case sca.KindTOTP:
			out.TOTP = true
		case sca.KindRecoveryCodes:
			out.RecoveryCodes = f.Remaining > 0
		}
	}
	if d.Passkeys != nil {
		creds, err := d.Passkeys.Credentials(ctx, customerID)
		if err != nil {
			return out, err
		}
		out.Passkeys = len(creds)
	}
	return out, nil
}

// session is the request's dashboard session, or redirects to the login
// page (nil).
func (d *CustomerDashboard) session(c *gin.Context) (*Session, string) {
	s, err := d.Sessions.Get(c.Request.Context(), c.Request, d.kind())
	if err != nil {
		c.Redirect(http.StatusSeeOther, d.base()+"/login")
		return nil, ""
	}
	name, _ := d.Customers.DisplayName(c.Request.Context(), s.SubjectID)
	return s, name
}

// checkStepUp reports whether sess holds the step-up that changing the
// customer's second factors needs now. When it does not, the refusal of
// change is audited and the answer is the status and message to show.
func (d *CustomerDashboard) checkStepUp(ctx context.Context, sess *Session, change string) (int, string) {
	fs, err := d.factors(ctx, sess.SubjectID)
	if err != nil {
		d.Log.Error("list second factors", "err", err)
		return http.StatusInternalServerError, msgSecurityFailed
	}
	if d.Sessions.SteppedUp(sess, fs.strength()) {
		return 0, ""
	}
	d.record(ctx, sess.SubjectID, actionChangeRefused, "customer", sess.SubjectID,
		map[string]any{"change": change, "reason": reasonStepUpRequired, "needed": fs.strength()})
	return http.StatusForbidden, msgStepUpFirst
}

// stepUpLink binds a passkey step-up to the session it was begun in: the
// assertion's challenge carries it (passkeys' dynamic linking), so a
// ceremony begun in one session cannot be finished in another.
func stepUpLink(sess *Session) []byte {
	h := sha256.Sum256([]byte(stepUpLinkDomain + "\x00" + sess.TokenHash))
	return h[:]
}

// refuseStepUp audits a refused step-up and shows the Security page with msg.
func (d *CustomerDashboard) refuseStepUp(c *gin.Context, sess *Session, name string, status int, msg, reason, method string) {
	d.record(c.Request.Context(), sess.SubjectID, actionStepUpRefused, "customer", sess.SubjectID,
		map[string]any{"reason": reason, "method": method})
	d.renderSecurity(c, sess, name, status, "", msg)
}

// grantStepUp stores the step-up on the session and audits it.
func (d *CustomerDashboard) grantStepUp(ctx context.Context, sess *Session, strength, method string) error {
	if err := d.Sessions.StepUp(ctx, sess, strength); err != nil {
		return err
	}
	d.record(ctx, sess.SubjectID, actionStepUp, "customer", sess.SubjectID,
		map[string]any{"strength": strength, "method": method})
	return nil
}

// passwordReason is the audit reason of a refused password (freshPassword's
// status).
func passwordReason(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "wrong_password"
	case http.StatusTooManyRequests:
		return "password_throttled"
	case http.StatusForbidden:
		return "sign_in_locked"
	}
	return "error"
}

// isTOTPCode reports whether code (spaces removed) looks like an
// authenticator code (6 digits) rather than a recovery code.
func isTOTPCode(code string) bool {
	if len(code) != 6 {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// codeRefusal is the status, message and audit reason of a second-factor
// code sca refused (nil: accepted); the lock first, as a wrong code that
// spent the budget is both.
func codeRefusal(err error) (int, string, string) {
	switch {
	case errors.Is(err, throttle.ErrLocked):
		return http.StatusTooManyRequests, msgStepUpLocked, "locked"
	case errors.Is(err, sca.ErrCodeUsed):
		return http.StatusUnprocessableEntity, msgStepUpCodeUsed, "code_used"
	case errors.Is(err, sca.ErrRecoveryCodeUsed):
		return http.StatusUnprocessableEntity, msgStepUpRecUsed, "code_used"
	case errors.Is(err, sca.ErrInvalidCode):
		return http.StatusUnprocessableEntity, msgStepUpWrongCode, "wrong_code"
	case errors.Is(err, sca.ErrInvalidRecoveryCode):
		return http.StatusUnprocessableEntity, msgStepUpWrongRec, "wrong_code"
	case errors.Is(err, sca.ErrNoTOTP):
		return http.StatusUnprocessableEntity, msgStepUpNoApp, "no_app"
	}
	return http.StatusInternalServerError, msgSecurityFailed, "error"
}

// stepUp is the "Confirm it's you" form: the password, and when the
// customer has a second factor a code of their authenticator app or a
// recovery code (each checked, counted and used once by oauth/sca under its
// throttle). The step-up is stored on the session (Sessions.StepUp).
func (d *CustomerDashboard) stepUp(c *gin.Context) {
	sess, name := d.session(c)
	if sess == nil {
		return
	}
	c.Request.ParseForm()
	if !d.CSRF.Verify(c.Request) {
		d.renderSecurity(c, sess, name, http.StatusForbidden, "", msgSessionExpired)
		return
	}
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	id := sess.SubjectID
	fs, err := d.factors(ctx, id)
	if err != nil {
		d.Log.Error("list second factors", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	strength := fs.strength()
	code := strings.Join(strings.Fields(c.PostForm("code")), "")
	if strength == StepUpStrong && code == "" {
		msg := msgStepUpNeedCode
		if !fs.TOTP && !fs.RecoveryCodes {
			msg = msgStepUpNeedPasskey
		}
		d.refuseStepUp(c, sess, name, http.StatusUnprocessableEntity, msg, "no_code", "")
		return
	}
	if status, msg := d.freshPassword(c, id, c.PostForm("password"), msgStepUpWrongPw); status != 0 {
		d.refuseStepUp(c, sess, name, status, msg, passwordReason(status), stepUpMethodPassword)
		return
	}
	method := stepUpMethodPassword
	if strength == StepUpStrong {
		method = stepUpMethodTOTP
		if !isTOTPCode(code) {
			method = stepUpMethodRecovery
			_, err = d.SCA.UseRecoveryCode(ctx, id, code, throttle.Address(ctx))
		} else {
			err = d.SCA.VerifyTOTP(ctx, id, code, throttle.Address(ctx))
		}
		if err != nil {
			status, msg, reason := codeRefusal(err)
			if reason == "error" {
				d.Log.Error("step-up code", "err", err)
			}
			d.refuseStepUp(c, sess, name, status, msg, reason, method)
			return
		}
	}
	if err := d.grantStepUp(ctx, sess, strength, method); err != nil {
		d.Log.Error("store step-up", "err", err)
		d.renderSecurity(c, sess, name, http.StatusInternalServerError, "", msgSecurityFailed)
		return
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/security?done="+stepUpDoneQueryValue)
}

// StepUpPasskey is the body the page posts to confirm it's the customer
// with a passkey: the ceremony of the step-up's options, the password typed
// and the PublicKeyCredential (assertion) as JSON.
type StepUpPasskey struct {
	CeremonyID string          `json:"ceremony_id"`
	Password   string          `json:"password"`
	Credential json.RawMessage `json:"credential"`
}

// statusProblem is the JSON problem of a refusal freshPassword answered.
func statusProblem(status int, msg string) *problem.Error {
	code := map[int]problem.Code{
		http.StatusUnauthorized:       problem.CodeUnauthorized,
		http.StatusTooManyRequests:    problem.CodeRateLimited,
		http.StatusForbidden:          problem.CodeLockedOut,
		http.StatusServiceUnavailable: problem.CodeBusy,
	}[status]
	if code == "" {
		code = problem.CodeInternal
	}
	return problem.New(code, "%s", msg)
}

// stepUpPasskeyOptions begins a passkey assertion for the step-up, bound to
// the session.
func (d *CustomerDashboard) stepUpPasskeyOptions(c *gin.Context) {
	sess, ok := d.jsonCustomer(c)
	if !ok {
		return
	}
	begun, err := d.Passkeys.BeginLogin(c.Request.Context(), sess.SubjectID, stepUpLink(sess))
	if err != nil {
		d.passkeyProblem(c, "begin passkey step-up", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, PasskeyOptions{CeremonyID: begun.CeremonyID, PublicKey: begun.Options})
}

// stepUpPasskey finishes a passkey step-up: the password, then the
// assertion (of this session's ceremony, by one of the customer's passkeys,
// its counter moving forward); it stores a strong step-up on the session.
func (d *CustomerDashboard) stepUpPasskey(c *gin.Context) {
	sess, ok := d.jsonCustomer(c)
	if !ok {
		return
	}
	var in StepUpPasskey
	if err := httpx.DecodeJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	ctx := c.Request.Context()
	id := sess.SubjectID
	audit := func(reason string) {
		d.record(ctx, id, actionStepUpRefused, "customer", id, map[string]any{"reason": reason, "method": stepUpMethodPasskey})
	}
	if status, msg := d.freshPassword(c, id, in.Password, msgStepUpWrongPw); status != 0 {
		audit(passwordReason(status))
		httpx.Abort(c, statusProblem(status, msg))
		return
	}
	if _, err := d.Passkeys.FinishLogin(ctx, in.CeremonyID, id, in.Credential, stepUpLink(sess)); err != nil {
		reason := "error"
		var p *problem.Error
		switch {
		case errors.Is(err, passkeys.ErrLinkChanged):
			reason = "other_session"
		case errors.Is(err, passkeys.ErrCeremonyNotFound):
			reason = "unknown_ceremony"
		case errors.As(err, &p) && p.Code != problem.CodeInternal:
			reason = string(p.Code)
		}
		audit(reason)
		if reason == "other_session" {
			httpx.Abort(c, problem.Wrap(problem.CodeForbidden, err, "%s", msgStepUpOtherSession))
			return
		}
		d.passkeyProblem(c, "finish passkey step-up", err)
		return
	}
	if err := d.grantStepUp(ctx, sess, StepUpStrong, stepUpMethodPasskey); err != nil {
		d.passkeyProblem(c, "store step-up", err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"next": d.base() + "/security?done=" + stepUpDoneQueryValue})
}
