package contracts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

type contractRow struct {
	ID            string `gorm:"primaryKey"`
	PartnerID     string
	Status        string
	ActiveVersion int
	LatestVersion int
	StartAt       time.Time
	EndAt         time.Time
	AutoRenew     bool
	NoticeDays    int
	CreatedBy     string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt     time.Time `gorm:"autoUpdateTime:false"`
	TerminatedAt  *time.Time
}

func (contractRow) TableName() string { return "contracts" }

func (r contractRow) contract() Contract {
	c := Contract{ID: r.ID, PartnerID: r.PartnerID, Status: r.Status, ActiveVersion: r.ActiveVersion,
		LatestVersion: r.LatestVersion, Start: r.StartAt.UTC(), End: r.EndAt.UTC(), AutoRenew: r.AutoRenew,
		NoticeDays: r.NoticeDays, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.TerminatedAt != nil {
		t := r.TerminatedAt.UTC()
		c.TerminatedAt = &t
	}
	return c
}

type versionRow struct {
	ContractID      string `gorm:"primaryKey"`
	Version         int    `gorm:"primaryKey;autoIncrement:false"`
	Status          string
	Terms           string
	CreatedBy       string
	CreatedAt       time.Time
	UpdatedBy       string
	Editors         []string `gorm:"serializer:json"`
	SubmittedBy     string
	SubmittedAt     *time.Time
	ApprovedBy      string
	ApprovedAt      *time.Time
	RejectionReason string
}

func (versionRow) TableName() string { return "contract_versions" }

// edit records actor as the version's last editor and among its editors.
func (r *versionRow) edit(actor Actor) {
	r.UpdatedBy = actor.ID
	for _, e := range r.Editors {
		if e == actor.ID {
			return
		}
	}
	r.Editors = append(r.Editors, actor.ID)
}

// wrote reports whether id created or edited the version's terms (versions
// from before editors were recorded name at least their creator).
func (r *versionRow) wrote(id string) bool {
	if r.CreatedBy == id || r.UpdatedBy == id {
		return true
	}
	for _, e := range r.Editors {
		if e == id {
			return true
		}
	}
	return false
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (r versionRow) version() (Version, error) {
	v := Version{ContractID: r.ContractID, Version: r.Version, Status: r.Status, CreatedBy: r.CreatedBy,
		CreatedAt: r.CreatedAt.UTC(), UpdatedBy: r.UpdatedBy, Editors: append([]string{}, r.Editors...), SubmittedBy: r.SubmittedBy, SubmittedAt: utcPtr(r.SubmittedAt),
		ApprovedBy: r.ApprovedBy, ApprovedAt: utcPtr(r.ApprovedAt), RejectionReason: r.RejectionReason}
	if err := json.Unmarshal([]byte(r.Terms), &v.Terms); err != nil {
		return Version{}, fmt.Errorf("contracts: terms of %s v%d: %w", r.ContractID, r.Version, err)
	}
	v.Terms = v.Terms.normalize()
	return v, nil
}

func marshalTerms(t Terms) string {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err) // Terms has only marshalable fields
	}
	return string(b)
}

func staffAudit(a Actor, act, contractID, partnerID string, details map[string]any) audit.Entry {
	typ := audit.ActorStaff
	if a.Role == staff.RoleSystem {
		typ = audit.ActorSystem
	}
	return audit.Entry{ActorType: typ, ActorID: a.ID, Action: act, ObjectType: "contract", ObjectID: contractID,
		PartnerID: partnerID, Details: details}
}

func (s *Service) lockContract(ctx context.Context, tx *gorm.DB, id string) (contractRow, error) {
	var r contractRow
	err := tx.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, notFound("contract", id)
	}
	return r, err
}

func (s *Service) versionRow(ctx context.Context, tx *gorm.DB, id string, n int) (versionRow, error) {
	var r versionRow
	err := tx.WithContext(ctx).Where("contract_id = ? AND version = ?", id, n).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return r, notFound("contract version", fmt.Sprintf("%s v%d", id, n))
	}
	return r, err
}

