package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestConsoleContractsByRole: every staff role reads contracts in the console
// (risk_officer included, as contracts.CanRead promises), and each control
// shows exactly for the roles staff.Can grants its action.
func TestConsoleContractsByRole(t *testing.T) {
	e, cs := newConsoleEnv(t, nil)
	ctx := context.Background()
	adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
	_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
	terms, err := defaultTermsForm(pid, time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)).terms()
	if err != nil {
		t.Fatal(err)
	}
	maker := contracts.Actor{ID: admin.Staff.ID, Role: staff.RoleAdmin}
	draft, err := cs.Draft(ctx, maker, pid, terms)
	if err != nil {
		t.Fatal(err)
	}
	_, pid2 := e.livePartner("owner@shop.example", "Shop Ltd")
	pending, err := cs.Draft(ctx, maker, pid2, terms)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Submit(ctx, maker, pending.ID); err != nil {
		t.Fatal(err)
	}
	browsers := map[staff.Role]*browser{staff.RoleAdmin: adminB}
	for _, r := range []staff.Role{staff.RolePartnerManager, staff.RoleRiskOfficer, staff.RoleFinance, staff.RoleAuditor} {
		browsers[r], _ = e.staffBrowser(admin.Staff.ID, string(r)+"@bank.example", r)
	}
	for _, tc := range []struct {
		name    string
		role    staff.Role
		draft   bool // "Draft a contract"
		submit  bool // submit on the draft
		edit    bool // "Edit terms" on the draft
		approve bool // approve / send back on the pending one
	}{
		{"ok/admin", staff.RoleAdmin, true, true, true, true},
		{"ok/partner-manager", staff.RolePartnerManager, true, true, false, false},
		{"ok/risk-officer-reads-contracts", staff.RoleRiskOfficer, false, false, false, false},
		{"ok/finance", staff.RoleFinance, true, true, true, true},
		{"ok/auditor", staff.RoleAuditor, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := browsers[tc.role]
			status, body := b.get("/console/contracts")
			want(t, tc.name+"/list", status, body, 200, draft.ID, pending.ID, `href="/console/contracts"`)
			shows(t, tc.name+"/draft-button", body, "Draft a contract</a>", tc.draft)
			status, body = b.get("/console/contracts/" + draft.ID)
			want(t, tc.name+"/draft-detail", status, body, 200, "Contract <code>"+draft.ID+"</code>")
			shows(t, tc.name+"/submit", body, `id="submit-contract"`, tc.submit)
			shows(t, tc.name+"/edit-terms", body, "Edit terms", tc.edit)
			status, body = b.get("/console/contracts/" + pending.ID)
			want(t, tc.name+"/pending-detail", status, body, 200, "waiting for approval")
			shows(t, tc.name+"/approve", body, `id="approve-contract"`, tc.approve)
			shows(t, tc.name+"/send-back", body, "Send back", tc.approve)
		})
	}
	t.Run("fail/risk-officer-submits", func(t *testing.T) {
		status, body := browsers[staff.RoleRiskOfficer].post("/console/contracts/"+draft.ID+"/submit", nil)
		want(t, "fail/risk-officer-submits", status, body, 403, `may not submit contracts.`)
	})
}

// shows fails unless body contains text exactly when want is true.
func shows(t *testing.T, name, body, text string, want bool) {
	t.Helper()
	if got := strings.Contains(body, text); got != want {
		t.Fatalf("%s: page shows %q = %v, want %v:\n%s", name, text, got, want, body)
	}
}
