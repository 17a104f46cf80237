package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners"
)

// PersonaView is one synthetic sandbox customer as the portal lists it.
type PersonaView struct {
	Username    string
	Password    string
	DisplayName string
	Description string // who they are and what they hold
	Purpose     string // what a tester uses them for
	Behaviour   string // special behaviour in words ("Every consent is rejected", "Sign-in is locked"), or ""
	// TOTPSecret is the base32 secret of the persona's authenticator app
	// and TOTPURI its otpauth:// key URI; both "" when the persona has no
	// second factor.
	TOTPSecret string
	TOTPURI    string
}

// SandboxPersonas lists the sandbox's synthetic customers (wired from
// apis/core.Personas in cmd).
type SandboxPersonas interface {
	SandboxPersonas() []PersonaView
}

// SandboxPersonasFunc adapts a function to SandboxPersonas.
type SandboxPersonasFunc func() []PersonaView

// SandboxPersonas implements SandboxPersonas.
func (f SandboxPersonasFunc) SandboxPersonas() []PersonaView { return f() }

// RequestLogEntry is one API request an app made, for its request log page.
type RequestLogEntry struct {
	Time          time.Time
	Method        string
	Path          string
	Status        int
	Latency       time.Duration
	InteractionID string // x-fapi-interaction-id
	ProblemType   string // the problem code of an error answer, or ""
}

// RequestLogFilter narrows a request log; zero fields match everything.
type RequestLogFilter struct {
	Path          string // substring of the path
	Status        int    // exact HTTP status
	InteractionID string // exact
	Limit         int    // most entries to return (the page asks for 100)
}

// RequestLogSource reads an app's request log, newest first. partnerID is
// the signed-in member's partner; an app of another partner returns nothing.
type RequestLogSource interface {
	RequestLog(ctx context.Context, partnerID, clientID string, f RequestLogFilter) ([]RequestLogEntry, error)
}

type appsData struct {
	*orgView
	Sandbox, Production []partners.App
	CanProductionNow    bool
}

