package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
)

// Portal serves the partner developer portal at /portal: sign-up, email
// verification, sign-in, the organisation's lifecycle dashboard, profile,
// partnership application, team, apps and credentials, dynamic-registration
// tokens, sandbox test customers (and resetting the partner's own sandbox
// data) and request logs. Handlers are thin: they parse the form, call
// partners.Service and render or redirect (303).
type Portal struct {
	Pages    *Renderer
	CSRF     CSRF
	Sessions *Sessions
	Partners *partners.Service
	// Personas lists the sandbox's synthetic customers (nil: the page says
	// none are available).
	Personas SandboxPersonas
	// Requests reads an app's request log (nil: the page says logs are not
	// available).
	Requests RequestLogSource
	// SandboxReset resets a partner's own sandbox data from the sandbox
	// customers page (nil: the page says resetting is not available).
	SandboxReset SandboxResetter
	// DB is where the email outbox lives; only used by the dev outbox page.
	DB *gorm.DB
	// DevOutbox mounts /portal/dev/outbox, which shows every outgoing mail
	// with its links, to loopback clients only (judged by the TCP peer
	// address, never by forwarded headers); anyone else gets 404. The
	// composition root sets it in development mode only.
	DevOutbox bool
	// RegistrationURL is the RFC 7591 registration endpoint shown next to an
	// initial access token (default "/register").
	RegistrationURL string
	Log             *slog.Logger
}

// Register mounts the portal routes under /portal.
func (p *Portal) Register(r gin.IRouter) {
	g := r.Group("/portal")
	g.GET("", p.home)
	g.GET("/", p.home)
	g.GET("/sign-up", p.signUpForm)
	g.POST("/sign-up", p.signUp)
	g.GET("/check-email", p.checkEmail)
	g.GET("/verify-email", p.verifyForm)
	g.POST("/verify-email", p.verify)
	g.GET("/sign-in", p.signInForm)
	g.POST("/sign-in", p.signIn)
	g.POST("/sign-out", p.signOut)
	g.GET("/invitations/accept", p.invitationForm)
	g.POST("/invitations/accept", p.acceptInvitation)
	g.POST("/invitations/sign-up", p.invitationSignUp)

	o := g.Group("/orgs/:pid")
	o.GET("", p.dashboard)
	o.GET("/profile", p.profileForm)
	o.POST("/profile", p.updateProfile)
	o.GET("/application", p.applicationForm)
	o.POST("/application", p.submitApplication)
	o.GET("/team", p.team)
	o.POST("/team/invite", p.invite)
	o.POST("/team/:uid/role", p.changeRole)
	o.POST("/team/:uid/remove", p.removeMember)
	o.GET("/apps", p.apps)
	o.GET("/apps/new", p.newAppForm)
	o.POST("/apps", p.createApp)
	o.GET("/apps/:aid", p.app)
	o.POST("/apps/:aid", p.updateApp)
	o.POST("/apps/:aid/rotate", p.rotate)
	o.POST("/apps/:aid/revoke", p.revoke)
	o.GET("/apps/:aid/requests", p.requestLog)
	o.GET("/registration-token", p.registrationTokenForm)
	o.POST("/registration-token", p.issueRegistrationToken)
	o.GET("/sandbox-customers", p.sandboxCustomers)
	o.POST("/sandbox-customers/reset", p.resetSandbox)
	o.GET("/certification", p.certification)
	o.POST("/certification", p.runCertification)

	if p.DevOutbox {
		g.GET("/dev/outbox", loopbackOnly(NotFoundPage(p.Pages)), p.outbox)
	}
}

