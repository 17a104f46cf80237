package partners

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// Dynamic client registration (RFC 7591) and management (RFC 7592).

// Initial access token lifetimes.
const (
	DefaultInitialTokenTTL = time.Hour
	MaxInitialTokenTTL     = 30 * 24 * time.Hour
)

// RFC 7591 §3.2.2 error codes (and RFC 6750 invalid_token for bad bearer tokens).
const (
	ErrInvalidClientMetadata = "invalid_client_metadata"
	ErrInvalidRedirectURI    = "invalid_redirect_uri"
	ErrInvalidToken          = "invalid_token"
	ErrAccessDenied          = "access_denied"
)

// RegistrationError is a refusal of the registration endpoints, rendered as
// {"error": Code, "error_description": Description} with Status.
type RegistrationError struct {
	Status      int
	Code        string
	Description string
}

func (e *RegistrationError) Error() string { return e.Code + ": " + e.Description }

func regErr(status int, code, format string, args ...any) *RegistrationError {
	return &RegistrationError{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// ClientMetadata is the RFC 7591 §2 metadata Bankbridge understands; other
// members are ignored (RFC 7591 §2).
type ClientMetadata struct {
	ClientID                    string          `json:"client_id,omitempty"` // RFC 7592 update only
	RedirectURIs                []string        `json:"redirect_uris"`
	ClientName                  string          `json:"client_name,omitempty"`
	Scope                       string          `json:"scope,omitempty"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	GrantTypes                  []string        `json:"grant_types,omitempty"`
	ResponseTypes               []string        `json:"response_types,omitempty"`
	// RequireSignedRequestObject (RFC 9101 §10.5): the client pushes its
	// authorization requests only as signed request objects.
	RequireSignedRequestObject bool `json:"require_signed_request_object,omitempty"`
}

// ClientInformation is the RFC 7591 §3.2.1 / RFC 7592 §3 response.
type ClientInformation struct {
	ClientID                    string                  `json:"client_id"`
	ClientIDIssuedAt            int64                   `json:"client_id_issued_at"`
	ClientName                  string                  `json:"client_name"`
	RedirectURIs                []string                `json:"redirect_uris"`
	Scope                       string                  `json:"scope"`
	JWKS                        json.RawMessage         `json:"jwks,omitempty"`
	JWKSURI                     string                  `json:"jwks_uri,omitempty"`
	TokenEndpointAuthMethod     string                  `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string                  `json:"token_endpoint_auth_signing_alg,omitempty"`
	GrantTypes                  []string                `json:"grant_types"`
	ResponseTypes               []string                `json:"response_types"`
	RequireSignedRequestObject  bool                    `json:"require_signed_request_object"`
	Environment                 environment.Environment `json:"environment"` // Bankbridge extension
	RegistrationAccessToken     string                  `json:"registration_access_token,omitempty"`
	RegistrationClientURI       string                  `json:"registration_client_uri,omitempty"`
}

var (
	allowedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}
	defaultScopes     = []string{"openid", "accounts"}
)

// parseMetadata checks metadata and turns it into app fields.
func parseMetadata(body []byte, env environment.Environment) (*ClientMetadata, *AppInput, error) {
	var md ClientMetadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&md); err != nil {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "the body is not a JSON object of client metadata: %v", err)
	}
	if dec.More() {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "the body holds more than one JSON value")
	}
	if err := ValidateRedirectURIs(env, md.RedirectURIs); err != nil {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidRedirectURI, "%s", detailOf(err))
	}
	if m := md.TokenEndpointAuthMethod; m != "" && m != "private_key_jwt" {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "token_endpoint_auth_method must be private_key_jwt, got %q", m)
	}
	if a := md.TokenEndpointAuthSigningAlg; a != "" && a != "ES256" && a != "PS256" {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "token_endpoint_auth_signing_alg must be ES256 or PS256, got %q", a)
	}
	var grants []string // md.GrantTypes without repeats
	for _, g := range md.GrantTypes {
		ok := false
		for _, a := range allowedGrantTypes {
			ok = ok || g == a
		}
		if !ok {
			return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "grant_types: %q is not supported (use %s)", g, strings.Join(allowedGrantTypes, ", "))
		}
		if !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	md.GrantTypes = grants
	for _, r := range md.ResponseTypes {
		if r != "code" {
			return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "response_types: %q is not supported (use code)", r)
		}
		if len(grants) > 0 && !slices.Contains(grants, oauth.GrantAuthorizationCode) {
			// RFC 7591 §2.1: response_type code goes with the authorization_code grant.
			return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "response_types: \"code\" needs grant_types to include \"authorization_code\"")
		}
	}
	scopes := strings.Fields(md.Scope)
	if md.Scope == "" {
		scopes = defaultScopes
	}
	name := strings.TrimSpace(md.ClientName)
	if name == "" {
		name = "Registered client"
	}
	in := &AppInput{Name: name, Environment: env, RedirectURIs: md.RedirectURIs, Scopes: scopes, JWKS: md.JWKS, JWKSURI: md.JWKSURI}
	a := in.app("", time.Time{})
	if err := a.Validate(); err != nil {
		return nil, nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "%s", detailOf(err))
	}
	return &md, in, nil
}

