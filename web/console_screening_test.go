package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk/screening"
)

const screeningCSV = "name,list,reference\nNorthern Star Shipping LLC,uk-test,15002\nСеверная Звезда,uk-test,15002\nJosé Fernández García,internal-watch,W-1\n"

// TestConsoleScreening: on both engines, risk officers and admins get the
// Screening page (the imported lists with count, time, importer and file
// hash; a name screened with its matches explained); other roles get
// neither the entry nor the page; an empty name and a stale form are
// refused with their messages. The partner page shows the matches of the
// legal name while the partner is under review, to the staff who record
// due diligence, and nowhere else.
func TestConsoleScreening(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			ctx := context.Background()
			e, _ := consoleEnvOn(t, eng.Open(t), nil, nil)
			_, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			imps, err := e.screening.Import(ctx, screening.ImportInput{Format: screening.FormatCSV, File: []byte(screeningCSV),
				ActorType: audit.ActorSystem, ActorID: "operator:ops"})
			if err != nil {
				t.Fatal(err)
			}
			browsers := map[staff.Role]*browser{}
			for _, tc := range []struct {
				name string
				role staff.Role
				ok   bool
			}{
				{"ok/admin", staff.RoleAdmin, true},
				{"ok/risk-officer", staff.RoleRiskOfficer, true},
				{"fail/partner-manager", staff.RolePartnerManager, false},
				{"fail/finance", staff.RoleFinance, false},
				{"fail/auditor", staff.RoleAuditor, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					b, _ := e.staffBrowser(admin.Staff.ID, string(tc.role)+"-"+eng.Name+"@bank.example", tc.role)
					browsers[tc.role] = b
					_, home := b.get("/console/partners")
					shows(t, tc.name+"/nav", home, `<a href="/console/screening">Screening</a>`, tc.ok)
					if !tc.ok {
						status, body := b.get("/console/screening")
						want(t, tc.name+"/page", status, body, http.StatusForbidden, "<h1>Not allowed</h1>",
							"Role "+string(tc.role)+" may not screening.use.")
						status, body = b.post("/console/screening/test", url.Values{"name": {"Northern Star"}})
						want(t, tc.name+"/test", status, body, http.StatusForbidden, "Role "+string(tc.role)+" may not screening.use.")
						return
					}
					status, body := b.get("/console/screening")
					want(t, tc.name+"/page", status, body, http.StatusOK, `<a href="/console/screening" aria-current="page">Screening</a>`,
						`<th scope="row" data-label="List">internal-watch</th>`+"\n    "+`<td data-label="Entries">1</td>`,
						`<td data-label="By">operator:ops</td>`, `<code class="hash">`+imps[0].FileSHA256+`</code>`,
						"similarity of 0.920 or more")
					status, body = b.post("/console/screening/test", url.Values{"name": {"Severnaya Zvezda"}})
					want(t, tc.name+"/match", status, body, http.StatusOK, "<strong>1 match</strong> for “Severnaya Zvezda”.",
						`<td data-label="List">uk-test</td>`, `<td data-label="Reference">15002</td>`,
						`<td data-label="Entry">Northern Star Shipping LLC`, `Северная Звезда<br><span class="muted">alias (alias)</span>`,
						`<code>severnaya zvezda</code> ↔ <code>severnaya zvezda</code>`, "<strong>1.000</strong>")
					status, body = b.post("/console/screening/test", url.Values{"name": {"Garcia, Jose Fernandes"}})
					want(t, tc.name+"/explained", status, body, http.StatusOK, `<td data-label="Reference">W-1</td>`,
						`<code>garcia jose fernandes</code> ↔ <code>jose fernandez garcia</code>`, "primary name")
					status, body = b.post("/console/screening/test", url.Values{"name": {"Acme Widgets"}})
					want(t, tc.name+"/no-match", status, body, http.StatusOK, `<p id="no-match">No match for “Acme Widgets”.</p>`)
					status, body = b.post("/console/screening/test", url.Values{"name": {"  "}})
					want(t, tc.name+"/empty", status, body, http.StatusUnprocessableEntity, "The name to screen is empty.")
					status, body = b.postNoCSRF("/console/screening/test", url.Values{"name": {"Northern Star"}})
					want(t, tc.name+"/csrf", status, body, http.StatusForbidden, "<h1>Form expired</h1>")
				})
			}

			// The partner page at due diligence.
			owner, pid := e.verifiedUser("owner@zvezda.example", "Zvezda Payments")
			if _, err := e.svc.SubmitApplication(ctx, owner, pid, partners.Application{LegalName: "Severnaya Zvezda Ltd", CompanyNumber: "12345678",
				Country: "GB", Website: "https://zvezda.example", IntendedUse: "Payment initiation for marketplace sellers",
				ContactName: "Owner", ContactEmail: "owner@zvezda.example"}); err != nil {
				t.Fatal(err)
			}
			_, clean := e.verifiedUser("owner@clean.example", "Clean Ltd")
			_, body := browsers[staff.RoleRiskOfficer].get("/console/partners/" + pid)
			shows(t, "ok/risk-officer-before-review", body, `id="partner-screening"`, false)
			if err := e.svc.StartReview(ctx, admin.Staff.ID, pid); err != nil {
				t.Fatal(err)
			}
			status, body := browsers[staff.RoleRiskOfficer].get("/console/partners/" + pid)
			want(t, "ok/risk-officer-under-review", status, body, http.StatusOK, `id="partner-screening"`,
				`<span class="badge bad">1 match</span> for the legal name “Severnaya Zvezda Ltd”`,
				`<td data-label="Reference">15002</td>`, `<code>severnaya zvezda</code> ↔ <code>severnaya zvezda</code>`)
			if strings.Contains(body, `action="/console/screening`) {
				t.Fatal("the partner page's screening is not read-only")
			}
			_, body = browsers[staff.RoleAdmin].get("/console/partners/" + pid)
			shows(t, "ok/admin-under-review", body, "1 match</span> for the legal name", true)
			_, body = browsers[staff.RolePartnerManager].get("/console/partners/" + pid)
			shows(t, "fail/partner-manager-under-review", body, `id="partner-screening"`, false)
			_, body = browsers[staff.RoleRiskOfficer].get("/console/partners/" + clean)
			shows(t, "ok/not-under-review", body, `id="partner-screening"`, false)
		})
	}
}
