// Package web serves Bankbridge's server-rendered pages: the bank customer's
// login, consent and consent dashboard, the partner developer portal and the
// staff console. Templates and static assets are embedded with go:embed.
//
// Every page file in templates/ defines {{define "title"}} and
// {{define "content"}}, and is rendered inside templates/layout.html.
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
	"strings"
	"time"
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
	"upper":    strings.ToUpper,
}

// NewRenderer parses the layout and every page once, at start.
func NewRenderer() (*Renderer, error) {
	layout, err := template.New("layout.html").Funcs(Funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	err = fs.WalkDir(assets, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") || p == "templates/layout.html" {
			return err
		}
		if strings.HasPrefix(path.Base(p), "_") { // partials: included by every page
			return nil
		}
		t, err := layout.Clone()
		if err != nil {
			return err
		}
		if partials, _ := fs.Glob(assets, "templates/_*.html"); len(partials) > 0 {
			if t, err = t.ParseFS(assets, partials...); err != nil {
				return err
			}
		}
		if t, err = t.ParseFS(assets, p); err != nil {
			return fmt.Errorf("web: parse %s: %w", p, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		r.pages[name] = t
		return nil
	})
	return r, err
}

// MustRenderer is NewRenderer for tests and start-up: it panics on a template error.
func MustRenderer() *Renderer {
	r, err := NewRenderer()
	if err != nil {
		panic(err)
	}
	return r
}

// Render writes page with data and status. Rendering happens into a buffer so a
// template error becomes a clean 500 rather than half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, data any) {
	t, ok := r.pages[page]
	if !ok {
		slog.Error("web: unknown page", "page", page)
		http.Error(w, "page not found", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
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
	// Area selects the header navigation: "customer", "portal" or "console".
	Area      string
	CSRFToken string
	// User is the signed-in person's display name ("" when signed out).
	User  string
	Flash string
	Error string
	Data  any
}
