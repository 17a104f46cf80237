package partners

import (
	"context"
	"errors"
	"strings"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// StartReview moves an application into review (applied → under_review).
// Errors: CodeForbidden, CodeNotFound, CodeInvalidState.
func (s *Service) StartReview(ctx context.Context, staffID, partnerID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActApplicationsReview); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		return s.setStatus(ctx, tx, p, StatusUnderReview, "", staffActor(staffID), "start a review", StatusApplied)
	})
}

// RecordDueDiligence records (or replaces) the scorecard for the partner's
// current application while it is under review. The scorecard's decision
// fields are ignored (see DecideApplication). Errors: CodeForbidden,
// CodeNotFound, CodeValidation, CodeInvalidState.
func (s *Service) RecordDueDiligence(ctx context.Context, staffID, partnerID string, dd DueDiligence) (*DueDiligence, error) {
	dd.Decision, dd.Reasons, dd.DecidedBy, dd.DecidedAt = "", "", "", nil
	if err := dd.Validate(); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActDueDiligence); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusUnderReview {
			return invalidState("record due diligence", p.Status, StatusUnderReview)
		}
		var app Application
		if err := tx.Where("partner_id = ?", partnerID).Order("submitted_at DESC").Take(&app).Error; err != nil {
			return internal(err, "load application")
		}
		now := s.clock()
		var old DueDiligence
		err = tx.Where("application_id = ?", app.ID).Take(&old).Error
		switch {
		case err == nil:
			dd.ID, dd.CreatedAt = old.ID, old.CreatedAt
		case isNotFound(err):
			dd.ID, dd.CreatedAt = ids.New("ddr"), now
		default:
			return internal(err, "load due diligence")
		}
		dd.PartnerID, dd.ApplicationID, dd.ReviewerID, dd.UpdatedAt = partnerID, app.ID, staffID, now
		if err := tx.Save(&dd).Error; err != nil {
			return internal(err, "save due diligence")
		}
		return s.audit(ctx, tx, staffActor(staffID), "due_diligence.recorded", "due_diligence", dd.ID, partnerID,
			map[string]any{"score": dd.Score(), "licence_verified": dd.LicenceVerified, "aml_result": string(dd.AMLResult)})
	})
	if err != nil {
		return nil, err
	}
	return &dd, nil
}

// DueDiligenceFor returns the scorecard of the partner's latest application,
// or CodeNotFound.
func (s *Service) DueDiligenceFor(ctx context.Context, partnerID string) (*DueDiligence, error) {
	var dd DueDiligence
	err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("created_at DESC").Take(&dd).Error
	if err != nil {
		if isNotFound(err) {
			return nil, notFound("due diligence for partner", partnerID)
		}
		return nil, internal(err, "load due diligence")
	}
	return &dd, nil
}

