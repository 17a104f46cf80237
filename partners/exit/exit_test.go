package exit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/exit"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/webhooks"
)

// publisher is the platform's events.Publisher on the webhooks outbox (as
// cmd/bankbridge wires it).
type publisher struct{ w *webhooks.Service }

func (p publisher) Publish(ctx context.Context, tx *gorm.DB, typ, partnerID, appID string, data map[string]any) error {
	return p.w.Publish(ctx, tx, webhooks.Event{Type: typ, PartnerID: partnerID, AppID: appID, Data: data})
}

// clock is a settable test clock that moves on a millisecond at each
// reading (so rows written one after the other are ordered by time).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

// fixture is the real platform services on one database.
type fixture struct {
	d          *db.DB
	clock      *clock
	partners   *partners.Service
	webhooks   *webhooks.Service
	apis       *apis.Service
	contracts  *contracts.Service
	cfg        exit.Config
	svc        *exit.Service
	maker      string // partner manager
	checker    string // another partner manager
	auditor    string
	partnerID  string
	appID      string
	ownerEmail string
}

func newFixture(t *testing.T, d *db.DB, opts ...func(*exit.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{d: d, clock: &clock{t: t0}}
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if f.webhooks, err = webhooks.NewService(webhooks.Config{DB: d, Box: box, AllowLoopback: true, Clock: f.clock.now}); err != nil {
		t.Fatal(err)
	}
	pub := publisher{f.webhooks}
	tokens := oauth.NewTokens(d.DB)
	if f.partners, err = partners.New(partners.Config{DB: d, Box: box, Publisher: pub, Revoker: tokens, Now: f.clock.now}); err != nil {
		t.Fatal(err)
	}
	ref := core.NewReference(d, core.Options{CursorKey: []byte("test-cursor-key")})
	f.apis = apis.NewService(apis.Config{DB: d, Core: ref, Publisher: pub, Revoker: tokens, Now: f.clock.now})
	f.contracts = contracts.New(d, contracts.Options{Events: pub, Now: f.clock.now})
	for _, x := range []struct {
		id    *string
		email string
		role  staff.Role
	}{{&f.maker, "maker@bank.test", staff.RolePartnerManager}, {&f.checker, "checker@bank.test", staff.RolePartnerManager},
		{&f.auditor, "auditor@bank.test", staff.RoleAuditor}} {
		c, err := f.partners.Staff().Bootstrap(ctx, x.email, x.role)
		if err != nil {
			t.Fatal(err)
		}
		*x.id = c.Staff.ID
	}
	p, err := f.partners.CreatePartner(ctx, "Leaving Wallet Ltd")
	if err != nil {
		t.Fatal(err)
	}
	f.partnerID, f.ownerEmail = p.ID, "owner@leaving.test"
	dbtest.MustPartnerOwner(t, d, p.ID, f.ownerEmail)
	_, jwks, err := partners.GenerateES256Key("k1")
	if err != nil {
		t.Fatal(err)
	}
	app, err := f.partners.CreateAppAsOperator(ctx, p.ID, partners.AppInput{Name: "Wallet sandbox", Environment: environment.Sandbox,
		RedirectURIs: []string{"http://localhost:3000/cb"}, Scopes: []string{"openid", "accounts"}, JWKS: jwks})
	if err != nil {
		t.Fatal(err)
	}
	f.appID = app.ID
	if _, _, err := f.webhooks.CreateEndpoint(ctx, webhooks.Scope{PartnerID: p.ID, AppID: app.ID}, environment.Sandbox,
		webhooks.EndpointInput{URL: "http://127.0.0.1:9/hook", EventTypes: []string{"partner.status_changed", "partner.terminated",
			"partner.termination_scheduled", "partner.termination_cancelled", "consent.revoked", "statement.issued"}}); err != nil {
		t.Fatal(err)
	}
	zero := 0
	f.cfg = exit.Config{DB: d, Staff: f.partners.Staff(), Partners: f.partners, Consents: f.apis, Erasure: apis.NewGormStore(d),
		Tokens: tokens, Customers: ref, Webhooks: f.webhooks, Contracts: f.contracts, Publisher: pub, RetentionDays: &zero,
		WebhookDrain: time.Nanosecond, Node: "node-a", PortalURL: "https://bank.test/portal", Now: f.clock.now}
	for _, o := range opts {
		o(&f.cfg)
	}
	if f.svc, err = exit.New(f.cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// node is another node's Service on the same database.
func (f *fixture) node(t *testing.T, name string) *exit.Service {
	cfg := f.cfg
	cfg.Node = name
	s, err := exit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantProblem(t *testing.T, err error, code problem.Code, detail string) {
	t.Helper()
	var p *problem.Error
	if !errors.As(err, &p) {
		t.Fatalf("err = %v, want problem %s %q", err, code, detail)
	}
	if p.Code != code || p.Detail != detail {
		t.Fatalf("problem %s %q, want %s %q", p.Code, p.Detail, code, detail)
	}
}

// result holds a call's value and error until a test takes it (get).
type result[T any] struct {
	v   T
	err error
}

func res[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) get(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// events lists the partner's event types in the outbox, oldest first.
func (f *fixture) events(t *testing.T) []string {
	var out []string
	if err := f.d.Raw(`SELECT type FROM webhook_events WHERE partner_id = ? ORDER BY created_at, id`, f.partnerID).Scan(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// scheduled proposes and approves a termination effective at t0 (no
// contract: no notice).
func (f *fixture) scheduled(t *testing.T) *exit.Exit {
	t.Helper()
	ctx := context.Background()
	e := res(f.svc.Propose(ctx, f.maker, f.partnerID, "The partner asked to leave.", time.Time{})).get(t)
	return res(f.svc.Decide(ctx, f.checker, e.ID, true, "agreed")).get(t)
}

// TestProposeDecideCancel: the maker-checker and notice rules of a
// termination, each refusal with its exact problem, and what the partner is
// told when notice is given and withdrawn.
func TestProposeDecideCancel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		var e *exit.Exit
		steps := []struct {
			name string
			run  func() error
			code problem.Code
			want func() string
		}{
			{"fail/role-may-not-propose", func() error {
				_, err := f.svc.Propose(ctx, f.auditor, f.partnerID, "x", time.Time{})
				return err
			}, problem.CodeForbidden, func() string { return "role auditor may not exits.propose" }},
			{"fail/no-reason", func() error {
				_, err := f.svc.Propose(ctx, f.maker, f.partnerID, "  ", time.Time{})
				return err
			}, problem.CodeValidation, func() string { return "reason is required" }},
			{"fail/effective-before-notice", func() error {
				_, err := f.svc.Propose(ctx, f.maker, f.partnerID, "Leaving", t0.Add(-time.Hour))
				return err
			}, problem.CodeValidation, func() string {
				return "the effective date must be on or after 5 December 2026 10:00 UTC (0 days' notice)"
			}},
			{"fail/unknown-partner", func() error {
				_, err := f.svc.Propose(ctx, f.maker, "ptn_missing", "Leaving", time.Time{})
				return err
			}, problem.CodeNotFound, func() string { return "partner ptn_missing not found" }},
			{"ok/propose", func() error {
				var err error
				e, err = f.svc.Propose(ctx, f.maker, f.partnerID, "The partner asked to leave.", t0.Add(48*time.Hour))
				return err
			}, "", nil},
			{"fail/second-open-termination", func() error {
				_, err := f.svc.Propose(ctx, f.maker, f.partnerID, "Again", time.Time{})
				return err
			}, problem.CodeConflict, func() string { return "partner " + f.partnerID + " already has a termination open" }},
			{"fail/partner-does-not-see-a-proposal", func() error {
				_, err := f.svc.ForPartner(ctx, f.partnerID)
				return err
			}, problem.CodeNotFound, func() string { return "partner " + f.partnerID + " has no termination scheduled" }},
			{"fail/maker-decides", func() error {
				_, err := f.svc.Decide(ctx, f.maker, e.ID, true, "")
				return err
			}, problem.CodeMakerChecker, func() string {
				return "termination " + e.ID + " was proposed by " + f.maker + ", who cannot also decide it"
			}},
			{"fail/auditor-decides", func() error {
				_, err := f.svc.Decide(ctx, f.auditor, e.ID, true, "")
				return err
			}, problem.CodeForbidden, func() string { return "role auditor may not exits.approve" }},
			{"fail/reject-without-note", func() error {
				_, err := f.svc.Decide(ctx, f.checker, e.ID, false, "")
				return err
			}, problem.CodeValidation, func() string { return "note is required" }},
			{"ok/approve", func() error {
				_, err := f.svc.Decide(ctx, f.checker, e.ID, true, "agreed")
				return err
			}, "", nil},
			{"fail/decide-twice", func() error {
				_, err := f.svc.Decide(ctx, f.checker, e.ID, true, "")
				return err
			}, problem.CodeInvalidState, func() string { return "termination " + e.ID + " is scheduled, only a proposed one can be decided" }},
			{"fail/cancel-without-reason", func() error {
				_, err := f.svc.Cancel(ctx, f.maker, e.ID, "")
				return err
			}, problem.CodeValidation, func() string { return "reason is required" }},
			{"ok/cancel-before-effective", func() error {
				_, err := f.svc.Cancel(ctx, f.maker, e.ID, "They stay after all.")
				return err
			}, "", nil},
			{"fail/cancel-twice", func() error {
				_, err := f.svc.Cancel(ctx, f.maker, e.ID, "again")
				return err
			}, problem.CodeInvalidState, func() string { return "termination " + e.ID + " is cancelled and cannot be cancelled" }},
			{"fail/cancel-after-effective", func() error {
				e = f.scheduled(t) // effective at t0
				f.clock.set(t0.Add(time.Minute))
				_, err := f.svc.Cancel(ctx, f.maker, e.ID, "too late")
				return err
			}, problem.CodeInvalidState, func() string {
				return "termination " + e.ID + " took effect at 5 December 2026 10:00 UTC and cannot be cancelled"
			}},
		}
		for _, st := range steps {
			err := st.run()
			if st.want == nil {
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				continue
			}
			t.Run(st.name, func(t *testing.T) { wantProblem(t, err, st.code, st.want()) })
		}
		// Notice given, then withdrawn, then given again: one event and one
		// owner mail each.
		if got, want := f.events(t), []string{"partner.termination_scheduled", "partner.termination_cancelled",
			"partner.termination_scheduled"}; !slices.Equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		ms := res(mail.List(ctx, d.DB, f.ownerEmail, 10)).get(t)
		var templates []string
		for _, m := range ms {
			templates = append(templates, m.Template)
		}
		if want := []string{exit.MailScheduled, exit.MailCancelled, exit.MailScheduled}; !slices.Equal(templates, []string{want[2], want[1], want[0]}) {
			t.Fatalf("owner mails %v, want (newest first) %v", templates, want)
		}
		seen := res(f.svc.ForPartner(ctx, f.partnerID)).get(t)
		if seen.ID != e.ID || !seen.Timeline().LastAPIAccess.Equal(seen.EffectiveAt.Add(-time.Second)) {
			t.Fatalf("partner sees %+v", seen)
		}
	})
}

// TestWindDownTwiceConcurrently: two nodes run the due wind-downs at the
// same moment; exactly one claims the exit, every step is recorded once in
// order, partner.terminated is the partner's last event, the endpoint is
// disabled, the outbox takes no more events, and the export is there for
// the partner's owner (not another partner's, 404).
func TestWindDownTwiceConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		e := f.scheduled(t)
		f.clock.set(t0.Add(time.Second))
		a, b := f.node(t, "node-a"), f.node(t, "node-b")
		var wg sync.WaitGroup
		worked := make([][]string, 2)
		errs := make([]error, 2)
		for i, s := range []*exit.Service{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				worked[i], errs[i] = s.RunDue(ctx)
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("RunDue: %v / %v", errs[0], errs[1])
		}
		if n := len(worked[0]) + len(worked[1]); n != 1 {
			t.Fatalf("worked %v and %v: want the exit claimed once", worked[0], worked[1])
		}
		recs := res(f.svc.StepsDone(ctx, e.ID)).get(t)
		var names []string
		for _, r := range recs {
			names = append(names, r.Step)
		}
		if want := exit.Steps[:len(exit.Steps)-1]; !slices.Equal(names, want) {
			t.Fatalf("steps %v, want %v", names, want)
		}
		got := res(f.svc.Get(ctx, e.ID)).get(t)
		if got.Status != exit.StatusCompleted || got.DeleteAfter == nil || !got.DeleteAfter.Equal(got.EffectiveAt) {
			t.Fatalf("exit %+v", got)
		}
		p := res(f.partners.Partner(ctx, f.partnerID)).get(t)
		if p.Status != partners.StatusTerminated {
			t.Fatalf("partner status %s", p.Status)
		}
		evs := f.events(t)
		if evs[len(evs)-1] != exit.EventTerminated || slices.Index(evs, exit.EventTerminated) != len(evs)-1 {
			t.Fatalf("events %v: want partner.terminated once and last", evs)
		}
		// The outbox is closed: a later event is recorded but queued to no endpoint.
		var before, after int64
		d.Raw(`SELECT COUNT(*) FROM webhook_deliveries WHERE partner_id = ?`, f.partnerID).Scan(&before)
		if err := d.Tx(ctx, func(tx *gorm.DB) error {
			return f.webhooks.Publish(ctx, tx, webhooks.Event{Type: "consent.revoked", PartnerID: f.partnerID, Data: map[string]any{"consent_id": "cns_x"}})
		}); err != nil {
			t.Fatal(err)
		}
		d.Raw(`SELECT COUNT(*) FROM webhook_deliveries WHERE partner_id = ?`, f.partnerID).Scan(&after)
		if after != before {
			t.Fatalf("deliveries %d → %d after closure", before, after)
		}
		eps := res(f.webhooks.PartnerDeliverySummary(ctx, f.partnerID)).get(t)
		if len(eps) != 1 || eps[0].Enabled {
			t.Fatalf("endpoints %+v, want the one disabled", eps)
		}
		// Nothing more to do on either node.
		if w, err := b.RunDue(ctx); err != nil || len(w) != 0 {
			t.Fatalf("RunDue again: %v %v", w, err)
		}
		var owner string
		d.Raw(`SELECT user_id FROM memberships WHERE partner_id = ?`, f.partnerID).Scan(&owner)
		x := res(f.svc.ExportForOwner(ctx, owner, f.partnerID)).get(t)
		var arch struct {
			Format       string `json:"format"`
			Organisation struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"organisation"`
			Apps []struct {
				ID string `json:"id"`
			} `json:"apps"`
			Webhooks []map[string]any `json:"webhook_deliveries"`
		}
		if err := json.Unmarshal(x.Archive, &arch); err != nil {
			t.Fatal(err)
		}
		if arch.Format != exit.ExportFormat || arch.Organisation.ID != f.partnerID || arch.Organisation.Status != "terminated" ||
			len(arch.Apps) != 1 || arch.Apps[0].ID != f.appID || len(arch.Webhooks) != 1 {
			t.Fatalf("archive %s", x.Archive)
		}
		other := res(f.partners.CreatePartner(ctx, "Staying Ltd")).get(t)
		dbtest.MustPartnerOwner(t, d, other.ID, "owner@staying.test")
		var otherOwner string
		d.Raw(`SELECT user_id FROM memberships WHERE partner_id = ?`, other.ID).Scan(&otherOwner)
		_, err := f.svc.ExportForOwner(ctx, otherOwner, f.partnerID)
		wantProblem(t, err, problem.CodeNotFound, "partner "+f.partnerID+" not found")
		if err := d.Exec(`INSERT INTO portal_users (id, email, password_hash, created_at, updated_at) VALUES ('usr_dev', 'dev@leaving.test', 'x', ?, ?)`,
			t0, t0).Error; err != nil {
			t.Fatal(err)
		}
		if err := d.Exec(`INSERT INTO memberships (partner_id, user_id, role, created_at) VALUES (?, 'usr_dev', 'developer', ?)`, f.partnerID, t0).Error; err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.ExportForOwner(ctx, "usr_dev", f.partnerID)
		wantProblem(t, err, problem.CodeForbidden, "only the organisation's owners may download its data export")
		_, err = f.svc.ExportForStaff(ctx, f.auditor, "ptn_missing")
		wantProblem(t, err, problem.CodeNotFound, "no data export of partner ptn_missing is available")
	})
}

// crashingContracts is contracts whose final settlement fails once (a node
// dying mid-way).
type crashingContracts struct {
	contractsPort
	once sync.Once
}

type contractsPort = exit.Contracts

func (c *crashingContracts) SettleFinal(ctx context.Context, partnerID string, end time.Time, reason string) (contracts.Statement, bool, error) {
	var err error
	c.once.Do(func() { err = fmt.Errorf("node lost") })
	if err != nil {
		return contracts.Statement{}, false, err
	}
	return c.contractsPort.SettleFinal(ctx, partnerID, end, reason)
}

// TestWindDownResumesAfterCrash: a wind-down that fails at the final
// settlement keeps the steps it did; the next run resumes at that step and
// does none of the earlier ones again (one partner.terminated, one status
// change); then, the retention period over (0 days here), PurgeDue erases
// the people's data and the export, once.
func TestWindDownResumesAfterCrash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d, func(c *exit.Config) { c.Contracts = &crashingContracts{contractsPort: c.Contracts} })
		e := f.scheduled(t)
		f.clock.set(t0.Add(time.Second))
		if _, err := f.svc.RunDue(ctx); err == nil || err.Error() != "termination "+e.ID+": step final_settlement: node lost" {
			t.Fatalf("first run: %v", err)
		}
		if n := len(res(f.svc.StepsDone(ctx, e.ID)).get(t)); n != 5 {
			t.Fatalf("%d steps after the crash, want 5", n)
		}
		if got := res(f.svc.Get(ctx, e.ID)).get(t); got.Status != exit.StatusRunning {
			t.Fatalf("status %s", got.Status)
		}
		if _, err := f.svc.RunDue(ctx); err != nil {
			t.Fatal(err)
		}
		if got := res(f.svc.Get(ctx, e.ID)).get(t); got.Status != exit.StatusCompleted {
			t.Fatalf("status %s", got.Status)
		}
		count := func(typ string) (n int) {
			for _, x := range f.events(t) {
				if x == typ {
					n++
				}
			}
			return n
		}
		if count(exit.EventTerminated) != 1 || count("partner.status_changed") != 1 {
			t.Fatalf("events %v", f.events(t))
		}
		erased := res(f.svc.PurgeDue(ctx)).get(t)
		if !slices.Equal(erased, []string{e.ID}) {
			t.Fatalf("erased %v", erased)
		}
		if again := res(f.svc.PurgeDue(ctx)).get(t); len(again) != 0 {
			t.Fatalf("erased again %v", again)
		}
		var emails []string
		d.Raw(`SELECT email FROM portal_users WHERE id = ?`, "usr_"+f.ownerEmail).Scan(&emails)
		if len(emails) != 1 || emails[0] != "erased+usr_"+f.ownerEmail+"@invalid" {
			t.Fatalf("owner after erasure %v", emails)
		}
		_, err := f.svc.ExportForStaff(ctx, f.auditor, f.partnerID)
		wantProblem(t, err, problem.CodeNotFound, "no data export of partner "+f.partnerID+" is available")
		if got := res(f.svc.Get(ctx, e.ID)).get(t); got.DeletedAt == nil {
			t.Fatalf("deleted_at not set")
		}
	})
}
