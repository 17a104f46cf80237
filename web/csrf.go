package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// CSRFCookie is the double-submit cookie name; CSRFField the form field.
const (
	CSRFCookie = "bb_csrf"
	CSRFField  = "csrf_token"
)

// CSRF implements the double-submit-cookie pattern: every form carries the
// value of an HttpOnly, SameSite=Strict cookie in a hidden field, and a POST
// whose field does not match the cookie is refused. Secure is set when the
// platform is served over HTTPS.
type CSRF struct {
	Secure bool
}

// Token returns the request's CSRF token, setting the cookie if it is new.
func (c CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(CSRFCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: c.Secure, SameSite: http.SameSiteStrictMode})
	// Make the new token visible to Verify within this same request.
	r.AddCookie(&http.Cookie{Name: CSRFCookie, Value: tok})
	return tok
}

// Verify reports whether a state-changing request carries the right token
// (form field csrf_token or header X-CSRF-Token). Call after ParseForm.
func (c CSRF) Verify(r *http.Request) bool {
	ck, err := r.Cookie(CSRFCookie)
	if err != nil || ck.Value == "" {
		return false
	}
	got := r.PostFormValue(CSRFField)
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) == 1
}