// DecideApplication approves (under_review → approved) or rejects
// (under_review → sandbox, reasons shown to the partner) an application.
// Approval needs a recorded scorecard with the licence verified and AML clear;
// rejection needs reasons. Errors: CodeForbidden, CodeNotFound,
// CodeValidation, CodeInvalidState.
func (s *Service) DecideApplication(ctx context.Context, staffID, partnerID string, decision Decision, reasons string) error {
	reasons = strings.TrimSpace(reasons)
	switch decision {
	case DecisionApproved:
	case DecisionRejected:
		if reasons == "" {
			return invalid("reasons are required to reject an application (the partner sees them)")
		}
	default:
		return invalid("decision must be approved or rejected, got %q", decision)
	}
	if err := checkLen("reasons", reasons, 0, 4000); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActApplicationsDecide); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusUnderReview {
			return invalidState("decide the application", p.Status, StatusUnderReview)
		}
		var dd DueDiligence
		ddErr := tx.Where("partner_id = ?", partnerID).Order("created_at DESC").Take(&dd).Error
		if ddErr != nil && !isNotFound(ddErr) {
			return internal(ddErr, "load due diligence")
		}
		if decision == DecisionApproved {
			switch {
			case ddErr != nil:
				return problem.New(problem.CodeInvalidState, "cannot approve: no due diligence scorecard recorded")
			case !dd.LicenceVerified:
				return problem.New(problem.CodeInvalidState, "cannot approve: the licence is not verified")
			case dd.AMLResult != AMLClear:
				return problem.New(problem.CodeInvalidState, "cannot approve: AML screening is %s (needs clear)", dd.AMLResult)
			}
		}
		if ddErr == nil {
			now := s.clock()
			if err := tx.Model(&DueDiligence{}).Where("id = ?", dd.ID).Updates(map[string]any{
				"decision": decision, "reasons": reasons, "decided_by": staffID, "decided_at": now, "updated_at": now}).Error; err != nil {
				return internal(err, "record decision")
			}
		}
		if err := s.audit(ctx, tx, staffActor(staffID), "application."+string(decision), "partner", partnerID, partnerID,
			map[string]any{"reasons": reasons}); err != nil {
			return err
		}
		to := StatusApproved
		if decision == DecisionRejected {
			to = StatusSandbox
		}
		return s.setStatus(ctx, tx, p, to, reasons, staffActor(staffID), "decide the application", StatusUnderReview)
	})
}

// MarkContracted moves an approved partner to contracted (called by contracts
// when a contract becomes active). Errors: CodeNotFound, CodeInvalidState.
func (s *Service) MarkContracted(ctx context.Context, partnerID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		return s.setStatus(ctx, tx, p, StatusContracted, "", systemActor("contracts"), "mark contracted", StatusApproved)
	})
}

// RecordCertification runs the certification checks (CertificationEvidence)
// for a sandbox app of a contracted (or already certified) partner and keeps
// the run; a passed run moves contracted → certified. Errors: CodeForbidden,
// CodeNotFound, CodeInvalidState, CodeValidation (not a sandbox app),
// CodeInternal (no evidence provider).
func (s *Service) RecordCertification(ctx context.Context, staffID, partnerID, appID string) (*CertificationRun, error) {
	return s.recordCertification(ctx, staffActor(staffID), partnerID, appID, func(g *gorm.DB) (*Partner, error) {
		if _, err := s.requireStaff(g, staffID, staff.ActCertification); err != nil {
			return nil, err
		}
		return s.loadPartner(g, partnerID, false)
	})
}