func (p *Portal) apps(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	list, err := p.Partners.ListApps(c.Request.Context(), u.ID, o.Partner.ID)
	if err != nil {
		status, msg := refusal(p.log(), "list apps", err)
		p.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	d := appsData{orgView: o, CanProductionNow: o.Partner.Status == partners.StatusLive && o.CanWriteProduction}
	for _, a := range list {
		if a.Environment == environment.Production {
			d.Production = append(d.Production, a)
		} else {
			d.Sandbox = append(d.Sandbox, a)
		}
	}
	flash := ""
	if c.Query("done") == "revoked" {
		flash = "App revoked. Its tokens no longer work."
	}
	p.page(c, http.StatusOK, "portal/apps", Page{Title: "Apps", User: u.Email, Flash: flash, Data: d})
}

// appForm is the create-app form's values.
type appForm struct {
	Name                        string
	Environment                 environment.Environment
	RedirectURIs, JWKS, JWKSURI string
	Scopes                      map[string]bool
}

type newAppData struct {
	*orgView
	In               appForm
	KnownScopes      []string
	CanProductionNow bool
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (p *Portal) newAppData(o *orgView, in appForm) newAppData {
	return newAppData{orgView: o, In: in, KnownScopes: partners.KnownScopes,
		CanProductionNow: o.Partner.Status == partners.StatusLive && o.CanWriteProduction}
}

func (p *Portal) newAppForm(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	in := appForm{Environment: environment.Sandbox, Scopes: map[string]bool{"openid": true, "accounts": true}}
	p.page(c, http.StatusOK, "portal/app_new", Page{Title: "Create an app", User: u.Email, Data: p.newAppData(o, in)})
}

func (p *Portal) createApp(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	in := appForm{Name: c.PostForm("name"), Environment: environment.Environment(c.PostForm("environment")), RedirectURIs: c.PostForm("redirect_uris"),
		JWKS: strings.TrimSpace(c.PostForm("jwks")), JWKSURI: strings.TrimSpace(c.PostForm("jwks_uri")), Scopes: map[string]bool{}}
	scopes := c.PostFormArray("scopes")
	for _, s := range scopes {
		in.Scopes[s] = true
	}
	a, err := p.Partners.CreateApp(c.Request.Context(), u.ID, o.Partner.ID, partners.AppInput{Name: in.Name,
		Environment: in.Environment, RedirectURIs: lines(in.RedirectURIs), Scopes: scopes,
		JWKS: json.RawMessage(in.JWKS), JWKSURI: in.JWKSURI})
	if err != nil {
		status, msg := refusal(p.log(), "create app", err)
		p.page(c, status, "portal/app_new", Page{Title: "Create an app", User: u.Email, Error: msg, Data: p.newAppData(o, in)})
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/apps/"+a.ID+"?done=created")
}

// jwkSummary describes one registered key without its parameters.
type jwkSummary struct {
	KeyID, Type, Algorithm string
}

type appData struct {
	*orgView
	App      *partners.App
	Keys     []jwkSummary
	CanWrite bool
	// Edit holds the edit form's values.
	Edit        appForm
	KnownScopes []string
}

func (p *Portal) renderApp(c *gin.Context, u *portalUser, o *orgView, status int, flash, errMsg string, edit *appForm) {
	a, err := p.Partners.GetApp(c.Request.Context(), u.ID, o.Partner.ID, c.Param("aid"))
	if err != nil {
		st, msg := refusal(p.log(), "get app", err)
		p.problemPage(c, st, titleFor(st), msg, u.Email)
		return
	}
	d := appData{orgView: o, App: a, CanWrite: partners.Can(o.Role, partnerAppAction(a.Environment)) && a.Status != partners.AppRevoked,
		KnownScopes: partners.KnownScopes, Edit: appForm{Name: a.Name, RedirectURIs: strings.Join(a.RedirectURIs, "\n"), Scopes: map[string]bool{}}}
	for _, s := range a.Scopes {
		d.Edit.Scopes[s] = true
	}
	if edit != nil {
		d.Edit = *edit
	}
	if a.JWKS != "" {
		if set, err := partners.ParseJWKS(json.RawMessage(a.JWKS)); err == nil {
			for _, k := range set.Keys {
				kty := "unknown"
				switch k.Key.(type) {
				case *ecdsa.PublicKey:
					kty = "EC P-256"
				case *rsa.PublicKey:
					kty = "RSA"
				}
				d.Keys = append(d.Keys, jwkSummary{KeyID: k.KeyID, Type: kty, Algorithm: k.Algorithm})
			}
		}
	}
	p.page(c, status, "portal/app", Page{Title: a.Name, User: u.Email, Flash: flash, Error: errMsg, Data: d})
}

func partnerAppAction(env environment.Environment) partners.Action {
	if env == environment.Production {
		return partners.ActAppsProduction
	}
	return partners.ActAppsSandbox
}

func (p *Portal) app(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	flash := ""
	switch c.Query("done") {
	case "created":
		flash = "App created. Use its client ID with your registered keys (private_key_jwt)."
	case "updated":
		flash = "Changes saved."
	case "rotated":
		flash = "Credentials replaced. Tokens signed with the old keys no longer authenticate."
	}
	p.renderApp(c, u, o, http.StatusOK, flash, "", nil)
}

func (p *Portal) updateApp(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	aid := c.Param("aid")
	in := appForm{Name: c.PostForm("name"), RedirectURIs: c.PostForm("redirect_uris"), Scopes: map[string]bool{}}
	scopes := c.PostFormArray("scopes")
	for _, s := range scopes {
		in.Scopes[s] = true
	}
	_, err := p.Partners.UpdateApp(c.Request.Context(), u.ID, o.Partner.ID, aid,
		partners.AppUpdate{Name: in.Name, RedirectURIs: lines(in.RedirectURIs), Scopes: scopes})
	if err != nil {
		status, msg := refusal(p.log(), "update app", err)
		p.renderApp(c, u, o, status, "", msg, &in)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/apps/"+aid+"?done=updated")
}

func (p *Portal) rotate(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	aid := c.Param("aid")
	_, err := p.Partners.RotateCredentials(c.Request.Context(), u.ID, o.Partner.ID, aid,
		json.RawMessage(strings.TrimSpace(c.PostForm("jwks"))), strings.TrimSpace(c.PostForm("jwks_uri")))
	if err != nil {
		status, msg := refusal(p.log(), "rotate credentials", err)
		p.renderApp(c, u, o, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/apps/"+aid+"?done=rotated")
}

func (p *Portal) revoke(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	if err := p.Partners.RevokeApp(c.Request.Context(), u.ID, o.Partner.ID, c.Param("aid")); err != nil {
		status, msg := refusal(p.log(), "revoke app", err)
		p.renderApp(c, u, o, status, "", msg, nil)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/apps?done=revoked")
}

type requestLogData struct {
	*orgView
	App       *partners.App
	Filter    RequestLogFilter
	StatusRaw string
	Entries   []RequestLogEntry
	Available bool
}

func (p *Portal) requestLog(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	a, err := p.Partners.GetApp(ctx, u.ID, o.Partner.ID, c.Param("aid"))
	if err != nil {
		st, msg := refusal(p.log(), "get app", err)
		p.problemPage(c, st, titleFor(st), msg, u.Email)
		return
	}
	d := requestLogData{orgView: o, App: a, Available: p.Requests != nil, StatusRaw: strings.TrimSpace(c.Query("status")),
		Filter: RequestLogFilter{Path: strings.TrimSpace(c.Query("path")), InteractionID: strings.TrimSpace(c.Query("interaction_id")), Limit: 100}}
	status, errMsg := http.StatusOK, ""
	if d.StatusRaw != "" {
		n, err := strconv.Atoi(d.StatusRaw)
		if err != nil || n < 100 || n > 599 {
			status, errMsg = http.StatusBadRequest, "Status must be an HTTP status code such as 200 or 404."
		} else {
			d.Filter.Status = n
		}
	}
	if d.Available && errMsg == "" {
		if d.Entries, err = p.Requests.RequestLog(ctx, o.Partner.ID, a.ID, d.Filter); err != nil {
			status, errMsg = refusal(p.log(), "request log", err)
		}
	}
	p.page(c, status, "portal/requests", Page{Title: "Requests of " + a.Name, User: u.Email, Error: errMsg, Data: d})
}

type regTokenData struct {
	*orgView
	Environment      environment.Environment
	Token            string
	ExpiresAt        time.Time
	RegistrationURL  string
	CanProductionNow bool
}

func (p *Portal) regURL() string {
	if p.RegistrationURL != "" {
		return p.RegistrationURL
	}
	return "/register"
}

func (p *Portal) registrationTokenForm(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	p.page(c, http.StatusOK, "portal/registration_token", Page{Title: "Dynamic client registration", User: u.Email,
		Data: regTokenData{orgView: o, Environment: environment.Sandbox, RegistrationURL: p.regURL(),
			CanProductionNow: o.Partner.Status == partners.StatusLive && o.CanWriteProduction}})
}

func (p *Portal) issueRegistrationToken(c *gin.Context) {
	u, o, ok := p.org(c, "Apps")
	if !ok {
		return
	}
	d := regTokenData{orgView: o, Environment: environment.Environment(c.PostForm("environment")), RegistrationURL: p.regURL(),
		CanProductionNow: o.Partner.Status == partners.StatusLive && o.CanWriteProduction}
	tok, exp, err := p.Partners.IssueInitialAccessToken(c.Request.Context(), u.ID, o.Partner.ID, d.Environment, 0)
	if err != nil {
		status, msg := refusal(p.log(), "issue initial access token", err)
		p.page(c, status, "portal/registration_token", Page{Title: "Dynamic client registration", User: u.Email, Error: msg, Data: d})
		return
	}
	d.Token, d.ExpiresAt = tok, exp
	p.page(c, http.StatusOK, "portal/registration_token", Page{Title: "Dynamic client registration", User: u.Email,
		Flash: "Token issued. Copy it now: it is shown only once.", Data: d})
}
