package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
	"github.com/bankbridge/bankbridge/oauth/keys"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
	"github.com/bankbridge/bankbridge/oauth/secondfactors"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/certification"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/recon"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/limits"
	"github.com/bankbridge/bankbridge/risk/screening"
	"github.com/bankbridge/bankbridge/web"
	"github.com/bankbridge/bankbridge/webhooks"
)

// normaliseOpenAPI makes the merged document plain decoded JSON.
var normaliseOpenAPI = web.NormaliseOpenAPI

// Services are the wired domain services.
type Services struct {
	Keys     *keys.Manager
	OAuth    *oauth.Server
	Staff    *staff.Service
	Partners *partners.Service
	// SCA holds the customers' second factors (TOTP, recovery codes), the
	// dynamic-linking confirmations and the exemption rules.
	SCA *sca.Service
	// Passkeys runs the customers' WebAuthn ceremonies; nil when the issuer
	// cannot be a WebAuthn relying party (an IP address, or plain http on a
	// host other than localhost: browsers refuse WebAuthn there).
	Passkeys *passkeys.Service
	Core     *core.Reference
	// Limits holds the payment limits risk officers set (maker-checker),
	// cached per node and invalidated on every node through the cache bus.
	Limits   *limits.Service
	APIs     *apis.Service
	Webhooks *webhooks.Service
	// Screening holds the sanctions and watch-list entries and screens
	// names against them (issue 16 item 3).
	Screening *screening.Service
	// RiskAssessor scores payment consents and payments and opens the
	// cases of held payments (apis calls it); Risk is the risk officers'
	// case queue (it drives apis).
	RiskAssessor *risk.Assessor
	Risk         *risk.Service
	// Recon keeps partners' records of their days and the breaks finance
	// works through (on apis).
	Recon *recon.Service
	// Complaints are the customers' complaints about partner payments
	// (issue 17 item 3); corrections call its CheckRefund and Refunded.
	Complaints *complaints.Service
	// Corrections refunds and reverses accepted payments (maker-checker).
	Corrections *corrections.Service
	// Tokens is oauth's token rows as other domains use them (revocation on
	// every node through the cache bus).
	Tokens *oauth.Tokens
	// Exit ends partnerships (partners/exit, wire_exit.go).
	Exit *exit.Service
	// Events publishes into the webhooks outbox in the caller's transaction.
	Events  events.Publisher
	OpenAPI map[string]any
}

