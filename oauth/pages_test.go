package oauth_test

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/bankbridge/bankbridge/oauth"
)

// testPages renders minimal login, consent and error pages with the same form
// fields as web's real ones (web is tested on its own), so oauth's tests do
// not depend on the web package's other pages.
type testPages struct{}

var testTmpl = template.Must(template.New("").Parse(`
{{define "login"}}<h1>Log in to your bank</h1><p>{{.P.ClientName}} {{.P.PartnerName}}</p><p class="error">{{.P.Error}}</p>
<form method="post" action="{{.P.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="login">
<label for="username">Username</label><input id="username" name="username" value="{{.P.Username}}">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Log in</button></form>{{end}}
{{define "consent"}}<h1>Do you want to allow this?</h1><p>{{.P.CustomerName}} {{.P.ClientName}} {{.P.PartnerName}}</p><p class="error">{{.P.Error}}</p>
<form method="post" action="{{.P.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="consent">
<ul>{{range .P.Scopes}}<li>{{.Text}}</li>{{end}}</ul>
{{range .P.Details}}<h2>{{.Title}}</h2><ul>{{range .Lines}}<li>{{.}}</li>{{end}}</ul><p>{{.ExpiresAt.Format "2 Jan 2006"}}</p>{{$c := .ConsentID}}{{$m := .SelectMode}}
{{range .Accounts}}<label><input type="{{if eq $m "multi"}}checkbox{{else}}radio{{end}}" name="accounts.{{$c}}" value="{{.ID}}"> {{.Label}}</label>{{end}}{{end}}
{{range .P.TrustOffers}}<label><input type="checkbox" name="trust.{{.ConsentID}}" value="1"> Trust {{.PayeeName}}</label>{{end}}
<button type="submit" name="decision" value="approve">Authorise</button><button type="submit" name="decision" value="deny">Deny</button></form>{{end}}
{{define "sca"}}<h1>Confirm it is you</h1><p>{{.P.CustomerName}} {{.P.ClientName}}</p><p class="error">{{.P.Error}}</p>
{{range .P.Payments}}<p class="payment">{{.Amount.Major}} {{.Amount.Currency}} to {{.PayeeName}}</p>{{end}}
{{if .P.Passkey}}<form method="post" action="{{.P.Action}}" id="sca-passkey"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="sca"><input type="hidden" name="method" value="passkey">
<input type="hidden" name="ceremony_id"><input type="hidden" name="assertion"><button type="submit">Use a passkey</button></form>{{end}}
{{if .P.AuthenticatorApp}}<form method="post" action="{{.P.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="sca"><input type="hidden" name="method" value="totp">
<label for="code">Authenticator code</label><input id="code" name="code"><button type="submit">Confirm</button></form>{{end}}
{{if .P.RecoveryCodes}}<form method="post" action="{{.P.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="sca"><input type="hidden" name="method" value="recovery">
<label for="recovery_code">Use a recovery code</label><input id="recovery_code" name="code"><button type="submit">Confirm</button></form>{{end}}{{end}}
{{define "no_second_factor"}}<h1>Set up a second factor first</h1><p>{{.P.CustomerName}} {{.P.ClientName}} {{.P.Environment}}</p>
{{range .P.Payments}}<p class="payment">{{.Amount.Major}} {{.Amount.Currency}} to {{.PayeeName}}</p>{{end}}
<form method="post" action="{{.P.Action}}"><input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="interaction" value="{{.P.InteractionID}}"><input type="hidden" name="step" value="no_second_factor">
<button type="submit">Back to the app</button></form>{{end}}
{{define "error"}}<h1>{{.P.Title}}</h1><p>{{.P.Message}}</p><p id="code">{{.P.Code}}</p><p id="hint">{{.P.Hint}}</p>{{end}}
`))

const testCSRFCookie = "t_csrf"

func (testPages) csrf(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(testCSRFCookie); err == nil && c.Value != "" {
		return c.Value
	}
	b := make([]byte, 16)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: testCSRFCookie, Value: v, Path: "/", HttpOnly: true})
	return v
}

func (p testPages) render(w http.ResponseWriter, r *http.Request, name string, status int, data any) {
	tok := p.csrf(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	testTmpl.ExecuteTemplate(w, name, map[string]any{"P": data, "CSRF": tok})
}

func (p testPages) Login(w http.ResponseWriter, r *http.Request, lp oauth.LoginPage) {
	p.render(w, r, "login", lp.Status, lp)
}

func (p testPages) Consent(w http.ResponseWriter, r *http.Request, cp oauth.ConsentPage) {
	p.render(w, r, "consent", cp.Status, cp)
}

func (p testPages) SCA(w http.ResponseWriter, r *http.Request, sp oauth.SCAPage) {
	p.render(w, r, "sca", sp.Status, sp)
}

func (p testPages) NoSecondFactor(w http.ResponseWriter, r *http.Request, np oauth.NoSecondFactorPage) {
	p.render(w, r, "no_second_factor", np.Status, np)
}

func (p testPages) Error(w http.ResponseWriter, r *http.Request, ep oauth.ErrorPage) {
	p.render(w, r, "error", ep.Status, ep)
}

func (testPages) CheckCSRF(r *http.Request) bool {
	c, err := r.Cookie(testCSRFCookie)
	if err != nil {
		return false
	}
	got := r.PostFormValue("csrf_token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}