// loopbackOnly answers 404 unless the request's TCP peer (RemoteAddr, not
// X-Forwarded-For or any other header a client can write) is a loopback
// address: the development outbox is for the developer's own machine. Behind
// a proxy on the same host every client looks local, which is why
// production mode has no outbox at all.
// A refusal is notFound, the router's own answer to an unknown page path
// (NotFoundPage), so the route's existence does not show.
func loopbackOnly(notFound gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !fromLoopback(c.Request) {
			notFound(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// fromLoopback reports whether r's TCP peer is a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// showsDevOutbox reports whether r may see (and be pointed at) the
// development outbox.
func (p *Portal) showsDevOutbox(r *http.Request) bool { return p.DevOutbox && fromLoopback(r) }

func (p *Portal) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// readable turns a service detail ("unknown email or wrong password") into a
// sentence ("Unknown email or wrong password.").
func readable(detail string) string {
	detail = strings.TrimSpace(detail)
	if detail == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(detail)
	detail = string(unicode.ToUpper(r)) + detail[n:]
	if !strings.HasSuffix(detail, ".") && !strings.HasSuffix(detail, "?") && !strings.HasSuffix(detail, "!") {
		detail += "."
	}
	return detail
}

const msgInternal = "Something went wrong on our side. Please try again in a moment."

// refusal maps a service error to a status and a message for the page. A
// *problem.Error shows its detail; anything else is logged and shown as a
// generic message (never the raw error).
func refusal(log *slog.Logger, what string, err error) (int, string) {
	var pe *problem.Error
	if errors.As(err, &pe) && pe.Code != problem.CodeInternal {
		return pe.Status(), readable(pe.Detail)
	}
	log.Error("web: "+what, "err", err)
	return http.StatusInternalServerError, msgInternal
}

// csrfMessage is shown when a form's CSRF token is missing or wrong.
const csrfMessage = "This form has expired or did not come from this site. Go back, reload the page and try again."

// safeNext accepts only a local path under prefix as a post-sign-in target.
func safeNext(next, prefix string) string {
	if strings.HasPrefix(next, prefix) && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		if u, err := url.Parse(next); err == nil && u.Host == "" && u.Scheme == "" {
			return next
		}
	}
	return ""
}

// page renders a portal page.
func (p *Portal) page(c *gin.Context, status int, name string, pg Page) {
	pg.Area = "portal"
	if pg.CSRFToken == "" {
		pg.CSRFToken = p.CSRF.Token(c.Writer, c.Request)
	}
	p.Pages.Render(c.Writer, status, name, pg)
}

// problemPage renders a refusal on its own page (403 CSRF, 404, …).
func (p *Portal) problemPage(c *gin.Context, status int, title, msg, user string) {
	p.page(c, status, "problem", Page{Title: title, Error: msg, User: user})
}

func (p *Portal) csrfFailed(c *gin.Context, user string) {
	p.problemPage(c, http.StatusForbidden, "Form expired", csrfMessage, user)
}

func titleFor(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Not found"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusInternalServerError:
		return "Something went wrong"
	}
	return "That did not work"
}

// portalUser is the signed-in portal user.
type portalUser struct {
	ID, Email string
}

// signedIn returns the signed-in user or redirects to the sign-in page.
func (p *Portal) signedIn(c *gin.Context) (*portalUser, bool) {
	s, err := p.Sessions.Get(c.Request.Context(), c.Request, SessionPortal)
	if err == nil {
		u, err := p.Partners.User(c.Request.Context(), s.SubjectID)
		if err == nil {
			return &portalUser{ID: u.ID, Email: u.Email}, true
		}
	}
	if err != nil && !errors.Is(err, ErrNoSession) {
		p.log().Error("web: portal session", "err", err)
	}
	next := ""
	if c.Request.Method == http.MethodGet {
		next = "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
	}
	c.Redirect(http.StatusSeeOther, "/portal/sign-in"+next)
	return nil, false
}

// orgView is what every organisation page knows: the partner, the user's
// role in it and what that role may do.
type orgView struct {
	Partner            *partners.Partner
	Role               partners.Role
	Nav                *navBar
	CanUpdateOrg       bool
	CanSubmit          bool
	CanManageTeam      bool
	CanWriteSandbox    bool
	CanWriteProduction bool
}

// Base is the org path, e.g. /portal/orgs/ptn_….
func (o *orgView) Base() string { return "/portal/orgs/" + o.Partner.ID }

func (o *orgView) navigation() *navBar {
	if o == nil {
		return nil
	}
	return o.Nav
}

// org loads the signed-in user and the partner of the :pid path parameter. A
// partner the user is not a member of is a 404 page. For POST requests it
// also checks the CSRF token.
func (p *Portal) org(c *gin.Context, current string) (*portalUser, *orgView, bool) {
	u, ok := p.signedIn(c)
	if !ok {
		return nil, nil, false
	}
	if c.Request.Method == http.MethodPost {
		c.Request.ParseForm()
		if !p.CSRF.Verify(c.Request) {
			p.csrfFailed(c, u.Email)
			return nil, nil, false
		}
	}
	pt, role, err := p.Partners.PartnerForMember(c.Request.Context(), u.ID, c.Param("pid"))
	if err != nil {
		status, msg := refusal(p.log(), "load partner", err)
		p.problemPage(c, status, titleFor(status), msg, u.Email)
		return nil, nil, false
	}
	o := &orgView{Partner: pt, Role: role,
		CanUpdateOrg:       partners.Can(role, partners.ActOrgUpdate),
		CanSubmit:          partners.Can(role, partners.ActApplicationSubmit),
		CanManageTeam:      partners.Can(role, partners.ActTeamManage),
		CanWriteSandbox:    partners.Can(role, partners.ActAppsSandbox),
		CanWriteProduction: partners.Can(role, partners.ActAppsProduction)}
	base := o.Base()
	links := []navLink{{base, "Overview", false}, {base + "/apps", "Apps", false}, {base + "/team", "Team", false},
		{base + "/profile", "Organisation", false}, {base + "/sandbox-customers", "Sandbox customers", false},
		{base + "/billing", "Billing", false}, {base + "/reviews", "Reviews", false}, {base + "/complaints", "Complaints", false},
		{base + "/wind-down", "Wind-down", false}}
	for i := range links {
		links[i].Current = links[i].Label == current
	}
	o.Nav = &navBar{Label: pt.Name(), Links: links, SignOut: "/portal/sign-out"}
	return u, o, true
}

// home sends a signed-in user to their (first) organisation.
func (p *Portal) home(c *gin.Context) {
	s, err := p.Sessions.Get(c.Request.Context(), c.Request, SessionPortal)
	if err != nil {
		c.Redirect(http.StatusSeeOther, "/portal/sign-in")
		return
	}
	p.toFirstOrg(c.Request.Context(), c, s.SubjectID)
}

func (p *Portal) toFirstOrg(ctx context.Context, c *gin.Context, userID string) {
	ms, err := p.Partners.Memberships(ctx, userID)
	if err != nil {
		status, msg := refusal(p.log(), "memberships", err)
		p.problemPage(c, status, titleFor(status), msg, "")
		return
	}
	if len(ms) == 0 {
		p.problemPage(c, http.StatusOK, "No organisation",
			"You are not a member of any organisation. Ask an owner to invite you, or sign up a new organisation.", "")
		return
	}
	c.Redirect(http.StatusSeeOther, "/portal/orgs/"+ms[0].Partner.ID)
}
