package recon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Days reads a partner's reconciliation day: the platform's payments with
// their fees and core entries (apis.Service implements it).
type Days interface {
	ReconciliationOf(ctx context.Context, partnerID string, env environment.Environment, day string) (*apis.Reconciliation, error)
}

// Partners tells whether a partner exists (partners.Service's Partner);
// errors: a problem with CodeNotFound for an unknown partner.
type Partners interface {
	Known(ctx context.Context, partnerID string) error
}

// Config wires a Service.
type Config struct {
	Store Store
	Days  Days
	// Partners, when set, refuses a recomputation for an unknown partner
	// (else it would record an empty day for it).
	Partners Partners
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default
}

// Service keeps partner records and breaks; it implements apis.Reconciler.
type Service struct {
	store    Store
	days     Days
	partners Partners
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, days: cfg.Days, partners: cfg.Partners, now: cfg.Now, log: cfg.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

var _ apis.Reconciler = (*Service)(nil)

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func authorize(a Actor, what staff.Action) error { return staff.Authorize(a.ID, a.Role, what) }

// who is an audit actor.
type who struct {
	typ, id, interaction string
}

func staffWho(a Actor) who {
	if a.Role == staff.RoleSystem {
		return who{audit.ActorSystem, a.ID, a.InteractionID}
	}
	return who{audit.ActorStaff, a.ID, a.InteractionID}
}

func (s *Service) audit(ctx context.Context, w who, action, objType, objID, partnerID string, details map[string]any) error {
	return s.store.Audit(ctx, audit.Entry{ActorType: w.typ, ActorID: w.id, Action: action, ObjectType: objType,
		ObjectID: objID, PartnerID: partnerID, InteractionID: w.interaction, Details: details})
}

// UploadRecord implements apis.Reconciler: it stores the partner's record of
// day (replacing an earlier one), recomputes the day's breaks in the same
// transaction and audits recon_record.uploaded (actor: the partner app).
// Refusals: CodeInvalidRequest (a day after today), CodeConflict (finance
// closed the day).
func (s *Service) UploadRecord(ctx context.Context, partnerID string, env environment.Environment, day time.Time, by string, lines []apis.RecordedPayment) (*apis.RecordReceipt, error) {
	now := s.clock()
	ds := day.UTC().Format(apis.DayLayout)
	if day.After(now) {
		return nil, problem.New(problem.CodeInvalidRequest, "date %s is after today (%s): a day is reconciled once it has begun", ds, now.Format(apis.DayLayout))
	}
	rec, err := s.days.ReconciliationOf(ctx, partnerID, env, ds)
	if err != nil {
		return nil, err
	}
	if lines == nil {
		lines = []apis.RecordedPayment{}
	}
	var rcpt apis.RecordReceipt
	w := who{audit.ActorPartner, by, ""}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		d, err := s.store.LockDay(ctx, partnerID, env, ds, now)
		if err != nil {
			return err
		}
		if d.Closed() {
			return problem.New(problem.CodeConflict, "the reconciliation of %s was closed by finance at %s: the partner record can no longer be replaced",
				ds, d.ClosedAt.Format(time.RFC3339))
		}
		rcpt.Replaced = d.Uploads > 0
		d.Record, d.Uploads, d.UploadedBy, d.UploadedAt = lines, d.Uploads+1, by, now
		if err := s.audit(ctx, w, "recon_record.uploaded", "recon_day", d.ID, partnerID,
			map[string]any{"day": ds, "environment": string(env), "payments": len(lines), "replaced": rcpt.Replaced}); err != nil {
			return err
		}
		open, err := s.match(ctx, d, rec, now, w)
		if err != nil {
			return err
		}
		rcpt.Payments, rcpt.UploadedAt, rcpt.OpenBreaks = len(lines), now, open
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &rcpt, nil
}

// match recomputes the breaks of the locked day d from rec and d.Record and
// saves the day (see the package doc); it returns the open breaks.
func (s *Service) match(ctx context.Context, d *Day, rec *apis.Reconciliation, now time.Time, w who) (int, error) {
	found := Match(rec.Payments, d.Record)
	have, err := s.store.DayBreaks(ctx, d.ID)
	if err != nil {
		return 0, err
	}
	key := func(payment, kind string) string { return payment + "\x00" + kind }
	byKey := make(map[string]*Break, len(have))
	for i := range have {
		byKey[key(have[i].PaymentID, have[i].Kind)] = &have[i]
	}
	open := 0
	seen := map[string]bool{}
	for _, f := range found {
		k := key(f.PaymentID, f.Kind)
		seen[k] = true
		b := byKey[k]
		if b == nil {
			nb := &Break{Break: apis.Break{ID: ids.New("rcb"), Day: d.Day, PaymentID: f.PaymentID, Kind: f.Kind,
				BankValue: f.BankValue, PartnerValue: f.PartnerValue, CoreValue: f.CoreValue, Status: apis.BreakOpen,
				CreatedAt: now, UpdatedAt: now}, DayID: d.ID, PartnerID: d.PartnerID, Environment: d.Environment, Version: 1}
			if err := s.store.InsertBreak(ctx, nb); err != nil {
				return 0, err
			}
			if err := s.audit(ctx, w, "recon_break.opened", "recon_break", nb.ID, d.PartnerID, breakDetails(nb)); err != nil {
				return 0, err
			}
			open++
			continue
		}
		reopen := b.Status == apis.BreakResolved && b.Resolution == ResolutionMatched
		changed := b.BankValue != f.BankValue || b.PartnerValue != f.PartnerValue || b.CoreValue != f.CoreValue
		if reopen || changed {
			b.BankValue, b.PartnerValue, b.CoreValue, b.UpdatedAt = f.BankValue, f.PartnerValue, f.CoreValue, now
			action := "recon_break.updated"
			if reopen {
				b.Status, b.Resolution, b.ResolvedBy, b.ResolvedAt, b.Note = apis.BreakOpen, "", "", time.Time{}, ""
				action = "recon_break.reopened"
			}
			if err := s.store.UpdateBreak(ctx, b, b.Version); err != nil {
				return 0, s.stale(err, b.ID)
			}
			if err := s.audit(ctx, w, action, "recon_break", b.ID, d.PartnerID, breakDetails(b)); err != nil {
				return 0, err
			}
		}
		if b.Open() {
			open++
		}
	}
	for i := range have {
		b := &have[i]
		if seen[key(b.PaymentID, b.Kind)] || !b.Open() {
			continue
		}
		b.Status, b.Resolution, b.ResolvedBy, b.ResolvedAt, b.UpdatedAt = apis.BreakResolved, ResolutionMatched, w.id, now, now
		if err := s.store.UpdateBreak(ctx, b, b.Version); err != nil {
			return 0, s.stale(err, b.ID)
		}
		if err := s.audit(ctx, w, "recon_break.matched", "recon_break", b.ID, d.PartnerID, breakDetails(b)); err != nil {
			return 0, err
		}
	}
	d.MatchedAt = now
	return open, s.store.SaveRecord(ctx, d)
}

func breakDetails(b *Break) map[string]any {
	return map[string]any{"day": b.Day, "environment": string(b.Environment), "payment_id": b.PaymentID, "kind": b.Kind,
		"bank": b.BankValue, "partner": b.PartnerValue, "core": b.CoreValue, "status": b.Status, "resolution": b.Resolution}
}

func (s *Service) stale(err error, id string) error {
	if errors.Is(err, ErrStale) {
		return problem.New(problem.CodeConflict, "break %s was changed by someone else meanwhile; reload it", id)
	}
	return err
}

// PartnerBreaks implements apis.Reconciler: the breaks of the partner's day
// in env, by payment id and kind (none before a record or recomputation).
func (s *Service) PartnerBreaks(ctx context.Context, partnerID string, env environment.Environment, day time.Time) ([]apis.Break, error) {
	d, err := s.store.Day(ctx, partnerID, env, day.UTC().Format(apis.DayLayout))
	if errors.Is(err, ErrNotFound) {
		return []apis.Break{}, nil
	}
	if err != nil {
		return nil, err
	}
	bs, err := s.store.DayBreaks(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	out := make([]apis.Break, len(bs))
	for i := range bs {
		out[i] = bs[i].Break
	}
	return out, nil
}

// Recompute matches a partner's day again (finance's "recompute" and the
// CLI), with or without a partner record. Refusals: CodeForbidden,
// CodeInvalidRequest (date, environment), CodeNotFound (unknown partner).
func (s *Service) Recompute(ctx context.Context, actor Actor, partnerID string, env environment.Environment, day string) (int, error) {
	if err := authorize(actor, staff.ActReconResolve); err != nil {
		return 0, err
	}
	if _, err := apis.ParseDay(day); err != nil {
		return 0, err
	}
	if !slices.Contains(environment.All(), env) {
		return 0, problem.New(problem.CodeInvalidRequest, "environment %q is not one of %v", env, environment.All())
	}
	if s.partners != nil {
		if err := s.partners.Known(ctx, partnerID); err != nil {
			return 0, err
		}
	}
	rec, err := s.days.ReconciliationOf(ctx, partnerID, env, day)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	var open int
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		d, err := s.store.LockDay(ctx, partnerID, env, day, now)
		if err != nil {
			return err
		}
		if d.Closed() {
			return problem.New(problem.CodeInvalidState, "the reconciliation of %s was closed at %s", day, d.ClosedAt.Format(time.RFC3339))
		}
		w := staffWho(actor)
		if err := s.audit(ctx, w, "recon_day.recomputed", "recon_day", d.ID, partnerID,
			map[string]any{"day": day, "environment": string(env)}); err != nil {
			return err
		}
		open, err = s.match(ctx, d, rec, now, w)
		return err
	})
	return open, err
}

