package partners

import "github.com/bankbridge/bankbridge/internal/environment"

// Action is something a partner member (portal user) may be allowed to do.
// Staff actions are staff.Action.
type Action string

// Member actions (portal).
const (
	ActOrgRead           Action = "org.read"
	ActOrgUpdate         Action = "org.update"
	ActApplicationSubmit Action = "application.submit"
	ActTeamManage        Action = "team.manage"
	ActAppsRead          Action = "apps.read"
	ActAppsSandbox       Action = "apps.write.sandbox"    // create/update/rotate/revoke sandbox apps
	ActAppsProduction    Action = "apps.write.production" // the same for production apps
	// ActContractDocuments is downloading the contract's signed agreements.
	ActContractDocuments Action = "contract.documents"
	// ActComplaintsAnswer is answering a customer's complaint about one of
	// the partner's payments (package complaints); every member reads them.
	ActComplaintsAnswer Action = "complaints.answer"
)

// MemberActions lists every member action (owner may do all of them).
var MemberActions = []Action{ActOrgRead, ActOrgUpdate, ActApplicationSubmit, ActTeamManage, ActAppsRead,
	ActAppsSandbox, ActAppsProduction, ActContractDocuments, ActComplaintsAnswer}

// capabilities is the member role → actions table. Owner is filled from
// MemberActions in init. (The staff table is staff.Can's.)
var capabilities = map[Role][]Action{
	RoleDeveloper: {ActOrgRead, ActAppsRead, ActAppsSandbox, ActComplaintsAnswer},
	RoleViewer:    {ActOrgRead, ActAppsRead},
}

var can = map[Role]map[Action]bool{}

func init() {
	capabilities[RoleOwner] = MemberActions
	for r, acts := range capabilities {
		can[r] = map[Action]bool{}
		for _, a := range acts {
			can[r][a] = true
		}
	}
}

// Can reports whether member role may perform member action. Unknown roles
// (staff roles included) may do nothing.
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
