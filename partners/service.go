package partners

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ContractChecker tells go-live whether a partner has an active contract.
// Implemented by contracts, wired in cmd.
type ContractChecker interface {
	HasActiveContract(ctx context.Context, partnerID string) (bool, error)
}

// CertificationEvidence runs the platform's integration checks for a partner's
// sandbox app (from the request logs owned by apis) and returns each check with
// its evidence. Implemented by partners/certification over the evidence
// queries of oauth, apis and webhooks.
type CertificationEvidence interface {
	Checks(ctx context.Context, partnerID, appID string) ([]CertificationCheck, error)
}

// Event types published through the events.Publisher.
const (
	EventPartnerStatusChanged = "partner.status_changed"
	EventAppSuspended         = "app.suspended"
)

// Config is what a Service needs. DB and Box are required; everything else is
// optional (nil interfaces are skipped).
type Config struct {
	DB  *db.DB
	Box *secrets.Box // seals staff TOTP secrets (of the Staff built when Staff is nil)
	// Staff holds the staff accounts the lifecycle authorises (staff.Can);
	// nil: New builds one from DB, Box, Now and Logger.
	Staff *staff.Service
	// Now is the clock (UTC); defaults to time.Now.
	Now func() time.Time
	// Publisher receives partner.status_changed and app.suspended in the tx
	// (nil: events are not published).
	Publisher events.Publisher
	// Revoker kills tokens of suspended/revoked apps after commit.
	Revoker oauth.TokenRevoker
	// Contracts, when set, must report an active contract before go-live.
	Contracts ContractChecker
	// Evidence runs certification checks.
	Evidence CertificationEvidence
	// ClientCacheTTL is how long OAuthClient answers are cached per node
	// (default 2s; negative disables the cache).
	ClientCacheTTL time.Duration
	// PortalURL is the portal's base URL used in mails (e.g. https://host/portal).
	PortalURL string
	// RegistrationURL is the RFC 7591 endpoint's absolute URL
	// (e.g. https://host/register); registration_client_uri is RegistrationURL/{client_id}.
	RegistrationURL string
	// Logger receives failures that happen after commit (token revocation).
	Logger *slog.Logger
}

// Service is the partners domain service. Its methods open their own
// transactions and audit every state change inside them.
type Service struct {
	db        *db.DB
	staff     *staff.Service
	now       func() time.Time
	log       *slog.Logger
	portalURL string
	regURL    string

	publisher events.Publisher
	revoker   oauth.TokenRevoker
	contracts ContractChecker
	evidence  CertificationEvidence

	cache *clientCache
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Box == nil {
		return nil, errors.New("partners: Config.DB and Config.Box are required")
	}
	s := &Service{db: cfg.DB, staff: cfg.Staff, now: cfg.Now, log: cfg.Logger,
		portalURL: strings.TrimRight(cfg.PortalURL, "/"), regURL: strings.TrimRight(cfg.RegistrationURL, "/"),
		publisher: cfg.Publisher, revoker: cfg.Revoker, contracts: cfg.Contracts, evidence: cfg.Evidence}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.staff == nil {
		st, err := staff.New(staff.Config{DB: cfg.DB, Box: cfg.Box, Now: s.now, Logger: s.log})
		if err != nil {
			return nil, err
		}
		s.staff = st
	}
	ttl := cfg.ClientCacheTTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	s.cache = newClientCache(ttl)
	return s, nil
}

// Staff is the staff account service the lifecycle authorises staff with
// (Config.Staff, or the one New built).
func (s *Service) Staff() *staff.Service { return s.staff }

func (s *Service) clock() time.Time { return s.now().UTC() }

func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error { return s.db.Tx(ctx, fn) }

// forUpdate locks selected rows on PostgreSQL; SQLite transactions already
// hold the write lock from BEGIN (_txlock=immediate).
func (s *Service) forUpdate(tx *gorm.DB) *gorm.DB {
	if s.db.Dialect == db.Postgres {
		return tx.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return tx
}

// newToken returns a random bearer token and its stored hash.
func newToken(prefix string) (plain, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("partners: crypto/rand failed: " + err.Error())
	}
	plain = prefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, hashToken(plain)
}

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

func notFound(kind, id string) *problem.Error {
	return problem.New(problem.CodeNotFound, "%s %s not found", kind, id)
}

// forbidden is the refusal of a member action to a member role.
func forbidden(role Role, action Action) *problem.Error {
	return problem.New(problem.CodeForbidden, "role %s may not %s", role, action)
}

func invalidState(op string, from Status, need ...Status) *problem.Error {
	names := make([]string, len(need))
	for i, n := range need {
		names[i] = string(n)
	}
	return problem.New(problem.CodeInvalidState, "cannot %s: partner is %s (needs %s)", op, from, strings.Join(names, " or "))
}

func isNotFound(err error) bool { return errors.Is(err, gorm.ErrRecordNotFound) }

