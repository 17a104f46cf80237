package webhooks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// DefaultSchedule is the delay before each attempt: immediately, then 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h after the previous
// failure (each delay ±10 % jitter). After the last attempt fails the delivery
// is dead-lettered.
var DefaultSchedule = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Defaults for Config's zero fields.
const (
	DefaultRotationOverlap = 24 * time.Hour
	MaxRotationOverlap     = 7 * 24 * time.Hour
	DefaultDisableAfter    = 5 * 24 * time.Hour
	DefaultConnectTimeout  = 5 * time.Second
	DefaultResponseTimeout = 15 * time.Second
	// MaxResponseRead is how much of a receiver's answer is read.
	MaxResponseRead = 64 << 10
	// ResponseExcerptSize is how much of it the delivery log keeps.
	ResponseExcerptSize = 1 << 10
	// MaxEndpointsPerApp bounds the endpoints of one app.
	MaxEndpointsPerApp = 20
)

// Config configures a Service. DB and Box are required.
type Config struct {
	DB  *db.DB
	Box *secrets.Box
	// Clock returns now (default time.Now). Tests inject a fake one.
	Clock func() time.Time
	// AllowLoopback lets sandbox endpoints use http and loopback hosts
	// (--webhooks-allow-loopback). Production endpoints never may.
	AllowLoopback bool
	// Schedule is the delay before attempt i+1 (default DefaultSchedule); its
	// length is the number of attempts.
	Schedule []time.Duration
	// Jitter is the ± fraction applied to each delay (default 0.1; negative for none).
	Jitter float64
	// RotationOverlap is how long the previous secret keeps signing after a
	// rotation (default 24 h).
	RotationOverlap time.Duration
	// DisableAfter disables an endpoint that has failed continuously this long
	// (default 5 days).
	DisableAfter time.Duration
	// ConnectTimeout and ResponseTimeout bound a delivery (defaults 5 s, 15 s).
	ConnectTimeout, ResponseTimeout time.Duration
	// Resolver checks endpoint hosts at create/update time (default net.DefaultResolver).
	Resolver Resolver
	// Logger receives dispatcher logs (default slog.Default()).
	Logger *slog.Logger
	// ReplayInterval, ReplayMaxEvents and ReplayDailyDeliveries limit
	// deliveries queued on demand (see DefaultReplayInterval): one range
	// replay per endpoint per interval (default 1 minute), events per range
	// replay (default 1000), deliveries queued by replays and test events per
	// partner per UTC day (default 10000).
	ReplayInterval        time.Duration
	ReplayMaxEvents       int
	ReplayDailyDeliveries int
}

// Service manages endpoints and the outbox.
type Service struct {
	cfg Config
	db  *db.DB
	box *secrets.Box
	log *slog.Logger

	mu     sync.Mutex
	wakers map[chan struct{}]struct{}
	// onListen, when set (tests), is called each time a dispatcher's LISTEN
	// connection is ready.
	onListen func()
}

