package complaints_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

var (
	ctx = context.Background()
	// t0 is a Friday.
	t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
)

// fakePayments is the apis side (a map of payments).
type fakePayments map[string]complaints.Payment

func (f fakePayments) Payment(_ context.Context, id string) (*complaints.Payment, error) {
	p, ok := f[id]
	if !ok {
		return nil, complaints.ErrPaymentNotFound
	}
	return &p, nil
}

func (f fakePayments) CustomerPayments(_ context.Context, customerID string) ([]complaints.Payment, error) {
	var out []complaints.Payment
	for _, p := range f {
		if p.CustomerID == customerID {
			out = append(out, p)
		}
	}
	return out, nil
}

// fakeCustomers is the core's customers' email addresses.
type fakeCustomers map[string]string

func (f fakeCustomers) Email(_ context.Context, id string) (string, error) { return f[id], nil }

// published records the events published, in the transaction (so a
// rolled-back change records none: they are written to a table).
type published struct{ d *db.DB }

func (p published) Publish(ctx context.Context, tx *gorm.DB, eventType, partnerID, appID string, data map[string]any) error {
	return tx.WithContext(ctx).Exec(`INSERT INTO audit_events (id, at, actor_type, actor_id, action, object_type, object_id, partner_id, interaction_id, details)
		VALUES (?, ?, 'test', 'publisher', ?, 'event', ?, ?, '', ?)`, ids.New("aud"), time.Now().UTC(), eventType, fmt.Sprint(data["complaint_id"]),
		partnerID, fmt.Sprintf(`{"outcome":%q,"category":%q,"partner_due_at":%q}`, fmt.Sprint(data["outcome"]), fmt.Sprint(data["category"]),
			data["partner_due_at"].(time.Time).Format(time.RFC3339))).Error
}

