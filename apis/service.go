package apis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/limits"
)

// Config wires a Service.
type Config struct {
	DB   *db.DB
	Core core.Core
	// Store defaults to NewGormStore(DB).
	Store Store
	// Publisher receives consent.* and payment.* events in the change's tx (nil: none).
	Publisher events.Publisher
	// Revoker kills a revoked consent's tokens after commit (nil: none).
	Revoker oauth.TokenRevoker
	// Bus, when set, lets each node cache consents for resource calls,
	// invalidated on every node by every status change (ConsentCacheTopic);
	// nil caches nothing.
	Bus cachebus.Bus
	// Datasets defaults to DefaultDatasetPolicy.
	Datasets DatasetPolicy
	// Limits per environment; an environment not listed gets DefaultLimits.
	// They are the built-in defaults of the risk officers' rules.
	Limits map[environment.Environment]Limits
	// LimitRules, when set, gives the limit rules risk officers set
	// (risk/limits.Service; see that package for their precedence over
	// Limits); nil: Limits alone.
	LimitRules LimitRules
	// PaymentConsentLifetime is how long a payment consent may be authorised
	// and used (shown as CutOffDateTime); default 24 h.
	PaymentConsentLifetime time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger logs failures that happen after a response is decided (default slog.Default).
	Logger *slog.Logger
	// Outcomes, when set, is told about consent and payment outcomes once
	// committed (metrics).
	Outcomes Outcomes
	// Risk, when set, scores payment consents at creation and payments at
	// submission (package risk's Assessor); nil scores nothing.
	Risk RiskControls
	// Fees, when set, gives the payment fee of the partner's contract for
	// the reconciliation (nil: payments show no fee).
	Fees FeeTerms
}

// RiskControls scores payment consents and payments and opens the review
// case of a held payment (package risk's Assessor implements it).
type RiskControls interface {
	// Assess scores in for the partner, screening payeeName.
	Assess(ctx context.Context, partnerID, payeeName string, in risk.Input) (risk.Assessment, error)
	// OpenCase opens the case of a held payment in the transaction in ctx.
	OpenCase(ctx context.Context, n risk.NewCase) (*risk.Case, error)
	// PartnerRating is the partner's risk rating: it tightens the limits
	// (limits.Payment.PartnerRating) and is passed to Assess.
	PartnerRating(ctx context.Context, partnerID string) (string, error)
}

// partnerRating is the partner's risk rating when risk controls are wired
// ("" otherwise: no rating changes the limits).
func (s *Service) partnerRating(ctx context.Context, partnerID string) (string, error) {
	if s.risk == nil {
		return "", nil
	}
	return s.risk.PartnerRating(ctx, partnerID)
}

// Service is the consents, payments and data-sharing logic.
type Service struct {
	core      core.Core
	store     Store
	publisher events.Publisher
	revoker   oauth.TokenRevoker
	datasets  DatasetPolicy
	limits    map[environment.Environment]Limits
	rules     LimitRules
	payLife   time.Duration
	now       func() time.Time
	log       *slog.Logger
	// consents caches UsableConsent's consents (nil bus: nothing kept).
	consents *consentCache
	outcomes Outcomes
	risk     RiskControls
	fees     FeeTerms
	// calls is the store when it writes a batch of metered calls as one
	// statement (GormStore; taken before publishingStore wraps it, which
	// changes no metering row), else nil.
	calls callWriter
}

