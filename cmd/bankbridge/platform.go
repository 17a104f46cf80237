package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
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

	// redis is the client of --redis-url (nil without it): quotas use it,
	// /readyz pings it.
	redis   *redis.Client
	router  *gin.Engine
	closers []func() error
	bg      []func(ctx context.Context) // background workers started by Serve
	billing *billing                    // plans, quotas, metering, contracts, settlement (wire_billing.go)
	// journal holds serve's DPoP proof ids on SQLite (nil otherwise; see
	// replayStore).
	journal *dpop.JournalReplayStore
	tel     platformTelemetry // metrics and tracing (wire_telemetry.go)
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

// The warnings for setups that start but half-work once a second node joins
// (tests compare these messages exactly).
const (
	warnQuotasPerNode = "PostgreSQL without Redis: quotas and rate limits are counted per node, so with several nodes each one admits an app's full quota; give every node the same --redis-url (REDIS_URL)"
	warnKeyFile       = "PostgreSQL with the encryption key from a key file: a node with another key file cannot open the signing keys and secrets this one seals; give every node the same BANKBRIDGE_ENCRYPTION_KEY"
)

// warnHalfWorkingSetups logs, once at serve's start, the settings that are fine for
// one node but break when several nodes share the database: quotas kept in
// process memory, and (development mode) a master key read from or
// generated into this node's own data directory.
func (p *Platform) warnHalfWorkingSetups() {
	if p.DB.Dialect != db.Postgres {
		return
	}
	if p.Config.RedisURL == "" {
		p.Log.Warn(warnQuotasPerNode)
	}
	if p.Config.EncryptionKey == "" {
		p.Log.Warn(warnKeyFile, "key_file", filepath.Join(p.Config.DataDir, "master.key"))
	}
}

// masterKey is the key every secret at rest derives from: in production only
// BANKBRIDGE_ENCRYPTION_KEY or the file BANKBRIDGE_ENCRYPTION_KEY_FILE names
// (never data/master.key, read or written); in development those when set,
// else data/master.key, created on first start.
func masterKey(c *Config) ([]byte, error) {
	if c.EncryptionKey != "" { // BANKBRIDGE_ENCRYPTION_KEY or its _FILE
		return secrets.ParseKey(c.EncryptionKey)
	}
	if c.Mode.Production() {
		return nil, secrets.ErrNoKey
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
		if p.redis == nil {
			c.JSON(http.StatusOK, gin.H{"status": "ready", "database": string(p.DB.Dialect)})
			return
		}
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		defer rcancel()
		if err := p.redis.Ping(rctx).Err(); err != nil {
			p.Log.Warn("readyz: redis unreachable", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": string(p.DB.Dialect), "redis": "unreachable"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "database": string(p.DB.Dialect), "redis": "ok"})
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
