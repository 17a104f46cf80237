// Package plans holds plans and quotas: per-API-group rate limits and
// monthly call volumes, their assignment to partners and apps, an app's
// effective plan (Resolve) and the quota thresholds reached. Staff change
// plans when staff.Can(role, staff.ActPlansManage).
package plans

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// API groups a plan rate-limits (they are also the metered API products).
const (
	GroupAccounts    = "accounts"
	GroupPayments    = "payments"
	GroupDataSharing = "data_sharing"
	GroupConsents    = "consents"
)

// APIGroups lists the rate-limited API groups, in display order.
var APIGroups = []string{GroupAccounts, GroupPayments, GroupDataSharing, GroupConsents}

// Plan assignment scopes.
const (
	ScopePartner = "partner"
	ScopeApp     = "app"
)

// EventQuotaThresholdReached is published once per app, product and month when
// an app's usage reaches 80 % and again at 100 % of its monthly volume.
const EventQuotaThresholdReached = "quota.threshold_reached"

// ThresholdPercents are the monthly-volume thresholds announced.
var ThresholdPercents = []int{80, 100}

// Default plan ids (not stored: they apply when nothing is assigned).
const (
	PlanSandboxDefault    = "plan_sandbox_default"
	PlanProductionDefault = "plan_production_default"
)

// Bounds of a plan's numbers.
const (
	MaxPlanRate   = 100_000
	MaxPlanBurst  = 1_000_000
	MaxPlanVolume = 1_000_000_000_000
)

// RateLimit is a request rate per second with a burst.
type RateLimit struct {
	Rate  int `json:"rate"`  // requests per second on average
	Burst int `json:"burst"` // requests at once
}