// internal wraps an unexpected storage error (problem.Internal).
func internal(err error, what string) error { return problem.Internal(err, what) }

func (s *Service) loadPartner(tx *gorm.DB, id string, lock bool) (*Partner, error) {
	var p Partner
	q := tx
	if lock {
		q = s.forUpdate(tx)
	}
	if err := q.Where("id = ?", id).Take(&p).Error; err != nil {
		if isNotFound(err) {
			return nil, notFound("partner", id)
		}
		return nil, internal(err, "load partner")
	}
	return &p, nil
}

// requireMember loads the partner for a member allowed to do action. A user
// who is not a member sees CodeNotFound (the partner's existence is not revealed).
func (s *Service) requireMember(tx *gorm.DB, userID, partnerID string, action Action, lock bool) (*Partner, Role, error) {
	var m Membership
	if err := tx.Where("partner_id = ? AND user_id = ?", partnerID, userID).Take(&m).Error; err != nil {
		if isNotFound(err) {
			return nil, "", notFound("partner", partnerID)
		}
		return nil, "", internal(err, "load membership")
	}
	if !Can(m.Role, action) {
		return nil, m.Role, forbidden(m.Role, action)
	}
	p, err := s.loadPartner(tx, partnerID, lock)
	return p, m.Role, err
}

// requireStaff loads, in tx, a staff member whose role may do action
// (staff.Service.Require).
func (s *Service) requireStaff(tx *gorm.DB, staffID string, action staff.Action) (*staff.Member, error) {
	return s.staff.Require(tx, staffID, action)
}

// actor names who performs a change, for the audit trail.
type actor struct {
	typ, id string
}

func staffActor(id string) actor   { return actor{audit.ActorStaff, id} }
func userActor(id string) actor    { return actor{audit.ActorPartner, id} }
func systemActor(id string) actor  { return actor{audit.ActorSystem, id} }
func (a actor) String() string     { return a.typ + ":" + a.id }
func (a actor) entry() audit.Entry { return audit.Entry{ActorType: a.typ, ActorID: a.id} }

func (s *Service) audit(ctx context.Context, tx *gorm.DB, a actor, action, objType, objID, partnerID string, details map[string]any) error {
	e := a.entry()
	e.Action, e.ObjectType, e.ObjectID, e.PartnerID, e.Details = action, objType, objID, partnerID, details
	return internal(audit.Record(ctx, tx, e), "audit")
}

func (s *Service) publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	if s.publisher == nil {
		return nil
	}
	if err := s.publisher.Publish(ctx, tx, eventType, partnerID, appID, data); err != nil {
		return internal(err, "publish "+eventType)
	}
	return nil
}

// setStatus moves a partner to a new status inside tx: checks the lifecycle,
// updates the row, audits and publishes partner.status_changed.
func (s *Service) setStatus(ctx context.Context, tx *gorm.DB, p *Partner, to Status, reason string, by actor, op string, need ...Status) error {
	from := p.Status
	if !CanTransition(from, to) || (len(need) > 0 && !statusIn(from, need)) {
		return invalidState(op, from, need...)
	}
	upd := map[string]any{"status": to, "status_reason": reason, "updated_at": s.clock()}
	switch {
	case to == StatusSuspended:
		upd["suspended_from"] = from
	case from == StatusSuspended:
		upd["suspended_from"] = ""
	}
	res := tx.Model(&Partner{}).Where("id = ? AND status = ?", p.ID, from).Updates(upd)
	if res.Error != nil {
		return internal(res.Error, "update partner")
	}
	if res.RowsAffected != 1 {
		return problem.New(problem.CodeConflict, "partner %s changed concurrently; reload and retry", p.ID)
	}
	if to == StatusSuspended {
		p.SuspendedFrom = from
	} else if from == StatusSuspended {
		p.SuspendedFrom = ""
	}
	p.Status, p.StatusReason = to, reason
	details := map[string]any{"from": string(from), "to": string(to)}
	if reason != "" {
		details["reason"] = reason
	}
	if err := s.audit(ctx, tx, by, "partner.status_changed", "partner", p.ID, p.ID, details); err != nil {
		return err
	}
	return s.publish(ctx, tx, EventPartnerStatusChanged, p.ID, "", map[string]any{
		"partner_id": p.ID, "from": string(from), "to": string(to), "reason": reason})
}

func statusIn(s Status, set []Status) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// sendMail writes a mail to the platform's email outbox in tx.
func (s *Service) sendMail(ctx context.Context, tx *gorm.DB, partnerID, to, template, subject, body string) error {
	_, err := mail.Enqueue(ctx, tx, mail.Message{PartnerID: partnerID, Recipient: to, Template: template, Subject: subject, Body: body})
	return internal(err, "write email outbox")
}

func (s *Service) link(path, token string) string {
	return fmt.Sprintf("%s%s?token=%s", s.portalURL, path, token)
}