// NewService checks cfg and fills its defaults.
func NewService(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil {
		return nil, errors.New("webhooks: Config.DB and Config.Box are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.RotationOverlap <= 0 {
		cfg.RotationOverlap = DefaultRotationOverlap
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReplayInterval <= 0 {
		cfg.ReplayInterval = DefaultReplayInterval
	}
	if cfg.ReplayMaxEvents <= 0 {
		cfg.ReplayMaxEvents = DefaultReplayMaxEvents
	}
	if cfg.ReplayDailyDeliveries <= 0 {
		cfg.ReplayDailyDeliveries = DefaultReplayDailyDeliveries
	}
	return &Service{cfg: cfg, db: cfg.DB, box: cfg.Box, log: cfg.Logger, wakers: map[chan struct{}]struct{}{}}, nil
}

func (s *Service) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

func secretPurpose(endpointID string) string { return "webhook-secret:" + endpointID }

// delay returns the jittered delay before attempt n+1 (n attempts made so far).
func (s *Service) delay(n int) time.Duration {
	d := s.cfg.Schedule[n]
	if s.cfg.Jitter > 0 && d > 0 {
		f := 1 + s.cfg.Jitter*(2*rand.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return d
}

// ---- endpoints ----

func notFound(id string) error {
	return problem.New(problem.CodeNotFound, "webhook endpoint %s not found", id)
}

func (s *Service) validateTypes(types []string) error {
	if len(types) == 0 {
		return problem.New(problem.CodeValidation, "event_types must list at least one event type")
	}
	seen := map[string]bool{}
	for _, t := range types {
		if !KnownEventType(t) {
			return problem.New(problem.CodeValidation, "unknown event type %q", t)
		}
		if seen[t] {
			return problem.New(problem.CodeValidation, "event type %q listed twice", t)
		}
		seen[t] = true
	}
	return nil
}

func validateDescription(d string) error {
	if utf8.RuneCountInString(d) > 500 {
		return problem.New(problem.CodeValidation, "description must be at most 500 characters")
	}
	return nil
}

func (s *Service) checkURL(ctx context.Context, raw string, env environment.Environment) error {
	if d := s.validateURL(ctx, raw, env); d != "" {
		return problem.New(problem.CodeValidation, "%s", d)
	}
	return nil
}

func validEnv(env environment.Environment) error {
	if env != environment.Sandbox && env != environment.Production {
		return problem.New(problem.CodeValidation, "environment must be %q or %q", environment.Sandbox, environment.Production)
	}
	return nil
}

func (s *Service) audit(ctx context.Context, tx *gorm.DB, sc Scope, action, id string, details map[string]any) error {
	actor := sc.Actor
	if actor == "" {
		actor = sc.AppID
	}
	return audit.Record(ctx, tx, audit.Entry{ActorType: audit.ActorPartner, ActorID: actor, Action: action,
		ObjectType: "webhook_endpoint", ObjectID: id, PartnerID: sc.PartnerID, InteractionID: sc.InteractionID, Details: details})
}

// CreateEndpoint creates an endpoint for app sc.AppID of partner sc.PartnerID in
// env (the app's environment) and returns it with its credentials, shown once.
// Errors: validation_failed (url, event_types, signing, description), conflict
// (too many endpoints).
func (s *Service) CreateEndpoint(ctx context.Context, sc Scope, env environment.Environment, in EndpointInput) (*Endpoint, *Credentials, error) {
	if sc.PartnerID == "" || sc.AppID == "" {
		return nil, nil, problem.New(problem.CodeValidation, "an endpoint belongs to one app: partner and app are required")
	}
	if err := validEnv(env); err != nil {
		return nil, nil, err
	}
	if in.Signing == "" {
		in.Signing = SigningHMAC
	}
	if in.Signing != SigningHMAC && in.Signing != SigningEd25519 {
		return nil, nil, problem.New(problem.CodeValidation, "signing must be %q or %q", SigningHMAC, SigningEd25519)
	}
	if err := s.checkURL(ctx, in.URL, env); err != nil {
		return nil, nil, err
	}
	if err := s.validateTypes(in.EventTypes); err != nil {
		return nil, nil, err
	}
	if err := validateDescription(in.Description); err != nil {
		return nil, nil, err
	}
	now := s.now()
	id := ids.New("whe")
	row := endpointRow{ID: id, PartnerID: sc.PartnerID, AppID: sc.AppID, Environment: env, URL: in.URL,
		Description: in.Description, EventTypes: mustJSON(in.EventTypes), Enabled: in.Enabled == nil || *in.Enabled,
		Signing: in.Signing, CreatedAt: now, UpdatedAt: now}
	if !row.Enabled {
		row.DisabledReason = "disabled by partner"
	}
	creds := &Credentials{}
	if in.Signing == SigningHMAC {
		creds.Secret = NewSecret()
		row.SecretSealed = s.box.Seal([]byte(creds.Secret), secretPurpose(id))
	} else {
		priv, pub := NewKeyPair()
		row.SecretSealed = s.box.Seal([]byte(priv), secretPurpose(id))
		row.PublicKey, creds.PublicKey, creds.KeyID = pub, pub, KeyID(pub)
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&endpointRow{}).Where("partner_id = ? AND app_id = ?", sc.PartnerID, sc.AppID).Count(&n).Error; err != nil {
			return err
		}
		if n >= MaxEndpointsPerApp {
			return problem.New(problem.CodeConflict, "an app may have at most %d webhook endpoints", MaxEndpointsPerApp)
		}
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return s.audit(ctx, tx, sc, "webhook_endpoint.created", id, map[string]any{"url": in.URL, "event_types": in.EventTypes, "signing": in.Signing})
	})
	if err != nil {
		return nil, nil, err
	}
	e := row.public(now)
	return &e, creds, nil
}

func (s *Service) load(tx *gorm.DB, sc Scope, id string, lock bool) (*endpointRow, error) {
	q := tx.Where("id = ? AND partner_id = ?", id, sc.PartnerID)
	if sc.AppID != "" {
		q = q.Where("app_id = ?", sc.AppID)
	}
	if lock && s.db.Dialect == db.Postgres {
		q = q.Clauses(forUpdate)
	}
	var r endpointRow
	if err := q.Take(&r).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, notFound(id)
		}
		return nil, err
	}
	return &r, nil
}

