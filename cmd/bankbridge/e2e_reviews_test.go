package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestE2EPerformanceReview: a partner manager drafts the demo partner's
// review for the last complete quarter in chromium, a risk officer sends it
// back and then signs it off, the partner's risk rating follows the outcome
// (continue → low, the review as the history's source), and the partner's
// member reads the published review in the portal without the internal
// notes; another partner's published review and a draft are 404 there.
// e2e/reviews.mjs.
func TestE2EPerformanceReview(t *testing.T) {
	requireE2E(t, true)
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			ctx := t.Context()
			p := s.Main.Platform
			ps := p.Services.Partners
			maker := runCLI(t, s, "staff", "create", "--email", "mia.maker@bank.example", "--role", "partner_manager", "--json")
			checker := runCLI(t, s, "staff", "create", "--email", "rick.risk@bank.example", "--role", "risk_officer", "--json")
			list, err := ps.ListPartners(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pid := ""
			for _, x := range list {
				if x.Name() == partners.SeedPartnerName {
					pid = x.ID
				}
			}
			if pid == "" {
				t.Fatal("demo partner not seeded")
			}
			quarter := reviews.QuarterOf(time.Now()).Previous()

			// Set-up through the service: another partner's published
			// review, and a draft of the demo partner's current quarter.
			svc, err := reviews.New(reviews.Config{Store: reviews.NewGormStore(p.DB), Figures: monitoring.New(monitoring.NewGormStore(p.DB), nil),
				Statements: p.billing.Contracts, Staff: ps.Staff(), Partners: ps})
			if err != nil {
				t.Fatal(err)
			}
			pm, err := ps.Staff().Bootstrap(ctx, "setup.pm@bank.example", staff.RolePartnerManager)
			if err != nil {
				t.Fatal(err)
			}
			ro, err := ps.Staff().Bootstrap(ctx, "setup.risk@bank.example", staff.RoleRiskOfficer)
			if err != nil {
				t.Fatal(err)
			}
			other, err := ps.CreatePartner(ctx, "Other Partner Ltd")
			if err != nil {
				t.Fatal(err)
			}
			otherReview, err := svc.Draft(ctx, pm.Staff.ID, other.ID, quarter.String())
			if err == nil {
				_, err = svc.Edit(ctx, pm.Staff.ID, otherReview.ID, reviews.Assessment{Outcome: reviews.OutcomeExit,
					Ratings: reviews.Ratings{"reliability": 1, "performance": 1, "growth": 1, "commercial": 1, "conduct": 1}})
			}
			if err == nil {
				_, err = svc.Submit(ctx, pm.Staff.ID, otherReview.ID)
			}
			if err == nil {
				_, err = svc.Approve(ctx, ro.Staff.ID, otherReview.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			draft, err := svc.Draft(ctx, pm.Staff.ID, pid, reviews.QuarterOf(time.Now()).String())
			if err != nil {
				t.Fatal(err)
			}

			res := runNode(t, "reviews.mjs", map[string]string{
				"BASE": s.URL, "PARTNER_ID": pid, "QUARTER": quarter.String(), "DRAFT_ID": draft.ID, "OTHER_REVIEW_ID": otherReview.ID,
				"MAKER_EMAIL": maker["email"].(string), "MAKER_PASSWORD": maker["one_time_password"].(string), "MAKER_TOTP": maker["totp_secret"].(string),
				"CHECKER_EMAIL": checker["email"].(string), "CHECKER_PASSWORD": checker["one_time_password"].(string), "CHECKER_TOTP": checker["totp_secret"].(string),
				"PORTAL_EMAIL": "demo@wallet.example", "PORTAL_PASSWORD": "demo-wallet-sandbox",
				"ARTIFACTS": artifactsDir(t), "CHROMIUM": chromiumPath(),
			})
			if res.Error != nil {
				b, _ := json.MarshalIndent(res, "", "  ")
				t.Fatalf("flow failed:\n%s", b)
			}
			if st := res.Step("partner_before"); st["rating"] != "medium" || st["history"] != 0.0 {
				t.Errorf("before: %v", st)
			}
			d := res.Step("drafted")
			if d["proposed"] != quarter.String() || d["status"] != "draft" || d["flash"] != "Draft created with the quarter's scorecard." ||
				d["complaints"] != "0" || !strings.HasPrefix(d["url"].(string), s.URL+"/console/reviews/prv_") {
				t.Errorf("drafted: %v", d)
			}
			reviewID := strings.TrimPrefix(d["url"].(string), s.URL+"/console/reviews/")
			if st := res.Step("incomplete"); st["status"] != "draft" ||
				st["error"] != "Rate every dimension before submitting; missing: reliability, performance, growth, commercial, conduct." {
				t.Errorf("incomplete: %v", st)
			}
			if st := res.Step("submitted"); st["saved"] != "Ratings and notes saved." || st["status"] != "submitted" || st["approveButtons"] != 0.0 {
				t.Errorf("submitted: %v", st)
			}
			ret := res.Step("returned")
			if ret["status"] != "draft" || ret["note"] != "Sent back by the checker: Say what we expect of their webhook endpoint." {
				t.Errorf("returned: %v", ret)
			}
			if rows := ret["listed"].([]any); len(rows) != 1 || rows[0].([]any)[0] != quarter.String() || rows[0].([]any)[2] != "submitted" {
				t.Errorf("checker's list: %v", rows)
			}
			if st := res.Step("resubmitted"); st["status"] != "submitted" || !strings.HasSuffix(st["note"].(string), "webhook endpoint.") {
				t.Errorf("resubmitted: %v", st)
			}
			if st := res.Step("published"); st["status"] != "published" || st["outcome"] != "Continue (risk rating low)" {
				t.Errorf("published: %v", st)
			}
			after := res.Step("partner_after")
			hist := after["history"].([]any)
			if after["rating"] != "low" || len(hist) != 1 {
				t.Fatalf("after: %v", after)
			}
			if row := hist[0].([]any); row[1] != "medium" || row[2] != "low" || row[3] != "review:"+reviewID ||
				row[4] != "performance review "+quarter.String()+": continue" || row[5] != "rick.risk@bank.example" {
				t.Errorf("history row: %v", row)
			}
			pt := res.Step("portal")
			if rows := pt["rows"].([]any); len(rows) != 1 || rows[0].([]any)[0] != quarter.String() || rows[0].([]any)[1] != "continue" {
				t.Errorf("portal list: %v", rows)
			}
			wantRatings := []any{[]any{"Reliability", "4 / 5"}, []any{"Performance", "5 / 5"}, []any{"Volume and growth", "3 / 5"},
				[]any{"Commercial", "4 / 5"}, []any{"Conduct and compliance", "5 / 5"}}
			if pt["outcome"] != "Continue" || pt["notes"] != "A solid quarter. Please keep your webhook endpoint answering." ||
				pt["showsInternal"] != false || !reflect.DeepEqual(pt["ratings"], wantRatings) ||
				pt["url"] != s.URL+"/portal/orgs/"+pid+"/reviews/"+reviewID {
				t.Errorf("portal: %v", pt)
			}
			rf := res.Step("portal_refusals")
			if rf["other"] != 404.0 || rf["draft"] != 404.0 || !strings.Contains(rf["otherText"].(string), "Review "+otherReview.ID+" not found.") ||
				!strings.Contains(rf["draftText"].(string), "Review "+draft.ID+" not found.") {
				t.Errorf("portal refusals: %v", rf)
			}
		})
	}
}
