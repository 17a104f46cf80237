package staff

import (
	"slices"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Role is a staff role: a person at the bank (admin, partner_manager,
// risk_officer, finance, auditor) or the platform itself (system). Member
// (portal) roles are partners.Role.
type Role string

// The staff roles a person may hold.
const (
	RoleAdmin          Role = "admin"
	RolePartnerManager Role = "partner_manager"
	RoleRiskOfficer    Role = "risk_officer"
	RoleFinance        Role = "finance"
	RoleAuditor        Role = "auditor"
)

// RoleSystem is the role of the platform's own jobs (expiry, settlement from
// the CLI or the scheduler). It has grants in the table but is never
// assignable to a person (Assignable is false).
const RoleSystem Role = "system"

// Roles lists every staff role in the table, the assignable ones first.
var Roles = []Role{RoleAdmin, RolePartnerManager, RoleRiskOfficer, RoleFinance, RoleAuditor, RoleSystem}

// Assignable reports whether r is a role a staff account may hold (every
// role but RoleSystem).
func (r Role) Assignable() bool {
	switch r {
	case RoleAdmin, RolePartnerManager, RoleRiskOfficer, RoleFinance, RoleAuditor:
		return true
	}
	return false
}

// Action is something a staff role may be allowed to do. Its string is the
// phrase refusals show ("role auditor may not partners.suspend",
// `role "auditor" may not terminate contracts`).
type Action string

// Partner lifecycle actions (the console's partner pages; partners enforces them).
const (
	ActPartnersRead       Action = "partners.read"
	ActApplicationsReview Action = "applications.review" // start a review
	ActApplicationsDecide Action = "applications.decide" // approve / reject an application
	ActDueDiligence       Action = "due_diligence.record"
	ActCertification      Action = "certification.record"
	ActGoLiveRequest      Action = "go_live.request" // maker
	ActGoLiveApprove      Action = "go_live.approve" // checker
	ActSuspend            Action = "partners.suspend"
	ActReinstateRequest   Action = "partners.reinstate.request" // maker
	ActReinstateApprove   Action = "partners.reinstate.approve" // checker
	// ActLiftRiskSuspension is what a checker also needs to reinstate a
	// partner or an app that a risk officer suspended.
	ActLiftRiskSuspension Action = "suspensions.lift_risk"
	ActTerminate          Action = "partners.terminate"
	ActAuditRead          Action = "audit.read"
	ActStaffManage        Action = "staff.manage"
	// ActMonitoringRead is the console's Monitoring section: partners' and
	// apps' traffic, errors, latency, quota refusals, webhook health and the
	// published API availability statistics (no customer data).
	ActMonitoringRead Action = "monitoring.read"
	// ActReviewsRead, ActReviewsDraft and ActReviewsApprove are quarterly
	// partner performance reviews (monitoring/reviews): see them; draft,
	// rate and submit one (the maker); sign off or send back a submitted
	// one (the checker, never the maker). Publishing feeds the partner's
	// risk rating.
	ActReviewsRead    Action = "reviews.read"
	ActReviewsDraft   Action = "reviews.draft"
	ActReviewsApprove Action = "reviews.approve"
	// ActScreening is the console's Screening page: the imported sanctions
	// and watch lists (counts, when, file hash) and screening a name against
	// them with the matches explained (risk/screening).
	ActScreening Action = "screening.use"
	// ActExitPropose and ActExitApprove end a partnership (partners/exit):
	// propose a termination with its effective date and reason, or cancel
	// one before that date (the maker); approve or reject another's
	// proposal (the checker, never the maker).
	ActExitPropose Action = "exits.propose"
	ActExitApprove Action = "exits.approve"
)

// Contract, ledger and settlement actions (contracts enforces them; the
// console shows or hides controls by them).
const (
	ActContractsRead      Action = "read contracts" // contracts, statements, the ledger and plans
	ActContractsDraft     Action = "draft contracts"
	ActContractsEdit      Action = "edit contracts"
	ActContractsSubmit    Action = "submit contracts"
	ActContractsApprove   Action = "approve contracts"
	ActContractsReject    Action = "reject contracts"
	ActContractsTerminate Action = "terminate contracts"
	ActAdjustmentsIssue   Action = "issue adjustments"
	ActCreditNotesDecide  Action = "approve credit notes" // approve or reject a credit note over the limit
	ActPostingsReverse    Action = "reverse postings"
	ActSettlementsRun     Action = "run settlements"
	// ActSettlementsRead and ActSettlementsWrite are the console's billing
	// pages (usage, statements, settlement runs): see and change.
	ActSettlementsRead  Action = "settlements.read"
	ActSettlementsWrite Action = "settlements.write"
	// ActPlansManage is changing plans and plan assignments (partners/plans).
	ActPlansManage Action = "plans.manage"
)

// Payment limits (risk/limits enforces them; the console's Limits page shows
// or hides controls by them): see the rules, propose a change (maker),
// approve or reject another's proposal (checker).
const (
	ActLimitsRead    Action = "limits.read"
	ActLimitsPropose Action = "limits.propose"
	ActLimitsApprove Action = "limits.approve"
)

// Risk controls (package risk enforces them; issue 16).
const (
	// ActRiskCasesRead is the console's Risk cases queue and case pages.
	ActRiskCasesRead Action = "risk_cases.read"
	// ActRiskCasesDecide is releasing or rejecting a held payment (and
	// proposing or approving under dual control). Only risk officers: an
	// admin reads the queue but does not decide (adminWithout).
	ActRiskCasesDecide Action = "risk_cases.decide"
	// ActSARFile and ActSARRead are filing a suspicious activity report from
	// a case and reading or exporting reports: risk officers only (the
	// CLI's export runs as system), not admins.
	ActSARFile Action = "sars.file"
	ActSARRead Action = "sars.read"
)

// Partner payment reconciliation (package recon; issue 17 item 1): the
// console's Reconciliation breaks list and break pages, and finance's
// workflow on them (assign, resolve, reopen, recompute a day, close a day).
const (
	ActReconRead    Action = "recon_breaks.read"
	ActReconResolve Action = "recon_breaks.resolve"
)

// Complaints of customers about payments made through partners (package
// complaints enforces them; issue 17): see the cases; take one, add notes,
// reject one with reasons (a refund is a correction, with its own actions).
const (
	ActComplaintsRead   Action = "complaints.read"
	ActComplaintsHandle Action = "complaints.handle"
)

// Corrections: refunds and reversals of accepted payments (package
// corrections enforces them; issue 17 item 2). One staff member raises
// (or a partner requests), a different one approves or rejects.
const (
	ActCorrectionsRead    Action = "corrections.read"
	ActCorrectionsRaise   Action = "corrections.raise"
	ActCorrectionsApprove Action = "corrections.approve"
)

// Actions lists every staff action; admin may do all of them but adminWithout.
var Actions = []Action{ActPartnersRead, ActApplicationsReview, ActApplicationsDecide, ActDueDiligence,
	ActCertification, ActGoLiveRequest, ActGoLiveApprove, ActSuspend, ActReinstateRequest, ActReinstateApprove,
	ActLiftRiskSuspension, ActTerminate, ActAuditRead, ActStaffManage, ActMonitoringRead, ActScreening,
	ActReviewsRead, ActReviewsDraft, ActReviewsApprove,
	ActContractsRead, ActContractsDraft, ActContractsEdit, ActContractsSubmit, ActContractsApprove, ActContractsReject,
	ActContractsTerminate, ActAdjustmentsIssue, ActCreditNotesDecide, ActPostingsReverse, ActSettlementsRun,
	ActSettlementsRead, ActSettlementsWrite, ActPlansManage, ActLimitsRead, ActLimitsPropose, ActLimitsApprove,
	ActRiskCasesRead, ActRiskCasesDecide, ActSARFile, ActSARRead, ActReconRead, ActReconResolve, ActComplaintsRead, ActComplaintsHandle,
	ActCorrectionsRead, ActCorrectionsRaise, ActCorrectionsApprove, ActExitPropose, ActExitApprove}

// adminWithout are the actions an admin does not have (every other one is
// theirs): deciding risk cases and suspicious activity reports are the risk
// officers' alone.
var adminWithout = []Action{ActRiskCasesDecide, ActSARFile, ActSARRead}

// grants is THE staff role → action table (admin is every action but
// adminWithout, filled in init). Every role reads contracts.
var grants = map[Role][]Action{
	RolePartnerManager: {ActPartnersRead, ActApplicationsReview, ActApplicationsDecide, ActCertification,
		ActGoLiveRequest, ActSuspend, ActReinstateRequest, ActReinstateApprove, ActTerminate, ActMonitoringRead,
		ActReviewsRead, ActReviewsDraft, ActComplaintsRead, ActComplaintsHandle,
		ActContractsRead, ActContractsDraft, ActContractsSubmit,
		ActCorrectionsRead, ActCorrectionsRaise, ActExitPropose, ActExitApprove},
	RoleRiskOfficer: {ActPartnersRead, ActDueDiligence, ActCertification, ActGoLiveApprove, ActSuspend,
		ActReinstateApprove, ActLiftRiskSuspension, ActAuditRead, ActMonitoringRead, ActScreening,
		ActReviewsRead, ActReviewsApprove,
		ActContractsRead, ActLimitsRead, ActLimitsPropose, ActLimitsApprove,
		ActRiskCasesRead, ActRiskCasesDecide, ActSARFile, ActSARRead, ActComplaintsRead, ActComplaintsHandle,
		ActCorrectionsRead, ActCorrectionsApprove},
	RoleFinance: {ActPartnersRead,
		ActContractsRead, ActContractsDraft, ActContractsEdit, ActContractsSubmit, ActContractsApprove, ActContractsReject,
		ActContractsTerminate, ActAdjustmentsIssue, ActCreditNotesDecide, ActPostingsReverse, ActSettlementsRun,
		ActSettlementsRead, ActSettlementsWrite, ActPlansManage, ActReconRead, ActReconResolve,
		ActCorrectionsRead, ActCorrectionsRaise, ActCorrectionsApprove},
	RoleAuditor: {ActPartnersRead, ActAuditRead, ActReviewsRead, ActContractsRead, ActSettlementsRead, ActLimitsRead,
		ActReconRead, ActComplaintsRead, ActCorrectionsRead},
	RoleSystem: {ActContractsRead, ActSettlementsRun, ActRiskCasesRead, ActSARRead}, // the CLI's `risk cases`, `risk sar export`
}

var can = map[Role]map[Action]bool{}

func init() {
	for _, a := range Actions {
		if !slices.Contains(adminWithout, a) {
			grants[RoleAdmin] = append(grants[RoleAdmin], a)
		}
	}
	for r, acts := range grants {
		can[r] = map[Action]bool{}
		for _, a := range acts {
			can[r][a] = true
		}
	}
}

// Can reports whether role may perform action. Unknown roles may do nothing.
func Can(role Role, action Action) bool { return can[role][action] }

// Capabilities returns the actions role may perform, in Actions order (for
// pages that show or hide controls).
func Capabilities(role Role) []Action {
	var out []Action
	for _, a := range Actions {
		if can[role][a] {
			out = append(out, a)
		}
	}
	return out
}

// Authorize is the one refusal of the role table: CodeForbidden "an actor
// is required to <what>" without an actor id, "role "<role>" may not
// <what>" when Can(role, what) is false; nil otherwise.
func Authorize(actorID string, role Role, what Action) error {
	if actorID == "" {
		return problem.New(problem.CodeForbidden, "an actor is required to %s", what)
	}
	if !Can(role, what) {
		return problem.New(problem.CodeForbidden, "role %q may not %s", role, what)
	}
	return nil
}
