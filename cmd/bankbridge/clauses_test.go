package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// TestServiceCreditsFromMonitoring: on the wired platform, a contract with
// service levels cannot be approved before its signed agreement is attached,
// and its month is settled with a service credit computed from the request
// log through monitoring (the serviceLevels adapter): 98 % availability (the
// 10 % band) and a p95 over target (2.5 %) capped at 12 % of the 1,000.00 EUR
// minimum.
func TestServiceCreditsFromMonitoring(t *testing.T) {
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			ctx := t.Context()
			cs := s.Main.Platform.billing.Contracts
			pid := runCLI(t, s, "partners", "create", "--name", "Credits Ltd", "--json")["id"].(string)
			maker := contracts.Actor{ID: "stf_maker", Role: staff.RoleFinance}
			checker := contracts.Actor{ID: "stf_checker", Role: staff.RoleAdmin}
			terms := contracts.Terms{Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC),
				NoticeDays: 60, Currency: "EUR", FeeSchedule: contracts.FeeSchedule{MonthlyMinimum: 100000},
				ServiceLevels: contracts.ServiceLevels{AvailabilityTargetBPS: 9990,
					AvailabilityCredits: []contracts.AvailabilityCredit{{BelowBPS: 9990, CreditBPS: 500}, {BelowBPS: 9900, CreditBPS: 1000}},
					P95TargetMS:         300, LatencyCreditBPS: 250, CreditCapBPS: 1200}}
			c, err := cs.Draft(ctx, maker, pid, terms)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Submit(ctx, maker, c.ID); err != nil {
				t.Fatal(err)
			}
			_, err = cs.Approve(ctx, checker, c.ID)
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Code != problem.CodeInvalidState ||
				pe.Detail != "version 1 of contract "+c.ID+" has no signed agreement; attach the signed PDF before approving it" {
				t.Fatalf("approve without agreement: %v", err)
			}
			if _, err := cs.UploadAgreement(ctx, maker, c.ID, "signed.pdf", []byte("%PDF-1.7\nsigned\n%%EOF\n")); err != nil {
				t.Fatal(err)
			}
			if ct, err := cs.Approve(ctx, checker, c.ID); ct.Status != contracts.StatusActive {
				t.Fatalf("approve: %+v %v", ct, err) // the partner hook may refuse a partner not yet approved
			}
			for i := 0; i < 100; i++ {
				status, latency := 200, int64(100_000)
				if i < 2 {
					status = 503
				}
				if i >= 90 {
					latency = 400_000
				}
				if err := s.Main.Platform.DB.Exec(`INSERT INTO request_log (at, client_id, partner_id, environment, method, path, status, latency_us, problem_type)
					VALUES (?, 'app_x', ?, 'production', 'GET', ?, ?, ?, '')`, time.Date(2026, 10, 15, 0, i, 0, 0, time.UTC), pid,
					monitoring.APIBasePath+"/aisp/accounts", status, latency).Error; err != nil {
					t.Fatal(err)
				}
			}
			run, err := cs.Settle(ctx, "2026-10", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			var st contracts.Statement
			for _, id := range run.StatementIDs {
				if x, err := cs.Statement(ctx, pid, id); err == nil {
					st = x
				}
			}
			if len(st.Lines) == 0 {
				t.Fatalf("no statement for %s in %+v", pid, run)
			}
			last := st.Lines[len(st.Lines)-1]
			if last.Kind != contracts.LineServiceCredit || last.Amount != -12000 || last.RateBPS != 1200 || st.ServiceCredits != 12000 || st.Net != 88000 ||
				!strings.HasSuffix(last.Description, "availability 98.00% (target 99.90%), p95 400.000 ms (target 300 ms), capped at 1200 bps") {
				t.Fatalf("statement %+v", st)
			}
			m, ok, err := cs.StatementServiceLevel(ctx, pid, st.ID)
			if err != nil || !ok || m != (contracts.ServiceMeasure{Requests: 100, Failed: 2, P95US: 400_000}) {
				t.Fatalf("measure %+v %v %v", m, ok, err)
			}
		})
	}
}
