// Endpoints: a partner app's webhook endpoints (create, read, list, update,
// delete), rotation of their signing secrets or Ed25519 keys, and the public
// keys served at GET /webhooks/public-keys. Every change is audited in the
// transaction that makes it.

package webhooks

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/environment"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
)

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
	s.endpointsChanged(ctx, sc.PartnerID)
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
	s.endpointsChanged(ctx, out.PartnerID)
	return &out, nil
}

// DeleteEndpoint deletes an endpoint and cancels its pending deliveries (its
// delivery log is kept). Errors: not_found.
func (s *Service) DeleteEndpoint(ctx context.Context, sc Scope, id string) error {
	var partnerID string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		r, err := s.load(tx, sc, id, true)
		if err != nil {
			return err
		}
		partnerID = r.PartnerID
		if err := tx.Delete(&endpointRow{}, "id = ?", id).Error; err != nil {
			return err
		}
		if err := tx.Model(&deliveryRow{}).Where("endpoint_id = ? AND status = ?", id, StatusPending).
			Updates(map[string]any{"status": StatusCancelled, "last_error": "endpoint deleted", "updated_at": s.now()}).Error; err != nil {
			return err
		}
		return s.audit(ctx, tx, sc, "webhook_endpoint.deleted", id, nil)
	})
	if err != nil {
		return err
	}
	s.endpointsChanged(ctx, partnerID)
	return nil
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