func (s *Service) clientInfo(a *App, md *ClientMetadata) *ClientInformation {
	// The stored grant types are what the authorization server enforces
	// (OAuthClient); without authorization_code there is no response type.
	grants, responses := GrantTypesOf(a.GrantTypes), []string{}
	if slices.Contains(grants, oauth.GrantAuthorizationCode) {
		responses = []string{"code"}
	}
	ci := &ClientInformation{ClientID: a.ID, ClientIDIssuedAt: a.CreatedAt.Unix(), ClientName: a.Name,
		RedirectURIs: a.RedirectURIs, Scope: strings.Join(a.Scopes, " "), JWKSURI: a.JWKSURI,
		TokenEndpointAuthMethod: "private_key_jwt", GrantTypes: grants, ResponseTypes: responses,
		Environment: a.Environment}
	if a.JWKS != "" {
		ci.JWKS = json.RawMessage(a.JWKS)
	}
	if md != nil {
		ci.TokenEndpointAuthSigningAlg = md.TokenEndpointAuthSigningAlg
		ci.RequireSignedRequestObject = md.RequireSignedRequestObject
	}
	return ci
}

// setRequireSignedRequestObject stores an app's require_signed_request_object
// (migration 0025).
func setRequireSignedRequestObject(tx *gorm.DB, appID string, on bool) error {
	return internal(tx.Model(&App{}).Where("id = ?", appID).Update("require_signed_request_object", on).Error, "store require_signed_request_object")
}

// requireSignedRequestObject reads an app's require_signed_request_object.
func requireSignedRequestObject(tx *gorm.DB, appID string) (bool, error) {
	var on []bool
	if err := tx.Model(&App{}).Where("id = ?", appID).Pluck("require_signed_request_object", &on).Error; err != nil {
		return false, internal(err, "load require_signed_request_object")
	}
	return len(on) == 1 && on[0], nil
}

// IssueInitialAccessToken issues a single-use RFC 7591 initial access token
// for registering one app of env for the member's partner, valid for ttl
// (0 = DefaultInitialTokenTTL). The token is returned once; only its hash is
// kept. Errors: CodeNotFound, CodeForbidden, CodeValidation, CodeInvalidState
// (production before live).
func (s *Service) IssueInitialAccessToken(ctx context.Context, userID, partnerID string, env environment.Environment, ttl time.Duration) (string, time.Time, error) {
	if ttl == 0 {
		ttl = DefaultInitialTokenTTL
	}
	if ttl < time.Minute || ttl > MaxInitialTokenTTL {
		return "", time.Time{}, invalid("ttl must be between 1 minute and 30 days")
	}
	if env != environment.Sandbox && env != environment.Production {
		return "", time.Time{}, invalid("environment must be sandbox or production, got %q", env)
	}
	token, hash := newToken("bbiat_")
	now := s.clock()
	t := &InitialAccessToken{TokenHash: hash, PartnerID: partnerID, Environment: env, CreatedBy: userID,
		ExpiresAt: now.Add(ttl), CreatedAt: now}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, _, err := s.requireMember(tx, userID, partnerID, appAction(env), false)
		if err != nil {
			return err
		}
		if err := checkAppAllowed(p, env); err != nil {
			return err
		}
		if err := t.Validate(); err != nil {
			return err
		}
		if err := tx.Create(t).Error; err != nil {
			return internal(err, "create initial access token")
		}
		return s.audit(ctx, tx, userActor(userID), "dcr.initial_token_issued", "partner", partnerID, partnerID,
			map[string]any{"environment": env, "expires_at": t.ExpiresAt})
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return token, t.ExpiresAt, nil
}

