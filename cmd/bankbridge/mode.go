package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bankbridge/bankbridge/internal/secrets"
)

// Mode is how the platform runs: development is the zero-setup laptop (a
// generated key file, the demo partner and login, a seeded sandbox, the mail
// outbox page, loopback webhooks allowed); production refuses to start
// without its real parts and has none of those conveniences. It is decided
// here, once; the packages below get plain settings derived from it.
type Mode string

const (
	// ModeDevelopment is the default.
	ModeDevelopment Mode = "development"
	// ModeProduction is a real deployment.
	ModeProduction Mode = "production"
)

// Validate accepts development and production.
func (m Mode) Validate() error {
	switch m {
	case ModeDevelopment, ModeProduction:
		return nil
	}
	return fmt.Errorf("--mode must be development or production, got %q", string(m))
}

// Production reports whether m is production.
func (m Mode) Production() bool { return m == ModeProduction }

// Development reports whether m is development: only then are the
// development conveniences on.
func (m Mode) Development() bool { return m == ModeDevelopment }

// productionRefusal is the one-line reason production mode refuses to run
// cmd with c, or nil. Every command that opens the platform needs the
// encryption key from the environment (never a key file) and an https
// issuer; serve needs SMTP too; development-only settings are refused.
// migrate opens only the database and needs none of them.
func (c *Config) productionRefusal(cmd string) error {
	if !c.Mode.Production() || cmd == "migrate" {
		return nil
	}
	switch {
	case c.EncryptionKey == "":
		return fmt.Errorf("--mode production requires %s (base64 of 32 random bytes); it is not set", secrets.KeyEnv)
	case cmd == "serve" && c.SMTPURL == "":
		return fmt.Errorf("--mode production requires BANKBRIDGE_SMTP_URL (or --smtp-url); it is not set")
	case c.Issuer == "":
		return fmt.Errorf("--mode production requires an https issuer (--issuer https://… or BANKBRIDGE_ISSUER); it is not set")
	case !strings.HasPrefix(c.Issuer, "https://"):
		return fmt.Errorf("--mode production requires an https issuer (--issuer https://… or BANKBRIDGE_ISSUER), got %q", c.Issuer)
	case c.WebhooksAllowLoopback:
		return fmt.Errorf("--mode production refuses --webhooks-allow-loopback (BANKBRIDGE_WEBHOOKS_ALLOW_LOOPBACK), a development setting")
	}
	return nil
}

// optionalBool is a boolean flag that remembers whether it was given (on
// the command line or in the environment), so its default can follow the
// mode.
type optionalBool struct {
	set, v bool
}

// String implements flag.Value.
func (o *optionalBool) String() string {
	if o == nil || !o.set {
		return "(mode default)"
	}
	return strconv.FormatBool(o.v)
}

// Set implements flag.Value.
func (o *optionalBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	o.set, o.v = true, b
	return nil
}

// IsBoolFlag lets the flag be given as plain --seed.
func (o *optionalBool) IsBoolFlag() bool { return true }

// or returns the value when given, else def.
func (o *optionalBool) or(def bool) bool {
	if o.set {
		return o.v
	}
	return def
}
