package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// CustomerConsent is one consent as the customer's dashboard shows it.
type CustomerConsent struct {
	ID           string
	Kind         string // "Account access", "Payment", "Data sharing"
	PartnerName  string
	AppName      string
	Status       string // Authorised, Revoked, Expired, Rejected, Consumed…
	Active       bool   // can still be revoked
	Permissions  []string
	Accounts     []string // how the customer recognises them: "Current account •••• 1234"
	AuthorisedAt time.Time
	ExpiresAt    time.Time // zero: no expiry
}

// CustomerConsents is what the dashboard needs from the consent service.
type CustomerConsents interface {
	// ListForCustomer returns the customer's consents, newest first.
	ListForCustomer(ctx context.Context, customerID string) ([]CustomerConsent, error)
	// RevokeByCustomer revokes one of the customer's consents and its tokens.
	// Another customer's consent is a *problem.Error with CodeNotFound.
	RevokeByCustomer(ctx context.Context, customerID, consentID string) error
}

// SessionSandboxCustomer is the session kind of the sandbox customer
// dashboard (a persona signed in at /sandbox/customer); production customers'
// sessions are SessionCustomer. The kind records the environment, so a
// session of one environment never opens the other's dashboard.
const SessionSandboxCustomer = "sandbox_customer"

// Where each environment's customer dashboard lives.
const (
	CustomerDashboardPath        = "/customer"         // production customers
	SandboxCustomerDashboardPath = "/sandbox/customer" // sandbox personas
)

// CustomerDashboard serves one environment's customer dashboard: sign-in, the
// list of consents the customer has given, and revocation; with SCA set, also
// the Security page of the customer's second factors (customer_security.go).
// Production
// customers use /customer; the same dashboard for the sandbox personas is at
// /sandbox/customer, where partner developers see the customer's side of
// their tests. A customer of one environment can never sign in to the other's.
type CustomerDashboard struct {
	// Environment is whose customers sign in here: environment.Production (at
	// CustomerDashboardPath) or environment.Sandbox (at
	// SandboxCustomerDashboardPath). Register panics on anything else.
	Environment environment.Environment
	Pages       *Renderer
	CSRF        CSRF
	Sessions    *Sessions
	// Customers must be the throttled authenticator (oauth.Server.ThrottledCustomers),
	// which answers oauth.ErrLoginThrottled after too many wrong passwords.
	// It is asked only for customers of Environment.
	Customers oauth.CustomerAuthenticator
	Consents  CustomerConsents
	// SCA is the customers' second factors; when set, the dashboard has a
	// Security page (authenticator app, recovery codes, passkeys).
	SCA *sca.Service
	// Passkeys registers and removes passkeys; nil when the issuer cannot be
	// a WebAuthn relying party (the Security page then says so).
	Passkeys *passkeys.Service
	// Usernames names the signed-in customer for the Security page (needed
	// with SCA).
	Usernames CustomerUsernames
	// Complaints, when set, adds the Payments page: the customer's payments
	// made through partners with "Report a problem" (package complaints).
	Complaints *complaints.Service
	// DB is where the Security page records the audit entries of changes the
	// second-factor services do not audit themselves (nil: none recorded).
	DB  *gorm.DB
	Log *slog.Logger
	// Accounts, when set, gives the dashboard an Accounts page: balances and
	// the latest entries of each account (customer_statement.go).
	Accounts CustomerAccounts
}

// base is the dashboard's path prefix.
func (d *CustomerDashboard) base() string {
	if d.Environment == environment.Sandbox {
		return SandboxCustomerDashboardPath
	}
	return CustomerDashboardPath
}

// kind is the dashboard's session kind.
func (d *CustomerDashboard) kind() string {
	if d.Environment == environment.Sandbox {
		return SessionSandboxCustomer
	}
	return SessionCustomer
}

// Register mounts the dashboard routes under its environment's path (and the
// Security page's when SCA is set). It panics on an Environment other than
// Sandbox or Production, and on SCA without Usernames (wiring bugs).
func (d *CustomerDashboard) Register(r gin.IRouter) {
	if d.Environment != environment.Sandbox && d.Environment != environment.Production {
		panic("web: CustomerDashboard.Environment must be environment.Sandbox or environment.Production, not " + strconv.Quote(string(d.Environment)))
	}
	b := d.base()
	r.GET(b, func(c *gin.Context) { c.Redirect(http.StatusSeeOther, b+"/consents") })
	r.GET(b+"/login", d.loginForm)
	r.POST(b+"/login", d.login)
	r.POST(b+"/logout", d.logout)
	r.GET(b+"/consents", d.list)
	r.POST(b+"/consents/:id/revoke", d.revoke)
	if d.Complaints != nil {
		d.registerComplaints(r, b)
	}
	if d.Accounts != nil {
		r.GET(b+"/accounts", d.accounts)
	}
	if d.SCA != nil {
		if d.Usernames == nil {
			panic("web: CustomerDashboard.SCA needs Usernames")
		}
		d.registerSecurity(r, b)
	}
}

// dashboardView is what every dashboard page shows of the dashboard itself.
type dashboardView struct {
	Base    string // the path prefix: CustomerDashboardPath or SandboxCustomerDashboardPath
	Sandbox bool   // the sandbox personas' dashboard
}

type customerLoginData struct {
	dashboardView
	Username string
}

func (d *CustomerDashboard) view() dashboardView {
	return dashboardView{Base: d.base(), Sandbox: d.Environment == environment.Sandbox}
}