// NewService returns a Service.
func NewService(cfg Config) *Service {
	s := &Service{core: cfg.Core, store: cfg.Store, publisher: cfg.Publisher, revoker: cfg.Revoker,
		datasets: cfg.Datasets, limits: cfg.Limits, rules: cfg.LimitRules, payLife: cfg.PaymentConsentLifetime, log: cfg.Logger,
		outcomes: cfg.Outcomes, risk: cfg.Risk, fees: cfg.Fees}
	if s.store == nil {
		s.store = NewGormStore(cfg.DB)
	}
	s.calls, _ = s.store.(callWriter)
	s.consents = cachebus.NewCache[*Consent](cfg.Bus, ConsentCacheTopic, consentCacheTTL, consentCacheMax)
	if cfg.Bus != nil {
		s.store = &publishingStore{Store: s.store, bus: cfg.Bus, cache: s.consents,
			log: func(ctx context.Context, msg string, args ...any) { s.log.ErrorContext(ctx, msg, args...) }}
	}
	if s.datasets == nil {
		s.datasets = DefaultDatasetPolicy()
	}
	if s.payLife <= 0 {
		s.payLife = 24 * time.Hour
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	s.now = func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// LimitRules gives the limit rules risk officers set in an environment
// (risk/limits.Service implements it, through its per-node cache).
type LimitRules interface {
	Rules(ctx context.Context, env environment.Environment) ([]limits.Rule, error)
}

// paymentLimits returns the limits that bound p: the risk officers' rules
// over the environment's Limits as defaults (limits.Effective).
func (s *Service) paymentLimits(ctx context.Context, p limits.Payment) ([]limits.Rule, error) {
	var stored []limits.Rule
	if s.rules != nil {
		var err error
		if stored, err = s.rules.Rules(ctx, p.Environment); err != nil {
			return nil, err
		}
	}
	return limits.Effective(s.LimitsFor(p.Environment).Defaults(), stored, p), nil
}

// LimitsFor returns the payment limits of an environment.
func (s *Service) LimitsFor(env environment.Environment) Limits {
	if l, ok := s.limits[env]; ok {
		return l
	}
	return DefaultLimits()
}

// publish hands an event to the publisher in the transaction in ctx.
func (s *Service) publish(ctx context.Context, eventType, partnerID, appID string, data map[string]any) error {
	if s.publisher == nil {
		return nil
	}
	return s.store.Publish(ctx, s.publisher, eventType, partnerID, appID, data)
}

// Actor identifies who changes something, for the audit trail.
type Actor struct {
	Type, ID      string
	InteractionID string
}

// ---- consents ----

func (s *Service) newConsent(ac *oauth.AccessContext, typ string) *Consent {
	now := s.now()
	return &Consent{ID: ids.New(map[string]string{TypeAccountAccess: "cns", TypePaymentInitiation: "pcn",
		TypeDataSharing: "dsc"}[typ]), Type: typ, PartnerID: ac.PartnerID, ClientID: ac.ClientID,
		Environment: ac.Environment, Status: StatusAwaitingAuthorisation, CreatedAt: now, StatusUpdatedAt: now}
}

func (s *Service) insertConsent(ctx context.Context, c *Consent, actor Actor) error {
	return s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateConsent(ctx, c); err != nil {
			return err
		}
		details := map[string]any{"type": c.Type, "status": c.Status}
		if c.Scoring.Decision != "" {
			details["risk_score"], details["risk_decision"] = c.Scoring.Score, c.Scoring.Decision
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "consent.created",
			ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
			Details: details})
	})
}

// CreateAccountConsent creates an account-access consent for the calling client.
func (s *Service) CreateAccountConsent(ctx context.Context, ac *oauth.AccessContext, req *OBReadConsent1, actor Actor) (*Consent, error) {
	r, err := req.Validate(s.now())
	if err != nil {
		return nil, err
	}
	c := s.newConsent(ac, TypeAccountAccess)
	c.Permissions, c.ExpiresAt, c.TransactionFrom, c.TransactionTo = r.Permissions, r.ExpiresAt, r.TransactionFrom, r.TransactionTo
	return c, s.insertConsent(ctx, c, actor)
}

