package partners

import "github.com/bankbridge/bankbridge/internal/environment"

// Action is something a staff member or a partner member may be allowed to do.
type Action string

// Staff actions (console).
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
	ActContractsRead      Action = "contracts.read"
	ActContractsWrite     Action = "contracts.write"
	ActSettlementsRead    Action = "settlements.read"
	ActSettlementsWrite   Action = "settlements.write"
	ActAuditRead          Action = "audit.read"
	ActStaffManage        Action = "staff.manage"
)

// Member actions (portal).
const (
	ActOrgRead           Action = "org.read"
	ActOrgUpdate         Action = "org.update"
	ActApplicationSubmit Action = "application.submit"
	ActTeamManage        Action = "team.manage"
	ActAppsRead          Action = "apps.read"
	ActAppsSandbox       Action = "apps.write.sandbox"    // create/update/rotate/revoke sandbox apps
	ActAppsProduction    Action = "apps.write.production" // the same for production apps
)

// StaffActions lists every staff action (admin may do all of them).
var StaffActions = []Action{ActPartnersRead, ActApplicationsReview, ActApplicationsDecide, ActDueDiligence,
	ActCertification, ActGoLiveRequest, ActGoLiveApprove, ActSuspend, ActReinstateRequest, ActReinstateApprove,
	ActLiftRiskSuspension, ActTerminate, ActContractsRead, ActContractsWrite, ActSettlementsRead, ActSettlementsWrite, ActAuditRead,
	ActStaffManage}

// MemberActions lists every member action (owner may do all of them).
var MemberActions = []Action{ActOrgRead, ActOrgUpdate, ActApplicationSubmit, ActTeamManage, ActAppsRead,
	ActAppsSandbox, ActAppsProduction}

// capabilities is the role → actions table. Admin and owner are filled from
// StaffActions and MemberActions in init.
var capabilities = map[Role][]Action{
	RolePartnerManager: {ActPartnersRead, ActApplicationsReview, ActApplicationsDecide, ActCertification,
		ActGoLiveRequest, ActSuspend, ActReinstateRequest, ActReinstateApprove, ActTerminate, ActContractsRead},
	RoleRiskOfficer: {ActPartnersRead, ActDueDiligence, ActCertification, ActGoLiveApprove, ActSuspend,
		ActReinstateApprove, ActLiftRiskSuspension, ActAuditRead},
	RoleFinance: {ActPartnersRead, ActContractsRead, ActContractsWrite, ActSettlementsRead, ActSettlementsWrite},
	RoleAuditor: {ActPartnersRead, ActContractsRead, ActSettlementsRead, ActAuditRead},

	RoleDeveloper: {ActOrgRead, ActAppsRead, ActAppsSandbox},
	RoleViewer:    {ActOrgRead, ActAppsRead},
}

var can = map[Role]map[Action]bool{}

func init() {
	capabilities[RoleAdmin] = StaffActions
	capabilities[RoleOwner] = MemberActions
	for r, acts := range capabilities {
		can[r] = map[Action]bool{}
		for _, a := range acts {
			can[r][a] = true
		}
	}
}

// Can reports whether role may perform action. Unknown roles may do nothing.
func Can(role Role, action Action) bool { return can[role][action] }

// Capabilities returns the actions role may perform (for pages that show or
// hide controls).
func Capabilities(role Role) []Action {
	return append([]Action(nil), capabilities[role]...)
}

// appAction is the member action needed to change an app of env.
func appAction(env environment.Environment) Action {
	if env == "production" {
		return ActAppsProduction
	}
	return ActAppsSandbox
}