type env struct {
	t                 *testing.T
	d                 *db.DB
	ps                *partners.Service
	s                 *complaints.Service
	now               time.Time
	pay               fakePayments
	partner, other    string // partners
	owner, otherOwner string // portal users (owners)
	viewer            string // a viewer of partner
}

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, now: t0, pay: fakePayments{}}
	clock := func() time.Time { return e.now }
	if e.ps, err = partners.New(partners.Config{DB: d, Box: box, Now: clock}); err != nil {
		t.Fatal(err)
	}
	e.s, err = complaints.New(complaints.Config{Store: complaints.NewGormStore(d), Payments: e.pay,
		Customers: fakeCustomers{"cus_alice": "alice@example.com", "cus_bob": "bob@example.com"},
		Staff:     e.ps.Staff(), Partners: e.ps, Publisher: published{d}, PortalURL: "https://bank.example/portal", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	e.partner, e.owner = e.partnerWithOwner("Acme Payments Ltd", "owner@acme.example")
	e.other, e.otherOwner = e.partnerWithOwner("Other Ltd", "owner@other.example")
	e.viewer = e.member(e.partner, "viewer@acme.example", "viewer")
	e.pay["pay_1"] = complaints.Payment{ID: "pay_1", ConsentID: "pcn_1", PartnerID: e.partner, PartnerName: "Acme Payments Ltd",
		ClientID: "app_1", Environment: "production", CustomerID: "cus_alice", Amount: money.GBP(12550),
		Payee: "Corner Shop (SortCodeAccountNumber:40400412345678)", Status: "AcceptedSettlementCompleted", CreatedAt: t0.Add(-time.Hour)}
	e.pay["pay_2"] = complaints.Payment{ID: "pay_2", ConsentID: "pcn_2", PartnerID: e.other, PartnerName: "Other Ltd",
		ClientID: "app_2", Environment: "production", CustomerID: "cus_bob", Amount: money.GBP(999),
		Payee: "Bob's Landlord", Status: "AcceptedSettlementCompleted", CreatedAt: t0.Add(-time.Hour)}
	return e
}

func (e *env) partnerWithOwner(name, email string) (string, string) {
	e.t.Helper()
	p, err := e.ps.CreatePartner(ctx, name)
	mustOK(e.t, err)
	return p.ID, e.member(p.ID, email, "owner")
}

func (e *env) member(partnerID, email, role string) string {
	e.t.Helper()
	uid := ids.New("usr")
	e.exec(`INSERT INTO portal_users (id, email, password_hash, created_at, updated_at) VALUES (?, ?, 'x', ?, ?)`, uid, email, t0, t0)
	e.exec(`INSERT INTO memberships (partner_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, partnerID, uid, role, t0)
	return uid
}

func (e *env) staff(role staff.Role) string {
	e.t.Helper()
	c, err := e.ps.Staff().Bootstrap(ctx, fmt.Sprintf("%s.%s@bank.example", role, ids.New("x")), role)
	mustOK(e.t, err)
	return c.Staff.ID
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if err := e.d.Exec(sql, args...).Error; err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *env) mails(recipient string) []mail.Message {
	e.t.Helper()
	ms, err := mail.List(ctx, e.d.DB, recipient, 100)
	mustOK(e.t, err)
	return ms
}

// events lists the published events' types and complaint ids.
func (e *env) events() []string {
	e.t.Helper()
	var out []string
	mustOK(e.t, e.d.Raw(`SELECT action || ' ' || object_id || ' ' || details FROM audit_events WHERE actor_type = 'test' ORDER BY at, id`).Scan(&out).Error)
	return out
}

func wantProblem(t testing.TB, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) || p.Code != code || p.Detail != detail {
		t.Fatalf("problem = %v, want %s %q", err, code, detail)
	}
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAddBusinessDays(t *testing.T) {
	at := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		from time.Time
		n    int
		want time.Time
	}{
		{"ok/zero", at(2026, 12, 2), 0, at(2026, 12, 2)},
		{"ok/wednesday+1", at(2026, 12, 2), 1, at(2026, 12, 3)},
		{"ok/friday+1-skips-the-weekend", at(2026, 12, 4), 1, at(2026, 12, 7)},
		{"ok/saturday+1-is-monday", at(2026, 12, 5), 1, at(2026, 12, 7)},
		{"ok/sunday+1-is-monday", at(2026, 12, 6), 1, at(2026, 12, 7)},
		{"ok/monday+5-is-monday", at(2026, 12, 7), 5, at(2026, 12, 14)},
		{"ok/friday+5-partner", at(2026, 12, 4), 5, at(2026, 12, 11)},
		{"ok/friday+15-reply", at(2026, 12, 4), 15, at(2026, 12, 25)},
		{"ok/saturday+15-reply", at(2026, 12, 5), 15, at(2026, 12, 25)},
		{"ok/wednesday+15-reply", at(2026, 12, 2), 15, at(2026, 12, 23)},
		{"ok/across-the-year", at(2026, 12, 30), 3, at(2027, 1, 4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := complaints.AddBusinessDays(tc.from, tc.n); !got.Equal(tc.want) {
				t.Fatalf("AddBusinessDays(%s %s, %d) = %s %s, want %s", tc.from.Weekday(), tc.from, tc.n, got.Weekday(), got, tc.want)
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	due := time.Date(2026, 12, 25, 10, 0, 0, 0, time.UTC) // a Friday
	c := &complaints.Complaint{Status: complaints.StatusOpen, DueAt: due}
	for _, tc := range []struct {
		name string
		now  time.Time
		want string
		days int
	}{
		{"ok/three-weeks-before", time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), "15 business days left", 15},
		{"ok/the-day-before", time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC), "1 business day left", 1},
		{"ok/weekend-before-counts-no-days", time.Date(2026, 12, 19, 9, 0, 0, 0, time.UTC), "5 business days left", 5},
		{"ok/due-today", time.Date(2026, 12, 25, 9, 0, 0, 0, time.UTC), "due today", 0},
		{"fail/later-the-same-day", time.Date(2026, 12, 25, 11, 0, 0, 0, time.UTC), "overdue by 1 business day", 0},
		{"fail/monday-after", time.Date(2026, 12, 28, 9, 0, 0, 0, time.UTC), "overdue by 1 business day", -1},
		{"fail/a-week-after", time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC), "overdue by 5 business days", -5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Deadline(tc.now); got != tc.want {
				t.Fatalf("Deadline = %q, want %q", got, tc.want)
			}
			if got := c.DaysLeft(tc.now); got != tc.days {
				t.Fatalf("DaysLeft = %d, want %d", got, tc.days)
			}
		})
	}
	c.Status = complaints.StatusResolved
	if got := c.Deadline(due.Add(1000 * time.Hour)); got != "resolved" || c.Overdue(due.Add(time.Hour)) {
		t.Fatalf("resolved: %q", got)
	}
}

// TestOpen: the customer's complaint, its deadlines, the partner's webhook
// and mail, the customer's receipt; and every refusal.
func TestOpen(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		c, err := e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryUnauthorised, "  I never made this payment.  ")
		mustOK(t, err)
		if c.Status != complaints.StatusOpen || c.Description != "I never made this payment." || c.PartnerID != e.partner ||
			!c.DueAt.Equal(time.Date(2026, 12, 25, 10, 0, 0, 0, time.UTC)) || !c.PartnerDueAt.Equal(time.Date(2026, 12, 11, 10, 0, 0, 0, time.UTC)) ||
			c.Amount != money.GBP(12550) || c.Payee != "Corner Shop (SortCodeAccountNumber:40400412345678)" {
			t.Fatalf("complaint %+v", c)
		}
		got, err := e.s.Get(ctx, c.ID)
		mustOK(t, err)
		if got.ID != c.ID || !got.DueAt.Equal(c.DueAt) || got.Category != complaints.CategoryUnauthorised {
			t.Fatalf("stored %+v", got)
		}
		if ev := e.events(); len(ev) != 1 || ev[0] != `complaint.opened `+c.ID+` {"outcome":"<nil>","category":"unauthorised","partner_due_at":"2026-12-11T10:00:00Z"}` {
			t.Fatalf("events %q", ev)
		}
		pm := e.mails("owner@acme.example")
		if len(pm) != 1 || pm[0].Subject != "Complaint "+c.ID+" about payment pay_1" || pm[0].Body != "A customer complained about payment pay_1 (consent pcn_1, production).\n\n"+
			"Complaint: "+c.ID+"\nWhat is wrong: I did not authorise this payment\nAmount: 125.50 GBP\nReceived: 4 December 2026\n"+
			"Please answer by 11 December 2026 (5 business days).\n\nAnswer in the portal: https://bank.example/portal/orgs/"+e.partner+"/complaints/"+c.ID+"\n" {
			t.Fatalf("partner mail %+v", pm)
		}
		if len(e.mails("owner@other.example")) != 0 || len(e.mails("viewer@acme.example")) != 0 {
			t.Fatal("only the partner's owners are mailed")
		}
		cm := e.mails("alice@example.com")
		if len(cm) != 1 || cm[0].Subject != "We received your complaint "+c.ID || cm[0].Body != "We received your complaint about the payment of 125.50 GBP to "+
			"Corner Shop (SortCodeAccountNumber:40400412345678) made through Acme Payments Ltd on 4 December 2026.\n\n"+
			"Your reference: "+c.ID+"\nWhat is wrong: I did not authorise this payment\n\nWe will reply by 25 December 2026 at the latest.\n" {
			t.Fatalf("customer mail %+v", cm)
		}
		trail, err := e.s.Timeline(ctx, c.ID)
		mustOK(t, err)
		if len(trail) != 1 || trail[0].Action != "complaint.opened" || trail[0].ActorType != "customer" || trail[0].ActorID != "cus_alice" {
			t.Fatalf("audit %+v", trail)
		}
		for _, tc := range []struct {
			name string
			f    complaints.Filter
			want int
		}{
			{"ok/all", complaints.Filter{}, 1},
			{"ok/open", complaints.Filter{Status: complaints.StatusOpen}, 1},
			{"ok/resolved", complaints.Filter{Status: complaints.StatusResolved}, 0},
			{"ok/partner", complaints.Filter{PartnerID: e.partner}, 1},
			{"ok/other-partner", complaints.Filter{PartnerID: e.other}, 0},
			{"ok/not-overdue-on-the-due-instant", complaints.Filter{OverdueAt: c.DueAt}, 0},
			{"ok/overdue-after", complaints.Filter{OverdueAt: c.DueAt.Add(time.Second)}, 1},
		} {
			list, err := e.s.List(ctx, tc.f)
			mustOK(t, err)
			if len(list) != tc.want {
				t.Fatalf("%s: %d complaints, want %d", tc.name, len(list), tc.want)
			}
		}
		ps, err := e.s.CustomerPayments(ctx, "cus_alice")
		mustOK(t, err)
		if len(ps) != 1 || ps[0].Complaint == nil || ps[0].Complaint.ID != c.ID {
			t.Fatalf("customer payments %+v", ps)
		}

		for _, tc := range []struct {
			name, customer, payment string
			category                complaints.Category
			description             string
			code                    problem.Code
			detail                  string
		}{
			{"fail/another-customers-payment", "cus_alice", "pay_2", complaints.CategoryOther, "x", problem.CodeNotFound, "payment pay_2 not found"},
			{"fail/unknown-payment", "cus_alice", "pay_nope", complaints.CategoryOther, "x", problem.CodeNotFound, "payment pay_nope not found"},
			{"fail/category", "cus_alice", "pay_1", "fraud", "x", problem.CodeValidation, "choose what is wrong with the payment"},
			{"fail/no-category", "cus_alice", "pay_1", "", "x", problem.CodeValidation, "choose what is wrong with the payment"},
			{"fail/no-description", "cus_alice", "pay_1", complaints.CategoryOther, "   ", problem.CodeValidation, "describe the problem"},
			{"fail/description-too-long", "cus_alice", "pay_1", complaints.CategoryOther, strings.Repeat("é", 4001), problem.CodeValidation, "the description is longer than 4000 characters"},
			{"fail/open-complaint-exists", "cus_alice", "pay_1", complaints.CategoryWrongAmount, "again", problem.CodeConflict, "this payment already has an open complaint"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Open(ctx, tc.customer, tc.payment, tc.category, tc.description)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		if n := len(e.events()); n != 1 {
			t.Fatalf("a refused complaint published an event: %d", n)
		}
	})
}

// TestOpenConcurrently: parallel submissions for one payment create exactly
// one complaint; the others are refused as a conflict.
func TestOpenConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryWrongAmount, fmt.Sprintf("attempt %d", i))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			wantProblem(t, err, problem.CodeConflict, "this payment already has an open complaint")
		}
		var rows int64
		mustOK(t, d.Raw(`SELECT COUNT(*) FROM complaints WHERE payment_id = 'pay_1'`).Scan(&rows).Error)
		if ok != 1 || rows != 1 || len(e.events()) != 1 || len(e.mails("owner@acme.example")) != 1 {
			t.Fatalf("created %d, rows %d, events %d", ok, rows, len(e.events()))
		}
	})
}

// TestPartnerAnswer: the partner answers its own complaint once; another
// partner's complaint is not found.
func TestPartnerAnswer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		c, err := e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryWrongAmount, "Charged twice")
		mustOK(t, err)
		for _, tc := range []struct {
			name, user, partner, id, answer string
			code                            problem.Code
			detail                          string
		}{
			{"fail/other-partners-complaint", e.otherOwner, e.other, c.ID, "ours?", problem.CodeNotFound, "complaint " + c.ID + " not found"},
			{"fail/not-a-member", e.otherOwner, e.partner, c.ID, "hi", problem.CodeNotFound, "partner " + e.partner + " not found"},
			{"fail/viewer", e.viewer, e.partner, c.ID, "hi", problem.CodeForbidden, `role "viewer" may not complaints.answer`},
			{"fail/empty", e.owner, e.partner, c.ID, "  ", problem.CodeValidation, "write an answer"},
			{"fail/unknown", e.owner, e.partner, "cmp_nope", "hi", problem.CodeNotFound, "complaint cmp_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Answer(ctx, tc.user, tc.partner, tc.id, tc.answer, false)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		if _, err := e.s.PartnerComplaint(ctx, e.other, c.ID); err == nil {
			t.Fatal("another partner read the complaint")
		}
		e.now = e.now.Add(time.Hour)
		got, err := e.s.Answer(ctx, e.owner, e.partner, c.ID, "We charged once; the bank shows two entries.", true)
		mustOK(t, err)
		if got.PartnerAnswer != "We charged once; the bank shows two entries." || !got.PartnerAgreesRefund || got.PartnerAnsweredBy != e.owner ||
			!got.PartnerAnsweredAt.Equal(e.now) {
			t.Fatalf("answer %+v", got)
		}
		_, err = e.s.Answer(ctx, e.owner, e.partner, c.ID, "again", false)
		wantProblem(t, err, problem.CodeConflict, "complaint "+c.ID+" was answered already")
		staffView, err := e.s.Get(ctx, c.ID)
		mustOK(t, err)
		if staffView.PartnerAnswer != got.PartnerAnswer {
			t.Fatalf("staff see %+v", staffView)
		}
		trail, err := e.s.Timeline(ctx, c.ID)
		mustOK(t, err)
		if len(trail) != 2 || trail[1].Action != "complaint.answered" || trail[1].ActorType != "partner" || trail[1].ActorID != e.owner {
			t.Fatalf("audit %+v", trail)
		}
		list, err := e.s.PartnerComplaints(ctx, e.other)
		mustOK(t, err)
		if len(list) != 0 {
			t.Fatalf("other partner lists %+v", list)
		}
	})
}

// TestStaffReject: staff take, note and reject a complaint with reasons;
// the customer is mailed them; the partner gets complaint.resolved.
func TestStaffReject(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer, pm, auditor, finance := e.staff(staff.RoleRiskOfficer), e.staff(staff.RolePartnerManager), e.staff(staff.RoleAuditor), e.staff(staff.RoleFinance)
		c, err := e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryNotReceived, "The shop says it has not been paid.")
		mustOK(t, err)
		for _, tc := range []struct {
			name, who, id, reasons string
			code                   problem.Code
			detail                 string
		}{
			{"fail/auditor", auditor, c.ID, "no", problem.CodeForbidden, "role auditor may not complaints.handle"},
			{"fail/finance", finance, c.ID, "no", problem.CodeForbidden, "role finance may not complaints.handle"},
			{"fail/no-reasons", officer, c.ID, " ", problem.CodeValidation, "give the reasons for rejecting the complaint"},
			{"fail/unknown", officer, "cmp_nope", "no", problem.CodeNotFound, "complaint cmp_nope not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Reject(ctx, tc.who, tc.id, tc.reasons)
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		_, err = e.s.AddNote(ctx, pm, c.ID, "")
		wantProblem(t, err, problem.CodeValidation, "write a note")
		_, err = e.s.Assign(ctx, auditor, c.ID)
		wantProblem(t, err, problem.CodeForbidden, "role auditor may not complaints.handle")
		got, err := e.s.Assign(ctx, pm, c.ID)
		mustOK(t, err)
		if got.AssignedTo != pm {
			t.Fatalf("assigned %+v", got)
		}
		_, err = e.s.AddNote(ctx, pm, c.ID, "Settlement file shows the credit on 3 Dec.")
		mustOK(t, err)
		got, err = e.s.Reject(ctx, pm, c.ID, "The payee's bank credited the payment on 3 December 2026 (reference FPS-123).")
		mustOK(t, err)
		if got.Status != complaints.StatusResolved || got.Outcome != complaints.OutcomeRejected || got.DecidedBy != pm || !got.ResolvedAt.Equal(e.now) {
			t.Fatalf("rejected %+v", got)
		}
		cm := e.mails("alice@example.com")
		if len(cm) != 2 || cm[0].Subject != "Your complaint "+c.ID+": our decision" || cm[0].Body != "We looked into your complaint "+c.ID+
			" about the payment of 125.50 GBP to Corner Shop (SortCodeAccountNumber:40400412345678) made through Acme Payments Ltd.\n\n"+
			"We do not uphold your complaint, for these reasons:\n\nThe payee's bank credited the payment on 3 December 2026 (reference FPS-123).\n\n"+
			"If you disagree, you may refer your complaint to the Financial Ombudsman Service within six months of this mail.\n" {
			t.Fatalf("outcome mail %+v", cm[0])
		}
		if ev := e.events(); len(ev) != 2 || ev[1] != `complaint.resolved `+c.ID+` {"outcome":"rejected","category":"not_received","partner_due_at":"2026-12-11T10:00:00Z"}` {
			t.Fatalf("events %q", ev)
		}
		_, err = e.s.Reject(ctx, officer, c.ID, "again")
		wantProblem(t, err, problem.CodeInvalidState, "complaint "+c.ID+" is resolved already")
		_, err = e.s.AddNote(ctx, pm, c.ID, "late")
		wantProblem(t, err, problem.CodeInvalidState, "complaint "+c.ID+" is resolved already")
		_, err = e.s.Answer(ctx, e.owner, e.partner, c.ID, "late", false)
		wantProblem(t, err, problem.CodeInvalidState, "complaint "+c.ID+" is resolved already")
		notes, err := e.s.Notes(ctx, c.ID)
		mustOK(t, err)
		if len(notes) != 1 || notes[0].Body != "Settlement file shows the credit on 3 Dec." || notes[0].StaffID != pm {
			t.Fatalf("notes %+v", notes)
		}
		trail, err := e.s.Timeline(ctx, c.ID)
		mustOK(t, err)
		var acts []string
		for _, a := range trail {
			acts = append(acts, a.Action)
		}
		if strings.Join(acts, ",") != "complaint.opened,complaint.assigned,complaint.noted,complaint.resolved" {
			t.Fatalf("audit %q", acts)
		}
		// A new complaint about the same payment may be opened once the first is resolved.
		_, err = e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryOther, "Still not paid.")
		mustOK(t, err)
	})
}

// TestRefund: CheckRefund's refusals; Refunded in the correction's
// transaction resolves the complaint, mails the customer and publishes
// complaint.resolved; a rolled-back correction leaves it open.
func TestRefund(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		c, err := e.s.Open(ctx, "cus_alice", "pay_1", complaints.CategoryUnauthorised, "Not me.")
		mustOK(t, err)
		mustOK(t, e.s.CheckRefund(ctx, c.ID, "pay_1"))
		wantProblem(t, e.s.CheckRefund(ctx, c.ID, "pay_2"), problem.CodeValidation, "complaint "+c.ID+" is about payment pay_1, not pay_2")
		wantProblem(t, e.s.CheckRefund(ctx, "cmp_nope", "pay_1"), problem.CodeNotFound, "complaint cmp_nope not found")

		for _, tc := range []struct {
			name, correction string
			amount           money.Money
			code             problem.Code
			detail           string
		}{
			{"fail/no-correction", "", money.GBP(100), problem.CodeValidation, "a correction id is required"},
			{"fail/currency", "cor_1", money.Money{Minor: 100, Currency: "EUR"}, problem.CodeValidation, "the refund must be a positive amount in GBP"},
			{"fail/zero", "cor_1", money.GBP(0), problem.CodeValidation, "the refund must be a positive amount in GBP"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := d.Tx(ctx, func(tx *gorm.DB) error { return e.s.Refunded(ctx, tx, c.ID, tc.correction, tc.amount) })
				wantProblem(t, err, tc.code, tc.detail)
			})
		}
		// The correction's transaction rolls back: the complaint stays open.
		boom := errors.New("core refused")
		err = d.Tx(ctx, func(tx *gorm.DB) error {
			if err := e.s.Refunded(ctx, tx, c.ID, "cor_0", money.GBP(12550)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		mustOK(t, e.s.CheckRefund(ctx, c.ID, "pay_1"))

		e.now = e.now.Add(48 * time.Hour)
		mustOK(t, d.Tx(ctx, func(tx *gorm.DB) error { return e.s.Refunded(ctx, tx, c.ID, "cor_1", money.GBP(12550)) }))
		got, err := e.s.Get(ctx, c.ID)
		mustOK(t, err)
		if got.Status != complaints.StatusResolved || got.Outcome != complaints.OutcomeRefund || got.CorrectionID != "cor_1" ||
			got.Refund != money.GBP(12550) || !got.ResolvedAt.Equal(e.now) {
			t.Fatalf("refunded %+v", got)
		}
		cm := e.mails("alice@example.com")
		if len(cm) != 2 || cm[0].Body != "We looked into your complaint "+c.ID+" about the payment of 125.50 GBP to Corner Shop (SortCodeAccountNumber:40400412345678) "+
			"made through Acme Payments Ltd.\n\nWe uphold your complaint and refunded 125.50 GBP to your account (correction cor_1).\n" {
			t.Fatalf("mail %+v", cm)
		}
		if ev := e.events(); len(ev) != 2 || ev[1] != `complaint.resolved `+c.ID+` {"outcome":"refund","category":"unauthorised","partner_due_at":"2026-12-11T10:00:00Z"}` {
			t.Fatalf("events %q", ev)
		}
		trail, err := e.s.Timeline(ctx, c.ID)
		mustOK(t, err)
		if len(trail) != 2 || trail[1].Action != "complaint.resolved" || trail[1].ActorID != "corrections" || !strings.Contains(trail[1].Details, `"correction_id":"cor_1"`) {
			t.Fatalf("audit %+v", trail)
		}
		wantProblem(t, e.s.CheckRefund(ctx, c.ID, "pay_1"), problem.CodeInvalidState, "complaint "+c.ID+" is resolved already")
		err = d.Tx(ctx, func(tx *gorm.DB) error { return e.s.Refunded(ctx, tx, c.ID, "cor_2", money.GBP(1)) })
		wantProblem(t, err, problem.CodeInvalidState, "complaint "+c.ID+" is resolved already")

		// Counts: the review's (received in a period) and the risk signal's
		// (unauthorised or upheld since).
		n, err := e.s.CountReceived(ctx, e.partner, t0.Add(-time.Hour), t0.Add(time.Hour))
		mustOK(t, err)
		m, err := e.s.UpheldOrUnauthorisedByPartner(ctx, t0.Add(-time.Hour))
		mustOK(t, err)
		if n != 1 || len(m) != 1 || m[e.partner] != 1 {
			t.Fatalf("counts %d %v", n, m)
		}
		n, err = e.s.CountReceived(ctx, e.partner, t0.Add(time.Second), t0.Add(time.Hour))
		mustOK(t, err)
		if n != 0 {
			t.Fatalf("count after receipt %d", n)
		}
	})
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{"alice@example.com": "a••••@example.com", "b@x.org": "b•@x.org", "": "", "nope": "•••",
		"élodie@exemple.fr": "é•••••@exemple.fr"} {
		if got := complaints.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
