package partners

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// RiskRating is the bank's rating of a partner's risk.
type RiskRating string

// The risk ratings, lowest first. A partner is RiskMedium until rated.
const (
	RiskLow    RiskRating = "low"
	RiskMedium RiskRating = "medium"
	RiskHigh   RiskRating = "high"
)

// Valid reports whether r is one of the ratings.
func (r RiskRating) Valid() bool { return r == RiskLow || r == RiskMedium || r == RiskHigh }

// RiskChange is one change of a partner's risk rating: an append-only row
// of partner_risk_ratings.
type RiskChange struct {
	ID        int64 `gorm:"primaryKey"`
	PartnerID string
	Rating    RiskRating
	Previous  RiskRating
	// Source names what changed it: "review:<review id>", "staff",
	// "incident:<id>" (issue 16)…
	Source string
	Reason string
	// ActorType and ActorID are who changed it (audit.ActorStaff, …).
	ActorType string
	ActorID   string
	At        time.Time
}

// TableName maps RiskChange to its table.
func (RiskChange) TableName() string { return "partner_risk_ratings" }

// Validate checks a change as SetRiskRating receives it (Previous, ID and At
// are filled in by SetRiskRating).
func (c *RiskChange) Validate() error {
	if !c.Rating.Valid() {
		return invalid("risk rating must be low, medium or high, got %q", c.Rating)
	}
	if err := checkLen("source", c.Source, 1, 200); err != nil {
		return err
	}
	if err := checkLen("reason", c.Reason, 1, 2000); err != nil {
		return err
	}
	if c.ActorType == "" || c.ActorID == "" {
		return invalid("a risk rating change needs an actor")
	}
	return nil
}

// SetRiskRating sets the partner's risk rating inside the caller's
// transaction tx (so it commits or rolls back with the decision that caused
// it): it locks the partner, and when the rating differs from the current
// one updates it, appends the change to the history and audits
// "partner.risk_rating_changed". Setting the rating the partner already has
// changes and records nothing (changed is false). The caller has authorised
// the actor. Errors: CodeValidation, CodeNotFound, CodeInternal.
func (s *Service) SetRiskRating(ctx context.Context, tx *gorm.DB, c RiskChange) (changed bool, err error) {
	c.Source, c.Reason = strings.TrimSpace(c.Source), strings.TrimSpace(c.Reason)
	if err := c.Validate(); err != nil {
		return false, err
	}
	p, err := s.loadPartner(tx, c.PartnerID, true)
	if err != nil {
		return false, err
	}
	previous := p.RiskRating
	if previous == "" {
		previous = RiskMedium
	}
	if previous == c.Rating {
		return false, nil
	}
	c.ID, c.Previous, c.At = 0, previous, s.clock()
	res := tx.Model(&Partner{}).Where("id = ?", p.ID).Update("risk_rating", c.Rating)
	if res.Error != nil {
		return false, internal(res.Error, "update risk rating")
	}
	if err := tx.Create(&c).Error; err != nil {
		return false, internal(err, "record risk rating")
	}
	err = s.audit(ctx, tx, actor{c.ActorType, c.ActorID}, "partner.risk_rating_changed", "partner", p.ID, p.ID,
		map[string]any{"from": string(previous), "to": string(c.Rating), "source": c.Source, "reason": c.Reason})
	return err == nil, err
}

// RiskRating returns the partner's current risk rating (RatingReader).
func (s *Service) RiskRating(ctx context.Context, partnerID string) (RiskRating, error) {
	return RatingReader{DB: s.db.DB}.RiskRating(ctx, partnerID)
}

// RatingReader reads partners' current risk ratings from the database, for
// what is built before the partners Service (the risk scoring).
type RatingReader struct{ DB *gorm.DB }

// RiskRating returns the partner's current risk rating (one indexed read).
// Errors: CodeNotFound, CodeInternal.
func (r RatingReader) RiskRating(ctx context.Context, partnerID string) (RiskRating, error) {
	var rows []RiskRating
	err := r.DB.WithContext(ctx).Model(&Partner{}).Where("id = ?", partnerID).Limit(1).Pluck("risk_rating", &rows).Error
	if err != nil {
		return "", internal(err, "load risk rating")
	}
	if len(rows) == 0 {
		return "", problem.New(problem.CodeNotFound, "partner %s not found", partnerID)
	}
	if !rows[0].Valid() {
		return RiskMedium, nil
	}
	return rows[0], nil
}

// RiskHistory lists the changes of the partner's risk rating, newest first.
func (s *Service) RiskHistory(ctx context.Context, partnerID string) ([]RiskChange, error) {
	var out []RiskChange
	err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("id DESC").Find(&out).Error
	return out, internal(err, "load risk history")
}

// raiseRiskForSuspension sets the partner's risk rating to high in tx, the
// transaction that suspends the partner or one of its apps (an incident of
// the partnership, issue 16): source "suspension:<id>", the suspension's
// reason. Only a later performance review (or staff) lowers it again.
func (s *Service) raiseRiskForSuspension(ctx context.Context, tx *gorm.DB, partnerID, suspendedID, reason string, by actor) error {
	_, err := s.SetRiskRating(ctx, tx, RiskChange{PartnerID: partnerID, Rating: RiskHigh,
		Source: "suspension:" + suspendedID, Reason: "suspended: " + reason, ActorType: by.typ, ActorID: by.id})
	return err
}