func invalidState(format string, args ...any) error {
	return problem.New(problem.CodeInvalidState, format, args...)
}

// Draft creates a contract for a partner in status draft with version 1. Refusals:
// CodeForbidden (role), CodeValidation (terms, with field errors), CodeConflict
// (the partner already has a draft, pending or active contract).
func (s *Service) Draft(ctx context.Context, actor Actor, partnerID string, terms Terms) (Contract, error) {
	if err := authorize(actor, needs(evDraft)); err != nil {
		return Contract{}, err
	}
	if strings.TrimSpace(partnerID) == "" {
		return Contract{}, problem.New(problem.CodeValidation, "contract is invalid").
			With("errors", []FieldError{{Field: "partner_id", Reason: "is required"}})
	}
	terms = terms.normalize()
	if err := terms.Validate(); err != nil {
		return Contract{}, err
	}
	now := s.now()
	status, _ := next("", evDraft)
	vstatus, _ := nextVersion("", evDraft)
	row := contractRow{ID: ids.New("ctr"), PartnerID: partnerID, Status: status, LatestVersion: 1,
		StartAt: terms.Start, EndAt: terms.End, AutoRenew: terms.AutoRenew, NoticeDays: terms.NoticeDays,
		CreatedBy: actor.ID, CreatedAt: now, UpdatedAt: now}
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			if isDuplicate(err) {
				return problem.New(problem.CodeConflict, "partner %s already has an open contract", partnerID)
			}
			return err
		}
		v := versionRow{ContractID: row.ID, Version: 1, Status: vstatus, Terms: marshalTerms(terms), CreatedBy: actor.ID, CreatedAt: now,
			UpdatedBy: actor.ID, Editors: []string{actor.ID}}
		if err := tx.Create(&v).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, staffAudit(actor, "contract.drafted", row.ID, partnerID, map[string]any{"version": 1}))
	})
	if err != nil {
		return Contract{}, err
	}
	return row.contract(), nil
}

// Update edits a contract's terms. A draft contract's version 1 is edited in place;
// editing an active contract edits its open draft version or creates one (version
// n+1) that replaces the active version once approved. Refusals: CodeForbidden,
// CodeValidation, CodeNotFound, CodeInvalidState (pending approval, expired,
// terminated).
func (s *Service) Update(ctx context.Context, actor Actor, contractID string, terms Terms) (Version, error) {
	if err := authorize(actor, needs(evEdit)); err != nil {
		return Version{}, err
	}
	terms = terms.normalize()
	if err := terms.Validate(); err != nil {
		return Version{}, err
	}
	var out versionRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockContract(ctx, tx, contractID)
		if err != nil {
			return err
		}
		to, ok := next(c.Status, evEdit)
		if !ok {
			return invalidState("contract %s is %s and cannot be edited", c.ID, c.Status)
		}
		latest, err := s.versionRow(ctx, tx, c.ID, c.LatestVersion)
		if err != nil {
			return err
		}
		vto, ok := nextVersion(latest.Status, evEdit)
		if !ok {
			if latest.Status == StatusPendingApproval {
				return invalidState("version %d of contract %s is pending approval; reject it before editing", latest.Version, c.ID)
			}
			return invalidState("version %d of contract %s is %s and cannot be edited", latest.Version, c.ID, latest.Status)
		}
		now := s.now()
		act := "contract.updated"
		if latest.Status == StatusActive {
			// the active version stays as approved; the edit is version n+1
			out = versionRow{ContractID: c.ID, Version: c.LatestVersion + 1, Status: vto, Terms: marshalTerms(terms),
				CreatedBy: actor.ID, CreatedAt: now, UpdatedBy: actor.ID, Editors: []string{actor.ID}}
			if err := tx.Create(&out).Error; err != nil {
				return err
			}
			c.LatestVersion = out.Version
			act = "contract.version_created"
		} else {
			latest.Status = vto
			latest.Terms = marshalTerms(terms)
			latest.RejectionReason = ""
			latest.edit(actor)
			if err := tx.Model(&latest).Select("status", "terms", "rejection_reason", "updated_by", "editors").Updates(&latest).Error; err != nil {
				return err
			}
			out = latest
		}
		c.Status, c.UpdatedAt = to, now
		if c.Status == StatusDraft {
			c.StartAt, c.EndAt, c.AutoRenew, c.NoticeDays = terms.Start, terms.End, terms.AutoRenew, terms.NoticeDays
		}
		if err := tx.Select("*").Updates(&c).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, staffAudit(actor, act, c.ID, c.PartnerID, map[string]any{"version": out.Version}))
	})
	if err != nil {
		return Version{}, err
	}
	return out.version()
}

