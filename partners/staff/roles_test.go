package staff

import (
	"reflect"
	"testing"
)

// TestTable pins THE staff permission table: for every role and every
// action, the expected grant. A change to a grant must change this table.
func TestTable(t *testing.T) {
	const (
		Y = true
		N = false
	)
	// Columns: admin, partner_manager, risk_officer, finance, auditor, system.
	golden := map[Action][6]bool{
		ActPartnersRead:       {Y, Y, Y, Y, Y, N},
		ActApplicationsReview: {Y, Y, N, N, N, N},
		ActApplicationsDecide: {Y, Y, N, N, N, N},
		ActDueDiligence:       {Y, N, Y, N, N, N},
		ActCertification:      {Y, Y, Y, N, N, N},
		ActGoLiveRequest:      {Y, Y, N, N, N, N},
		ActGoLiveApprove:      {Y, N, Y, N, N, N},
		ActSuspend:            {Y, Y, Y, N, N, N},
		ActReinstateRequest:   {Y, Y, N, N, N, N},
		ActReinstateApprove:   {Y, Y, Y, N, N, N},
		ActLiftRiskSuspension: {Y, N, Y, N, N, N},
		ActTerminate:          {Y, Y, N, N, N, N},
		ActAuditRead:          {Y, N, Y, N, Y, N},
		ActStaffManage:        {Y, N, N, N, N, N},
		ActMonitoringRead:     {Y, Y, Y, N, N, N}, // operations, not finance or audit (issue 15)
		ActReviewsRead:        {Y, Y, Y, N, Y, N}, // performance reviews (issue 15 item 4)
		ActReviewsDraft:       {Y, Y, N, N, N, N}, // the maker
		ActReviewsApprove:     {Y, N, Y, N, N, N}, // the checker
		ActScreening:          {Y, N, Y, N, N, N}, // sanctions screening: risk officers (issue 16)
		ActContractsRead:      {Y, Y, Y, Y, Y, Y}, // every role (risk_officer included since issue 12)
		ActContractsDraft:     {Y, Y, N, Y, N, N},
		ActContractsEdit:      {Y, N, N, Y, N, N},
		ActContractsSubmit:    {Y, Y, N, Y, N, N},
		ActContractsApprove:   {Y, N, N, Y, N, N},
		ActContractsReject:    {Y, N, N, Y, N, N},
		ActContractsTerminate: {Y, N, N, Y, N, N},
		ActAdjustmentsIssue:   {Y, N, N, Y, N, N},
		ActCreditNotesDecide:  {Y, N, N, Y, N, N},
		ActPostingsReverse:    {Y, N, N, Y, N, N},
		ActSettlementsRun:     {Y, N, N, Y, N, Y},
		ActSettlementsRead:    {Y, N, N, Y, Y, N},
		ActSettlementsWrite:   {Y, N, N, Y, N, N},
		ActPlansManage:        {Y, N, N, Y, N, N},
		ActLimitsRead:         {Y, N, Y, N, Y, N}, // risk officers and admins; auditors read-only (issue 16)
		ActLimitsPropose:      {Y, N, Y, N, N, N},
		ActLimitsApprove:      {Y, N, Y, N, N, N},
		ActRiskCasesRead:      {Y, N, Y, N, N, Y}, // issue 16: admin (and the CLI) read the queue…
		ActRiskCasesDecide:    {N, N, Y, N, N, N}, // …only risk officers release or reject
		ActSARFile:            {N, N, Y, N, N, N}, // suspicious activity reports: risk officers only
		ActSARRead:            {N, N, Y, N, N, Y}, // (and the CLI's export)
		ActReconRead:          {Y, N, N, Y, Y, N}, // reconciliation breaks (issue 17): finance works them…
		ActReconResolve:       {Y, N, N, Y, N, N}, // …auditors read
		ActComplaintsRead:     {Y, Y, Y, N, Y, N}, // customers' complaints (issue 17): operations and risk handle, auditors read
		ActComplaintsHandle:   {Y, Y, Y, N, N, N},
		ActCorrectionsRead:    {Y, Y, Y, Y, Y, N}, // refunds and reversals (issue 17 item 2)
		ActCorrectionsRaise:   {Y, Y, N, Y, N, N}, // the maker: partner managers, finance
		ActCorrectionsApprove: {Y, N, Y, Y, N, N}, // the checker (never the maker): risk officers, finance
		ActExitPropose:        {Y, Y, N, N, N, N}, // ending a partnership (issue 17 item 5): the maker…
		ActExitApprove:        {Y, Y, N, N, N, N}, // …and another as the checker
	}
	if len(golden) != len(Actions) {
		t.Fatalf("fail/golden-covers-actions: golden has %d actions, Actions %d", len(golden), len(Actions))
	}
	for _, a := range Actions {
		row, ok := golden[a]
		if !ok {
			t.Fatalf("fail/golden-covers-actions: %q missing from the golden table", a)
		}
		for i, r := range Roles {
			if got := Can(r, a); got != row[i] {
				t.Errorf("fail/grant: Can(%s, %q) = %v, want %v", r, a, got, row[i])
			}
		}
	}
	for _, tc := range []struct {
		name string
		role Role
	}{
		{"fail/unknown-role", "janitor"},
		{"fail/member-role", "owner"},
		{"fail/empty-role", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range Actions {
				if Can(tc.role, a) {
					t.Errorf("Can(%q, %q) = true", tc.role, a)
				}
			}
			if got := Capabilities(tc.role); len(got) != 0 {
				t.Errorf("Capabilities(%q) = %v", tc.role, got)
			}
		})
	}
	t.Run("ok/capabilities-follow-the-table", func(t *testing.T) {
		for i, r := range Roles {
			var want []Action
			for _, a := range Actions {
				if golden[a][i] {
					want = append(want, a)
				}
			}
			if got := Capabilities(r); !reflect.DeepEqual(got, want) {
				t.Errorf("Capabilities(%s) = %v, want %v", r, got, want)
			}
		}
	})
}

func TestAssignable(t *testing.T) {
	for _, tc := range []struct {
		name string
		role Role
		want bool
	}{
		{"ok/admin", RoleAdmin, true},
		{"ok/partner-manager", RolePartnerManager, true},
		{"ok/risk-officer", RoleRiskOfficer, true},
		{"ok/finance", RoleFinance, true},
		{"ok/auditor", RoleAuditor, true},
		{"fail/system", RoleSystem, false},
		{"fail/owner", "owner", false},
		{"fail/empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.role.Assignable(); got != tc.want {
				t.Fatalf("Assignable(%q) = %v, want %v", tc.role, got, tc.want)
			}
		})
	}
}
