package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/partners"
)

func TestRendererParsesEveryPage(t *testing.T) {
	r, err := NewRenderer()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r.Render(rec, 404, "problem", Page{Title: "Not found", Area: "error", Error: "<no such page>"})
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

// TestEveryTemplateDefinedOnce: each partial and page-local block is defined
// by one file only, so no template silently replaces another's definition.
func TestEveryTemplateDefinedOnce(t *testing.T) {
	if err := checkDefinitions(assets); err != nil {
		t.Fatalf("embedded templates: %v", err)
	}
	const layout = `{{define "frame"}}{{end}}{{template "title" .}}{{template "content" .}}`
	page := func(extra string) string { return `{{define "title"}}T{{end}}{{define "content"}}C{{end}}` + extra }
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // the exact error, "" for none
	}{
		{"ok/partials-and-page-blocks-once", map[string]string{
			"templates/partials/a.html": `{{define "a"}}A{{end}}`,
			"templates/partials/b.html": `{{define "b"}}B{{end}}`,
			"templates/portal/x.html":   page(`{{define "local"}}L{{end}}`),
			"templates/console/y.html":  page(``),
		}, ""},
		{"fail/two-partials-define-one-name", map[string]string{
			"templates/partials/a.html": `{{define "terms"}}A{{end}}`,
			"templates/partials/b.html": `{{define "terms"}}B{{end}}`,
		}, `web: template "terms" is defined in templates/partials/a.html and again in templates/partials/b.html`},
		{"fail/page-redefines-partial", map[string]string{
			"templates/partials/a.html": `{{define "terms"}}A{{end}}`,
			"templates/console/y.html":  page(`{{define "terms"}}B{{end}}`),
		}, `web: template "terms" is defined in templates/partials/a.html and again in templates/console/y.html`},
		{"fail/two-pages-define-one-block", map[string]string{
			"templates/console/x.html": page(`{{define "terms"}}A{{end}}`),
			"templates/console/y.html": page(`{{define "terms"}}B{{end}}`),
		}, `web: template "terms" is defined in templates/console/x.html and again in templates/console/y.html`},
		{"fail/layout-block-redefined", map[string]string{
			"templates/portal/x.html": page(`{{define "frame"}}F{{end}}`),
		}, `web: template "frame" is defined in templates/layout.html and again in templates/portal/x.html`},
		{"fail/partial-defines-page-slot", map[string]string{
			"templates/partials/a.html": `{{define "content"}}A{{end}}`,
		}, `web: templates/partials/a.html defines "content", which only a page may define`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{"templates/layout.html": {Data: []byte(layout)}}
			for name, text := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(text)}
			}
			_, err := newRenderer(fsys)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("error %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFrame: the layout shows the area's brand, its navigation bar (from the
// page's own Nav or the one its data carries) and the shared problem page
// leads back to the area's home.
func TestFrame(t *testing.T) {
	r := MustRenderer()
	nav := &navBar{Label: "Acme", SignOut: "/portal/sign-out",
		Links: []navLink{{"/portal/orgs/p/apps", "Apps", true}, {"/portal/orgs/p/team", "Team", false}}}
	const navHTML = `<nav class="subnav" aria-label="Acme"><ul><li><a href="/portal/orgs/p/apps" aria-current="page">Apps</a></li>` +
		`<li><a href="/portal/orgs/p/team">Team</a></li></ul><form method="post" action="/portal/sign-out">` +
		`<input type="hidden" name="csrf_token" value="tok"><button type="submit" class="secondary small">Sign out</button></form></nav>`
	for _, tc := range []struct {
		name, page string
		pg         Page
		want       []string
		wantNot    []string
	}{
		{"ok/portal-nav-from-data", "portal/apps", Page{Title: "Apps", Area: "portal", CSRFToken: "tok",
			Data: appsData{orgView: &orgView{Partner: &partners.Partner{ID: "p"}, Nav: nav}}},
			[]string{navHTML, `<a class="brand" href="/portal">Bankbridge <span class="tag">Developer portal</span></a>`}, nil},
		{"ok/console-nav-on-page", "statement", Page{Title: "Statement", Area: "console", CSRFToken: "tok", Nav: nav,
			Data: StatementView{Statement: contracts.Statement{ID: "stm_1", Currency: "EUR"}, CSVURL: "/c.csv", BackURL: "/console/billing"}},
			[]string{navHTML, `<a class="brand" href="/console">Bankbridge <span class="tag">Staff console</span></a>`,
				`<a class="button secondary" href="/console/billing">Back to billing</a>`}, nil},
		{"ok/printable-statement-without-nav", "statement", Page{Title: "Statement", Area: "print",
			Data: StatementView{Statement: contracts.Statement{ID: "stm_1", Currency: "EUR"}, CSVURL: "/c.csv", BackURL: "/portal/orgs/p/billing"}},
			[]string{`<a class="brand" href="/">Bankbridge</a>`, `id="download-csv"`}, []string{"<nav"}},
		{"ok/customer-sign-out-without-links", "customer/consents", Page{Title: "Apps", Area: "customer", CSRFToken: "tok",
			Nav: &navBar{Label: "Your consents", SignOut: "/customer/logout"}, Data: consentListData{dashboardView: dashboardView{Base: "/customer"}}},
			[]string{`<nav class="subnav" aria-label="Your consents"><form method="post" action="/customer/logout"><input type="hidden" name="csrf_token" value="tok">`,
				`<a class="brand" href="/">Bankbridge</a>`, "Sign out"}, []string{"<ul>"}},
		{"ok/data-without-its-view", "problem", Page{Title: "Gone", Area: "portal", Data: appsData{}},
			[]string{"<h1>Gone</h1>"}, []string{"<nav"}},
		{"ok/portal-problem", "problem", Page{Title: "Not allowed", Area: "portal", Error: "No."},
			[]string{`<p class="error" role="alert">No.</p>`, `<p><a href="/portal">Back to the developer portal</a></p>`}, []string{"<nav"}},
		{"ok/console-problem", "problem", Page{Title: "Not allowed", Area: "console", Error: "No."},
			[]string{`<p class="error" role="alert">No.</p>`, `<p><a href="/console">Back to the staff console</a></p>`}, nil},
		{"ok/site-error", "problem", Page{Title: "Not found", Area: "error", Error: "No page."},
			[]string{"<h1>Not found</h1>\n  <p>No page.</p>"}, []string{`role="alert"`, "Back to the"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.Render(rec, 200, tc.page, tc.pg)
			body := rec.Body.String()
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, body)
			}
			for _, w := range tc.want {
				if strings.Count(body, w) != 1 {
					t.Errorf("want once %q in\n%s", w, body)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("unwanted %q in\n%s", w, body)
				}
			}
		})
	}
}