// Submit asks for approval of the contract's latest (draft) version; the actor
// becomes its maker. Refusals: CodeForbidden, CodeNotFound, CodeInvalidState (the
// latest version is not a draft, or the contract is expired or terminated).
func (s *Service) Submit(ctx context.Context, actor Actor, contractID string) (Version, error) {
	if err := authorize(actor, needs(evSubmit)); err != nil {
		return Version{}, err
	}
	var out versionRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockContract(ctx, tx, contractID)
		if err != nil {
			return err
		}
		to, ok := next(c.Status, evSubmit)
		if !ok {
			return invalidState("contract %s is %s and cannot be submitted", c.ID, c.Status)
		}
		v, err := s.versionRow(ctx, tx, c.ID, c.LatestVersion)
		if err != nil {
			return err
		}
		vto, ok := nextVersion(v.Status, evSubmit)
		if !ok {
			return invalidState("version %d of contract %s is %s, not draft", v.Version, c.ID, v.Status)
		}
		now := s.now()
		v.Status, v.SubmittedBy, v.SubmittedAt = vto, actor.ID, &now
		if err := tx.Model(&v).Select("status", "submitted_by", "submitted_at").Updates(&v).Error; err != nil {
			return err
		}
		c.Status, c.UpdatedAt = to, now
		if err := tx.Select("*").Updates(&c).Error; err != nil {
			return err
		}
		out = v
		return audit.Record(ctx, tx, staffAudit(actor, "contract.submitted", c.ID, c.PartnerID, map[string]any{"version": v.Version}))
	})
	if err != nil {
		return Version{}, err
	}
	return out.version()
}