// RegisterClient registers an app from RFC 7591 metadata with an initial
// access token (used up on success only). It returns the client information
// with a registration_access_token and registration_client_uri. Errors:
// *RegistrationError (invalid_token 401, invalid_redirect_uri and
// invalid_client_metadata 400, access_denied 403).
func (s *Service) RegisterClient(ctx context.Context, initialToken string, metadata []byte) (*ClientInformation, error) {
	var (
		app *App
		md  *ClientMetadata
		rat string
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var t InitialAccessToken
		if err := s.forUpdate(tx).Where("token_hash = ?", hashToken(initialToken)).Take(&t).Error; err != nil {
			if isNotFound(err) {
				return regErr(http.StatusUnauthorized, ErrInvalidToken, "the initial access token is not valid")
			}
			return internal(err, "load initial access token")
		}
		now := s.clock()
		if t.UsedAt != nil {
			return regErr(http.StatusUnauthorized, ErrInvalidToken, "the initial access token was already used")
		}
		if !now.Before(t.ExpiresAt) {
			return regErr(http.StatusUnauthorized, ErrInvalidToken, "the initial access token has expired")
		}
		var in *AppInput
		var err error
		if md, in, err = parseMetadata(metadata, t.Environment); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, t.PartnerID, false)
		if err != nil {
			return err
		}
		if gone, err := s.creatorGone(tx, t.CreatedBy, t.PartnerID, t.Environment); err != nil || gone != "" {
			if err != nil {
				return err
			}
			return regErr(http.StatusUnauthorized, ErrInvalidToken, "the initial access token is no longer valid: %s", gone)
		}
		if err := checkAppAllowed(p, t.Environment); err != nil {
			return regErr(http.StatusForbidden, ErrAccessDenied, "%s", detailOf(err))
		}
		app = in.app(p.ID, now)
		app.GrantTypes = strings.Join(md.GrantTypes, " ") // "" (none sent): DefaultGrantTypes
		if err := s.insertApp(ctx, tx, app, userActor(t.CreatedBy)); err != nil {
			return err
		}
		if err := setRequireSignedRequestObject(tx, app.ID, md.RequireSignedRequestObject); err != nil {
			return err
		}
		if err := tx.Model(&InitialAccessToken{}).Where("token_hash = ?", t.TokenHash).
			Updates(map[string]any{"used_at": now, "used_for": app.ID}).Error; err != nil {
			return internal(err, "use initial access token")
		}
		var h string
		rat, h = newToken("bbrat_")
		if err := tx.Create(&RegistrationAccessToken{AppID: app.ID, TokenHash: h, CreatedBy: t.CreatedBy, CreatedAt: now}).Error; err != nil {
			return internal(err, "create registration access token")
		}
		return s.audit(ctx, tx, userActor(t.CreatedBy), "dcr.client_registered", "app", app.ID, p.ID, nil)
	})
	if err != nil {
		return nil, err
	}
	ci := s.clientInfo(app, md)
	ci.RegistrationAccessToken, ci.RegistrationClientURI = rat, s.regURL+"/"+app.ID
	return ci, nil
}

// creatorGone checks, when a token is used, that the member who created it
// is still a member of partnerID with a role that may change apps of env. It
// returns why not ("" when the member still may), or a storage error.
func (s *Service) creatorGone(tx *gorm.DB, userID, partnerID string, env environment.Environment) (string, error) {
	var m Membership
	err := tx.Where("partner_id = ? AND user_id = ?", partnerID, userID).Take(&m).Error
	switch {
	case userID == "" || isNotFound(err):
		return "the member who created it has left the organisation", nil
	case err != nil:
		return "", internal(err, "load membership")
	case !Can(m.Role, appAction(env)):
		return "the member who created it no longer has a role that may change " + string(env) + " apps", nil
	}
	return "", nil
}

