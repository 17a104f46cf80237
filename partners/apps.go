package partners

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// AppInput describes a new app.
type AppInput struct {
	Name         string                  `json:"name"`
	Environment  environment.Environment `json:"environment"`
	RedirectURIs []string                `json:"redirect_uris"`
	Scopes       []string                `json:"scopes"`
	JWKS         json.RawMessage         `json:"jwks,omitempty"`
	JWKSURI      string                  `json:"jwks_uri,omitempty"`
	// RequireSignedRequests: the app's payment requests must carry a UK OB
	// x-jws-signature (App.RequireSignedRequests).
	RequireSignedRequests bool `json:"require_signed_requests,omitempty"`
}

// AppUpdate changes an app's name, redirect URIs and scopes (the environment
// never changes; keys change through RotateCredentials).
type AppUpdate struct {
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Scopes       []string `json:"scopes"`
}

func compactJWKS(raw json.RawMessage) string {
	t := strings.TrimSpace(string(raw))
	if t == "" || t == "null" {
		return ""
	}
	return t
}

func (in AppInput) app(partnerID string, now time.Time) *App {
	return &App{ID: ids.New("app"), PartnerID: partnerID, Name: strings.TrimSpace(in.Name), Environment: in.Environment,
		RedirectURIs: in.RedirectURIs, Scopes: in.Scopes, JWKS: compactJWKS(in.JWKS), JWKSURI: in.JWKSURI,
		RequireSignedRequests: in.RequireSignedRequests, Status: AppActive, CreatedAt: now, UpdatedAt: now}
}

// checkAppAllowed refuses apps for partners that cannot have them: none for
// suspended or terminated partners, production only when live.
func checkAppAllowed(p *Partner, env environment.Environment) error {
	switch {
	case p.Status == StatusSuspended || p.Status == StatusTerminated:
		return problem.New(problem.CodeInvalidState, "cannot create an app: partner is %s", p.Status)
	case env == environment.Production && p.Status != StatusLive:
		return problem.New(problem.CodeInvalidState, "cannot create a production app: partner is %s (needs live); use the sandbox until go-live", p.Status)
	}
	return nil
}

func (s *Service) insertApp(ctx context.Context, tx *gorm.DB, a *App, by actor) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := tx.Create(a).Error; err != nil {
		return internal(err, "create app")
	}
	return s.audit(ctx, tx, by, "app.created", "app", a.ID, a.PartnerID,
		map[string]any{"name": a.Name, "environment": a.Environment, "scopes": a.Scopes})
}