// Plan gives apps per-group rate limits and monthly call volumes per product
// (a product without a volume is unlimited).
type Plan struct {
	ID          string               `json:"id"`
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Limits      map[string]RateLimit `json:"limits"`
	Volumes     map[string]int64     `json:"volumes"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
}

// DefaultSandboxPlan is what every sandbox app gets unless staff assign
// another plan: 10 requests per second with a burst of 20 in every API group,
// no monthly volume.
func DefaultSandboxPlan() Plan {
	return uniformPlan(PlanSandboxDefault, "Sandbox (default)", "Every sandbox app: 10 requests per second, burst 20, per API group.", 10, 20)
}

// DefaultProductionPlan is what a production app gets unless staff assign
// another plan: 50 requests per second with a burst of 100 per API group, no
// monthly volume.
func DefaultProductionPlan() Plan {
	return uniformPlan(PlanProductionDefault, "Production (default)", "Production apps without a plan: 50 requests per second, burst 100, per API group.", 50, 100)
}

func uniformPlan(id, name, desc string, rate, burst int) Plan {
	p := Plan{ID: id, Name: name, Description: desc, Limits: map[string]RateLimit{}, Volumes: map[string]int64{}}
	for _, g := range APIGroups {
		p.Limits[g] = RateLimit{Rate: rate, Burst: burst}
	}
	return p
}

func knownGroup(g string) bool {
	for _, x := range APIGroups {
		if x == g {
			return true
		}
	}
	return false
}

func validateLimits(field string, m map[string]RateLimit) error {
	for g, l := range m {
		if !knownGroup(g) {
			return invalid("%s: unknown API group %q (want one of %s)", field, g, strings.Join(APIGroups, ", "))
		}
		if l.Rate < 1 || l.Rate > MaxPlanRate {
			return invalid("%s.%s: rate must be between 1 and %d requests per second", field, g, MaxPlanRate)
		}
		if l.Burst < 1 || l.Burst > MaxPlanBurst {
			return invalid("%s.%s: burst must be between 1 and %d", field, g, MaxPlanBurst)
		}
	}
	return nil
}

func validateVolumes(field string, m map[string]int64) error {
	for g, v := range m {
		if !knownGroup(g) {
			return invalid("%s: unknown API product %q (want one of %s)", field, g, strings.Join(APIGroups, ", "))
		}
		if v < 0 || v > MaxPlanVolume {
			return invalid("%s.%s: monthly volume must be between 0 (unlimited) and %d", field, g, int64(MaxPlanVolume))
		}
	}
	return nil
}

// Validate checks the name, that every API group has a limit, and the volumes.
func (p *Plan) Validate() error {
	if err := checkLen("name", strings.TrimSpace(p.Name), 1, 100); err != nil {
		return err
	}
	if err := checkLen("description", p.Description, 0, 500); err != nil {
		return err
	}
	for _, g := range APIGroups {
		if _, ok := p.Limits[g]; !ok {
			return invalid("limits.%s: a rate limit is required for every API group", g)
		}
	}
	if err := validateLimits("limits", p.Limits); err != nil {
		return err
	}
	return validateVolumes("volumes", p.Volumes)
}

// PlanAssignment gives a partner (Scope "partner") or one app (Scope "app") a
// plan and overrides on top of it. PlanID "" keeps the inherited plan.
type PlanAssignment struct {
	Scope           string               `json:"scope"`
	SubjectID       string               `json:"subject_id"`
	PlanID          string               `json:"plan_id"`
	LimitOverrides  map[string]RateLimit `json:"limit_overrides"`
	VolumeOverrides map[string]int64     `json:"volume_overrides"`
	UpdatedBy       string               `json:"updated_by"`
	UpdatedAt       time.Time            `json:"updated_at"`
}

// Validate checks scope, subject and overrides.
func (a *PlanAssignment) Validate() error {
	if a.Scope != ScopePartner && a.Scope != ScopeApp {
		return invalid("scope must be %q or %q", ScopePartner, ScopeApp)
	}
	if a.SubjectID == "" {
		return invalid("subject_id is required")
	}
	if err := validateLimits("limit_overrides", a.LimitOverrides); err != nil {
		return err
	}
	return validateVolumes("volume_overrides", a.VolumeOverrides)
}

// Effective is an app's plan after partner and app overrides.
type Effective struct {
	PlanID   string               `json:"plan_id"`
	PlanName string               `json:"plan_name"`
	Limits   map[string]RateLimit `json:"limits"`
	Volumes  map[string]int64     `json:"volumes"` // 0 or missing: unlimited
	// Sources says where each part came from, for the console and portal
	// ("default sandbox plan", "partner plan …", "app override").
	Sources []string `json:"sources"`
}

// Config wires a Service.
type Config struct {
	DB *db.DB
	// Events receives quota.threshold_reached in the threshold's transaction (nil: none).
	Events events.Publisher
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service stores plans and their assignments, resolves an app's effective
// plan and records the quota thresholds reached. Only staff who may
// staff.ActPlansManage (finance and admin) change plans and assignments.
type Service struct {
	db     *db.DB
	events events.Publisher
	now    func() time.Time
}

// New returns a Service on a migrated database.
func New(cfg Config) *Service {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{db: cfg.DB, events: cfg.Events, now: func() time.Time { return now().UTC().Truncate(time.Microsecond) }}
}

type planRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	Limits      string
	Volumes     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (planRow) TableName() string { return "plans" }

type assignmentRow struct {
	Scope           string `gorm:"primaryKey"`
	SubjectID       string `gorm:"primaryKey"`
	PlanID          string
	LimitOverrides  string
	VolumeOverrides string
	UpdatedBy       string
	UpdatedAt       time.Time
}

func (assignmentRow) TableName() string { return "plan_assignments" }

func (r planRow) plan() (Plan, error) {
	p := Plan{ID: r.ID, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.Limits), &p.Limits); err != nil {
		return p, err
	}
	return p, json.Unmarshal([]byte(r.Volumes), &p.Volumes)
}

func (r assignmentRow) assignment() (PlanAssignment, error) {
	a := PlanAssignment{Scope: r.Scope, SubjectID: r.SubjectID, PlanID: r.PlanID, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt.UTC()}
	if err := json.Unmarshal([]byte(r.LimitOverrides), &a.LimitOverrides); err != nil {
		return a, err
	}
	return a, json.Unmarshal([]byte(r.VolumeOverrides), &a.VolumeOverrides)
}

func staffEntry(st *staff.Member, action, objType, objID, partnerID string, details map[string]any) audit.Entry {
	return audit.Entry{ActorType: audit.ActorStaff, ActorID: st.ID, Action: action, ObjectType: objType, ObjectID: objID,
		PartnerID: partnerID, Details: details}
}

func forbidPlans(st *staff.Member) error {
	if st == nil || !staff.Can(st.Role, staff.ActPlansManage) {
		return problem.New(problem.CodeForbidden, "only finance and admin staff may change plans")
	}
	return nil
}

// SavePlan creates a plan (p.ID "") or replaces one. Refusals: CodeForbidden
// (role), CodeValidation, CodeNotFound (unknown id), CodeConflict (name taken).
func (s *Service) SavePlan(ctx context.Context, st *staff.Member, p Plan) (Plan, error) {
	if err := forbidPlans(st); err != nil {
		return Plan{}, err
	}
	p.Name = strings.TrimSpace(p.Name)
	if p.Volumes == nil {
		p.Volumes = map[string]int64{}
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	now := s.now()
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var taken int64
		q := tx.Model(&planRow{}).Where("name = ?", p.Name)
		if p.ID != "" {
			q = q.Where("id <> ?", p.ID)
		}
		if err := q.Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			return problem.New(problem.CodeConflict, "a plan named %q already exists", p.Name)
		}
		action := "plan.update"
		if p.ID == "" {
			p.ID, p.CreatedAt, action = ids.New("pln"), now, "plan.create"
			p.UpdatedAt = now
			row := planRow{ID: p.ID, Name: p.Name, Description: p.Description, Limits: mustJSON(p.Limits), Volumes: mustJSON(p.Volumes), CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&row).Error; err != nil {
				return err
			}
		} else {
			res := tx.Model(&planRow{}).Where("id = ?", p.ID).Updates(map[string]any{"name": p.Name, "description": p.Description,
				"limits": mustJSON(p.Limits), "volumes": mustJSON(p.Volumes), "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return problem.New(problem.CodeNotFound, "plan %s not found", p.ID)
			}
			p.UpdatedAt = now
		}
		return audit.Record(ctx, tx, staffEntry(st, action, "plan", p.ID, "", map[string]any{"name": p.Name, "limits": p.Limits, "volumes": p.Volumes}))
	})
	return p, err
}

// Plan returns a stored plan or one of the default plans, or CodeNotFound.
func (s *Service) Plan(ctx context.Context, id string) (Plan, error) {
	switch id {
	case PlanSandboxDefault:
		return DefaultSandboxPlan(), nil
	case PlanProductionDefault:
		return DefaultProductionPlan(), nil
	}
	var r planRow
	err := s.db.DB.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Plan{}, problem.New(problem.CodeNotFound, "plan %s not found", id)
	}
	if err != nil {
		return Plan{}, err
	}
	return r.plan()
}

// ListPlans returns the stored plans by name (the default plans are not listed).
func (s *Service) ListPlans(ctx context.Context) ([]Plan, error) {
	var rows []planRow
	if err := s.db.DB.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Plan, 0, len(rows))
	for _, r := range rows {
		p, err := r.plan()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Assignment returns the assignment of a partner or app (ok false when none).
func (s *Service) Assignment(ctx context.Context, scope, subjectID string) (PlanAssignment, bool, error) {
	var r assignmentRow
	err := s.db.DB.WithContext(ctx).Where("scope = ? AND subject_id = ?", scope, subjectID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return PlanAssignment{}, false, nil
	}
	if err != nil {
		return PlanAssignment{}, false, err
	}
	a, err := r.assignment()
	return a, err == nil, err
}

// Assign sets (replaces) the plan and overrides of a partner or app; partnerID
// is the partner concerned (for the audit trail). Refusals: CodeForbidden,
// CodeValidation, CodeNotFound (unknown plan).
func (s *Service) Assign(ctx context.Context, st *staff.Member, partnerID string, a PlanAssignment) error {
	if err := forbidPlans(st); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if a.PlanID != "" {
		if _, err := s.Plan(ctx, a.PlanID); err != nil {
			return err
		}
	}
	if a.LimitOverrides == nil {
		a.LimitOverrides = map[string]RateLimit{}
	}
	if a.VolumeOverrides == nil {
		a.VolumeOverrides = map[string]int64{}
	}
	row := assignmentRow{Scope: a.Scope, SubjectID: a.SubjectID, PlanID: a.PlanID, LimitOverrides: mustJSON(a.LimitOverrides),
		VolumeOverrides: mustJSON(a.VolumeOverrides), UpdatedBy: st.ID, UpdatedAt: s.now()}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "scope"}, {Name: "subject_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"plan_id", "limit_overrides", "volume_overrides", "updated_by", "updated_at"})}).
			Create(&row).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, staffEntry(st, "plan.assign", a.Scope, a.SubjectID, partnerID,
			map[string]any{"plan_id": a.PlanID, "limit_overrides": a.LimitOverrides, "volume_overrides": a.VolumeOverrides}))
	})
}

// Unassign removes a partner's or app's assignment (a no-op when none).
// Refusals: CodeForbidden.
func (s *Service) Unassign(ctx context.Context, st *staff.Member, partnerID, scope, subjectID string) error {
	if err := forbidPlans(st); err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("scope = ? AND subject_id = ?", scope, subjectID).Delete(&assignmentRow{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return audit.Record(ctx, tx, staffEntry(st, "plan.unassign", scope, subjectID, partnerID, nil))
	})
}

// Resolve returns the effective plan of an app: the app's assigned plan, else
// the partner's, else the environment's default (DefaultSandboxPlan for
// sandbox apps, DefaultProductionPlan otherwise); then the partner's overrides
// and the app's overrides, in that order, replace single groups or products.
func (s *Service) Resolve(ctx context.Context, partnerID, appID string, env environment.Environment) (Effective, error) {
	var rows []assignmentRow
	if err := s.db.DB.WithContext(ctx).Where("(scope = ? AND subject_id = ?) OR (scope = ? AND subject_id = ?)",
		ScopePartner, partnerID, ScopeApp, appID).Find(&rows).Error; err != nil {
		return Effective{}, err
	}
	var partnerA, appA *PlanAssignment
	for _, r := range rows {
		a, err := r.assignment()
		if err != nil {
			return Effective{}, err
		}
		if r.Scope == ScopePartner {
			partnerA = &a
		} else {
			appA = &a
		}
	}
	base := DefaultProductionPlan()
	if env == environment.Sandbox {
		base = DefaultSandboxPlan()
	}
	source := "default " + string(env) + " plan"
	planID := ""
	switch {
	case appA != nil && appA.PlanID != "":
		planID, source = appA.PlanID, "app plan"
	case partnerA != nil && partnerA.PlanID != "":
		planID, source = partnerA.PlanID, "partner plan"
	}
	if planID != "" {
		p, err := s.Plan(ctx, planID)
		if err != nil && problem.CodeOf(err) != problem.CodeNotFound {
			return Effective{}, err
		}
		if err == nil { // a deleted plan falls back to the default
			base = p
		}
	}
	return effective(base, source, partnerA, appA), nil
}

// effective applies the overrides to base (a pure function, table-tested).
func effective(base Plan, source string, partnerA, appA *PlanAssignment) Effective {
	e := Effective{PlanID: base.ID, PlanName: base.Name, Limits: map[string]RateLimit{}, Volumes: map[string]int64{},
		Sources: []string{source + " " + base.Name}}
	for g, l := range base.Limits {
		e.Limits[g] = l
	}
	for g, v := range base.Volumes {
		e.Volumes[g] = v
	}
	for _, a := range []*PlanAssignment{partnerA, appA} {
		if a == nil || len(a.LimitOverrides)+len(a.VolumeOverrides) == 0 {
			continue
		}
		var keys []string
		for g, l := range a.LimitOverrides {
			e.Limits[g] = l
			keys = append(keys, g)
		}
		for g, v := range a.VolumeOverrides {
			e.Volumes[g] = v
			keys = append(keys, g+" volume")
		}
		sort.Strings(keys)
		e.Sources = append(e.Sources, a.Scope+" override: "+strings.Join(keys, ", "))
	}
	return e
}

type thresholdRow struct {
	AppID     string `gorm:"primaryKey"`
	Product   string `gorm:"primaryKey"`
	Period    string `gorm:"primaryKey"`
	Percent   int    `gorm:"primaryKey"`
	PartnerID string
	Used      int64
	Volume    int64
	ReachedAt time.Time
}

func (thresholdRow) TableName() string { return "quota_thresholds" }

// ThresholdReached records that an app's usage of product reached percent of
// its monthly volume in period ("YYYY-MM") and publishes
// quota.threshold_reached in the same transaction. It reports whether this
// call recorded it: the threshold is announced once per app, product, period
// and percent however many nodes or calls report it.
func (s *Service) ThresholdReached(ctx context.Context, partnerID, appID, product, period string, percent int, used, volume int64) (bool, error) {
	first := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		row := thresholdRow{AppID: appID, Product: product, Period: period, Percent: percent, PartnerID: partnerID,
			Used: used, Volume: volume, ReachedAt: s.now()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		first = true
		if s.events == nil {
			return nil
		}
		return s.events.Publish(ctx, tx, EventQuotaThresholdReached, partnerID, appID, map[string]any{
			"app_id": appID, "quota": product + ".monthly_calls", "threshold_bp": percent * 100,
			"used": used, "limit": volume, "period": period})
	})
	return first, err
}

// Thresholds lists the thresholds an app reached in a period.
func (s *Service) Thresholds(ctx context.Context, appID, period string) (map[string][]int, error) {
	var rows []thresholdRow
	if err := s.db.DB.WithContext(ctx).Where("app_id = ? AND period = ?", appID, period).Order("product, percent").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string][]int{}
	for _, r := range rows {
		out[r.Product] = append(out[r.Product], r.Percent)
	}
	return out, nil
}

func invalid(format string, args ...any) *problem.Error {
	return problem.New(problem.CodeValidation, format, args...)
}

func checkLen(field, v string, min, max int) error {
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return invalid("%s is required", field)
		}
		return invalid("%s must be at least %d characters", field, min)
	}
	if n > max {
		return invalid("%s must be at most %d characters", field, max)
	}
	return nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("plans: " + err.Error())
	}
	return string(b)
}