// Approve activates the contract's pending version (maker-checker: the approver
// must be neither its submitter nor anyone who wrote its terms, its creator or
// any later editor, so a version rejected and rewritten cannot be approved by
// the person who rewrote it); an earlier active version becomes superseded. When
// the contract becomes active for the first time the PartnerHook is told after
// the commit; if it fails, Approve returns the active contract together with the
// hook's error (approving a later version does not call the hook). Refusals: CodeForbidden, CodeNotFound,
// CodeMakerChecker, CodeInvalidState (nothing pending).
func (s *Service) Approve(ctx context.Context, actor Actor, contractID string) (Contract, error) {
	if err := authorize(actor, needs(evApprove)); err != nil {
		return Contract{}, err
	}
	var c contractRow
	first := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if c, err = s.lockContract(ctx, tx, contractID); err != nil {
			return err
		}
		to, ok := next(c.Status, evApprove)
		if !ok {
			return invalidState("contract %s is %s and cannot be approved", c.ID, c.Status)
		}
		first = c.ActiveVersion == 0
		v, err := s.versionRow(ctx, tx, c.ID, c.LatestVersion)
		if err != nil {
			return err
		}
		vto, ok := nextVersion(v.Status, evApprove)
		if !ok {
			return invalidState("version %d of contract %s is %s, not pending_approval", v.Version, c.ID, v.Status)
		}
		if v.SubmittedBy == actor.ID {
			return problem.New(problem.CodeMakerChecker, "version %d of contract %s was submitted by %s, who cannot also approve it", v.Version, c.ID, actor.ID)
		}
		if v.wrote(actor.ID) {
			return problem.New(problem.CodeMakerChecker, "version %d of contract %s was written by %s, who cannot also approve it", v.Version, c.ID, actor.ID)
		}
		terms, err := v.version()
		if err != nil {
			return err
		}
		hash, err := agreementOf(ctx, tx, c.ID, v.Version)
		if err != nil {
			return err
		}
		if hash == "" && s.requireAgreement {
			return invalidState("version %d of contract %s has no signed agreement; attach the signed PDF before approving it", v.Version, c.ID)
		}
		now := s.now()
		if c.ActiveVersion > 0 {
			if err := tx.Model(&versionRow{}).Where("contract_id = ? AND version = ?", c.ID, c.ActiveVersion).
				Update("status", VersionSuperseded).Error; err != nil {
				return err
			}
		}
		v.Status, v.ApprovedBy, v.ApprovedAt = vto, actor.ID, &now
		if err := tx.Model(&v).Select("status", "approved_by", "approved_at").Updates(&v).Error; err != nil {
			return err
		}
		if c.ActiveVersion == 0 || terms.Terms.Start.Before(c.StartAt) {
			c.StartAt = terms.Terms.Start
		}
		c.Status, c.ActiveVersion, c.UpdatedAt = to, v.Version, now
		c.EndAt, c.AutoRenew, c.NoticeDays = terms.Terms.End, terms.Terms.AutoRenew, terms.Terms.NoticeDays
		if err := tx.Select("*").Updates(&c).Error; err != nil {
			return err
		}
		details := map[string]any{"version": v.Version, "submitted_by": v.SubmittedBy, "editors": v.Editors}
		if hash != "" {
			details["agreement_sha256"] = hash
		}
		return audit.Record(ctx, tx, staffAudit(actor, "contract.approved", c.ID, c.PartnerID, details))
	})
	if err != nil {
		return Contract{}, err
	}
	if s.partners != nil && first {
		if err := s.partners.MarkContracted(ctx, c.PartnerID); err != nil {
			return c.contract(), fmt.Errorf("contracts: contract %s is active but marking partner %s contracted failed: %w", c.ID, c.PartnerID, err)
		}
	}
	return c.contract(), nil
}

// Reject sends the pending version back to draft with a reason. Refusals:
// CodeForbidden, CodeValidation (no reason), CodeNotFound, CodeInvalidState.
func (s *Service) Reject(ctx context.Context, actor Actor, contractID, reason string) (Version, error) {
	if err := authorize(actor, needs(evReject)); err != nil {
		return Version{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Version{}, problem.New(problem.CodeValidation, "a rejection needs a reason").
			With("errors", []FieldError{{Field: "reason", Reason: "is required"}})
	}
	var out versionRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		c, err := s.lockContract(ctx, tx, contractID)
		if err != nil {
			return err
		}
		v, err := s.versionRow(ctx, tx, c.ID, c.LatestVersion)
		if err != nil {
			return err
		}
		to, ok := next(c.Status, evReject)
		vto, vok := nextVersion(v.Status, evReject)
		if !ok || !vok {
			return invalidState("version %d of contract %s is %s, not pending_approval", v.Version, c.ID, v.Status)
		}
		v.Status, v.SubmittedBy, v.SubmittedAt, v.RejectionReason = vto, "", nil, reason
		if err := tx.Model(&v).Select("status", "submitted_by", "submitted_at", "rejection_reason").Updates(&v).Error; err != nil {
			return err
		}
		c.Status, c.UpdatedAt = to, s.now()
		if err := tx.Select("*").Updates(&c).Error; err != nil {
			return err
		}
		out = v
		return audit.Record(ctx, tx, staffAudit(actor, "contract.rejected", c.ID, c.PartnerID, map[string]any{"version": v.Version, "reason": reason}))
	})
	if err != nil {
		return Version{}, err
	}
	return out.version()
}