func (d *CustomerDashboard) loginTitle() string {
	if d.Environment == environment.Sandbox {
		return "Sign in to the sandbox bank"
	}
	return "Sign in to your bank"
}

func (d *CustomerDashboard) page(c *gin.Context, status int, name string, p Page) {
	p.Area = "customer"
	p.CSRFToken = d.CSRF.Token(c.Writer, c.Request)
	d.Pages.Render(c.Writer, status, name, p)
}

func (d *CustomerDashboard) loginForm(c *gin.Context) {
	d.page(c, http.StatusOK, "customer/dashboard_login", Page{Title: d.loginTitle(), Data: customerLoginData{dashboardView: d.view()}})
}

func (d *CustomerDashboard) login(c *gin.Context) {
	c.Request.ParseForm()
	username := c.PostForm("username")
	if !d.CSRF.Verify(c.Request) {
		d.page(c, http.StatusForbidden, "customer/dashboard_login", Page{Title: d.loginTitle(),
			Error: "Your session expired. Please try again.", Data: customerLoginData{dashboardView: d.view(), Username: username}})
		return
	}
	// The throttle counts attempts per client address too (the TCP peer).
	ctx := throttle.WithClient(c.Request.Context(), c.Request)
	id, err := d.Customers.Authenticate(ctx, d.Environment, username, c.PostForm("password"))
	if err != nil {
		status, msg := http.StatusUnauthorized, "The username or password is not right. Please try again."
		switch {
		case errors.Is(err, oauth.ErrLoginThrottled):
			status, msg = http.StatusTooManyRequests, "Too many wrong attempts. For your safety, signing in is blocked for 15 minutes at most. Please try again later."
		case errors.Is(err, oauth.ErrCustomerLocked):
			status, msg = http.StatusForbidden, "This sign-in is locked. Please wait 15 minutes or call the bank."
		case errors.Is(err, secrets.ErrBusy):
			status, msg = http.StatusServiceUnavailable, "We are very busy just now. Please try again in a moment."
		case !errors.Is(err, oauth.ErrBadCredentials):
			d.Log.Error("customer login", "err", err)
			status, msg = http.StatusInternalServerError, "We could not sign you in just now. Please try again."
		}
		d.page(c, status, "customer/dashboard_login", Page{Title: d.loginTitle(), Error: msg,
			Data: customerLoginData{dashboardView: d.view(), Username: username}})
		return
	}
	if err := d.Sessions.Create(c.Request.Context(), c.Writer, c.Request, d.kind(), id); err != nil {
		d.Log.Error("customer session", "err", err)
		d.page(c, http.StatusInternalServerError, "customer/dashboard_login", Page{Title: d.loginTitle(),
			Error: "We could not sign you in just now. Please try again.", Data: customerLoginData{dashboardView: d.view()}})
		return
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/consents")
}

func (d *CustomerDashboard) logout(c *gin.Context) {
	c.Request.ParseForm()
	if d.CSRF.Verify(c.Request) {
		d.Sessions.Destroy(c.Request.Context(), c.Writer, c.Request, d.kind())
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/login")
}

// signedIn returns the customer id of this environment's session, or
// redirects to the login page.
func (d *CustomerDashboard) signedIn(c *gin.Context) (string, string, bool) {
	s, err := d.Sessions.Get(c.Request.Context(), c.Request, d.kind())
	if err != nil {
		c.Redirect(http.StatusSeeOther, d.base()+"/login")
		return "", "", false
	}
	name, _ := d.Customers.DisplayName(c.Request.Context(), s.SubjectID)
	return s.SubjectID, name, true
}

type consentListData struct {
	dashboardView
	Active, Past []CustomerConsent
}

func (d *CustomerDashboard) list(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	d.renderList(c, id, name, http.StatusOK, c.Query("revoked"), "")
}

func (d *CustomerDashboard) renderList(c *gin.Context, customerID, name string, status int, flash, errMsg string) {
	all, err := d.Consents.ListForCustomer(c.Request.Context(), customerID)
	if err != nil {
		d.Log.Error("list consents", "err", err)
		errMsg = "We could not load your consents just now. Please try again."
	}
	data := consentListData{dashboardView: d.view()}
	for _, x := range all {
		if x.Active {
			data.Active = append(data.Active, x)
		} else {
			data.Past = append(data.Past, x)
		}
	}
	if flash != "" {
		flash = "Consent withdrawn. The app can no longer use it."
	}
	d.page(c, status, "customer/consents", Page{Title: "Apps you have given access", User: name, Flash: flash, Error: errMsg,
		Nav: d.nav(d.base() + "/consents"), Data: data})
}

func (d *CustomerDashboard) revoke(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	c.Request.ParseForm()
	if !d.CSRF.Verify(c.Request) {
		d.renderList(c, id, name, http.StatusForbidden, "", "Your session expired. Please try again.")
		return
	}
	if err := d.Consents.RevokeByCustomer(c.Request.Context(), id, c.Param("id")); err != nil {
		status, msg := http.StatusInternalServerError, "We could not withdraw that consent just now. Please try again."
		var p *problem.Error
		if errors.As(err, &p) && p.Code != problem.CodeInternal {
			status, msg = p.Status(), p.Detail
		} else {
			d.Log.Error("revoke consent", "err", err)
		}
		d.renderList(c, id, name, status, "", msg)
		return
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/consents?revoked=1")
}