// recordCertification runs and keeps a certification run for by, after
// authorise (which loads the partner) allows it.
func (s *Service) recordCertification(ctx context.Context, by actor, partnerID, appID string, authorise func(g *gorm.DB) (*Partner, error)) (*CertificationRun, error) {
	ev := s.evidence
	if ev == nil {
		return nil, problem.New(problem.CodeInternal, "certification checks are not configured")
	}
	g := s.db.WithContext(ctx)
	p, err := authorise(g)
	if err != nil {
		return nil, err
	}
	need := []Status{StatusContracted, StatusCertified}
	if !statusIn(p.Status, need) {
		return nil, invalidState("record a certification", p.Status, need...)
	}
	a, err := s.loadApp(g, partnerID, appID, false)
	if err != nil {
		return nil, err
	}
	if a.Environment != environment.Sandbox {
		return nil, invalid("certification runs against a sandbox app; %s is %s", a.ID, a.Environment)
	}
	started := s.clock()
	checks, err := ev.Checks(ctx, partnerID, appID)
	if err != nil {
		return nil, internal(err, "run certification checks")
	}
	if checks == nil {
		checks = []CertificationCheck{}
	}
	run := &CertificationRun{ID: ids.New("crt"), PartnerID: partnerID, AppID: appID, RunBy: by.id,
		StartedAt: started, FinishedAt: s.clock(), Result: CertPassed, Checks: checks}
	if len(checks) == 0 {
		run.Result = CertFailed
	}
	for _, c := range checks {
		if !c.Passed {
			run.Result = CertFailed
		}
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if !statusIn(p.Status, need) {
			return invalidState("record a certification", p.Status, need...)
		}
		if err := tx.Create(run).Error; err != nil {
			return internal(err, "save certification run")
		}
		if err := s.audit(ctx, tx, by, "certification."+run.Result, "certification_run", run.ID, partnerID,
			map[string]any{"app_id": appID, "checks": len(checks)}); err != nil {
			return err
		}
		if run.Result == CertPassed && p.Status == StatusContracted {
			return s.setStatus(ctx, tx, p, StatusCertified, "", by, "certify", StatusContracted)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// CertificationRuns lists a partner's certification runs, newest first.
func (s *Service) CertificationRuns(ctx context.Context, partnerID string) ([]CertificationRun, error) {
	var out []CertificationRun
	err := s.db.WithContext(ctx).Where("partner_id = ?", partnerID).Order("started_at DESC, id").Find(&out).Error
	return out, internal(err, "list certification runs")
}

func (s *Service) createApproval(ctx context.Context, tx *gorm.DB, kind, partnerID, appID, staffID, reason string) (*ApprovalRequest, error) {
	conflict := func() error {
		if appID != "" {
			return problem.New(problem.CodeConflict, "an app reinstatement request for app %s is already pending", appID)
		}
		return problem.New(problem.CodeConflict, "a %s request for partner %s is already pending", kind, partnerID)
	}
	var n int64
	if err := tx.Model(&ApprovalRequest{}).Where("partner_id = ? AND kind = ? AND app_id = ? AND status = ?", partnerID, kind, appID, ApprovalPending).
		Count(&n).Error; err != nil {
		return nil, internal(err, "check pending approvals")
	}
	if n > 0 {
		return nil, conflict()
	}
	r := &ApprovalRequest{ID: ids.New("apr"), Kind: kind, PartnerID: partnerID, AppID: appID, RequestedBy: staffID,
		RequestedAt: s.clock(), RequestReason: reason, Status: ApprovalPending}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := tx.Create(r).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, conflict()
		}
		return nil, internal(err, "create approval request")
	}
	details := map[string]any{"kind": kind, "reason": reason}
	if appID != "" {
		details["app_id"] = appID
	}
	return r, s.audit(ctx, tx, staffActor(staffID), "approval.requested", "approval_request", r.ID, partnerID, details)
}

// RequestGoLive is the maker step of go-live for a certified partner. Errors:
// CodeForbidden, CodeNotFound, CodeInvalidState, CodeConflict (already pending).
func (s *Service) RequestGoLive(ctx context.Context, staffID, partnerID string) (*ApprovalRequest, error) {
	var r *ApprovalRequest
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActGoLiveRequest); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusCertified {
			return invalidState("request go-live", p.Status, StatusCertified)
		}
		r, err = s.createApproval(ctx, tx, KindGoLive, partnerID, "", staffID, "")
		return err
	})
	return r, err
}

// RequestReinstate is the maker step of reinstating a suspended partner.
// Errors: CodeForbidden, CodeNotFound, CodeInvalidState, CodeConflict.
func (s *Service) RequestReinstate(ctx context.Context, staffID, partnerID, reason string) (*ApprovalRequest, error) {
	if err := checkLen("reason", strings.TrimSpace(reason), 1, 2000); err != nil {
		return nil, err
	}
	var r *ApprovalRequest
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActReinstateRequest); err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusSuspended {
			return invalidState("request reinstatement", p.Status, StatusSuspended)
		}
		r, err = s.createApproval(ctx, tx, KindReinstate, partnerID, "", staffID, strings.TrimSpace(reason))
		return err
	})
	return r, err
}

// ApproveGoLive is the checker step of go-live: certified → live. See DecideApproval.
func (s *Service) ApproveGoLive(ctx context.Context, checkerStaffID, requestID string) error {
	return s.DecideApproval(ctx, checkerStaffID, requestID, true, "")
}