// Terminate ends an active contract now. Refusals: CodeForbidden, CodeValidation
// (no reason), CodeNotFound, CodeInvalidState (not active).
func (s *Service) Terminate(ctx context.Context, actor Actor, contractID, reason string) (Contract, error) {
	if err := authorize(actor, needs(evTerminate)); err != nil {
		return Contract{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return Contract{}, problem.New(problem.CodeValidation, "a termination needs a reason").
			With("errors", []FieldError{{Field: "reason", Reason: "is required"}})
	}
	var c contractRow
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		if c, err = s.lockContract(ctx, tx, contractID); err != nil {
			return err
		}
		to, ok := next(c.Status, evTerminate)
		if !ok {
			return invalidState("contract %s is %s, only an active contract can be terminated", c.ID, c.Status)
		}
		now := s.now()
		c.Status, c.TerminatedAt, c.UpdatedAt = to, &now, now
		if err := tx.Select("*").Updates(&c).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, staffAudit(actor, "contract.terminated", c.ID, c.PartnerID, map[string]any{"reason": reason}))
	})
	if err != nil {
		return Contract{}, err
	}
	return c.contract(), nil
}

// nextTermEnd extends end by the length of the term [start, end) of the
// contract's active version: whole calendar months when start and end fall on the
// same day of month and time, else the exact duration.
func nextTermEnd(start, end, cur time.Time) time.Time {
	if start.Day() == end.Day() && start.Hour() == end.Hour() && start.Minute() == end.Minute() &&
		start.Second() == end.Second() && start.Nanosecond() == end.Nanosecond() {
		months := (end.Year()-start.Year())*12 + int(end.Month()-start.Month())
		if months > 0 {
			return cur.AddDate(0, months, 0)
		}
	}
	return cur.Add(end.Sub(start))
}

// ExpireDue ends every active contract whose term ended at or before now: an
// auto-renewing contract is extended by its term length (as often as needed to
// reach past now), any other becomes expired. It returns the contracts changed.
func (s *Service) ExpireDue(ctx context.Context, now time.Time) ([]Contract, error) {
	now = now.UTC()
	var due []string
	if err := s.db.DB.WithContext(ctx).Model(&contractRow{}).Where("status = ? AND end_at <= ?", StatusActive, now).
		Order("id").Pluck("id", &due).Error; err != nil {
		return nil, err
	}
	var out []Contract
	for _, id := range due {
		var c contractRow
		changed := false
		err := s.db.Tx(ctx, func(tx *gorm.DB) error {
			var err error
			if c, err = s.lockContract(ctx, tx, id); err != nil {
				return err
			}
			ev := evExpire
			if c.AutoRenew {
				ev = evRenew
			}
			to, ok := next(c.Status, ev)
			if !ok || c.EndAt.After(now) {
				return nil // changed since the query, or not due
			}
			vr, err := s.versionRow(ctx, tx, c.ID, c.ActiveVersion)
			if err != nil {
				return err
			}
			v, err := vr.version()
			if err != nil {
				return err
			}
			oldEnd := c.EndAt.UTC()
			act := "contract.expired"
			details := map[string]any{"end": oldEnd}
			if c.AutoRenew {
				end := oldEnd
				for !end.After(now) {
					end = nextTermEnd(v.Terms.Start, v.Terms.End, end)
				}
				c.EndAt = end
				act, details["new_end"] = "contract.renewed", end
			}
			c.Status, c.UpdatedAt = to, s.now()
			if err := tx.Select("*").Updates(&c).Error; err != nil {
				return err
			}
			changed = true
			return audit.Record(ctx, tx, staffAudit(SystemActor, act, c.ID, c.PartnerID, details))
		})
		if err != nil {
			return out, err
		}
		if changed {
			out = append(out, c.contract())
		}
	}
	return out, nil
}

// ReminderWindow is how long before the notice period starts a renewal reminder
// is due: reminders go out when the term ends within notice period + 30 days.
const ReminderWindow = 30 * 24 * time.Hour