// GetEndpoint returns one endpoint in scope. Errors: not_found.
func (s *Service) GetEndpoint(ctx context.Context, sc Scope, id string) (*Endpoint, error) {
	r, err := s.load(s.db.WithContext(ctx), sc, id, false)
	if err != nil {
		return nil, err
	}
	e := r.public(s.now())
	return &e, nil
}

// ListEndpoints returns the endpoints in scope, oldest first.
func (s *Service) ListEndpoints(ctx context.Context, sc Scope) ([]Endpoint, error) {
	q := s.db.WithContext(ctx).Where("partner_id = ?", sc.PartnerID)
	if sc.AppID != "" {
		q = q.Where("app_id = ?", sc.AppID)
	}
	var rows []endpointRow
	if err := q.Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	now := s.now()
	out := make([]Endpoint, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].public(now))
	}
	return out, nil
}

// UpdateEndpoint applies a patch. Enabling an endpoint clears its failure run.
// Errors: not_found, validation_failed.
func (s *Service) UpdateEndpoint(ctx context.Context, sc Scope, id string, p EndpointPatch) (*Endpoint, error) {
	if p.EventTypes != nil {
		if err := s.validateTypes(*p.EventTypes); err != nil {
			return nil, err
		}
	}
	if p.Description != nil {
		if err := validateDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	var out Endpoint
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, id, true)
		if err != nil {
			return err
		}
		changed := map[string]any{}
		if p.URL != nil {
			if err := s.checkURL(ctx, *p.URL, r.Environment); err != nil {
				return err
			}
			r.URL, changed["url"] = *p.URL, *p.URL
		}
		if p.EventTypes != nil {
			r.EventTypes, changed["event_types"] = mustJSON(*p.EventTypes), *p.EventTypes
		}
		if p.Description != nil {
			r.Description, changed["description"] = *p.Description, *p.Description
		}
		if p.Enabled != nil {
			changed["enabled"] = *p.Enabled
			if *p.Enabled {
				r.Enabled, r.DisabledReason, r.FailingSince = true, "", nil
			} else if r.Enabled {
				r.Enabled, r.DisabledReason = false, "disabled by partner"
			}
		}
		r.UpdatedAt = s.now()
		if err := tx.Select("*").Save(r).Error; err != nil {
			return err
		}
		out = r.public(r.UpdatedAt)
		return s.audit(ctx, tx, sc, "webhook_endpoint.updated", id, changed)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteEndpoint deletes an endpoint and cancels its pending deliveries (its
// delivery log is kept). Errors: not_found.
func (s *Service) DeleteEndpoint(ctx context.Context, sc Scope, id string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.load(tx, sc, id, true); err != nil {
			return err
		}
		if err := tx.Delete(&endpointRow{}, "id = ?", id).Error; err != nil {
			return err
		}
		if err := tx.Model(&deliveryRow{}).Where("endpoint_id = ? AND status = ?", id, StatusPending).
			Updates(map[string]any{"status": StatusCancelled, "last_error": "endpoint deleted", "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(ctx, tx, sc, "webhook_endpoint.deleted", id, nil)
	})
}

// RotateSecret replaces the endpoint's secret (or Ed25519 key). The previous one
// keeps signing alongside for overlap (negative: the configured default, 24 h;
// 0: stop at once; at most 7 days). The new credentials are shown once.
// Errors: not_found, validation_failed (overlap).
func (s *Service) RotateSecret(ctx context.Context, sc Scope, id string, overlap time.Duration) (*Endpoint, *Credentials, error) {
	if overlap < 0 {
		overlap = s.cfg.RotationOverlap
	}
	if overlap > MaxRotationOverlap {
		return nil, nil, problem.New(problem.CodeValidation, "overlap must be at most %d seconds", int(MaxRotationOverlap/time.Second))
	}
	var (
		out   Endpoint
		creds Credentials
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, id, true)
		if err != nil {
			return err
		}
		now := s.now()
		if overlap > 0 {
			until := now.Add(overlap)
			r.PrevSecretSealed, r.PrevPublicKey, r.PrevValidUntil = r.SecretSealed, r.PublicKey, &until
			creds.PreviousValidUntil = &until
		} else {
			r.PrevSecretSealed, r.PrevPublicKey, r.PrevValidUntil = "", "", nil
		}
		if r.Signing == SigningEd25519 {
			priv, pub := NewKeyPair()
			r.SecretSealed, r.PublicKey = s.box.Seal([]byte(priv), secretPurpose(id)), pub
			creds.PublicKey, creds.KeyID = pub, KeyID(pub)
		} else {
			creds.Secret = NewSecret()
			r.SecretSealed = s.box.Seal([]byte(creds.Secret), secretPurpose(id))
		}
		r.UpdatedAt = now
		if err := tx.Select("*").Save(r).Error; err != nil {
			return err
		}
		out = r.public(now)
		return s.audit(ctx, tx, sc, "webhook_endpoint.secret_rotated", id, map[string]any{"overlap_seconds": int64(overlap / time.Second)})
	})
	if err != nil {
		return nil, nil, err
	}
	return &out, &creds, nil
}