// ApproveReinstate is the checker step of reinstatement: suspended → the
// status the partner was suspended from. See DecideApproval.
func (s *Service) ApproveReinstate(ctx context.Context, checkerStaffID, requestID string) error {
	return s.DecideApproval(ctx, checkerStaffID, requestID, true, "")
}

// riskSuspension reports whether a suspension must be lifted by a risk
// officer: one imposed by a risk officer, or one whose author is unknown
// (suspensions from before authors were recorded).
func riskSuspension(by staff.Role) bool { return by == staff.RoleRiskOfficer || by == "" }

// liftRiskDetail is the refusal of a checker who may not lift a risk
// officer's suspension.
func liftRiskDetail(what string) *problem.Error {
	return problem.New(problem.CodeMakerChecker,
		"the suspension of %s was imposed by a risk officer; only a risk officer may approve lifting it", what)
}

// ApprovalNeeds returns the actions a checker's role needs to approve r: the
// kind's approve action, plus staff.ActLiftRiskSuspension when r would lift a
// suspension imposed by a risk officer. Pages use it to offer the approve
// button; DecideApproval enforces the same rule. Errors: CodeNotFound,
// CodeInternal.
func (s *Service) ApprovalNeeds(ctx context.Context, r ApprovalRequest) ([]staff.Action, error) {
	g := s.db.WithContext(ctx)
	switch r.Kind {
	case KindGoLive:
		return []staff.Action{staff.ActGoLiveApprove}, nil
	case KindAppReinstate:
		var a App
		if err := g.Where("id = ?", r.AppID).Take(&a).Error; err != nil {
			if isNotFound(err) {
				return nil, notFound("app", r.AppID)
			}
			return nil, internal(err, "load app")
		}
		if a.Status == AppSuspended && riskSuspension(a.SuspendedByRole) {
			return []staff.Action{staff.ActReinstateApprove, staff.ActLiftRiskSuspension}, nil
		}
		return []staff.Action{staff.ActReinstateApprove}, nil
	default:
		p, err := s.loadPartner(g, r.PartnerID, false)
		if err != nil {
			return nil, err
		}
		if p.Status == StatusSuspended && riskSuspension(p.SuspendedByRole) {
			return []staff.Action{staff.ActReinstateApprove, staff.ActLiftRiskSuspension}, nil
		}
		return []staff.Action{staff.ActReinstateApprove}, nil
	}
}

