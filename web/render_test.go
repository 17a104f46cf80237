package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestRendererParsesEveryPage(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r.Render(rec, 404, "error", Page{Title: "Not found", Area: "error", Error: "<no such page>"})
	if rec.Code != 404 || !strings.Contains(rec.Body.String(), "&lt;no such page&gt;") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Fatal("no CSP")
	}
}

func TestCSRF(t *testing.T) {
	c := CSRF{}
	get := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	tok := c.Token(rec, get)
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != 3 {
		t.Fatalf("cookie %+v", cookie)
	}
	post := func(field string, withCookie bool) bool {
		r := httptest.NewRequest("POST", "/", strings.NewReader(url.Values{CSRFField: {field}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withCookie {
			r.AddCookie(cookie)
		}
		r.ParseForm()
		return c.Verify(r)
	}
	if !post(tok, true) {
		t.Fatal("ok/matching token refused")
	}
	if post("", true) || post("wrong", true) || post(tok, false) {
		t.Fatal("fail/missing or wrong token accepted")
	}
}
