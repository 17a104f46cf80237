package main

import (
	"flag"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/telemetry"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/screening"
)

// Config is the platform's configuration: every field has a flag and an
// environment variable; flags win over the environment.
type Config struct {
	// Mode is development (the default) or production; see mode.go.
	Mode        Mode
	Addr        string
	Issuer      string
	DatabaseURL string
	DataDir     string
	RedisURL    string
	LogLevel    string
	LogFormat   string
	// Seed is whether to seed the sandbox at start: given by --seed or
	// BANKBRIDGE_SEED, else true in development and false in production.
	Seed       bool
	seed       optionalBool
	seedEnvErr error
	// secretFileErr is the first error reading a NAME_FILE variable.
	secretFileErr         error
	WebhooksAllowLoopback bool
	AccessTokenLifetime   time.Duration
	RefreshTokenLifetime  time.Duration
	RotateRefreshTokens   bool
	DPoPRequireNonce      bool
	Dispatchers           int
	WebhookLease          time.Duration
	DebugAddr             string
	// MetricsAddr is where /metrics is served, on a listener of its own
	// (empty: no metrics).
	MetricsAddr string
	// Tracing is whether the OTEL_* environment turns traces on (see
	// telemetry.TracingFromEnv); TracerProvider, when set (no flag: tests
	// set it through Main.TracerProvider), is used instead.
	Tracing        bool
	TracerProvider trace.TracerProvider
	// DatabaseDriver is the database/sql driver the store opens instead of
	// the engine's own (no flag: tests set it through Main.DatabaseDriver).
	DatabaseDriver string
	// Serving is set by serve (no flag): the process answers requests, so
	// on SQLite it owns the data directory's DPoP replay journal (see
	// Platform.replayStore). Other commands leave it false.
	Serving bool
	// RiskThresholds is risk.ParseThresholds' input ("" the defaults),
	// RiskCaseSLA the time limit of an open risk case and RiskDualControl
	// the amount (major units of the payment's currency) from which two
	// officers decide a case.
	RiskThresholds  string
	RiskCaseSLA     time.Duration
	RiskDualControl string
	// ExitRetentionDays is how long after a partnership ends its data
	// export is kept and its personal data erased (partners/exit);
	// ExitWebhookDrain how long the wind-down waits for the partner's queued
	// webhook deliveries before its last event.
	ExitRetentionDays int
	ExitWebhookDrain  time.Duration
	// EncryptionKey is BANKBRIDGE_ENCRYPTION_KEY (environment only: a flag
	// would show the key in the process list).
	EncryptionKey string
	// SMTPURL is where mail is sent (empty: not sent; development only).
	SMTPURL string
	// SMTP is SMTPURL parsed by Validate.
	SMTP mail.SMTP
	// MailFrom is the sender address (empty: "Bankbridge <no-reply@<issuer host>>").
	MailFrom string
	// CreditNoteLimits is contracts.ParseCreditNoteLimits' input: the largest
	// credit note one member of staff may issue alone, per currency.
	CreditNoteLimits string
	// TrustedProxiesList is --trusted-proxies as given; TrustedProxies is it
	// parsed by Validate.
	TrustedProxiesList string
	TrustedProxies     httpx.TrustedProxies
	// SCA are the bank's strong customer authentication settings.
	SCA SCAConfig
	// ScreeningThresholdText is --screening-threshold as given;
	// ScreeningThreshold is it parsed by Validate: the Jaro–Winkler
	// similarity at or above which a name matches a sanctions or watch-list
	// entry (risk/screening.DefaultThreshold, 0.92, when empty).
	ScreeningThresholdText string
	ScreeningThreshold     float64
}

// envOr returns the environment variable's value or def.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// secretFileSuffix marks the variable naming a file that holds a setting
// (DATABASE_URL_FILE, …): the convention of Docker and Compose secrets,
// mounted as files under /run/secrets, which keeps the value out of the
// container's environment and the compose file.
const secretFileSuffix = "_FILE"

// secretSettings are the settings that may hold a credential, and so may be
// given as a file through NAME_FILE as well as in NAME.
var secretSettings = []string{"DATABASE_URL", "REDIS_URL", "BANKBRIDGE_SMTP_URL", secrets.KeyEnv}

// envSecret returns the value of the environment variable name, or the
// content of the file that name_FILE names (surrounding white space
// trimmed). Both set, an unreadable file or an empty one is an error.
func envSecret(name string) (string, error) {
	file := os.Getenv(name + secretFileSuffix)
	if file == "" {
		return strings.TrimSpace(os.Getenv(name)), nil
	}
	if os.Getenv(name) != "" {
		return "", fmt.Errorf("%s and %s are both set; use one", name, name+secretFileSuffix)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name+secretFileSuffix, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", name+secretFileSuffix, file)
	}
	return v, nil
}