// DecideApproval is the checker step of a maker-checker request. The checker
// needs the kind's approve action and must not be the maker. Approving go-live
// needs the partner certified, its latest certification run passed and, when
// a ContractChecker is set, an active contract. Approving reinstatement
// returns the partner to its previous status; approving an app reinstatement
// makes the app active again. Lifting a suspension a risk officer imposed
// (partner or app) needs a checker who may staff.ActLiftRiskSuspension (a risk
// officer). Errors: CodeNotFound, CodeForbidden, CodeMakerChecker,
// CodeInvalidState, CodeValidation (rejecting without reasons).
func (s *Service) DecideApproval(ctx context.Context, checkerStaffID, requestID string, approve bool, reasons string) error {
	reasons = strings.TrimSpace(reasons)
	if !approve && reasons == "" {
		return invalid("reasons are required to reject a request")
	}
	contracts := s.contracts
	// The contract check runs before the transaction: it reads another
	// package's tables and must not wait on this transaction's locks (SQLite
	// has one writer).
	hasContract := true
	if approve && contracts != nil {
		var r ApprovalRequest
		err := s.db.WithContext(ctx).Where("id = ?", requestID).Take(&r).Error
		if err != nil && !isNotFound(err) {
			return internal(err, "load approval request")
		}
		if err == nil && r.Kind == KindGoLive {
			if hasContract, err = contracts.HasActiveContract(ctx, r.PartnerID); err != nil {
				return internal(err, "check contract")
			}
		}
	}
	var partner, app string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var r ApprovalRequest
		if err := s.forUpdate(tx).Where("id = ?", requestID).Take(&r).Error; err != nil {
			if isNotFound(err) {
				return notFound("approval request", requestID)
			}
			return internal(err, "load approval request")
		}
		act := staff.ActGoLiveApprove
		if r.Kind == KindReinstate || r.Kind == KindAppReinstate {
			act = staff.ActReinstateApprove
		}
		checker, err := s.requireStaff(tx, checkerStaffID, act)
		if err != nil {
			return err
		}
		if r.RequestedBy == checkerStaffID {
			return problem.New(problem.CodeMakerChecker, "the %s request must be decided by another staff member than the one who made it", r.Kind)
		}
		if r.Status != ApprovalPending {
			return problem.New(problem.CodeInvalidState, "approval request %s is already %s", r.ID, r.Status)
		}
		p, err := s.loadPartner(tx, r.PartnerID, true)
		if err != nil {
			return err
		}
		partner = p.ID
		var a *App
		if r.Kind == KindAppReinstate {
			if a, err = s.appByID(tx, r.AppID); err != nil {
				return err
			}
			app = a.ID
		}
		if approve {
			switch r.Kind {
			case KindGoLive:
				if p.Status != StatusCertified {
					return invalidState("approve go-live", p.Status, StatusCertified)
				}
				var run CertificationRun
				err := tx.Where("partner_id = ?", p.ID).Order("started_at DESC, id DESC").Take(&run).Error
				if err != nil && !isNotFound(err) {
					return internal(err, "load certification")
				}
				if err != nil || run.Result != CertPassed {
					return problem.New(problem.CodeInvalidState, "cannot approve go-live: the latest certification run has not passed")
				}
				if !hasContract {
					return problem.New(problem.CodeInvalidState, "cannot approve go-live: the partner has no active contract")
				}
			case KindReinstate:
				if p.Status != StatusSuspended {
					return invalidState("reinstate", p.Status, StatusSuspended)
				}
				if riskSuspension(p.SuspendedByRole) && !staff.Can(checker.Role, staff.ActLiftRiskSuspension) {
					return liftRiskDetail("partner " + p.ID)
				}
			case KindAppReinstate:
				if a.Status != AppSuspended {
					return problem.New(problem.CodeInvalidState, "cannot reinstate app %s: it is %s", a.ID, a.Status)
				}
				if riskSuspension(a.SuspendedByRole) && !staff.Can(checker.Role, staff.ActLiftRiskSuspension) {
					return liftRiskDetail("app " + a.ID)
				}
			}
		}
		now := s.clock()
		status := ApprovalRejected
		if approve {
			status = ApprovalApproved
		}
		res := tx.Model(&ApprovalRequest{}).Where("id = ? AND status = ?", r.ID, ApprovalPending).Updates(map[string]any{
			"status": status, "decided_by": checkerStaffID, "decided_at": now, "reasons": reasons})
		if res.Error != nil {
			return internal(res.Error, "decide approval request")
		}
		details := map[string]any{"kind": r.Kind, "maker": r.RequestedBy, "reasons": reasons}
		switch {
		case a != nil:
			details["app_id"] = a.ID
			details["suspended_by"], details["suspended_by_role"] = a.SuspendedBy, string(a.SuspendedByRole)
		case r.Kind == KindReinstate:
			details["suspended_by"], details["suspended_by_role"] = p.SuspendedBy, string(p.SuspendedByRole)
		}
		if err := s.audit(ctx, tx, staffActor(checkerStaffID), "approval."+status, "approval_request", r.ID, p.ID, details); err != nil {
			return err
		}
		if !approve {
			return nil
		}
		switch r.Kind {
		case KindGoLive:
			return s.setStatus(ctx, tx, p, StatusLive, "", staffActor(checkerStaffID), "approve go-live", StatusCertified)
		case KindAppReinstate:
			if err := s.setAppStatus(ctx, tx, a, AppActive, "", staffActor(checkerStaffID)); err != nil {
				return err
			}
			return internal(tx.Model(&App{}).Where("id = ?", a.ID).
				Updates(map[string]any{"suspended_by": "", "suspended_by_role": ""}).Error, "clear app suspension")
		}
		if err := s.setStatus(ctx, tx, p, p.SuspendedFrom, "", staffActor(checkerStaffID), "reinstate", StatusSuspended); err != nil {
			return err
		}
		return internal(tx.Model(&Partner{}).Where("id = ?", p.ID).
			Updates(map[string]any{"suspended_by": "", "suspended_by_role": ""}).Error, "clear partner suspension")
	})
	if err != nil {
		return err
	}
	if partner != "" {
		s.cache.invalidatePartner(partner)
	}
	if app != "" {
		s.cache.invalidateApp(app)
	}
	return nil
}