// PublicKeys lists every Ed25519 public key currently signing (including the
// previous key of endpoints in a rotation overlap), for GET /webhooks/public-keys.
func (s *Service) PublicKeys(ctx context.Context) ([]PublicKey, error) {
	var rows []endpointRow
	if err := s.db.WithContext(ctx).Where("signing = ?", SigningEd25519).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	now := s.now()
	out := []PublicKey{}
	for _, r := range rows {
		if k, ok := jwk(r.PublicKey, nil); ok {
			out = append(out, k)
		}
		if r.PrevPublicKey != "" && r.PrevValidUntil != nil && r.PrevValidUntil.After(now) {
			if k, ok := jwk(r.PrevPublicKey, utcp(r.PrevValidUntil)); ok {
				out = append(out, k)
			}
		}
	}
	return out, nil
}

func jwk(pub string, notAfter *time.Time) (PublicKey, bool) {
	raw, err := decodeKey(pub, PublicKeyPrefix)
	if err != nil {
		return PublicKey{}, false
	}
	return PublicKey{KeyID: KeyID(pub), Kty: "OKP", Crv: "Ed25519", X: b64url(raw), Alg: "EdDSA", Use: "sig",
		PublicKey: pub, NotAfter: notAfter}, true
}

// ---- outbox ----

// Publish writes e and one delivery row per enabled endpoint subscribed to its
// type (of app e.AppID, or of every app of the partner when AppID is "") using
// tx, the caller's transaction, so the event commits or rolls back with the
// change that caused it. Errors: validation_failed (unknown type, no partner,
// data not a JSON object).
func (s *Service) Publish(ctx context.Context, tx *gorm.DB, e Event) error {
	if !KnownEventType(e.Type) {
		return problem.New(problem.CodeValidation, "unknown event type %q", e.Type)
	}
	_, err := s.publish(ctx, tx, e, nil)
	return err
}

