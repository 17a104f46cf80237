package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/web"
)

// Platform is the wired application: the store and every service, and the
// HTTP handler that serves them.
type Platform struct {
	Config *Config
	Issuer string
	Log    *slog.Logger
	DB     *db.DB
	Box    *secrets.Box
	Master []byte // the master key; per-purpose keys derive from it
	Pages  *web.Renderer
	// Services are the wired domain services.
	Services Services

	router  *gin.Engine
	closers []func() error
	bg      []func(ctx context.Context) // background workers started by Serve
	billing *billing                    // plans, quotas, metering, contracts, settlement (wire_billing.go)
	tel     platformTelemetry           // metrics and tracing (wire_telemetry.go)
}

// newLogger builds the structured logger the configuration asks for.
func newLogger(c *Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// OpenPlatform opens the store, migrates it and wires every service. issuer is
// the public base URL (known only after listening when the address is :0).
func OpenPlatform(ctx context.Context, c *Config, issuer string, log *slog.Logger) (*Platform, error) {
	p := &Platform{Config: c, Issuer: issuer, Log: log}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	driver, err := p.openTelemetry(ctx)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, db.Options{URL: c.DatabaseURL, SQLitePath: c.SQLitePath(), Logger: log, DriverName: driver})
	if err != nil {
		return nil, err
	}
	p.DB = d
	p.closers = append(p.closers, d.Close)
	if err := p.instrumentStore(); err != nil {
		return nil, err
	}
	applied, err := d.Migrate(ctx)
	if err != nil {
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "engine", d.Dialect, "applied", applied)
	}
	key, err := masterKey(c)
	if err != nil {
		return nil, err
	}
	p.Master = key
	if p.Box, err = secrets.NewBox(key); err != nil {
		return nil, err
	}
	if p.Pages, err = web.NewRenderer(); err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	if err := p.wire(ctx); err != nil {
		return nil, err
	}
	p.instrumentServices()
	p.router = p.routes()
	ok = true
	return p, nil
}

// masterKey is the key every secret at rest derives from: in production only
// BANKBRIDGE_ENCRYPTION_KEY (never a key file, read or written); in
// development that variable when set, else data/master.key, created on
// first start.
func masterKey(c *Config) ([]byte, error) {
	if c.Mode.Production() {
		return secrets.KeyFromEnv()
	}
	return secrets.LoadOrCreateKey(c.DataDir)
}

// routes builds the HTTP surface.
func (p *Platform) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(p.recoverPanics())
	r.Use(httpx.InteractionID(), p.requestTelemetry())
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := p.DB.Ping(ctx); err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": "unreachable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "database": string(p.DB.Dialect)})
	})
	r.GET("/static/*path", gin.WrapH(web.Static()))
	notFound, notAllowed := web.NotFoundPage(p.Pages), web.MethodNotAllowedPage(p.Pages)
	r.NoRoute(func(c *gin.Context) {
		if !partnerAPIPath(c.Request.URL.Path) {
			notFound(c)
			return
		}
		httpx.Abort(c, problem.New(problem.CodeNotFound, "no operation at %s", c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) { // gin has set Allow (RFC 9110 §15.5.6)
		if !partnerAPIPath(c.Request.URL.Path) {
			notAllowed(c)
			return
		}
		httpx.Abort(c, problem.New(problem.CodeMethodNotAllowed, "%s is not allowed on %s; allowed: %s",
			c.Request.Method, c.Request.URL.Path, c.Writer.Header().Get("Allow")))
	})
	p.mount(r)
	return r
}

// recoverPanics answers a panicking handler with a 500 in the form of its
// surface: problem+json under the partner APIs, RFC 6749 JSON
// {"error":"server_error"} at the authorization server's JSON endpoints, the
// HTML error page everywhere else (portal, console, customer pages, docs).
func (p *Platform) recoverPanics() gin.HandlerFunc {
	page := web.ServerErrorPage(p.Pages)
	return httpx.Recover(p.Log, func(c *gin.Context, err error) {
		switch path := c.Request.URL.Path; {
		case partnerAPIPath(path):
			httpx.Abort(c, err)
		case oauth.JSONEndpoint(path):
			httpx.OAuthServerError(c)
		default:
			page(c)
		}
	})
}

// partnerAPIPrefixes are the partner APIs' path prefixes: an unknown route or
// a wrong method under them answers RFC 9457 problem+json (404, 405 with
// Allow); every other path answers an HTML page.
var partnerAPIPrefixes = []string{"/open-banking/", "/webhook-endpoints", "/webhooks/", "/register"}

// partnerAPIPath reports whether path is under a partner API prefix (a whole
// segment: /registered is not /register).
func partnerAPIPath(path string) bool {
	for _, pre := range partnerAPIPrefixes {
		if path == strings.TrimSuffix(pre, "/") || strings.HasPrefix(path, strings.TrimSuffix(pre, "/")+"/") {
			return true
		}
	}
	return false
}

// Routes lists the routes of the platform's router (for tests that compare
// them with /openapi.json).
func (p *Platform) Routes() gin.RoutesInfo { return p.router.Routes() }

// Handler is the platform's HTTP handler.
func (p *Platform) Handler() http.Handler {
	return p.traced(p.Config.TrustedProxies.ClientAddressHandler(p.router))
}

// Close releases everything in reverse order of opening.
func (p *Platform) Close() error {
	var first error
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	p.closers = nil
	return first
}
