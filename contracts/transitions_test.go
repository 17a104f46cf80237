package contracts_test

import (
	"fmt"
	"github.com/bankbridge/bankbridge/partners/staff"
	"slices"
	"testing"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// TestCanTransition: CanTransition answers from the table.
func TestCanTransition(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     bool
	}{
		{"ok/new-to-draft", "", contracts.StatusDraft, true},
		{"ok/draft-to-pending", contracts.StatusDraft, contracts.StatusPendingApproval, true},
		{"ok/pending-to-active", contracts.StatusPendingApproval, contracts.StatusActive, true},
		{"ok/pending-to-draft", contracts.StatusPendingApproval, contracts.StatusDraft, true},
		{"ok/active-to-active", contracts.StatusActive, contracts.StatusActive, true},
		{"ok/active-to-terminated", contracts.StatusActive, contracts.StatusTerminated, true},
		{"ok/active-to-expired", contracts.StatusActive, contracts.StatusExpired, true},
		{"fail/draft-to-active", contracts.StatusDraft, contracts.StatusActive, false},
		{"fail/draft-to-terminated", contracts.StatusDraft, contracts.StatusTerminated, false},
		{"fail/pending-to-terminated", contracts.StatusPendingApproval, contracts.StatusTerminated, false},
		{"fail/active-to-draft", contracts.StatusActive, contracts.StatusDraft, false},
		{"fail/expired-to-active", contracts.StatusExpired, contracts.StatusActive, false},
		{"fail/terminated-to-active", contracts.StatusTerminated, contracts.StatusActive, false},
		{"fail/expired-to-terminated", contracts.StatusExpired, contracts.StatusTerminated, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contracts.CanTransition(tc.from, tc.to); got != tc.want {
				t.Fatalf("CanTransition(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
		})
	}
}

// TestTransitionTableActions: the staff action each event needs, as the table
// records it (the platform's own events need none).
func TestTransitionTableActions(t *testing.T) {
	want := map[string]string{"draft": "draft contracts", "edit": "edit contracts", "submit": "submit contracts",
		"approve": "approve contracts", "reject": "reject contracts", "terminate": "terminate contracts", "expire": "", "renew": ""}
	for _, table := range [][]contracts.Edge{contracts.ContractEdges, contracts.VersionEdges} {
		for _, e := range table {
			if w, ok := want[e.Event]; !ok || e.Needs != w {
				t.Errorf("edge %+v needs %q, want %q", e, e.Needs, w)
			}
		}
	}
}

// TestContractTransitionsWalk walks the whole state machine through the
// Service: every situation a contract can be in (its status and its latest
// version's) meets every event. Allowed edges must succeed and land where the
// table says; every other combination must be refused with the exact problem
// and change nothing. The cases are written out, and checked against the
// table both ways: each case agrees with it, and each edge of it is walked.
func TestContractTransitionsWalk(t *testing.T) {
	const (
		draft      = contracts.StatusDraft
		pending    = contracts.StatusPendingApproval
		active     = contracts.StatusActive
		expired    = contracts.StatusExpired
		terminated = contracts.StatusTerminated
	)
	// situations: a contract's status, its latest version and that version's status.
	type situation struct {
		name    string
		status  string
		version int
		vstatus string
	}
	sits := map[string]situation{
		"draft":          {"draft", draft, 1, draft},
		"pending":        {"pending", pending, 1, pending},
		"active":         {"active", active, 1, active},
		"active+draft":   {"active+draft", active, 2, draft},
		"active+pending": {"active+pending", active, 2, pending},
		"expired":        {"expired", expired, 1, active},
		"terminated":     {"terminated", terminated, 1, active},
	}
	type want struct {
		status  string
		version int
		vstatus string
		detail  string // refused with CodeInvalidState and this detail (%[1]s: contract id)
		same    bool   // left alone, no error (ExpireDue skips it)
	}
	ok := func(status string, version int, vstatus string) want {
		return want{status: status, version: version, vstatus: vstatus}
	}
	fail := func(detail string) want { return want{detail: detail} }
	same := want{same: true}
	cases := []struct {
		sit, ev string
		want    want
	}{
		{"draft", "edit", ok(draft, 1, draft)},
		{"draft", "submit", ok(pending, 1, pending)},
		{"draft", "approve", fail("contract %[1]s is draft and cannot be approved")},
		{"draft", "reject", fail("version 1 of contract %[1]s is draft, not pending_approval")},
		{"draft", "terminate", fail("contract %[1]s is draft, only an active contract can be terminated")},
		{"draft", "expire", same},
		{"draft", "renew", same},

		{"pending", "edit", fail("contract %[1]s is pending_approval and cannot be edited")},
		{"pending", "submit", fail("contract %[1]s is pending_approval and cannot be submitted")},
		{"pending", "approve", ok(active, 1, active)},
		{"pending", "reject", ok(draft, 1, draft)},
		{"pending", "terminate", fail("contract %[1]s is pending_approval, only an active contract can be terminated")},
		{"pending", "expire", same},
		{"pending", "renew", same},

		{"active", "edit", ok(active, 2, draft)},
		{"active", "submit", fail("version 1 of contract %[1]s is active, not draft")},
		{"active", "approve", fail("version 1 of contract %[1]s is active, not pending_approval")},
		{"active", "reject", fail("version 1 of contract %[1]s is active, not pending_approval")},
		{"active", "terminate", ok(terminated, 1, active)},
		{"active", "expire", ok(expired, 1, active)},
		{"active", "renew", ok(active, 1, active)},

		{"active+draft", "edit", ok(active, 2, draft)},
		{"active+draft", "submit", ok(active, 2, pending)},
		{"active+draft", "approve", fail("version 2 of contract %[1]s is draft, not pending_approval")},
		{"active+draft", "reject", fail("version 2 of contract %[1]s is draft, not pending_approval")},
		{"active+draft", "terminate", ok(terminated, 2, draft)},
		{"active+draft", "expire", ok(expired, 2, draft)},
		{"active+draft", "renew", ok(active, 2, draft)},

		{"active+pending", "edit", fail("version 2 of contract %[1]s is pending approval; reject it before editing")},
		{"active+pending", "submit", fail("version 2 of contract %[1]s is pending_approval, not draft")},
		{"active+pending", "approve", ok(active, 2, active)},
		{"active+pending", "reject", ok(active, 2, draft)},
		{"active+pending", "terminate", ok(terminated, 2, pending)},
		{"active+pending", "expire", ok(expired, 2, pending)},
		{"active+pending", "renew", ok(active, 2, pending)},

		{"expired", "edit", fail("contract %[1]s is expired and cannot be edited")},
		{"expired", "submit", fail("contract %[1]s is expired and cannot be submitted")},
		{"expired", "approve", fail("contract %[1]s is expired and cannot be approved")},
		{"expired", "reject", fail("version 1 of contract %[1]s is active, not pending_approval")},
		{"expired", "terminate", fail("contract %[1]s is expired, only an active contract can be terminated")},
		{"expired", "expire", same},
		// no expired+renew: a contract that renews automatically never expires

		{"terminated", "edit", fail("contract %[1]s is terminated and cannot be edited")},
		{"terminated", "submit", fail("contract %[1]s is terminated and cannot be submitted")},
		{"terminated", "approve", fail("contract %[1]s is terminated and cannot be approved")},
		{"terminated", "reject", fail("version 1 of contract %[1]s is active, not pending_approval")},
		{"terminated", "terminate", fail("contract %[1]s is terminated, only an active contract can be terminated")},
		{"terminated", "expire", same},
		{"terminated", "renew", same},
	}

	// The cases against the table: an allowed case is an edge of both tables
	// (the version table only for events that move the version), a refused
	// one is not, and every edge is walked.
	find := func(table []contracts.Edge, from, ev string) (contracts.Edge, bool) {
		for _, e := range table {
			if e.From == from && e.Event == ev {
				return e, true
			}
		}
		return contracts.Edge{}, false
	}
	movesVersion := func(ev string) bool {
		return slices.ContainsFunc(contracts.VersionEdges, func(e contracts.Edge) bool { return e.Event == ev })
	}
	walked := map[contracts.Edge]bool{}
	for _, tc := range cases {
		s := sits[tc.sit]
		ce, cok := find(contracts.ContractEdges, s.status, tc.ev)
		ve, vok := find(contracts.VersionEdges, s.vstatus, tc.ev)
		allowed := cok && (vok || !movesVersion(tc.ev))
		isOK := tc.want.detail == "" && !tc.want.same
		if allowed != isOK {
			t.Fatalf("%s/%s: case says allowed=%v, table says %v", tc.sit, tc.ev, isOK, allowed)
		}
		if !isOK {
			continue
		}
		if ce.To != tc.want.status {
			t.Fatalf("%s/%s: case lands in %s, table in %s", tc.sit, tc.ev, tc.want.status, ce.To)
		}
		walked[ce] = true
		if vok {
			if ve.To != tc.want.vstatus {
				t.Fatalf("%s/%s: case leaves version %s, table %s", tc.sit, tc.ev, tc.want.vstatus, ve.To)
			}
			walked[ve] = true
		}
	}
	for _, table := range [][]contracts.Edge{contracts.ContractEdges, contracts.VersionEdges} {
		for _, e := range table {
			if !walked[e] && e.From != "" { // from "": Draft, which every situation starts with
				t.Errorf("edge %+v is not walked", e)
			}
		}
	}

	due := date(2026, 6, 2) // the day after every walked contract's term ends
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		must := func(_ any, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		// build puts a new contract of partnerID in situation s.
		build := func(t *testing.T, partnerID string, s situation, autoRenew bool) contracts.Contract {
			t.Helper()
			terms := standardTerms()
			terms.End, terms.AutoRenew = date(2026, 6, 1), autoRenew
			c, err := e.s.Draft(ctx, maker, partnerID, terms)
			must(c, err)
			if s.name != "draft" {
				must(e.s.Submit(ctx, maker, c.ID))
			}
			if s.name != "draft" && s.name != "pending" {
				must(e.s.Approve(ctx, checker, c.ID))
			}
			switch s.name {
			case "active+draft":
				must(e.s.Update(ctx, maker, c.ID, terms))
			case "active+pending":
				must(e.s.Update(ctx, maker, c.ID, terms))
				must(e.s.Submit(ctx, maker, c.ID))
			case "expired":
				must(e.s.ExpireDue(ctx, due))
			case "terminated":
				must(e.s.Terminate(ctx, checker, c.ID, "ended"))
			}
			return c
		}
		// state is the contract's status, latest version and its status.
		state := func(t *testing.T, id string) situation {
			t.Helper()
			c, err := e.s.Contract(ctx, id)
			must(c, err)
			vs, err := e.s.Versions(ctx, id)
			must(vs, err)
			latest := vs[len(vs)-1]
			if latest.Version != c.LatestVersion {
				t.Fatalf("latest version %d, contract says %d", latest.Version, c.LatestVersion)
			}
			return situation{status: c.Status, version: latest.Version, vstatus: latest.Status}
		}
		for i, tc := range cases {
			name := "ok/" + tc.sit + "/" + tc.ev
			if tc.want.detail != "" || tc.want.same {
				name = "fail/" + tc.sit + "/" + tc.ev
			}
			t.Run(name, func(t *testing.T) {
				s := sits[tc.sit]
				c := build(t, fmt.Sprintf("ptn_walk%02d", i), s, tc.ev == "renew")
				if got := state(t, c.ID); got.status != s.status || got.version != s.version || got.vstatus != s.vstatus {
					t.Fatalf("built %+v, want situation %+v", got, s)
				}
				var err error
				switch tc.ev {
				case "edit":
					terms := standardTerms()
					terms.End, terms.FeeSchedule.MonthlyMinimum = date(2026, 6, 1), 6000
					_, err = e.s.Update(ctx, maker, c.ID, terms)
				case "submit":
					_, err = e.s.Submit(ctx, maker, c.ID)
				case "approve":
					_, err = e.s.Approve(ctx, checker, c.ID)
				case "reject":
					_, err = e.s.Reject(ctx, checker, c.ID, "not yet")
				case "terminate":
					_, err = e.s.Terminate(ctx, checker, c.ID, "ended")
				case "expire", "renew":
					var changed []contracts.Contract
					changed, err = e.s.ExpireDue(ctx, due)
					hit := slices.ContainsFunc(changed, func(x contracts.Contract) bool { return x.ID == c.ID })
					if hit == tc.want.same {
						t.Fatalf("ExpireDue changed %s: %v, want %v", c.ID, hit, !tc.want.same)
					}
				default:
					t.Fatalf("unknown event %q", tc.ev)
				}
				got := state(t, c.ID)
				switch {
				case tc.want.detail != "":
					wantProblem(t, err, problem.CodeInvalidState, fmt.Sprintf(tc.want.detail, c.ID))
					if got.status != s.status || got.version != s.version || got.vstatus != s.vstatus {
						t.Fatalf("refused, yet the contract moved from %+v to %+v", s, got)
					}
				case tc.want.same:
					if err != nil {
						t.Fatal(err)
					}
					if got.status != s.status || got.version != s.version || got.vstatus != s.vstatus {
						t.Fatalf("left alone, yet the contract moved from %+v to %+v", s, got)
					}
				default:
					if err != nil {
						t.Fatal(err)
					}
					if got.status != tc.want.status || got.version != tc.want.version || got.vstatus != tc.want.vstatus {
						t.Fatalf("%s: %+v, want %s v%d %s", tc.ev, got, tc.want.status, tc.want.version, tc.want.vstatus)
					}
					if tc.ev == "renew" {
						if c2, _ := e.s.Contract(ctx, c.ID); !c2.End.Equal(date(2026, 11, 1)) {
							t.Fatalf("renewed to %v, want 2026-11-01", c2.End)
						}
					}
				}
			})
		}
		// the staff action each event needs, through the Service
		auditor := contracts.Actor{ID: "stf_aud", Role: staff.RoleAuditor}
		c := build(t, "ptn_walk_roles", sits["active+pending"], false)
		for _, tc := range []struct {
			ev   string
			call func() error
		}{
			{"draft", func() error { _, err := e.s.Draft(ctx, auditor, "ptn_walk_roles2", standardTerms()); return err }},
			{"edit", func() error { _, err := e.s.Update(ctx, auditor, c.ID, standardTerms()); return err }},
			{"submit", func() error { _, err := e.s.Submit(ctx, auditor, c.ID); return err }},
			{"approve", func() error { _, err := e.s.Approve(ctx, auditor, c.ID); return err }},
			{"reject", func() error { _, err := e.s.Reject(ctx, auditor, c.ID, "no"); return err }},
			{"terminate", func() error { _, err := e.s.Terminate(ctx, auditor, c.ID, "no"); return err }},
		} {
			t.Run("fail/"+tc.ev+"-by-auditor", func(t *testing.T) {
				var needs string
				for _, e := range contracts.ContractEdges {
					if e.Event == tc.ev {
						needs = e.Needs
					}
				}
				wantProblem(t, tc.call(), problem.CodeForbidden, fmt.Sprintf("role %q may not %s", staff.RoleAuditor, needs))
			})
		}
	})
}