// CreatePaymentConsent creates a domestic payment consent. The amount is
// checked at once against the per-consent limit and the per-payment rules
// that can be known before the customer authorises (platform or default,
// partner, app): the customer's rules, the daily and monthly sums and the
// velocity are checked at payment (CreatePayment), when the customer and
// the debtor account are known and the payment is serialised with others.
func (s *Service) CreatePaymentConsent(ctx context.Context, ac *oauth.AccessContext, req *OBWriteDomesticConsent4, actor Actor) (*Consent, error) {
	m, err := req.Validate()
	if err != nil {
		return nil, err
	}
	rating, err := s.partnerRating(ctx, ac.PartnerID)
	if err != nil {
		return nil, err
	}
	// The customer is not known yet: their rules apply at payment.
	rules, err := s.paymentLimits(ctx, limits.Payment{Environment: ac.Environment, PartnerID: ac.PartnerID,
		AppID: ac.ClientID, Amount: m, PartnerRating: rating})
	if err != nil {
		return nil, err
	}
	lim := s.LimitsFor(ac.Environment)
	rules = append(rules, limits.Rule{Environment: ac.Environment, Currency: m.Currency, Scope: limits.ScopePlatform,
		Kind: limits.KindPerPayment, Amount: lim.PerConsent, Default: true, DefaultLabel: limits.DefaultPerPaymentLabel})
	if err := limits.CheckAmount(rules, m); err != nil {
		return nil, err
	}
	c := s.newConsent(ac, TypePaymentInitiation)
	in := req.Data.Initiation
	c.Initiation, c.Risk, c.Amount, c.ExpiresAt = &in, req.Risk, m, c.CreatedAt.Add(s.payLife)
	if s.risk != nil {
		// The customer is not known before they authorise: the consent is
		// scored on the amount, the partner, the Risk block, the time and
		// the screening of the payee; the payment is scored again in full.
		a, err := s.risk.Assess(ctx, ac.PartnerID, in.CreditorAccount.Name, risk.Input{Amount: m, Risk: req.Risk, At: c.CreatedAt,
			PartnerRating: rating, Sandbox: ac.Environment == environment.Sandbox})
		if err != nil {
			return nil, err
		}
		c.Scoring = RiskScore{Score: a.Score, Decision: a.Decision, Reasons: a.Reasons}
		if a.Decision == risk.DecisionReject {
			if err := s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "consent.refused_by_risk",
				ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
				Details: map[string]any{"score": a.Score, "reasons": a.Reasons}}); err != nil {
				return nil, err
			}
			return nil, problem.New(problem.CodeRiskRejected, "the bank's risk controls refused this payment consent")
		}
	}
	return c, s.insertConsent(ctx, c, actor)
}

// CreateDataConsent creates a data-sharing consent for datasets the partner
// may receive (CodeDatasetNotAllowed otherwise).
func (s *Service) CreateDataConsent(ctx context.Context, ac *oauth.AccessContext, req *DataSharingConsentRequest, actor Actor) (*Consent, error) {
	exp, err := req.Validate(s.now())
	if err != nil {
		return nil, err
	}
	for _, d := range req.Data.Datasets {
		if err := s.datasetAllowed(ctx, ac.PartnerID, d); err != nil {
			return nil, err
		}
	}
	c := s.newConsent(ac, TypeDataSharing)
	c.Datasets, c.ExpiresAt = req.Data.Datasets, exp
	return c, s.insertConsent(ctx, c, actor)
}

func (s *Service) datasetAllowed(ctx context.Context, partnerID, dataset string) error {
	allowed, err := s.datasets.AllowedDatasets(ctx, partnerID)
	if err != nil {
		return err
	}
	if !slices.Contains(allowed, dataset) {
		return problem.New(problem.CodeDatasetNotAllowed, "dataset %s is not in this partner's data-sharing scope", dataset)
	}
	return nil
}