// wire builds the domain services in dependency order: each is complete when
// it is built, and nothing is bound later. The cycles the domains have on
// paper are broken by their read-only or write-only parts, which need only
// the database: oauth.Tokens (revocation and code-flow evidence, used by apis
// and partners before the authorization server exists) and contracts.Scope
// (active contract and data-sharing scope, used by apis and partners before
// contracts' Service, which itself tells partners when a contract becomes
// active).
func (p *Platform) wire(ctx context.Context) error {
	s := &p.Services
	now := func() time.Time { return time.Now().UTC() }
	s.Keys = keys.NewManager(p.DB.DB, p.Box, now)
	if err := s.Keys.EnsureKeys(ctx, "ES256", "PS256"); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	// The second factors first: the core's sandbox seed enrols the
	// personas' authenticator apps through them.
	if err := p.wireCustomerFactors(now); err != nil {
		return err
	}
	bus, err := p.newCacheBus(ctx)
	if err != nil {
		return err
	}
	s.Core = core.NewReference(p.DB, core.Options{CursorKey: secrets.DeriveKey(p.Master, "core-cursor"),
		SandboxFactors: sandboxFactors{s.SCA}, Bus: bus})
	if s.Screening, err = screening.New(screening.Config{Store: screening.NewGormStore(p.DB), Bus: bus,
		Threshold: p.Config.ScreeningThreshold, Now: now, Logger: p.Log}); err != nil {
		return fmt.Errorf("screening: %w", err)
	}
	if err := p.newWebhooks(bus); err != nil {
		return err
	}
	tokens := oauth.NewTokens(p.DB.DB)
	tokens.UseCacheBus(bus)
	s.Tokens = tokens
	scope := contracts.NewScope(p.DB, now)
	// apis.Config.Limits is not set: every environment has apis.DefaultLimits,
	// the defaults of the risk officers' rules.
	limitDefaults := map[environment.Environment]limits.Defaults{}
	for _, env := range environment.All() {
		limitDefaults[env] = apis.DefaultLimits().Defaults()
	}
	s.Limits = limits.New(limits.Config{DB: p.DB, Bus: bus, Defaults: limitDefaults, Now: now, Logger: p.Log})
	if err := p.wireRiskAssessor(now); err != nil {
		return err
	}
	s.APIs = apis.NewService(apis.Config{DB: p.DB, Core: s.Core, Revoker: tokens, Publisher: s.Events, Logger: p.Log,
		Datasets: apis.ContractDatasetPolicy{Contracts: scope}, Bus: bus, Outcomes: p.apiOutcomes(), LimitRules: s.Limits,
		Risk: s.RiskAssessor, Fees: contractFees{scope}})
	p.wireRiskCases(now)
	p.wireRecon()
	if s.Staff, err = staff.New(staff.Config{DB: p.DB, Box: p.Box, Now: now, Logger: p.Log}); err != nil {
		return err
	}
	if _, err := s.Staff.ResealTOTP(ctx); err != nil {
		return fmt.Errorf("re-seal staff TOTP secrets: %w", err)
	}
	if s.Partners, err = partners.New(partners.Config{
		DB: p.DB, Box: p.Box, Staff: s.Staff, Logger: p.Log, Publisher: s.Events, Revoker: tokens, Contracts: scope,
		Evidence:  certification.New(tokens, s.APIs, s.Webhooks),
		PortalURL: p.Issuer + "/portal", RegistrationURL: p.Issuer + "/register",
	}); err != nil {
		return err
	}
	s.Complaints = p.complaintService()
	replay, err := p.replayStore(ctx, now)
	if err != nil {
		return err
	}
	s.OAuth, err = oauth.New(oauth.Config{
		Issuer:                     p.Issuer,
		AccessTokenLifetime:        p.Config.AccessTokenLifetime,
		RefreshTokenLifetime:       p.Config.RefreshTokenLifetime,
		RotateRefreshTokens:        p.Config.RotateRefreshTokens,
		DPoPRequireNonce:           p.Config.DPoPRequireNonce,
		GlobalSecret:               secrets.DeriveKey(p.Master, "fosite-hmac"),
		PairwiseSecret:             secrets.DeriveKey(p.Master, "pairwise-sub"),
		SecureCookies:              strings.HasPrefix(p.Issuer, "https://"),
		RequireSCAForAccountAccess: p.Config.SCA.RequireForAccountAccess,
		Reauthentication:           p.Config.SCA.Reauthentication,
	}, oauth.Deps{
		DB: p.DB, Keys: s.Keys, Clients: s.Partners.Registry(), Customers: s.Core,
		Consents:      s.APIs.Broker(),
		Pages:         web.NewCustomerAuth(p.Pages, strings.HasPrefix(p.Issuer, "https://")),
		SecondFactors: secondfactors.New(s.SCA, s.Passkeys),
		Exemptions:    secondfactors.NewExemptions(s.SCA),
		DPoPReplay:    replay, Now: now, Logger: p.Log,
	})
	if err != nil {
		return err
	}
	s.OAuth.UseCacheBus(bus)
	s.OpenAPI = apis.OpenAPI(p.Issuer)
	for _, ext := range []func(context.Context) error{p.wireBilling, p.wireCorrections, p.wireWebhooks, p.wireMail, p.wireExit} {
		if err := ext(ctx); err != nil {
			return err
		}
	}
	p.housekeeping(now)
	return nil
}