func (s *Service) publish(ctx context.Context, tx *gorm.DB, e Event, only *endpointRow) (string, error) {
	if e.PartnerID == "" {
		return "", problem.New(problem.CodeValidation, "event has no partner")
	}
	if e.ID == "" {
		e.ID = ids.New("evt")
	}
	data, err := eventData(e)
	if err != nil {
		return "", err
	}
	now := s.now()
	payload, err := json.Marshal(body{Type: e.Type, Timestamp: now, Data: data})
	if err != nil {
		return "", err
	}
	tx = tx.WithContext(ctx)
	if err := tx.Create(&eventRow{ID: e.ID, Type: e.Type, PartnerID: e.PartnerID, AppID: e.AppID, Payload: string(payload), CreatedAt: now}).Error; err != nil {
		return "", err
	}
	var targets []endpointRow
	if only != nil {
		targets = []endpointRow{*only}
	} else {
		q := tx.Where("partner_id = ? AND enabled = ?", e.PartnerID, true)
		if e.AppID != "" {
			q = q.Where("app_id = ?", e.AppID)
		}
		if err := q.Order("id").Find(&targets).Error; err != nil {
			return "", err
		}
	}
	n, err := s.enqueue(tx, e.ID, e.Type, targets, now)
	if err != nil {
		return "", err
	}
	if n > 0 {
		s.wake()
	}
	return e.ID, nil
}

// enqueue inserts a pending delivery of event to every target subscribed to typ.
func (s *Service) enqueue(tx *gorm.DB, eventID, typ string, targets []endpointRow, now time.Time) (int, error) {
	var rows []deliveryRow
	for i := range targets {
		t := &targets[i]
		if typ != TestEventType && !t.subscribes(typ) {
			continue
		}
		rows = append(rows, deliveryRow{ID: ids.New("dlv"), EventID: eventID, EndpointID: t.ID, PartnerID: t.PartnerID,
			Status: StatusPending, NextAttemptAt: now.Add(s.cfg.Schedule[0]), CreatedAt: now, UpdatedAt: now})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		return 0, err
	}
	return len(rows), s.notifyQueued(tx)
}

// eventData turns e.Data into a JSON object carrying the ids receivers
// de-duplicate on.
func eventData(e Event) (json.RawMessage, error) {
	var raw []byte
	switch d := e.Data.(type) {
	case nil:
		raw = []byte("{}")
	case json.RawMessage:
		raw = d
	case []byte:
		raw = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return nil, problem.Wrap(problem.CodeValidation, err, "event data does not marshal to JSON")
		}
		raw = b
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, problem.New(problem.CodeValidation, "event data must be a JSON object")
	}
	set := func(k, v string) {
		if _, ok := m[k]; !ok && v != "" {
			m[k] = json.RawMessage(mustJSON(v))
		}
	}
	set("event_id", e.ID)
	set("partner_id", e.PartnerID)
	set("app_id", e.AppID)
	return json.Marshal(m)
}

// SendTest sends a webhook.test event to one endpoint and returns the event id.
// It counts against the partner's daily on-demand budget (see
// DefaultReplayDailyDeliveries). Errors: not_found, conflict (endpoint
// disabled), rate_limited.
func (s *Service) SendTest(ctx context.Context, sc Scope, endpointID string) (string, error) {
	var id string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, endpointID, false)
		if err != nil {
			return err
		}
		if !r.Enabled {
			return problem.New(problem.CodeConflict, "webhook endpoint %s is disabled; enable it to send a test event", endpointID)
		}
		if err := s.spendReplayBudget(tx, r.PartnerID, 1, s.now()); err != nil {
			return err
		}
		id, err = s.publish(ctx, tx, Event{Type: TestEventType, PartnerID: r.PartnerID, AppID: r.AppID,
			Data: map[string]any{"endpoint_id": r.ID, "message": "This is a test event from Bankbridge."}}, r)
		return err
	})
	return id, err
}