// Approvals lists approval requests, optionally filtered by status, oldest first.
func (s *Service) Approvals(ctx context.Context, status string) ([]ApprovalRequest, error) {
	q := s.db.WithContext(ctx).Order("requested_at, id")
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var out []ApprovalRequest
	return out, internal(q.Find(&out).Error, "list approval requests")
}

// Suspend suspends a partner: no token is issued and no API call is served
// for any of its apps from this moment (on this node at once; on other nodes
// within the client cache TTL), and every token of its apps is revoked after
// commit. Errors: CodeForbidden, CodeNotFound, CodeValidation (no reason),
// CodeInvalidState (already suspended, terminated).
func (s *Service) Suspend(ctx context.Context, staffID, partnerID, reason string) error {
	return s.stopPartner(ctx, staffID, partnerID, reason, staff.ActSuspend, StatusSuspended, "suspend")
}

// Terminate ends a partnership for good (from any status but terminated);
// every token of its apps is revoked. Errors: as Suspend.
func (s *Service) Terminate(ctx context.Context, staffID, partnerID, reason string) error {
	return s.stopPartner(ctx, staffID, partnerID, reason, staff.ActTerminate, StatusTerminated, "terminate")
}

func (s *Service) stopPartner(ctx context.Context, staffID, partnerID, reason string, act staff.Action, to Status, op string) error {
	reason = strings.TrimSpace(reason)
	if err := checkLen("reason", reason, 1, 2000); err != nil {
		return err
	}
	var appIDs []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		st, err := s.requireStaff(tx, staffID, act)
		if err != nil {
			return err
		}
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if !CanTransition(p.Status, to) {
			return problem.New(problem.CodeInvalidState, "cannot %s: partner is %s", op, p.Status)
		}
		if err := s.setStatus(ctx, tx, p, to, reason, staffActor(staffID), op); err != nil {
			return err
		}
		if to == StatusSuspended {
			if err := tx.Model(&Partner{}).Where("id = ?", p.ID).
				Updates(map[string]any{"suspended_by": st.ID, "suspended_by_role": st.Role}).Error; err != nil {
				return internal(err, "record suspension")
			}
			if err := s.raiseRiskForSuspension(ctx, tx, p.ID, p.ID, reason, staffActor(staffID)); err != nil {
				return err
			}
		}
		if to == StatusTerminated {
			if err := s.closeApprovals(ctx, tx, partnerID, staffActor(staffID)); err != nil {
				return err
			}
		}
		return tx.Model(&App{}).Where("partner_id = ? AND status <> ?", partnerID, AppRevoked).Pluck("id", &appIDs).Error
	})
	if err != nil {
		return err
	}
	s.cache.invalidatePartner(partnerID)
	s.afterAppsChanged(ctx, appIDs...)
	return nil
}