// CreateApp creates an app for the member's partner. Sandbox apps need
// apps.write.sandbox (owner, developer), production apps apps.write.production
// (owner) and a live partner. Errors: CodeNotFound, CodeForbidden,
// CodeValidation, CodeInvalidState.
func (s *Service) CreateApp(ctx context.Context, userID, partnerID string, in AppInput) (*App, error) {
	a := in.app(partnerID, s.clock())
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, _, err := s.requireMember(tx, userID, partnerID, appAction(in.Environment), false)
		if err != nil {
			return err
		}
		if err := a.Validate(); err != nil {
			return err
		}
		if err := checkAppAllowed(p, a.Environment); err != nil {
			return err
		}
		return s.insertApp(ctx, tx, a, userActor(userID))
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// CreateAppAsOperator creates an app without a portal user (the CLI). The same
// rules as CreateApp apply, except roles. Errors: CodeNotFound,
// CodeValidation, CodeInvalidState.
func (s *Service) CreateAppAsOperator(ctx context.Context, partnerID string, in AppInput) (*App, error) {
	a := in.app(partnerID, s.clock())
	if err := a.Validate(); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.loadPartner(tx, partnerID, false)
		if err != nil {
			return err
		}
		if err := checkAppAllowed(p, a.Environment); err != nil {
			return err
		}
		return s.insertApp(ctx, tx, a, systemActor("cli"))
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// CreatePartner creates a partner in status sandbox without a portal user
// (the CLI). Errors: CodeValidation.
func (s *Service) CreatePartner(ctx context.Context, name string) (*Partner, error) {
	now := s.clock()
	p := &Partner{ID: ids.New("ptn"), LegalName: strings.TrimSpace(name), Status: StatusSandbox, CreatedAt: now, UpdatedAt: now}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.tx(ctx, func(tx *gorm.DB) error { return s.createPartner(ctx, tx, p, systemActor("cli")) }); err != nil {
		return nil, err
	}
	return p, nil
}

// Partner returns a partner by id (staff and internal callers), or CodeNotFound.
func (s *Service) Partner(ctx context.Context, partnerID string) (*Partner, error) {
	return s.loadPartner(s.db.WithContext(ctx), partnerID, false)
}

// ListPartners lists partners, optionally only those in the given statuses,
// newest first (staff console).
func (s *Service) ListPartners(ctx context.Context, statuses ...Status) ([]Partner, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id")
	if len(statuses) > 0 {
		q = q.Where("status IN ?", statuses)
	}
	var out []Partner
	return out, internal(q.Find(&out).Error, "list partners")
}

// loadApp loads an app of partnerID; an app of another partner is CodeNotFound.
func (s *Service) loadApp(tx *gorm.DB, partnerID, appID string, lock bool) (*App, error) {
	var a App
	q := tx
	if lock {
		q = s.forUpdate(tx)
	}
	err := q.Where("id = ? AND partner_id = ?", appID, partnerID).Take(&a).Error
	if err != nil {
		if isNotFound(err) {
			return nil, notFound("app", appID)
		}
		return nil, internal(err, "load app")
	}
	return &a, nil
}

// memberApp loads an app for a member allowed to do action on the app's
// environment (action "" means the environment's write action).
func (s *Service) memberApp(tx *gorm.DB, userID, partnerID, appID string, write bool) (*Partner, *App, error) {
	p, role, err := s.requireMember(tx, userID, partnerID, ActAppsRead, false)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.loadApp(tx, partnerID, appID, write)
	if err != nil {
		return nil, nil, err
	}
	if write {
		if act := appAction(a.Environment); !Can(role, act) {
			return nil, nil, forbidden(role, act)
		}
		if a.Status == AppRevoked {
			return nil, nil, problem.New(problem.CodeInvalidState, "app %s is revoked", a.ID)
		}
	}
	return p, a, nil
}

// GetApp returns one of the member's partner's apps. Errors: CodeNotFound
// (also for another partner's app).
func (s *Service) GetApp(ctx context.Context, userID, partnerID, appID string) (*App, error) {
	_, a, err := s.memberApp(s.db.WithContext(ctx), userID, partnerID, appID, false)
	return a, err
}

// ListApps lists the member's partner's apps, oldest first.
func (s *Service) ListApps(ctx context.Context, userID, partnerID string) ([]App, error) {
	g := s.db.WithContext(ctx)
	if _, _, err := s.requireMember(g, userID, partnerID, ActAppsRead, false); err != nil {
		return nil, err
	}
	return s.PartnerApps(ctx, partnerID)
}

// PartnerApps lists a partner's apps (staff and internal callers).
func (s *Service) PartnerApps(ctx context.Context, partnerID string) ([]App, error) {
	var out []App
	err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("created_at, id").Find(&out).Error
	return out, internal(err, "list apps")
}

// UpdateApp changes an app's name, redirect URIs and scopes. Errors:
// CodeNotFound, CodeForbidden, CodeValidation, CodeInvalidState (revoked).
func (s *Service) UpdateApp(ctx context.Context, userID, partnerID, appID string, in AppUpdate) (*App, error) {
	var a *App
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if _, a, err = s.memberApp(tx, userID, partnerID, appID, true); err != nil {
			return err
		}
		return s.applyUpdate(ctx, tx, a, in, userActor(userID))
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidateApp(appID)
	return a, nil
}

func (s *Service) applyUpdate(ctx context.Context, tx *gorm.DB, a *App, in AppUpdate, by actor) error {
	a.Name, a.RedirectURIs, a.Scopes, a.UpdatedAt = strings.TrimSpace(in.Name), in.RedirectURIs, in.Scopes, s.clock()
	if err := a.Validate(); err != nil {
		return err
	}
	if err := tx.Model(&App{}).Where("id = ?", a.ID).Updates(map[string]any{
		"name": a.Name, "redirect_uris": mustJSON(a.RedirectURIs), "scopes": mustJSON(a.Scopes), "updated_at": a.UpdatedAt}).Error; err != nil {
		return internal(err, "update app")
	}
	s.cache.invalidateApp(a.ID)
	return s.audit(ctx, tx, by, "app.updated", "app", a.ID, a.PartnerID,
		map[string]any{"name": a.Name, "redirect_uris": a.RedirectURIs, "scopes": a.Scopes})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// RotateCredentials replaces the app's client-authentication keys (inline
// JWKS or jwks_uri). Errors: CodeNotFound, CodeForbidden, CodeValidation,
// CodeInvalidState (revoked).
func (s *Service) RotateCredentials(ctx context.Context, userID, partnerID, appID string, jwks json.RawMessage, jwksURI string) (*App, error) {
	if err := ValidateCredentials(jwks, jwksURI); err != nil {
		return nil, err
	}
	var a *App
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if _, a, err = s.memberApp(tx, userID, partnerID, appID, true); err != nil {
			return err
		}
		a.JWKS, a.JWKSURI, a.UpdatedAt = compactJWKS(jwks), jwksURI, s.clock()
		if err := tx.Model(&App{}).Where("id = ?", a.ID).Updates(map[string]any{
			"jwks": a.JWKS, "jwks_uri": a.JWKSURI, "updated_at": a.UpdatedAt}).Error; err != nil {
			return internal(err, "rotate credentials")
		}
		return s.audit(ctx, tx, userActor(userID), "app.credentials_rotated", "app", a.ID, a.PartnerID,
			map[string]any{"jwks_uri": jwksURI, "inline_jwks": a.JWKS != ""})
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidateApp(appID)
	return a, nil
}

// RevokeApp revokes an app for good: no new tokens, existing ones revoked.
// Errors: CodeNotFound, CodeForbidden, CodeInvalidState (already revoked).
func (s *Service) RevokeApp(ctx context.Context, userID, partnerID, appID string) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		_, a, err := s.memberApp(tx, userID, partnerID, appID, true)
		if err != nil {
			return err
		}
		return s.setAppStatus(ctx, tx, a, AppRevoked, "revoked by the partner", userActor(userID))
	})
	if err != nil {
		return err
	}
	s.afterAppsChanged(ctx, appID)
	return nil
}