// registeredApp resolves a registration access token for clientID; the token
// works only while the member who created it may still change the app (see
// creatorGone).
func (s *Service) registeredApp(tx *gorm.DB, regToken, clientID string, lock bool) (*App, error) {
	var t RegistrationAccessToken
	err := tx.Where("token_hash = ?", hashToken(regToken)).Take(&t).Error
	if err != nil && !isNotFound(err) {
		return nil, internal(err, "load registration access token")
	}
	if err != nil || t.AppID != clientID {
		return nil, regErr(http.StatusUnauthorized, ErrInvalidToken, "the registration access token is not valid for this client")
	}
	var a App
	q := tx
	if lock {
		q = s.forUpdate(tx)
	}
	if err := q.Where("id = ?", clientID).Take(&a).Error; err != nil {
		if isNotFound(err) {
			return nil, regErr(http.StatusUnauthorized, ErrInvalidToken, "the registration access token is not valid for this client")
		}
		return nil, internal(err, "load app")
	}
	if a.Status == AppRevoked {
		return nil, regErr(http.StatusUnauthorized, ErrInvalidToken, "the client has been deleted")
	}
	if gone, err := s.creatorGone(tx, t.CreatedBy, a.PartnerID, a.Environment); err != nil || gone != "" {
		if err != nil {
			return nil, err
		}
		return nil, regErr(http.StatusUnauthorized, ErrInvalidToken, "the registration access token is no longer valid: %s", gone)
	}
	return &a, nil
}

// ReadClient returns a registered client's information (RFC 7592 §2.1).
// Errors: *RegistrationError invalid_token.
func (s *Service) ReadClient(ctx context.Context, regToken, clientID string) (*ClientInformation, error) {
	a, err := s.registeredApp(s.db.WithContext(ctx), regToken, clientID, false)
	if err != nil {
		return nil, err
	}
	ci := s.clientInfo(a, nil)
	if ci.RequireSignedRequestObject, err = requireSignedRequestObject(s.db.WithContext(ctx), a.ID); err != nil {
		return nil, err
	}
	ci.RegistrationClientURI = s.regURL + "/" + a.ID
	return ci, nil
}

// UpdateClient replaces a registered client's metadata (RFC 7592 §2.2): name,
// redirect URIs, scopes and keys. Errors: *RegistrationError.
func (s *Service) UpdateClient(ctx context.Context, regToken, clientID string, metadata []byte) (*ClientInformation, error) {
	var (
		a  *App
		md *ClientMetadata
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var err error
		if a, err = s.registeredApp(tx, regToken, clientID, true); err != nil {
			return err
		}
		var in *AppInput
		if md, in, err = parseMetadata(metadata, a.Environment); err != nil {
			return err
		}
		if md.ClientID != "" && md.ClientID != clientID {
			return regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "client_id in the body does not match the URL")
		}
		if err := s.applyUpdate(ctx, tx, a, AppUpdate{Name: in.Name, RedirectURIs: in.RedirectURIs, Scopes: in.Scopes}, actor{audit.ActorPartner, a.ID}); err != nil {
			return err
		}
		a.JWKS, a.JWKSURI, a.GrantTypes = compactJWKS(in.JWKS), in.JWKSURI, strings.Join(md.GrantTypes, " ")
		return internal(tx.Model(&App{}).Where("id = ?", a.ID).
			Updates(map[string]any{"jwks": a.JWKS, "jwks_uri": a.JWKSURI, "grant_types": a.GrantTypes,
				"require_signed_request_object": md.RequireSignedRequestObject}).Error, "update keys and grant types")
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidateApp(clientID)
	ci := s.clientInfo(a, md)
	ci.RegistrationClientURI = s.regURL + "/" + a.ID
	return ci, nil
}

// DeleteClient revokes a registered client (RFC 7592 §2.3) and its
// registration access token; its OAuth tokens are revoked after commit.
// Errors: *RegistrationError invalid_token.
func (s *Service) DeleteClient(ctx context.Context, regToken, clientID string) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		a, err := s.registeredApp(tx, regToken, clientID, true)
		if err != nil {
			return err
		}
		if err := tx.Where("app_id = ?", a.ID).Delete(&RegistrationAccessToken{}).Error; err != nil {
			return internal(err, "delete registration access token")
		}
		return s.setAppStatus(ctx, tx, a, AppRevoked, "deleted through RFC 7592", actor{audit.ActorPartner, a.ID})
	})
	if err != nil {
		return err
	}
	s.afterAppsChanged(ctx, clientID)
	return nil
}

// asRegistrationError maps any error to a registration error (validation
// problems become invalid_client_metadata; anything else is a server error).
func asRegistrationError(err error) *RegistrationError {
	var re *RegistrationError
	if errors.As(err, &re) {
		return re
	}
	var p *problem.Error
	if errors.As(err, &p) && p.Code == problem.CodeValidation {
		return regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "%s", p.Detail)
	}
	return regErr(http.StatusInternalServerError, "server_error", "the registration could not be completed")
}

func detailOf(err error) string {
	var p *problem.Error
	if errors.As(err, &p) {
		return p.Detail
	}
	return err.Error()
}