// SuspendApp suspends one app (tokens revoked after commit, app.suspended
// published) and records who suspended it. Errors: CodeForbidden,
// CodeNotFound, CodeValidation, CodeInvalidState (not active).
func (s *Service) SuspendApp(ctx context.Context, staffID, appID, reason string) error {
	reason = strings.TrimSpace(reason)
	if err := checkLen("reason", reason, 1, 2000); err != nil {
		return err
	}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		st, err := s.requireStaff(tx, staffID, staff.ActSuspend)
		if err != nil {
			return err
		}
		a, err := s.appByID(tx, appID)
		if err != nil {
			return err
		}
		if a.Status != AppActive {
			return problem.New(problem.CodeInvalidState, "cannot suspend app %s: it is %s", a.ID, a.Status)
		}
		if err := s.setAppStatus(ctx, tx, a, AppSuspended, reason, staffActor(staffID)); err != nil {
			return err
		}
		if err := tx.Model(&App{}).Where("id = ?", a.ID).
			Updates(map[string]any{"suspended_by": st.ID, "suspended_by_role": st.Role}).Error; err != nil {
			return internal(err, "record app suspension")
		}
		return s.raiseRiskForSuspension(ctx, tx, a.PartnerID, a.ID, reason, staffActor(staffID))
	})
	if err != nil {
		return err
	}
	s.afterAppsChanged(ctx, appID)
	return nil
}

// RequestAppReinstate is the maker step of reinstating a suspended app; the
// checker step is DecideApproval (another staff member; a risk officer when a
// risk officer suspended the app). Errors: CodeForbidden, CodeNotFound,
// CodeValidation (no reason), CodeInvalidState (not suspended), CodeConflict
// (already pending).
func (s *Service) RequestAppReinstate(ctx context.Context, staffID, appID, reason string) (*ApprovalRequest, error) {
	reason = strings.TrimSpace(reason)
	if err := checkLen("reason", reason, 1, 2000); err != nil {
		return nil, err
	}
	var r *ApprovalRequest
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if _, err := s.requireStaff(tx, staffID, staff.ActReinstateRequest); err != nil {
			return err
		}
		a, err := s.appByID(tx, appID)
		if err != nil {
			return err
		}
		if a.Status != AppSuspended {
			return problem.New(problem.CodeInvalidState, "cannot reinstate app %s: it is %s", a.ID, a.Status)
		}
		r, err = s.createApproval(ctx, tx, KindAppReinstate, a.PartnerID, a.ID, staffID, reason)
		return err
	})
	return r, err
}

func (s *Service) appByID(tx *gorm.DB, appID string) (*App, error) {
	var a App
	if err := s.forUpdate(tx).Where("id = ?", appID).Take(&a).Error; err != nil {
		if isNotFound(err) {
			return nil, notFound("app", appID)
		}
		return nil, internal(err, "load app")
	}
	return &a, nil
}

// App returns any app by id (staff and internal callers), or CodeNotFound.
func (s *Service) App(ctx context.Context, appID string) (*App, error) {
	var a App
	if err := s.db.WithContext(ctx).Where("id = ?", appID).Take(&a).Error; err != nil {
		if isNotFound(err) {
			return nil, notFound("app", appID)
		}
		return nil, internal(err, "load app")
	}
	return &a, nil
}

// closeApprovals rejects a terminated partner's pending approval requests.
func (s *Service) closeApprovals(ctx context.Context, tx *gorm.DB, partnerID string, by actor) error {
	var pending []string
	if err := tx.Model(&ApprovalRequest{}).Where("partner_id = ? AND status = ?", partnerID, ApprovalPending).
		Pluck("id", &pending).Error; err != nil {
		return internal(err, "list approval requests")
	}
	for _, id := range pending {
		if err := tx.Model(&ApprovalRequest{}).Where("id = ?", id).Updates(map[string]any{
			"status": ApprovalRejected, "reasons": "partner terminated", "decided_by": by.id, "decided_at": s.clock()}).Error; err != nil {
			return internal(err, "close approval request")
		}
		if err := s.audit(ctx, tx, by, "approval.rejected", "approval_request", id, partnerID,
			map[string]any{"reasons": "partner terminated"}); err != nil {
			return err
		}
	}
	return nil
}