// ReplayEvent delivers an event again (same webhook-id) to every enabled
// endpoint in scope subscribed to its type, and returns how many deliveries
// were queued; they count against the partner's daily on-demand budget.
// Errors: not_found, rate_limited (nothing queued).
func (s *Service) ReplayEvent(ctx context.Context, sc Scope, eventID string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var ev eventRow
		if err := tx.Where("id = ? AND partner_id = ?", eventID, sc.PartnerID).Take(&ev).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return problem.New(problem.CodeNotFound, "event %s not found", eventID)
			}
			return err
		}
		if sc.AppID != "" && ev.AppID != "" && ev.AppID != sc.AppID {
			return problem.New(problem.CodeNotFound, "event %s not found", eventID)
		}
		q := tx.Where("partner_id = ? AND enabled = ?", ev.PartnerID, true)
		if app := firstNonEmpty(ev.AppID, sc.AppID); app != "" {
			q = q.Where("app_id = ?", app)
		}
		var targets []endpointRow
		if err := q.Order("id").Find(&targets).Error; err != nil {
			return err
		}
		if ev.Type == TestEventType {
			targets = nil // test events are not replayed to other endpoints
		}
		var err error
		now := s.now()
		if n, err = s.enqueue(tx, ev.ID, ev.Type, targets, now); err != nil {
			return err
		}
		return s.spendReplayBudget(tx, ev.PartnerID, n, now)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.wake()
	}
	return n, err
}

// ReplayRange delivers again to one endpoint every event it subscribes to that
// was published in [from, to); with failedOnly, only events not yet delivered
// successfully to it (dead-lettered, cancelled, or published while it was
// disabled). It returns how many deliveries were queued. One range replay
// per endpoint per Config.ReplayInterval, at most Config.ReplayMaxEvents
// events, and the deliveries count against the partner's daily on-demand
// budget; a refused replay queues nothing. Errors: not_found,
// validation_failed (range, too many events), conflict (endpoint disabled),
// rate_limited (with retry_after).
func (s *Service) ReplayRange(ctx context.Context, sc Scope, endpointID string, from, to time.Time, failedOnly bool) (int, error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return 0, problem.New(problem.CodeValidation, "replay range must have from before to")
	}
	var n int
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, endpointID, false)
		if err != nil {
			return err
		}
		if !r.Enabled {
			return problem.New(problem.CodeConflict, "webhook endpoint %s is disabled; enable it to replay events", endpointID)
		}
		now := s.now()
		if err := s.claimReplayWindow(tx, r.ID, now); err != nil {
			return err
		}
		q := tx.Model(&eventRow{}).Where("partner_id = ? AND (app_id = '' OR app_id = ?) AND created_at >= ? AND created_at < ? AND type <> ?",
			r.PartnerID, r.AppID, from.UTC(), to.UTC(), TestEventType)
		if failedOnly {
			q = q.Where("NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.endpoint_id = ? AND d.status IN (?, ?))",
				r.ID, StatusSucceeded, StatusPending)
		}
		var evs []eventRow
		if err := q.Order("created_at, id").Limit(s.cfg.ReplayMaxEvents + 1).Find(&evs).Error; err != nil {
			return err
		}
		if len(evs) > s.cfg.ReplayMaxEvents {
			return problem.New(problem.CodeValidation, "the range holds more than %d events to replay; a range replay queues at most %d, so narrow the range",
				s.cfg.ReplayMaxEvents, s.cfg.ReplayMaxEvents)
		}
		for _, ev := range evs {
			k, err := s.enqueue(tx, ev.ID, ev.Type, []endpointRow{*r}, now)
			if err != nil {
				return err
			}
			n += k
		}
		return s.spendReplayBudget(tx, r.PartnerID, n, now)
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		s.wake()
	}
	return n, err
}

// ---- delivery log and notices ----

// Attempts returns an endpoint's delivery log, newest first. Errors: not_found
// (the endpoint is not the partner's, or not f.AppID's).
func (s *Service) Attempts(ctx context.Context, partnerID, endpointID string, f AttemptFilter) ([]Attempt, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.load(g, Scope{PartnerID: partnerID, AppID: f.AppID}, endpointID, false); err != nil {
		return nil, err
	}
	q := g.Where("endpoint_id = ? AND partner_id = ?", endpointID, partnerID)
	if f.EventID != "" {
		q = q.Where("event_id = ?", f.EventID)
	}
	if f.FailedOnly {
		q = q.Where("(status_code < 200 OR status_code > 299 OR error <> '')")
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 500 {
		limit = 500
	}
	var rows []attemptRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Attempt, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].public())
	}
	return out, nil
}

