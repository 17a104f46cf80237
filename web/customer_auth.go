package web

import (
	"net/http"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// CustomerAuth renders the bank customer's login and consent pages of the
// authorization flow; it implements oauth.Pages.
type CustomerAuth struct {
	Renderer *Renderer
	CSRF     CSRF
}

var _ oauth.Pages = (*CustomerAuth)(nil)

// NewCustomerAuth returns the customer pages rendered by r, with cookies
// marked Secure when secure is true.
func NewCustomerAuth(r *Renderer, secure bool) *CustomerAuth {
	return &CustomerAuth{Renderer: r, CSRF: CSRF{Secure: secure}}
}

func status(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// Login implements oauth.Pages.
func (c *CustomerAuth) Login(w http.ResponseWriter, r *http.Request, p oauth.LoginPage) {
	c.Renderer.Render(w, status(p.Status), "customer/login", Page{
		Title: "Log in to your bank", Area: "customer", CSRFToken: c.CSRF.Token(w, r), Error: p.Error, Data: p,
	})
}

// Consent implements oauth.Pages.
func (c *CustomerAuth) Consent(w http.ResponseWriter, r *http.Request, p oauth.ConsentPage) {
	c.Renderer.Render(w, status(p.Status), "customer/consent", Page{
		Title: "Allow " + p.ClientName + "?", Area: "customer", CSRFToken: c.CSRF.Token(w, r),
		User: p.CustomerName, Error: p.Error, Data: p,
	})
}

// SCA implements oauth.Pages: the authenticator-app code after the
// password (a recovery code as the alternative), with the payments being
// confirmed.
func (c *CustomerAuth) SCA(w http.ResponseWriter, r *http.Request, p oauth.SCAPage) {
	c.Renderer.Render(w, status(p.Status), "customer/sca", Page{
		Title: "Confirm it is you", Area: "customer", CSRFToken: c.CSRF.Token(w, r),
		User: p.CustomerName, Error: p.Error, Data: p,
	})
}

// noSecondFactorView is the no-second-factor page's data: the flow's, and
// where the customer's Security page is.
type noSecondFactorView struct {
	oauth.NoSecondFactorPage
	SecurityURL string
}

// NoSecondFactor implements oauth.Pages: what the app asks for needs a
// second factor the customer has not set up; the page says how to set one
// up (the dashboard's Security page of the customer's environment) and
// takes the customer back to the app.
func (c *CustomerAuth) NoSecondFactor(w http.ResponseWriter, r *http.Request, p oauth.NoSecondFactorPage) {
	base := CustomerDashboardPath
	if p.Environment == environment.Sandbox {
		base = SandboxCustomerDashboardPath
	}
	c.Renderer.Render(w, status(p.Status), "customer/no_second_factor", Page{
		Title: "Set up a second factor first", Area: "customer", CSRFToken: c.CSRF.Token(w, r),
		User: p.CustomerName, Data: noSecondFactorView{NoSecondFactorPage: p, SecurityURL: base + "/security"},
	})
}

// Error implements oauth.Pages: the message in plain words, then the OAuth
// error code and hint for the app's developer.
func (c *CustomerAuth) Error(w http.ResponseWriter, r *http.Request, p oauth.ErrorPage) {
	msg := p.Message
	if p.Code != "" {
		msg += " (For the app's developer: " + p.Code
		if p.Hint != "" {
			msg += " \u2014 " + p.Hint
		}
		msg += ")"
	}
	title := p.Title
	if title == "" {
		title = "Something went wrong"
	}
	c.Renderer.Render(w, status(p.Status), "problem", Page{Title: title, Area: "error", Error: msg})
}

// CheckCSRF implements oauth.Pages.
func (c *CustomerAuth) CheckCSRF(r *http.Request) bool { return c.CSRF.Verify(r) }