// consent loads a consent and persists its expiry when due (publishing
// consent.expired once).
func (s *Service) consent(ctx context.Context, id string) (*Consent, error) {
	c, err := reqmemo.Load(ctx, memoConsent(id), func() (*Consent, error) {
		c, err := s.store.Consent(ctx, id)
		if err != nil {
			return nil, err
		}
		if (c.Status == StatusAuthorised || c.Status == StatusAwaitingAuthorisation) && c.Expired(s.now()) {
			if err := s.expire(ctx, c); err != nil {
				return nil, err
			}
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	cp := *c
	return &cp, nil
}

// memoConsent names a consent in a request's memo (internal/reqmemo): the
// authorization flow's pages describe and decide the same consents in one
// request. Every write of a consent in such a request forgets it.
func memoConsent(id string) string { return "apis.consent:" + id }

func (s *Service) expire(ctx context.Context, c *Consent) error {
	from := c.Status
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		c.Status, c.StatusUpdatedAt = StatusExpired, s.now()
		if err := s.store.SetConsentStatus(ctx, c, from); err != nil {
			return err
		}
		if err := s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorSystem, ActorID: "apis", Action: "consent.expired",
			ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID,
			Details: map[string]any{"previous_status": from, "expires_at": c.ExpiresAt}}); err != nil {
			return err
		}
		return s.publish(ctx, "consent.expired", c.PartnerID, c.ClientID, map[string]any{
			"consent_id": c.ID, "consent_type": c.Type, "expired_at": c.ExpiresAt.Format(time.RFC3339)})
	})
	if err == nil {
		s.consentOutcome(StatusExpired)
	}
	if errors.Is(err, ErrStale) { // someone else moved it first: read what they wrote
		fresh, err := s.store.Consent(ctx, c.ID)
		if err != nil {
			return err
		}
		*c = *fresh
		return nil
	}
	return err
}

// ownConsent loads a consent the caller's partner owns in the caller's
// environment, of type typ; anything else is not found.
func (s *Service) ownConsent(ctx context.Context, ac *oauth.AccessContext, typ, id string) (*Consent, error) {
	c, err := s.consent(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (c.PartnerID != ac.PartnerID || c.Environment != ac.Environment || c.Type != typ)) {
		return nil, errNotFound("consent", id)
	}
	return c, err
}

// GetConsent returns one of the caller's consents of type typ.
func (s *Service) GetConsent(ctx context.Context, ac *oauth.AccessContext, typ, id string) (*Consent, error) {
	return s.ownConsent(ctx, ac, typ, id)
}

// RevokeByPartner revokes (DELETE) one of the caller's consents. Revoking an
// already revoked consent is a no-op; a rejected or expired one cannot be.
func (s *Service) RevokeByPartner(ctx context.Context, ac *oauth.AccessContext, typ, id string, actor Actor) error {
	c, err := s.ownConsent(ctx, ac, typ, id)
	if err != nil {
		return err
	}
	return s.revoke(ctx, c, actor, "partner")
}

// RevokeByCustomer revokes a consent the customer authorised (the consent
// dashboard). Another customer's consent is not found.
func (s *Service) RevokeByCustomer(ctx context.Context, customerID, consentID string) error {
	c, err := s.consent(ctx, consentID)
	if errors.Is(err, ErrNotFound) || (err == nil && (c.CustomerID == "" || c.CustomerID != customerID)) {
		return errNotFound("consent", consentID)
	}
	if err != nil {
		return err
	}
	return s.revoke(ctx, c, Actor{Type: audit.ActorCustomer, ID: customerID}, "customer")
}

