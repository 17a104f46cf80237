package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// reviewsNow is the clock of the review pages' tests: 2026-Q3 is complete.
var reviewsNow = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

// reviewsEnvOn serves the console and the portal with their review pages on d.
func reviewsEnvOn(t *testing.T, d *db.DB) (*pagesEnv, *reviews.Service) {
	t.Helper()
	secrets.PasswordCost = 4
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return reviewsNow }
	svc, err := partners.New(partners.Config{DB: d, Box: box, PortalURL: "https://bank.example/portal",
		RegistrationURL: "https://bank.example/register"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := reviews.New(reviews.Config{Store: reviews.NewGormStore(d), Figures: monitoring.New(monitoring.NewGormStore(d), clock),
		Statements: contracts.New(d, contracts.Options{}), Staff: svc.Staff(), Partners: svc, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gin.SetMode(gin.TestMode)
	r := gin.New()
	pages, sessions := MustRenderer(), &Sessions{DB: d.DB}
	console := &Console{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Reviews: rs, Log: log}
	console.Register(r)
	portal := &Portal{Pages: pages, Sessions: sessions, Partners: svc, DB: d.DB, Log: log}
	portal.Register(r)
	(&ConsoleReviews{Console: console, Reviews: rs, Now: clock}).Register(r)
	(&PortalReviews{Portal: portal, Reviews: rs}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return &pagesEnv{t: t, d: d, svc: svc, srv: srv, log: log}, rs
}

// TestConsoleAndPortalReviews: on both engines, who sees the Reviews pages
// and controls (role-gated; the service refuses the same), readable
// refusals on the pages (role, CSRF, quarter, rating, incomplete, maker
// signing off their own), the sign-off, the risk rating on the partner
// page, and the portal: published reviews only, without internal notes,
// another partner's review and a draft are 404.
func TestConsoleAndPortalReviews(t *testing.T) {
	for _, eng := range dbtest.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e, rs := reviewsEnvOn(t, eng.Open(t))
			adminB, admin := e.staffBrowser("", "admin@bank.example", staff.RoleAdmin)
			pm, _ := e.staffBrowser(admin.Staff.ID, "pm@bank.example", staff.RolePartnerManager)
			risk, _ := e.staffBrowser(admin.Staff.ID, "risk@bank.example", staff.RoleRiskOfficer)
			auditor, _ := e.staffBrowser(admin.Staff.ID, "auditor@bank.example", staff.RoleAuditor)
			finance, _ := e.staffBrowser(admin.Staff.ID, "finance@bank.example", staff.RoleFinance)
			_, pid := e.livePartner("owner@wallet.example", "Wallet Ltd")
			_, otherPID := e.livePartner("owner@other.example", "Other Ltd")
			partnerReviews := "/console/partners/" + pid + "/reviews"

			// Who sees what.
			for _, tc := range []struct {
				name     string
				b        *browser
				nav      bool
				canDraft bool
			}{
				{"ok/partner-manager", pm, true, true},
				{"ok/risk-officer", risk, true, false},
				{"ok/auditor", auditor, true, false},
				{"ok/admin", adminB, true, true},
				{"fail/finance", finance, false, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, body := tc.b.get("/console/partners")
					shows(t, tc.name+"/nav", body, `<a href="/console/reviews">Reviews</a>`, tc.nav)
					status, body := tc.b.get(partnerReviews)
					if !tc.nav {
						want(t, tc.name, status, body, http.StatusForbidden, "Your role (finance) may not see this page.")
						return
					}
					want(t, tc.name, status, body, http.StatusOK, "<h1>Performance reviews of Wallet Ltd</h1>")
					shows(t, tc.name+"/draft-form", body, `<input id="quarter" name="quarter" value="2026-Q3"`, tc.canDraft)
				})
			}
			// Refusals on the pages.
			status, body := risk.post(partnerReviews, url.Values{"quarter": {"2026-Q3"}})
			want(t, "fail/risk-drafts", status, body, http.StatusForbidden, `<p class="error" role="alert">Role risk_officer may not reviews.draft.</p>`)
			pm.get(partnerReviews)
			status, body = pm.postNoCSRF(partnerReviews, url.Values{"quarter": {"2026-Q3"}})
			want(t, "fail/csrf", status, body, http.StatusForbidden, "Form expired")
			status, body = pm.post(partnerReviews, url.Values{"quarter": {"2026-Q9"}})
			want(t, "fail/quarter", status, body, http.StatusUnprocessableEntity,
				`Quarter must be YYYY-Qn (e.g. 2026-Q4), got &#34;2026-Q9&#34;.`, `value="2026-Q9"`)

			status, body = pm.post(partnerReviews, url.Values{"quarter": {"2026-Q3"}})
			want(t, "ok/draft", status, body, http.StatusOK, "Draft created with the quarter&#39;s scorecard.",
				`<span class="badge" id="review-status">draft</span>`, `<dd data-key="complaints">not tracked yet</dd>`)
			reviewURL, _, _ := strings.Cut(pm.url, "?")
			id := strings.TrimPrefix(reviewURL, "/console/reviews/")
			if !strings.HasPrefix(id, "prv_") {
				t.Fatalf("review page %q", reviewURL)
			}
			form := url.Values{"rating_reliability": {"4"}, "rating_performance": {"7"}, "rating_growth": {"3"}, "rating_commercial": {"4"},
				"rating_conduct": {"5"}, "outcome": {"exit"}, "partner_notes": {"Thank you for the quarter."}, "internal_notes": {"SECRET internal view"}}
			status, body = pm.post(reviewURL, form)
			want(t, "fail/rating", status, body, http.StatusUnprocessableEntity, "Rating of performance must be 1 to 5, got 7.",
				`<option value="4" selected>4</option>`, "SECRET internal view")
			status, body = pm.post(reviewURL+"/submit", nil)
			want(t, "fail/incomplete", status, body, http.StatusUnprocessableEntity,
				"Rate every dimension before submitting; missing: reliability, performance, growth, commercial, conduct.")
			form.Set("rating_performance", "2")
			status, body = pm.post(reviewURL, form)
			want(t, "ok/save", status, body, http.StatusOK, "Ratings and notes saved.")
			status, body = pm.post(reviewURL+"/submit", nil)
			want(t, "ok/submit", status, body, http.StatusOK, `id="review-status">submitted</span>`)
			shows(t, "maker/no-approve", body, `id="approve-review"`, false)
			_, body = auditor.get(reviewURL)
			shows(t, "auditor/no-approve", body, `id="approve-review"`, false)
			shows(t, "auditor/no-submit", body, `id="submit-review"`, false)

			// An admin who prepared a review may not sign it off.
			if _, err := rs.Edit(t.Context(), admin.Staff.ID, id, reviews.Assessment{}); err == nil {
				t.Fatal("edited a submitted review")
			}
			own, err := rs.Draft(t.Context(), admin.Staff.ID, otherPID, "2026-Q3")
			if err != nil {
				t.Fatal(err)
			}
			adminB.get("/console/reviews/" + own.ID)
			status, body = adminB.post("/console/reviews/"+own.ID, form)
			want(t, "ok/admin-save", status, body, http.StatusOK, "Ratings and notes saved.")
			adminB.post("/console/reviews/"+own.ID+"/submit", nil)
			status, body = adminB.post("/console/reviews/"+own.ID+"/approve", nil)
			want(t, "fail/maker-approves", status, body, http.StatusForbidden,
				"Review "+own.ID+" was prepared by you; another staff member with reviews.approve must sign it off.")

			// The partner sees nothing before sign-off.
			owner := e.browser()
			owner.signIn("owner@wallet.example", testPW)
			status, body = owner.get("/portal/orgs/" + pid + "/reviews/" + id)
			want(t, "portal/submitted", status, body, http.StatusNotFound, "Review "+id+" not found.")

			_, body = risk.get(reviewURL)
			shows(t, "checker/approve", body, `id="approve-review"`, true)
			status, body = risk.post(reviewURL+"/approve", nil)
			want(t, "ok/approve", status, body, http.StatusOK, `id="review-status">published</span>`, "Exit (risk rating high)")
			status, body = risk.get("/console/partners/" + pid)
			want(t, "ok/partner-page", status, body, http.StatusOK, `id="risk-rating">high</span>`,
				`<a href="/console/reviews/`+id+`">review:`+id+`</a>`, "performance review 2026-Q3: exit", "risk@bank.example",
				`<tr><td><a href="/console/reviews/`+id+`">2026-Q3</a></td><td><span class="badge ok">published</span></td><td>exit</td>`)
			_, body = finance.get("/console/partners/" + pid)
			shows(t, "finance/no-reviews-section", body, `id="reviews-h"`, false)

			// The portal.
			_, body = owner.get("/portal/orgs/" + pid)
			shows(t, "portal/nav", body, `<a href="/portal/orgs/`+pid+`/reviews">Reviews</a>`, true)
			status, body = owner.get("/portal/orgs/" + pid + "/reviews")
			want(t, "portal/list", status, body, http.StatusOK, `<a href="/portal/orgs/`+pid+`/reviews/`+id+`">2026-Q3</a>`)
			status, body = owner.get("/portal/orgs/" + pid + "/reviews/" + id)
			want(t, "portal/detail", status, body, http.StatusOK, "Thank you for the quarter.", `<span class="badge" id="outcome">Exit</span>`,
				"<th scope=\"row\">Performance</th><td>2 / 5</td>")
			for _, secret := range []string{"SECRET", "pm@bank.example", "risk@bank.example", "Internal notes"} {
				shows(t, "portal/no-"+secret, body, secret, false)
			}
			// Another partner's review (published by a checker) is 404 under this partner.
			adminB.post("/console/reviews/"+own.ID+"/submit", nil)
			if _, err := rs.Approve(t.Context(), admin.Staff.ID, own.ID); err == nil {
				t.Fatal("maker approved")
			}
			status, body = owner.get("/portal/orgs/" + pid + "/reviews/" + own.ID)
			want(t, "portal/other-partner", status, body, http.StatusNotFound, "Review "+own.ID+" not found.")
			status, body = owner.get("/portal/orgs/" + otherPID + "/reviews")
			want(t, "portal/other-org", status, body, http.StatusNotFound)
		})
	}
}
