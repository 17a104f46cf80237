package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/partners"
)

// Messages of the portal's sign-in pages.
const (
	msgPortalVerifyFirst = "Please confirm your email address first: open the link in the email we sent you."
	msgEmailVerified     = "Your email address is confirmed. You can sign in now."
	msgSignedOut         = "You have signed out."
)

type signUpData struct {
	Email, Organisation string
	MinPassword         int
}

func (p *Portal) signUpForm(c *gin.Context) {
	p.page(c, http.StatusOK, "portal/sign_up", Page{Title: "Create your developer account",
		Data: signUpData{MinPassword: partners.MinPasswordLength}})
}

func (p *Portal) signUp(c *gin.Context) {
	c.Request.ParseForm()
	d := signUpData{Email: c.PostForm("email"), Organisation: c.PostForm("organisation"), MinPassword: partners.MinPasswordLength}
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, "")
		return
	}
	// An email that already has an account answers exactly like a new one
	// (its owner is mailed instead), so sign-up tells nobody which emails exist.
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	if _, err := p.Partners.SignUp(ctx, d.Email, c.PostForm("password"), d.Organisation); err != nil && !errors.Is(err, partners.ErrEmailRegistered) {
		status, msg := refusal(p.log(), "sign up", err)
		p.page(c, status, "portal/sign_up", Page{Title: "Create your developer account", Error: msg, Data: d})
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/check-email")
}

func (p *Portal) checkEmail(c *gin.Context) {
	p.page(c, http.StatusOK, "portal/check_email", Page{Title: "Check your email", Data: map[string]bool{"DevOutbox": p.showsDevOutbox(c.Request)}})
}

func (p *Portal) verifyForm(c *gin.Context) {
	p.page(c, http.StatusOK, "portal/verify_email", Page{Title: "Confirm your email address", Data: c.Query("token")})
}

func (p *Portal) verify(c *gin.Context) {
	c.Request.ParseForm()
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, "")
		return
	}
	tok := c.PostForm("token")
	if _, err := p.Partners.VerifyEmail(c.Request.Context(), tok); err != nil {
		status, msg := refusal(p.log(), "verify email", err)
		p.page(c, status, "portal/verify_email", Page{Title: "Confirm your email address", Error: msg})
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/sign-in?verified=1")
}

type signInData struct {
	Email, Next string
}

func (p *Portal) signInForm(c *gin.Context) {
	flash := ""
	switch {
	case c.Query("verified") != "":
		flash = msgEmailVerified
	case c.Query("signed-out") != "":
		flash = msgSignedOut
	}
	p.page(c, http.StatusOK, "portal/sign_in", Page{Title: "Sign in to the developer portal", Flash: flash,
		Data: signInData{Next: safeNext(c.Query("next"), "/portal/")}})
}

func (p *Portal) signIn(c *gin.Context) {
	c.Request.ParseForm()
	d := signInData{Email: c.PostForm("email"), Next: safeNext(c.PostForm("next"), "/portal/")}
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, "")
		return
	}
	fail := func(status int, msg string) {
		p.page(c, status, "portal/sign_in", Page{Title: "Sign in to the developer portal", Error: msg, Data: d})
	}
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	u, err := p.Partners.Login(ctx, d.Email, c.PostForm("password"))
	if err != nil {
		fail(refusal(p.log(), "portal sign in", err))
		return
	}
	if u.EmailVerifiedAt == nil {
		fail(http.StatusForbidden, msgPortalVerifyFirst)
		return
	}
	if err := p.Sessions.Create(ctx, c.Writer, c.Request, SessionPortal, u.ID); err != nil {
		fail(refusal(p.log(), "portal session", err))
		return
	}
	if d.Next != "" {
		c.Redirect(http.StatusSeeOther, d.Next)
		return
	}
	p.toFirstOrg(ctx, c, u.ID)
}

func (p *Portal) signOut(c *gin.Context) {
	c.Request.ParseForm()
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, "")
		return
	}
	p.Sessions.Destroy(c.Request.Context(), c.Writer, c.Request, SessionPortal)
	c.Redirect(http.StatusSeeOther, "/portal/sign-in?signed-out=1")
}

type invitationData struct {
	Token    string
	SignedIn string // the signed-in user's email, if any
}

func (p *Portal) invitationForm(c *gin.Context) {
	d := invitationData{Token: c.Query("token")}
	if s, err := p.Sessions.Get(c.Request.Context(), c.Request, SessionPortal); err == nil {
		if u, err := p.Partners.User(c.Request.Context(), s.SubjectID); err == nil {
			d.SignedIn = u.Email
		}
	}
	p.page(c, http.StatusOK, "portal/invitation", Page{Title: "Join an organisation", User: d.SignedIn, Data: d})
}

// acceptInvitation: a signed-in user joins the inviting organisation.
func (p *Portal) acceptInvitation(c *gin.Context) {
	u, ok := p.signedIn(c)
	if !ok {
		return
	}
	c.Request.ParseForm()
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, u.Email)
		return
	}
	d := invitationData{Token: c.PostForm("token"), SignedIn: u.Email}
	m, err := p.Partners.AcceptInvitation(c.Request.Context(), u.ID, d.Token)
	if err != nil {
		status, msg := refusal(p.log(), "accept invitation", err)
		p.page(c, status, "portal/invitation", Page{Title: "Join an organisation", User: u.Email, Error: msg, Data: d})
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/orgs/"+m.PartnerID)
}

// invitationSignUp creates an account for the invited address and signs it in.
func (p *Portal) invitationSignUp(c *gin.Context) {
	c.Request.ParseForm()
	if !p.CSRF.Verify(c.Request) {
		p.csrfFailed(c, "")
		return
	}
	d := invitationData{Token: c.PostForm("token")}
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	u, err := p.Partners.SignUpWithInvitation(ctx, d.Token, c.PostForm("password"))
	if err != nil {
		status, msg := refusal(p.log(), "invitation sign up", err)
		if problem.CodeOf(err) == problem.CodeConflict {
			msg += " Sign in first, then open the invitation link again."
		}
		p.page(c, status, "portal/invitation", Page{Title: "Join an organisation", Error: msg, Data: d})
		return
	}
	if err := p.Sessions.Create(ctx, c.Writer, c.Request, SessionPortal, u.ID); err != nil {
		status, msg := refusal(p.log(), "portal session", err)
		p.problemPage(c, status, titleFor(status), msg, "")
		return
	}
	p.toFirstOrg(ctx, c, u.ID)
}

var linkRe = regexp.MustCompile(`https?://[^\s<>"]+`)

type outboxMail struct {
	mail.Message
	Links []string
}

// outbox is the development-only page listing outgoing mail.
func (p *Portal) outbox(c *gin.Context) {
	to := strings.TrimSpace(c.Query("to"))
	var list []outboxMail
	errMsg := ""
	if p.DB == nil {
		errMsg = "The outbox is not configured."
	} else if ms, err := mail.List(c.Request.Context(), p.DB, strings.ToLower(to), 100); err != nil {
		_, errMsg = refusal(p.log(), "list outbox", err)
	} else {
		for _, m := range ms {
			list = append(list, outboxMail{Message: m, Links: linkRe.FindAllString(m.Body, -1)})
		}
	}
	p.page(c, http.StatusOK, "portal/outbox", Page{Title: "Email outbox (development)", Error: errMsg,
		Data: map[string]any{"To": to, "Mails": list}})
}