// secret is envSecret keeping the first error for Validate.
func (c *Config) secret(name string) string {
	v, err := envSecret(name)
	if err != nil && c.secretFileErr == nil {
		c.secretFileErr = err
	}
	return v
}

func envBool(name string, def bool) bool {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err == nil {
			return b
		}
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return def
}

func envInt(name string, def int) int {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

// Flags registers the configuration flags on fs, with environment defaults.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Mode = Mode(envOr("BANKBRIDGE_MODE", string(ModeDevelopment)))
	fs.Var((*modeFlag)(&c.Mode), "mode", "development (zero-setup: generated key file, demo partner, mail outbox page) or production (refuses to start without BANKBRIDGE_ENCRYPTION_KEY, BANKBRIDGE_SMTP_URL and an https --issuer) (env BANKBRIDGE_MODE)")
	fs.StringVar(&c.Addr, "addr", envOr("BANKBRIDGE_ADDR", "127.0.0.1:8080"), "listen address (env BANKBRIDGE_ADDR)")
	fs.StringVar(&c.Issuer, "issuer", envOr("BANKBRIDGE_ISSUER", ""), "public base URL and OAuth issuer, e.g. https://bank.example (env BANKBRIDGE_ISSUER; default http://<addr>)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.secret("DATABASE_URL"), "PostgreSQL URL; empty uses embedded SQLite in the data directory (env DATABASE_URL, or DATABASE_URL_FILE naming a file that holds it)")
	fs.StringVar(&c.DataDir, "data-dir", envOr("BANKBRIDGE_DATA_DIR", "data"), "directory for the SQLite database and, in development, the generated master key and demo app key; created only when something is written (env BANKBRIDGE_DATA_DIR)")
	fs.StringVar(&c.RedisURL, "redis-url", c.secret("REDIS_URL"), "Redis URL for the quotas' rate limits and volume counters shared by several nodes (env REDIS_URL, or REDIS_URL_FILE naming a file that holds it)")
	fs.StringVar(&c.LogLevel, "log-level", envOr("BANKBRIDGE_LOG_LEVEL", "info"), "debug, info, warn or error (env BANKBRIDGE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr("BANKBRIDGE_LOG_FORMAT", "text"), "text or json (env BANKBRIDGE_LOG_FORMAT)")
	if v, ok := os.LookupEnv("BANKBRIDGE_SEED"); ok && v != "" {
		if err := c.seed.Set(v); err != nil {
			c.seedEnvErr = fmt.Errorf("BANKBRIDGE_SEED must be true or false, got %q", v)
		}
	}
	fs.Var(&c.seed, "seed", "seed the sandbox at start: synthetic customers, and in development the demo partner (default true in development, false in production) (env BANKBRIDGE_SEED)")
	fs.BoolVar(&c.WebhooksAllowLoopback, "webhooks-allow-loopback", envBool("BANKBRIDGE_WEBHOOKS_ALLOW_LOOPBACK", false), "let sandbox webhook endpoints use http and loopback addresses (env BANKBRIDGE_WEBHOOKS_ALLOW_LOOPBACK)")
	fs.DurationVar(&c.AccessTokenLifetime, "access-token-lifetime", envDuration("BANKBRIDGE_ACCESS_TOKEN_LIFETIME", 5*time.Minute), "access token lifetime (env BANKBRIDGE_ACCESS_TOKEN_LIFETIME)")
	fs.DurationVar(&c.RefreshTokenLifetime, "refresh-token-lifetime", envDuration("BANKBRIDGE_REFRESH_TOKEN_LIFETIME", 30*24*time.Hour), "refresh token lifetime (env BANKBRIDGE_REFRESH_TOKEN_LIFETIME)")
	fs.BoolVar(&c.RotateRefreshTokens, "rotate-refresh-tokens", envBool("BANKBRIDGE_ROTATE_REFRESH_TOKENS", false), "rotate refresh tokens on use (off by default, per the FAPI 2.0 Security Profile) (env BANKBRIDGE_ROTATE_REFRESH_TOKENS)")
	fs.BoolVar(&c.DPoPRequireNonce, "dpop-require-nonce", envBool("BANKBRIDGE_DPOP_REQUIRE_NONCE", false), "require server-provided DPoP nonces (env BANKBRIDGE_DPOP_REQUIRE_NONCE)")
	fs.DurationVar(&c.WebhookLease, "webhook-lease", envDuration("BANKBRIDGE_WEBHOOK_LEASE", 70*time.Second), "how long a dispatcher's claim on a delivery lasts before another node may retake it; must exceed connect + response timeouts (env BANKBRIDGE_WEBHOOK_LEASE)")
	fs.StringVar(&c.DebugAddr, "debug-addr", envOr("BANKBRIDGE_DEBUG_ADDR", ""), "loopback address for Go's pprof profiles (/debug/pprof/), off when empty; never expose it (env BANKBRIDGE_DEBUG_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", envOr("BANKBRIDGE_METRICS_ADDR", ""), "address of a listener of its own serving Prometheus metrics at /metrics, off when empty; keep it private to the monitoring network (env BANKBRIDGE_METRICS_ADDR)")
	fs.StringVar(&c.SMTPURL, "smtp-url", c.secret("BANKBRIDGE_SMTP_URL"), "send mail through smtp://[user:pass@]host:port (STARTTLS required unless the host is loopback) or smtps://[user:pass@]host:port; required in production (env BANKBRIDGE_SMTP_URL, or BANKBRIDGE_SMTP_URL_FILE naming a file that holds it)")
	fs.StringVar(&c.MailFrom, "mail-from", envOr("BANKBRIDGE_MAIL_FROM", ""), `sender of the platform's mail (default "Bankbridge <no-reply@<issuer host>>") (env BANKBRIDGE_MAIL_FROM)`)
	c.EncryptionKey = c.secret(secrets.KeyEnv)
	fs.StringVar(&c.RiskThresholds, "risk-thresholds", envOr("BANKBRIDGE_RISK_THRESHOLDS", ""), "risk score thresholds, e.g. sca=30,hold=50,reject=80,match=90 (the defaults; match is the screening similarity that counts) (env BANKBRIDGE_RISK_THRESHOLDS)")
	fs.DurationVar(&c.RiskCaseSLA, "risk-case-sla", envDuration("BANKBRIDGE_RISK_CASE_SLA", risk.DefaultSLA), "time limit of an open risk case; older ones show as overdue (env BANKBRIDGE_RISK_CASE_SLA)")
	fs.StringVar(&c.RiskDualControl, "risk-dual-control", envOr("BANKBRIDGE_RISK_DUAL_CONTROL", risk.DefaultDualControl), "amount in the payment's currency (major units) from which two risk officers decide a held payment (env BANKBRIDGE_RISK_DUAL_CONTROL)")
	fs.StringVar(&c.CreditNoteLimits, "credit-note-limits", envOr("BANKBRIDGE_CREDIT_NOTE_LIMITS", ""), "largest credit note one staff member may issue alone, per currency in major units, e.g. EUR=1000,JPY=100000; larger ones need a second approver; unlisted currencies: 1000 (env BANKBRIDGE_CREDIT_NOTE_LIMITS)")
	fs.StringVar(&c.TrustedProxiesList, "trusted-proxies", envOr("BANKBRIDGE_TRUSTED_PROXIES", ""), "comma-separated CIDR prefixes of the reverse proxies whose X-Forwarded-For names the client (for sign-in throttling by client address); empty trusts none (env BANKBRIDGE_TRUSTED_PROXIES)")
	c.SCA.flags(fs)
	fs.StringVar(&c.ScreeningThresholdText, "screening-threshold", envOr("BANKBRIDGE_SCREENING_THRESHOLD", ""), "similarity (Jaro–Winkler, above 0 up to 1) at or above which a name matches a sanctions or watch-list entry; default 0.92 (env BANKBRIDGE_SCREENING_THRESHOLD)")
	fs.IntVar(&c.ExitRetentionDays, "exit-retention-days", envInt("BANKBRIDGE_EXIT_RETENTION_DAYS", exit.DefaultRetentionDays), "days after a partnership ends that its data export is kept and its personal data is erased; default 1826 (five years, the AML record keeping of payments) (env BANKBRIDGE_EXIT_RETENTION_DAYS)")
	fs.DurationVar(&c.ExitWebhookDrain, "exit-webhook-drain", envDuration("BANKBRIDGE_EXIT_WEBHOOK_DRAIN", exit.DefaultWebhookDrain), "how long after a partnership ends the wind-down waits for the partner's queued webhook deliveries before sending partner.terminated, its last event (env BANKBRIDGE_EXIT_WEBHOOK_DRAIN)")
	fs.IntVar(&c.Dispatchers, "webhook-dispatchers", envInt("BANKBRIDGE_WEBHOOK_DISPATCHERS", 2), "webhook dispatcher workers in this process; 0 disables delivery on this node (env BANKBRIDGE_WEBHOOK_DISPATCHERS)")
}

// Validate checks the configuration and fills derived defaults.
func (c *Config) Validate() error {
	if err := c.Mode.Validate(); err != nil {
		return err
	}
	if c.seedEnvErr != nil {
		return c.seedEnvErr
	}
	if c.secretFileErr != nil {
		return c.secretFileErr
	}
	if c.ExitRetentionDays < 0 {
		return fmt.Errorf("--exit-retention-days %d: must not be negative", c.ExitRetentionDays)
	}
	c.Seed = c.seed.or(c.Mode.Development())
	if c.EncryptionKey != "" {
		if _, err := secrets.ParseKey(c.EncryptionKey); err != nil {
			return fmt.Errorf("%s must be base64 of 32 bytes (e.g. from: openssl rand -base64 32)", secrets.KeyEnv)
		}
	}
	if c.SMTPURL != "" {
		s, err := mail.ParseSMTPURL(c.SMTPURL)
		if err != nil {
			return fmt.Errorf("--smtp-url %v", err)
		}
		c.SMTP = s
	}
	if c.MailFrom != "" {
		if _, err := netmail.ParseAddress(c.MailFrom); err != nil {
			return fmt.Errorf("--mail-from must be an address such as \"Bankbridge <no-reply@bank.example>\", got %q", c.MailFrom)
		}
	}
	if c.Issuer != "" {
		c.Issuer = strings.TrimRight(c.Issuer, "/")
		if !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://") {
			return fmt.Errorf("--issuer must be an http(s) URL, got %q", c.Issuer)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	if c.AccessTokenLifetime <= 0 || c.AccessTokenLifetime > time.Hour {
		return fmt.Errorf("--access-token-lifetime must be between 1s and 1h, got %s", c.AccessTokenLifetime)
	}
	if c.WebhookLease < 21*time.Second {
		return fmt.Errorf("--webhook-lease must be at least 21s (connect 5s + response 15s + margin), got %s", c.WebhookLease)
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		if ip := net.ParseIP(host); err != nil || host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--debug-addr must be a loopback host:port such as 127.0.0.1:6060, got %q", c.DebugAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			return fmt.Errorf("--metrics-addr must be host:port such as 127.0.0.1:9090 or :9090, got %q", c.MetricsAddr)
		}
	}
	tracing, err := telemetry.TracingFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	c.Tracing = tracing
	proxies, err := httpx.ParseTrustedProxies(c.TrustedProxiesList)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %v", err)
	}
	c.TrustedProxies = proxies
	if err := c.SCA.validate(!c.Mode.Development()); err != nil {
		return err
	}
	if c.ScreeningThreshold = screening.DefaultThreshold; c.ScreeningThresholdText != "" {
		v, err := strconv.ParseFloat(c.ScreeningThresholdText, 64)
		if err != nil || !(v > 0 && v <= 1) {
			return fmt.Errorf("--screening-threshold must be a number above 0 and at most 1, got %q", c.ScreeningThresholdText)
		}
		c.ScreeningThreshold = v
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return err
	}
	c.DataDir = abs
	return nil
}

// modeFlag parses --mode (checked by Mode.Validate).
type modeFlag Mode

func (m *modeFlag) String() string     { return string(*m) }
func (m *modeFlag) Set(v string) error { *m = modeFlag(v); return nil }

// mailFrom is the configured sender, or "Bankbridge <no-reply@<issuer host>>".
func (c *Config) mailFrom(issuer string) string {
	if c.MailFrom != "" {
		return c.MailFrom
	}
	host := "localhost"
	if u, err := url.Parse(issuer); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	if ip := net.ParseIP(host); ip != nil {
		host = "[" + host + "]" // an address literal (RFC 5321 §4.1.3)
	}
	return "Bankbridge <no-reply@" + host + ">"
}

// SQLitePath is where the embedded database lives.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "bankbridge.db") }

// parseCommon parses the common flags plus whatever extra registers.
func (m *Main) parseCommon(name string, args []string, extra func(fs *flag.FlagSet)) (*Config, error) {
	fs := flag.NewFlagSet("bankbridge "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	c := &Config{}
	c.Flags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "bankbridge %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, errUsage
	}
	if err := c.Validate(); err != nil {
		fmt.Fprintf(m.Stderr, "bankbridge %s: %v\n", name, err)
		return nil, errUsage
	}
	if err := c.productionRefusal(name); err != nil {
		fmt.Fprintf(m.Stderr, "bankbridge %s: %v\n", name, err)
		return nil, errUsage
	}
	return c, nil
}