// replayStore is where DPoP proof ids are recorded. Several nodes share
// PostgreSQL's used_jtis table. A SQLite database has one node: serve keeps
// the ids in memory and in a journal in the data directory
// (dpop.JournalReplayStore in bankbridge.db-jtis/, which it locks: a
// companion of the database, like its -wal file), so a proof costs no database
// write and a proof accepted before a crash is refused after it; the ids
// used_jtis still holds (from before the journal) are refused too. Other
// commands, which verify no proofs and may run beside serve, use the table.
func (p *Platform) replayStore(ctx context.Context, now func() time.Time) (dpop.ReplayStore, error) {
	if p.DB.Dialect != db.SQLite || !p.Config.Serving {
		return dpop.NewGormReplayStore(p.DB.DB), nil
	}
	j, err := dpop.OpenJournalReplayStore(p.Config.SQLitePath()+"-jtis", now)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, j.Close)
	p.journal = j
	rows, err := p.DB.DB.WithContext(ctx).Raw("SELECT key, expires_at FROM used_jtis WHERE expires_at > ?", now()).Rows()
	if err != nil {
		return nil, fmt.Errorf("dpop replay journal: read used_jtis: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var exp time.Time
		if err := rows.Scan(&key, &exp); err != nil {
			return nil, fmt.Errorf("dpop replay journal: read used_jtis: %w", err)
		}
		j.Preload(key, exp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dpop replay journal: read used_jtis: %w", err)
	}
	return j, nil
}

// housekeeping schedules the periodic clean-ups: expired OAuth rows, used
// DPoP proof ids, idempotency keys past 24 h, retired signing keys. Each is
// safe on any number of nodes at once.
func (p *Platform) housekeeping(now func() time.Time) {
	s := &p.Services
	jobs := map[string]func(ctx context.Context) error{
		"oauth_expired": func(ctx context.Context) error { return s.OAuth.Store().DeleteExpired(ctx, now()) },
		"dpop_jtis": func(ctx context.Context) error {
			_, err := dpop.NewGormReplayStore(p.DB.DB).(dpop.Purger).Purge(ctx)
			if j := p.journal; j != nil && err == nil {
				_, err = j.Purge(ctx)
			}
			return err
		},
		"idempotency_keys": func(ctx context.Context) error { _, err := s.APIs.PurgeIdempotencyKeys(ctx); return err },
		"request_log":      func(ctx context.Context) error { _, err := s.APIs.PurgeRequestLog(ctx); return err },
		"partner_risk_signals": func(ctx context.Context) error {
			_, err := p.raiseRatingsFromSignals(ctx, now())
			return err
		},
		"auth_request_stats": func(ctx context.Context) error {
			_, err := monitoring.NewGormStore(p.DB).PurgeAuthStats(ctx, now().Add(-monitoring.AuthStatsRetention))
			return err
		},
		"signing_keys": func(ctx context.Context) error { _, err := s.Keys.PruneRetired(ctx); return err },
		"corrections":  p.resumeCorrections,
		"sca_confirmations": func(ctx context.Context) error {
			_, err := sca.NewGormStore(p.DB).PurgeConfirmations(ctx, now())
			return err
		},
		"login_throttle": func(ctx context.Context) error {
			_, err := throttle.NewStore(p.DB.DB, now).Purge(ctx, now())
			return err
		},
	}
	maps.Copy(jobs, p.exitJobs())
	p.windDowns()
	if s.Passkeys != nil {
		jobs["passkey_ceremonies"] = func(ctx context.Context) error { _, err := s.Passkeys.Purge(ctx); return err }
	}
	p.bg = append(p.bg, func(ctx context.Context) {
		t := time.NewTicker(5 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for name, job := range jobs {
				if err := job(ctx); err != nil && ctx.Err() == nil {
					p.Log.Warn("housekeeping failed", "job", name, "err", err)
				}
			}
		}
	})
}

// mount registers every domain's routes.
func (p *Platform) mount(r *gin.Engine) {
	s := &p.Services
	secure := strings.HasPrefix(p.Issuer, "https://")
	csrf := web.CSRF{Secure: secure}
	sessions := &web.Sessions{DB: p.DB.DB, Secure: secure}
	s.OAuth.Register(r)
	s.Partners.MountRegistration(r)
	apis.NewHandler(apis.HandlerConfig{Service: s.APIs, Verifier: s.OAuth, BaseURL: p.Issuer, Usage: usageRecorder{p.billing.Contracts, p.DB}, Quota: p.billing.Quota,
		JWS: &apis.JWSConfig{Signer: s.Keys, Issuer: p.Issuer, Clients: s.OAuth, Logger: p.Log}, Reconciler: s.Recon,
		Corrections: p.partnerCorrections()}).Register(r)
	r.GET("/openapi.json", func(c *gin.Context) { c.JSON(http.StatusOK, s.OpenAPI) })
	r.GET("/docs", gin.WrapF(p.Pages.DocsHandler(s.OpenAPI)))
	// The customers' dashboard, once per environment: production customers at
	// /customer, the sandbox personas at /sandbox/customer.
	for _, env := range []environment.Environment{environment.Production, environment.Sandbox} {
		(&web.CustomerDashboard{Complaints: s.Complaints, Environment: env, Pages: p.Pages, CSRF: csrf, Sessions: sessions, Customers: s.OAuth.ThrottledCustomers(),
			Consents: customerConsents{s.APIs, s.Partners, s.Core}, SCA: s.SCA, Passkeys: s.Passkeys,
			Usernames: customerUsernames{s.Core}, DB: p.DB.DB, Log: p.Log, Accounts: s.Core}).Register(r)
	}
	personas := web.SandboxPersonasFunc(sandboxPersonaViews)
	portal := &web.Portal{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, Personas: personas,
		Requests: requestLog{s.APIs}, SandboxReset: sandboxReset{s.APIs}, DB: p.DB.DB, DevOutbox: p.Config.Mode.Development(),
		RegistrationURL: p.Issuer + "/register", Log: p.Log}
	portal.Register(r)
	perf := p.reviewService()
	console := &web.Console{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners, Staff: s.Staff, DB: p.DB.DB,
		Consents: apis.NewGormStore(p.DB), Monitoring: monitoring.New(monitoring.NewGormStore(p.DB), nil), Reviews: perf,
		Screening: s.Screening, Log: p.Log}
	console.Register(r)
	(&web.ConsoleLimits{Console: &web.Console{Pages: p.Pages, CSRF: csrf, Sessions: sessions, Partners: s.Partners,
		Staff: s.Staff, DB: p.DB.DB, Log: p.Log}, Limits: s.Limits}).Register(r)
	p.mountRisk(r, console)
	p.mountRecon(r, console)
	p.mountCorrections(r, console)
	p.mountBilling(r)
	p.mountReviews(r, perf, console, portal)
	p.mountComplaints(r, console, portal)
	p.mountExit(r, console, portal)
	p.mountWebhooks(r)
	r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/portal") })
}

// seed creates the sandbox's synthetic customers (sandbox data, in every
// mode) and, in development only, the demo partner with its portal login and
// sandbox app, whose private key is written to the data directory (created
// if need be) the first time.
func (p *Platform) seed(ctx context.Context) error {
	rep, err := p.Services.Core.Seed(ctx, core.SeedOptions{})
	if err != nil {
		return fmt.Errorf("sandbox customers: %w", err)
	}
	if !p.Config.Mode.Development() {
		p.Log.Info("sandbox seeded", "customers", rep.Customers, "transactions", rep.Transactions)
		return nil
	}
	demo, err := p.Services.Partners.SeedSandbox(ctx)
	if err != nil {
		return fmt.Errorf("demo partner: %w", err)
	}
	keyFile := filepath.Join(p.Config.DataDir, "demo-app-key.json")
	if demo.Created && len(demo.PrivateJWK) > 0 {
		if err := os.MkdirAll(p.Config.DataDir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(keyFile, demo.PrivateJWK, 0o600); err != nil {
			return err
		}
	}
	p.Log.Info("sandbox seeded", "customers", rep.Customers, "transactions", rep.Transactions,
		"demo_partner", demo.PartnerID, "demo_client_id", demo.AppID, "demo_key_file", keyFile,
		"portal_login", demo.Email)
	return nil
}

// wireCustomerFactors builds the customers' second-factor services (issue 13:
// the authorization flow and the dashboard use them next). Passkeys are off,
// with a log line, when the issuer cannot be a WebAuthn relying party; in
// production the issuer is https, so they are always on there.
func (p *Platform) wireCustomerFactors(now func() time.Time) error {
	s := &p.Services
	var err error
	s.SCA, err = sca.New(sca.Config{Store: sca.NewGormStore(p.DB), Box: p.Box, Throttle: throttle.NewStore(p.DB.DB, now),
		Settings: p.Config.SCA.Settings, Now: now})
	if err != nil {
		return fmt.Errorf("sca: %w", err)
	}
	access := accountAccessSCAWhenEnrolled
	if p.Config.SCA.RequireForAccountAccess {
		access = accountAccessSCARequired
	}
	p.Log.Debug("strong customer authentication", "exemptions", p.Config.SCA.describe(), "account_access", access,
		"reauthentication", p.Config.SCA.Reauthentication)
	s.Passkeys, err = passkeys.New(passkeys.Config{Issuer: p.Issuer, Store: passkeys.NewGormStore(p.DB), Now: now})
	switch {
	case errors.Is(err, passkeys.ErrIssuerIPAddress), errors.Is(err, passkeys.ErrIssuerNotSecure):
		p.Log.Info("passkeys off: WebAuthn needs the issuer on a domain name (http://localhost:PORT in development)", "issuer", p.Issuer)
		s.Passkeys = nil
	case err != nil:
		return fmt.Errorf("passkeys: %w", err)
	}
	return nil
}

// sandboxPersonaViews lists core's sandbox personas as the portal shows
// them: credentials, special behaviour in words, and the authenticator
// app's secret and otpauth URI of those that have one.
func sandboxPersonaViews() []web.PersonaView {
	var out []web.PersonaView
	for _, x := range core.Personas() {
		v := web.PersonaView{Username: x.Username, Password: x.Password, DisplayName: x.DisplayName,
			Description: x.Description, Purpose: x.Purpose}
		switch {
		case x.ConsentBehaviour == core.ConsentBehaviourReject:
			v.Behaviour = "Every consent is rejected"
		case x.Locked:
			v.Behaviour = "Sign-in is locked"
		}
		if x.TOTPSecret != "" {
			v.TOTPSecret = x.TOTPSecret
			v.TOTPURI, _ = sca.TOTPURI(x.Username, x.TOTPSecret) // valid: core's tests check the personas' secrets
		}
		out = append(out, v)
	}
	return out
}

// customerUsernames tells the dashboard's Security page a customer's
// username, from the bank's core.
type customerUsernames struct{ core *core.Reference }

func (u customerUsernames) Username(ctx context.Context, customerID string) (string, error) {
	c, err := u.core.Customer(ctx, customerID)
	if err != nil {
		return "", err
	}
	return c.Username, nil
}