func (s *Service) setAppStatus(ctx context.Context, tx *gorm.DB, a *App, to, reason string, by actor) error {
	from := a.Status
	res := tx.Model(&App{}).Where("id = ? AND status = ?", a.ID, from).Updates(map[string]any{
		"status": to, "status_reason": reason, "updated_at": s.clock()})
	if res.Error != nil {
		return internal(res.Error, "update app status")
	}
	if res.RowsAffected != 1 {
		return problem.New(problem.CodeConflict, "app %s changed concurrently; reload and retry", a.ID)
	}
	a.Status, a.StatusReason = to, reason
	s.cache.invalidateApp(a.ID)
	if err := s.audit(ctx, tx, by, "app."+to, "app", a.ID, a.PartnerID, map[string]any{"from": from, "to": to, "reason": reason}); err != nil {
		return err
	}
	if to == AppSuspended {
		return s.publish(ctx, tx, EventAppSuspended, a.PartnerID, a.ID, map[string]any{"app_id": a.ID, "reason": reason})
	}
	return nil
}

// afterAppsChanged runs after a commit that stopped apps: it drops them from
// this node's client cache and revokes their tokens. Revocation failures are
// logged, not returned: the client is already inactive for every token and
// resource check, so no token can be used anyway.
func (s *Service) afterAppsChanged(ctx context.Context, appIDs ...string) {
	for _, id := range appIDs {
		s.cache.invalidateApp(id)
	}
	if s.revoker == nil {
		return
	}
	for _, id := range appIDs {
		if err := s.revoker.RevokeClient(ctx, id); err != nil {
			s.log.ErrorContext(ctx, "partners: revoke client tokens", "client_id", id, "err", err)
		}
	}
}