// Breaks lists breaks for the console. Refusal: CodeForbidden.
func (s *Service) Breaks(ctx context.Context, actor Actor, f Filter) ([]Break, error) {
	if err := authorize(actor, staff.ActReconRead); err != nil {
		return nil, err
	}
	return s.store.Breaks(ctx, f)
}

// Break returns one break, its day and its audit trail. Refusals:
// CodeForbidden, CodeNotFound.
func (s *Service) Break(ctx context.Context, actor Actor, id string) (*Break, *Day, []audit.Event, error) {
	if err := authorize(actor, staff.ActReconRead); err != nil {
		return nil, nil, nil, err
	}
	b, err := s.store.Break(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil, problem.New(problem.CodeNotFound, "break %s not found", id)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := s.store.DayByID(ctx, b.DayID)
	if err != nil {
		return nil, nil, nil, err
	}
	trail, err := s.store.AuditTrail(ctx, b.ID)
	return b, d, trail, err
}

// change applies fn to break id at version in one transaction with a
// conditional update (exactly one of concurrent changes wins; the others
// get CodeConflict) and audits action.
func (s *Service) change(ctx context.Context, actor Actor, id string, version int, action string, fn func(b *Break) error, details map[string]any) (*Break, error) {
	if err := authorize(actor, staff.ActReconResolve); err != nil {
		return nil, err
	}
	var out *Break
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		b, err := s.store.Break(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return problem.New(problem.CodeNotFound, "break %s not found", id)
		}
		if err != nil {
			return err
		}
		if b.Version != version {
			return problem.New(problem.CodeConflict, "break %s was changed by someone else meanwhile; reload it", id)
		}
		if err := fn(b); err != nil {
			return err
		}
		b.UpdatedAt = s.clock()
		if err := s.store.UpdateBreak(ctx, b, version); err != nil {
			return s.stale(err, id)
		}
		dt := breakDetails(b)
		for k, v := range details {
			dt[k] = v
		}
		if err := s.audit(ctx, staffWho(actor), action, "recon_break", b.ID, b.PartnerID, dt); err != nil {
			return err
		}
		out = b
		return nil
	})
	return out, err
}