func (s *Service) revoke(ctx context.Context, c *Consent, actor Actor, by string) error {
	if c.Status == StatusRevoked {
		return nil
	}
	if c.Status != StatusAuthorised && c.Status != StatusAwaitingAuthorisation {
		return problem.New(problem.CodeInvalidState, "consent %s is %s and cannot be revoked", c.ID, c.Status)
	}
	from := c.Status
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		c.Status, c.StatusUpdatedAt = StatusRevoked, s.now()
		if err := s.store.SetConsentStatus(ctx, c, from); err != nil {
			return err
		}
		if err := s.store.Audit(ctx, audit.Entry{ActorType: actor.Type, ActorID: actor.ID, Action: "consent.revoked",
			ObjectType: "consent", ObjectID: c.ID, PartnerID: c.PartnerID, InteractionID: actor.InteractionID,
			Details: map[string]any{"previous_status": from, "revoked_by": by}}); err != nil {
			return err
		}
		return s.publish(ctx, "consent.revoked", c.PartnerID, c.ClientID, map[string]any{
			"consent_id": c.ID, "consent_type": c.Type, "revoked_by": by})
	})
	if errors.Is(err, ErrStale) {
		return problem.New(problem.CodeConflict, "consent %s changed concurrently; retry", c.ID)
	}
	if err != nil {
		return err
	}
	s.consentOutcome(StatusRevoked)
	if s.revoker != nil {
		if err := s.revoker.RevokeConsent(ctx, c.ID); err != nil {
			// The consent is revoked (and refused at every resource call); the
			// tokens die at their expiry at the latest.
			s.log.ErrorContext(ctx, "apis: revoke tokens of consent", "consent_id", c.ID, "err", err)
		}
	}
	return nil
}

// ListForCustomer lists the consents a customer authorised (or was asked for
// and decided), newest first, with expiry brought up to date.
func (s *Service) ListForCustomer(ctx context.Context, customerID string) ([]Consent, error) {
	cs, err := s.store.ConsentsForCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := range cs {
		if cs[i].Status == StatusAuthorised && cs[i].Expired(now) {
			if err := s.expire(ctx, &cs[i]); err != nil {
				return nil, err
			}
		}
	}
	return cs, nil
}

// UsableConsent returns the consent of type typ the customer token was
// granted for, refusing an expired, revoked or unauthorised one. allowConsumed
// lets a consumed payment consent through (for the payment POST, whose
// handler answers CodeConsentConsumed unless it is an idempotent replay).
func (s *Service) UsableConsent(ctx context.Context, ac *oauth.AccessContext, typ string, allowConsumed bool) (*Consent, error) {
	var id string
	for _, d := range ac.AuthorizationDetails {
		if d.Type == typ && d.ConsentID != "" {
			id = d.ConsentID
			break
		}
	}
	if id == "" {
		return nil, problem.New(problem.CodeConsentNotAuthorised, "the access token carries no %s consent", typ)
	}
	c, err := s.cachedConsent(ctx, id, typ)
	if errors.Is(err, ErrNotFound) || (err == nil && (c.PartnerID != ac.PartnerID || c.Environment != ac.Environment || c.Type != typ)) {
		return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s is not authorised", id)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.Status == StatusExpired:
		return nil, problem.New(problem.CodeConsentExpired, "consent %s expired at %s", c.ID, c.ExpiresAt.Format(time.RFC3339))
	case c.Status == StatusRevoked:
		return nil, problem.New(problem.CodeConsentRevoked, "consent %s was revoked at %s", c.ID, c.StatusUpdatedAt.Format(time.RFC3339))
	case c.Status == StatusConsumed && allowConsumed:
	case c.Status == StatusConsumed:
		return nil, problem.New(problem.CodeConsentConsumed, "consent %s has been used by a payment", c.ID)
	case c.Status != StatusAuthorised:
		return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s is %s", c.ID, c.Status)
	case c.CustomerID != ac.CustomerID:
		return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s was authorised by another customer", c.ID)
	}
	// Defence in depth: sign-in already keeps each app to its environment's
	// customers, but a consent bound otherwise (before customers had an
	// environment, say) never reads or pays from the other environment.
	if _, err := s.customerIn(ctx, ac.Environment, c.CustomerID); err != nil {
		switch {
		case errors.Is(err, ErrWrongEnvironment):
			return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s was authorised by a customer of another environment", c.ID)
		case errors.Is(err, core.ErrNotFound):
			return nil, problem.New(problem.CodeConsentNotAuthorised, "consent %s was authorised by a customer the bank no longer knows", c.ID)
		}
		return nil, err
	}
	return c, nil
}

