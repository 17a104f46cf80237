// Package web serves Bankbridge's server-rendered pages: the bank customer's
// login, consent and consent dashboard, the partner developer portal and the
// staff console. Templates and static assets are embedded with go:embed.
//
// Every page shares one frame, templates/layout.html: the header, the area's
// navigation bar (Page.Nav), the flash and error messages and the footer. A
// page file in templates/ (or templates/<area>/) defines {{define "title"}}
// and {{define "content"}}; what more than one page shows is a partial in
// templates/partials/, parsed into every page. Every template name other
// than "title" and "content" is defined in exactly one file: NewRenderer
// refuses a second definition rather than let one silently replace the other.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/monitoring"
)

//go:embed templates static
var assets embed.FS

// Renderer renders named pages (their path under templates/, without .html).
type Renderer struct {
	pages map[string]*template.Template
}

// Funcs are the helpers every template may call.
var Funcs = template.FuncMap{
	"date":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
	"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
	"join":     strings.Join,
	"lower":    strings.ToLower,
	// ms formats microseconds as milliseconds ("12.345").
	"ms":    monitoring.MS,
	"upper": strings.ToUpper,
}

// Template files of the frame, relative to the embedded assets.
const (
	layoutFile  = "templates/layout.html"
	partialsDir = "templates/partials"
)

// pageSlots are the templates every page file defines and the layout calls.
var pageSlots = map[string]bool{"title": true, "content": true}

// NewRenderer parses the layout, the partials and every page once, at start.
func NewRenderer() (*Renderer, error) {
	return newRenderer(assets)
}

func newRenderer(fsys fs.FS) (*Renderer, error) {
	if err := checkDefinitions(fsys); err != nil {
		return nil, err
	}
	frame, err := template.New(path.Base(layoutFile)).Funcs(Funcs).ParseFS(fsys, layoutFile)
	if err != nil {
		return nil, err
	}
	if partials, _ := fs.Glob(fsys, partialsDir+"/*.html"); len(partials) > 0 {
		if frame, err = frame.ParseFS(fsys, partials...); err != nil {
			return nil, err
		}
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	err = forEachPage(fsys, func(p string) error {
		t, err := frame.Clone()
		if err != nil {
			return err
		}
		if t, err = t.ParseFS(fsys, p); err != nil {
			return fmt.Errorf("web: parse %s: %w", p, err)
		}
		r.pages[strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")] = t
		return nil
	})
	return r, err
}

// forEachPage calls fn with the path of every page file: each .html file
// under templates/ except the layout and the partials.
func forEachPage(fsys fs.FS, fn func(p string) error) error {
	return fs.WalkDir(fsys, "templates", func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p == partialsDir:
			return fs.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, ".html") || p == layoutFile:
			return nil
		}
		return fn(p)
	})
}

// checkDefinitions refuses a template set in which a name is defined by
// more than one file (html/template would let the file parsed last win
// without a word), and a layout or partial that defines a page slot.
func checkDefinitions(fsys fs.FS) error {
	files := []string{layoutFile}
	partials, _ := fs.Glob(fsys, partialsDir+"/*.html")
	files = append(files, partials...)
	var pages []string
	if err := forEachPage(fsys, func(p string) error { pages = append(pages, p); return nil }); err != nil {
		return err
	}
	isPage := map[string]bool{}
	for _, p := range pages {
		isPage[p] = true
	}
	definedIn := map[string]string{}
	for _, f := range append(files, pages...) {
		names, err := definitions(fsys, f)
		if err != nil {
			return err
		}
		for _, name := range names {
			if pageSlots[name] {
				if !isPage[f] {
					return fmt.Errorf("web: %s defines %q, which only a page may define", f, name)
				}
				continue
			}
			if other, ok := definedIn[name]; ok {
				return fmt.Errorf("web: template %q is defined in %s and again in %s", name, other, f)
			}
			definedIn[name] = f
		}
	}
	return nil
}

// definitions lists the {{define}} names of one template file.
func definitions(fsys fs.FS, file string) ([]string, error) {
	text, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	t, err := template.New(path.Base(file)).Funcs(Funcs).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("web: parse %s: %w", file, err)
	}
	var names []string
	for _, d := range t.Templates() {
		if d.Name() != t.Name() {
			names = append(names, d.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// MustRenderer is NewRenderer for tests and start-up: it panics on a template error.
func MustRenderer() *Renderer {
	r, err := NewRenderer()
	if err != nil {
		panic(err)
	}
	return r
}

// Render writes page with pg and status. When pg has no navigation bar of its
// own, the one its Data carries (a signed-in portal or console page's) is
// shown. Rendering happens into a buffer so a template error becomes a clean
// 500 rather than half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, pg Page) {
	t, ok := r.pages[page]
	if !ok {
		slog.Error("web: unknown page", "page", page)
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	if n, ok := pg.Data.(navigator); ok && pg.Nav == nil {
		pg.Nav = n.navigation()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pg); err != nil {
		slog.Error("web: render", "page", page, "err", err)
		http.Error(w, "The page could not be shown. Please try again.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self' *; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// Has reports whether a page exists (for tests).
func (r *Renderer) Has(page string) bool { _, ok := r.pages[page]; return ok }

// Static serves the embedded static assets; mount it at /static/.
func Static() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	fsrv := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// Page is the data every page gets: its own fields go in Data.
type Page struct {
	Title string
	// Area is the part of the site the page belongs to: "customer", "portal",
	// "console", "docs", "print" (a printable document) or "error" (a page
	// outside any area, whose Error the page itself shows).
	Area      string
	CSRFToken string
	// User is the signed-in person's display name ("" when signed out).
	User string
	// Nav is the area's navigation bar, shown under the header (nil: none).
	Nav   *navBar
	Flash string
	Error string
	Data  any
}

// areas names the portal and the console and gives their home pages.
var areas = map[string]struct{ home, label string }{
	"portal":  {"/portal", "Developer portal"},
	"console": {"/console", "Staff console"},
}

// Home is the page the header's brand link and a problem page lead back to:
// the area's start page, else the site's.
func (p Page) Home() string {
	if a, ok := areas[p.Area]; ok {
		return a.home
	}
	return "/"
}

// AreaLabel names the portal or console in the header ("" elsewhere).
func (p Page) AreaLabel() string { return areas[p.Area].label }

// navBar is a signed-in area's navigation bar (templates/partials/nav.html):
// its links, if any, and the sign-out button. Portal and console pages get
// theirs from their data (navigator); the customer's consent list sets one
// without links.
type navBar struct {
	// Label names the bar for assistive technology (the organisation, "Console").
	Label string
	Links []navLink
	// SignOut is the path the sign-out form posts to.
	SignOut string
}

// navLink is one link of a navigation bar.
type navLink struct {
	Href, Label string
	Current     bool
}

// navigator is page data that carries its area's navigation bar: every
// signed-in portal page's data embeds an orgView, every console page's a
// consoleView.
type navigator interface{ navigation() *navBar }