// Assign gives an open break to a member of staff (assignee "" unassigns).
// Refusals: CodeForbidden, CodeNotFound, CodeValidation (assignee),
// CodeInvalidState (resolved), CodeConflict (changed meanwhile).
func (s *Service) Assign(ctx context.Context, actor Actor, id string, version int, assignee string) (*Break, error) {
	assignee = strings.TrimSpace(assignee)
	if len(assignee) > 200 {
		return nil, problem.New(problem.CodeValidation, "the assignee is longer than 200 bytes")
	}
	return s.change(ctx, actor, id, version, "recon_break.assigned", func(b *Break) error {
		if !b.Open() {
			return problem.New(problem.CodeInvalidState, "break %s is resolved (%s): reopen it first", id, b.Resolution)
		}
		b.Assignee = assignee
		return nil
	}, map[string]any{"assignee": assignee})
}

// Resolve closes an open break with a resolution code (ResolutionCodes) and
// a note. Refusals: CodeForbidden, CodeNotFound, CodeValidation (code,
// note), CodeInvalidState (already resolved), CodeConflict (changed
// meanwhile: exactly one of concurrent resolutions wins).
func (s *Service) Resolve(ctx context.Context, actor Actor, id string, version int, code, note string) (*Break, error) {
	if !slices.Contains(ResolutionCodes, code) {
		return nil, problem.New(problem.CodeValidation, "resolution %q is not one of %s", code, strings.Join(ResolutionCodes, ", "))
	}
	note, err := checkNote(note)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, actor, id, version, "recon_break.resolved", func(b *Break) error {
		if !b.Open() {
			return problem.New(problem.CodeInvalidState, "break %s is already resolved (%s)", id, b.Resolution)
		}
		b.Status, b.Resolution, b.Note, b.ResolvedBy, b.ResolvedAt = apis.BreakResolved, code, note, actor.ID, s.clock()
		return nil
	}, map[string]any{"note": note})
}