// renewalReminderMail is the reminder the partner's owners receive.
func renewalReminderMail(c contractRow) mail.Message {
	end := c.EndAt.UTC().Format("2 January 2006")
	noticeBy := c.EndAt.UTC().AddDate(0, 0, -c.NoticeDays).Format("2 January 2006")
	var what string
	if c.AutoRenew {
		what = fmt.Sprintf("It renews automatically unless either side gives notice by %s (%d days' notice).", noticeBy, c.NoticeDays)
	} else {
		what = fmt.Sprintf("It does not renew automatically: to keep your apps live after %s, agree a new contract with your relationship manager (notice period %d days, from %s).", end, c.NoticeDays, noticeBy)
	}
	return mail.Message{PartnerID: c.PartnerID, Template: "contract_renewal_reminder",
		Subject: "Your contract " + c.ID + " ends on " + end,
		Body:    fmt.Sprintf("Your contract %s with the bank ends on %s. %s", c.ID, end, what)}
}

// RenewalReminders returns the active contracts whose term ends within their
// notice period plus 30 days of now and that were not reminded for this term end
// yet, and records the reminder (audited, and mailed to the partner's owners
// through the email outbox in the same transaction) so each is sent once per
// term.
func (s *Service) RenewalReminders(ctx context.Context, now time.Time) ([]Contract, error) {
	now = now.UTC()
	var rows []contractRow
	if err := s.db.DB.WithContext(ctx).Where("status = ? AND end_at > ?", StatusActive, now).Order("end_at, id").
		Find(&rows).Error; err != nil {
		return nil, err
	}
	var out []Contract
	for _, c := range rows {
		if c.EndAt.After(now.Add(time.Duration(c.NoticeDays)*24*time.Hour + ReminderWindow)) {
			continue
		}
		sent := false
		err := s.db.Tx(ctx, func(tx *gorm.DB) error {
			res := tx.Exec(`INSERT INTO contract_reminders (contract_id, term_end, sent_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				c.ID, c.EndAt.UTC(), now)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			sent = true
			if _, err := mail.EnqueueToPartnerOwners(ctx, tx, renewalReminderMail(c)); err != nil {
				return err
			}
			return audit.Record(ctx, tx, staffAudit(SystemActor, "contract.renewal_reminder", c.ID, c.PartnerID,
				map[string]any{"end": c.EndAt.UTC(), "notice_days": c.NoticeDays, "auto_renew": c.AutoRenew}))
		})
		if err != nil {
			return out, err
		}
		if sent {
			out = append(out, c.contract())
		}
	}
	return out, nil
}

// Contract returns one contract, or CodeNotFound.
func (s *Service) Contract(ctx context.Context, id string) (Contract, error) {
	var r contractRow
	err := s.db.DB.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Contract{}, notFound("contract", id)
	}
	return r.contract(), err
}

// ContractFilter narrows Contracts; zero fields match everything.
type ContractFilter struct {
	PartnerID string
	Status    string
}

// Contracts lists contracts, newest first.
func (s *Service) Contracts(ctx context.Context, f ContractFilter) ([]Contract, error) {
	q := s.db.DB.WithContext(ctx).Model(&contractRow{})
	if f.PartnerID != "" {
		q = q.Where("partner_id = ?", f.PartnerID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	var rows []contractRow
	if err := q.Order("created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Contract, len(rows))
	for i, r := range rows {
		out[i] = r.contract()
	}
	return out, nil
}

// Versions lists a contract's versions, oldest first, or CodeNotFound.
func (s *Service) Versions(ctx context.Context, contractID string) ([]Version, error) {
	if _, err := s.Contract(ctx, contractID); err != nil {
		return nil, err
	}
	var rows []versionRow
	if err := s.db.DB.WithContext(ctx).Where("contract_id = ?", contractID).Order("version").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(rows))
	for _, r := range rows {
		v, err := r.version()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