// RequestLog lists a partner's logged resource calls (clientID "" for all its
// apps), newest first.
func (s *Service) RequestLog(ctx context.Context, partnerID, clientID string, f RequestLogFilter) ([]RequestLogEntry, error) {
	if partnerID == "" {
		return nil, problem.New(problem.CodeValidation, "partner id is required")
	}
	return s.store.RequestLog(ctx, partnerID, clientID, f)
}

// PurgeIdempotencyKeys deletes idempotency keys older than IdempotencyTTL
// (run it periodically; a key is also renewed when reused after its TTL).
func (s *Service) PurgeIdempotencyKeys(ctx context.Context) (int64, error) {
	return s.store.PurgeKeys(ctx, s.now().Add(-IdempotencyTTL))
}

// RequestLogRetention is how long request-log entries are kept (the portal
// shows a partner its recent calls; certification reads the sandbox's). It
// covers a whole 31-day month when settlement measures the month's service
// levels from it (contracts' service credits) after the month has ended,
// with 9 days to spare for a late settlement run.
const RequestLogRetention = 40 * 24 * time.Hour

// requestLogPurgeBatch bounds one DELETE of PurgeRequestLog.
const requestLogPurgeBatch = 1000

// PurgeRequestLog deletes request-log entries older than RequestLogRetention
// and returns how many. It walks the table from its oldest id in batches
// (ids grow with time), so it needs no index on at and never scans the whole
// table: each batch looks at the next requestLogPurgeBatch oldest rows and
// it stops at the first batch that deletes fewer of them, at most 100 batches
// per call (run it periodically).
func (s *Service) PurgeRequestLog(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-RequestLogRetention).UTC()
	var total int64
	for i := 0; i < 100; i++ {
		n, err := s.store.PurgeRequestLog(ctx, cutoff, requestLogPurgeBatch)
		if err != nil {
			return total, err
		}
		total += n
		if n < requestLogPurgeBatch {
			break
		}
	}
	return total, nil
}

func limitErr(which string, limit int64, currency string) *problem.Error {
	return problem.New(problem.CodeLimitExceeded, "the %s limit is %s %s", which, money.FormatAmount(limit, currency), currency).
		With("limit", money.FormatAmount(limit, currency)).With("currency", currency)
}

// customerAccount loads an account of the customer in environment env; an
// account of another customer or of the other environment is not found.
func (s *Service) customerAccount(ctx context.Context, env environment.Environment, customerID, accountID string) (*core.Account, error) {
	a, err := s.core.Account(ctx, accountID)
	if errors.Is(err, core.ErrNotFound) || (err == nil && (a.CustomerID != customerID || a.Environment != env)) {
		return nil, errNotFound("account", accountID)
	}
	return a, err
}

// ErrWrongEnvironment (wrapped) refuses a customer of one environment to an
// app or consent of the other: sandbox and production never meet.
var ErrWrongEnvironment = errors.New("apis: the customer belongs to another environment")

// customerIn loads a customer who must belong to environment env. Errors:
// ErrWrongEnvironment (wrapped), core.ErrNotFound, or the core's error.
func (s *Service) customerIn(ctx context.Context, env environment.Environment, customerID string) (*core.Customer, error) {
	cust, err := s.core.Customer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	if cust.Environment != env {
		return nil, fmt.Errorf("%w: customer %s is not a %s customer", ErrWrongEnvironment, customerID, env)
	}
	return cust, nil
}

func consentTitle(typ string) string {
	switch typ {
	case TypeAccountAccess:
		return "Read your account information"
	case TypePaymentInitiation:
		return "Make a payment from your account"
	default:
		return "Share data derived from your accounts"
	}
}