// Reopen opens a resolved break again, with a note. Refusals as Resolve,
// and CodeInvalidState for an open break or a closed day.
func (s *Service) Reopen(ctx context.Context, actor Actor, id string, version int, note string) (*Break, error) {
	note, err := checkNote(note)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, actor, id, version, "recon_break.reopened", func(b *Break) error {
		if b.Open() {
			return problem.New(problem.CodeInvalidState, "break %s is open", id)
		}
		d, err := s.store.DayByID(ctx, b.DayID)
		if err != nil {
			return err
		}
		if d.Closed() {
			return problem.New(problem.CodeInvalidState, "the reconciliation of %s was closed at %s: its breaks can no longer be reopened",
				d.Day, d.ClosedAt.Format(time.RFC3339))
		}
		b.Status, b.Resolution, b.Note, b.ResolvedBy, b.ResolvedAt = apis.BreakOpen, "", note, "", time.Time{}
		return nil
	}, map[string]any{"note": note})
}

func checkNote(note string) (string, error) {
	note = strings.TrimSpace(note)
	switch {
	case note == "":
		return "", problem.New(problem.CodeValidation, "a note is required")
	case len(note) > MaxNote:
		return "", problem.New(problem.CodeValidation, "the note is longer than %d bytes", MaxNote)
	}
	return note, nil
}

// CloseDay closes a partner's day once none of its breaks is open: the
// partner can no longer replace its record, and its breaks can no longer be
// reopened. Refusals: CodeForbidden, CodeNotFound, CodeInvalidState (open
// breaks), CodeConflict (closed already).
func (s *Service) CloseDay(ctx context.Context, actor Actor, dayID string) (*Day, error) {
	if err := authorize(actor, staff.ActReconResolve); err != nil {
		return nil, err
	}
	var out *Day
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		d, err := s.store.DayByID(ctx, dayID)
		if errors.Is(err, ErrNotFound) {
			return problem.New(problem.CodeNotFound, "reconciliation day %s not found", dayID)
		}
		if err != nil {
			return err
		}
		if d, err = s.store.LockDay(ctx, d.PartnerID, d.Environment, d.Day, s.clock()); err != nil {
			return err
		}
		bs, err := s.store.DayBreaks(ctx, d.ID)
		if err != nil {
			return err
		}
		n := 0
		for i := range bs {
			if bs[i].Open() {
				n++
			}
		}
		if n > 0 {
			return problem.New(problem.CodeInvalidState, "the reconciliation of %s has %d open break(s): resolve them first", d.Day, n)
		}
		now := s.clock()
		if err := s.store.CloseDay(ctx, d.ID, actor.ID, now); err != nil {
			if errors.Is(err, ErrStale) {
				return problem.New(problem.CodeConflict, "the reconciliation of %s is closed already", d.Day)
			}
			return err
		}
		d.ClosedBy, d.ClosedAt = actor.ID, now
		out = d
		return s.audit(ctx, staffWho(actor), "recon_day.closed", "recon_day", d.ID, d.PartnerID,
			map[string]any{"day": d.Day, "environment": string(d.Environment), "breaks": len(bs)})
	})
	return out, err
}

// String is the day for messages.
func (d *Day) String() string { return fmt.Sprintf("%s %s %s", d.PartnerID, d.Environment, d.Day) }