// Deliveries returns an endpoint's deliveries (newest first), optionally only
// those in status. Errors: not_found.
func (s *Service) Deliveries(ctx context.Context, sc Scope, endpointID, status string, limit int) ([]Delivery, error) {
	g := s.db.WithContext(ctx)
	if _, err := s.load(g, sc, endpointID, false); err != nil {
		return nil, err
	}
	q := g.Where("endpoint_id = ?", endpointID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var rows []deliveryRow
	if err := q.Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(rows))
	for i := range rows {
		out = append(out, rows[i].public())
	}
	return out, nil
}

// Notices returns the partner's notices, newest first.
func (s *Service) Notices(ctx context.Context, partnerID string, unreadOnly bool) ([]Notice, error) {
	q := s.db.WithContext(ctx).Where("partner_id = ?", partnerID)
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	var rows []noticeRow
	if err := q.Order("created_at DESC, id DESC").Limit(200).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Notice, 0, len(rows))
	for _, r := range rows {
		out = append(out, Notice{ID: r.ID, PartnerID: r.PartnerID, AppID: r.AppID, Kind: r.Kind, ObjectID: r.ObjectID,
			Subject: r.Subject, Body: r.Body, CreatedAt: r.CreatedAt.UTC(), ReadAt: utcp(r.ReadAt)})
	}
	return out, nil
}

// MarkNoticeRead marks one of the partner's notices read. Errors: not_found.
func (s *Service) MarkNoticeRead(ctx context.Context, partnerID, noticeID string) error {
	res := s.db.WithContext(ctx).Model(&noticeRow{}).Where("id = ? AND partner_id = ? AND read_at IS NULL", noticeID, partnerID).
		Update("read_at", s.now())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		var n int64
		s.db.WithContext(ctx).Model(&noticeRow{}).Where("id = ? AND partner_id = ?", noticeID, partnerID).Count(&n)
		if n == 0 {
			return problem.New(problem.CodeNotFound, "notice %s not found", noticeID)
		}
	}
	return nil
}

// notifyDisabled writes the portal notice and the e-mail outbox row telling the
// partner an endpoint was disabled.
func (s *Service) notifyDisabled(tx *gorm.DB, r *endpointRow, reason string, now time.Time) error {
	subject := "Webhook endpoint disabled"
	text := fmt.Sprintf("Your webhook endpoint %s (%s) of app %s was disabled: %s. Fix the receiver, then enable the endpoint again and replay the events you missed.",
		r.ID, r.URL, r.AppID, reason)
	if err := tx.Create(&noticeRow{ID: ids.New("ntc"), PartnerID: r.PartnerID, AppID: r.AppID, Kind: NoticeEndpointDisabled,
		ObjectID: r.ID, Subject: subject, Body: text, CreatedAt: now}).Error; err != nil {
		return err
	}
	_, err := mail.EnqueueToPartnerOwners(tx.Statement.Context, tx, mail.Message{PartnerID: r.PartnerID,
		Template: NoticeEndpointDisabled, Subject: subject, Body: text})
	return err
}

// tx runs fn in a transaction. On SQLite it holds the write lock from BEGIN
// (internal/db opens SQLite with _txlock=immediate), so the read-then-write
// transactions here serialise instead of failing with SQLITE_BUSY.
func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.Tx(ctx, fn)
}

// ---- wake-ups ----

func (s *Service) subscribe() chan struct{} {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.wakers[ch] = struct{}{}
	s.mu.Unlock()
	return ch
}

func (s *Service) unsubscribe(ch chan struct{}) {
	s.mu.Lock()
	delete(s.wakers, ch)
	s.mu.Unlock()
}

// wake nudges this process's dispatchers (other nodes are woken by the
// PostgreSQL notification of the commit, see notifyQueued, or find the rows
// by polling).
func (s *Service) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.wakers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

var forUpdate = clause.Locking{Strength: "UPDATE"}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
