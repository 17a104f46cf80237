package limits

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/cachebus"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// CacheTopic is the cachebus topic of rule changes (keys: environments).
const CacheTopic = "risk.limits"

// The node's cache of rules: the TTL is a safety net, every approved change
// invalidates at once on every node.
const (
	cacheTTL = 30 * time.Second
	cacheMax = 8
)

// Config wires a Service.
type Config struct {
	// Store defaults to NewGormStore(DB).
	Store Store
	DB    *db.DB
	// Bus carries the invalidations between nodes; nil caches nothing
	// (every payment reads the rules).
	Bus cachebus.Bus
	// Defaults are the built-in limits per environment (shown on the
	// console's page where no platform rule replaces them).
	Defaults map[environment.Environment]Defaults
	Now      func() time.Time
	Logger   *slog.Logger
}

// Service is the limits' logic.
type Service struct {
	store    Store
	bus      cachebus.Bus
	cache    *cachebus.Cache[[]Rule]
	defaults map[environment.Environment]Defaults
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, bus: cfg.Bus, defaults: cfg.Defaults, now: cfg.Now, log: cfg.Logger}
	if s.store == nil {
		s.store = NewGormStore(cfg.DB)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.cache = cachebus.NewCache[[]Rule](cfg.Bus, CacheTopic, cacheTTL, cacheMax)
	return s
}

// Defaults returns the built-in limits of env (zero when not configured).
func (s *Service) Defaults(env environment.Environment) Defaults { return s.defaults[env] }

// Rules returns the stored rules of env, through the node's cache (the
// payment path's read). The caller must not change the slice.
func (s *Service) Rules(ctx context.Context, env environment.Environment) ([]Rule, error) {
	if rs, ok := s.cache.Get(string(env)); ok {
		return rs, nil
	}
	t := s.cache.Ticket()
	rs, err := s.store.Rules(ctx, env)
	if err != nil {
		return nil, err
	}
	s.cache.Put(t, string(env), rs)
	return rs, nil
}

// authorize refuses an actor whose role may not do what (staff.Authorize).
func authorize(a Actor, what staff.Action) error { return staff.Authorize(a.ID, a.Role, what) }

// CanRead refuses (CodeForbidden) an actor who may not see the limits.
func CanRead(a Actor) error { return authorize(a, staff.ActLimitsRead) }

// List returns every stored rule (env "": all environments) for the
// console. Refusal: CodeForbidden.
func (s *Service) List(ctx context.Context, a Actor, env environment.Environment) ([]Rule, error) {
	if err := CanRead(a); err != nil {
		return nil, err
	}
	return s.store.Rules(ctx, env)
}

// Proposals lists proposals in status ("": all), newest first. Refusal:
// CodeForbidden.
func (s *Service) Proposals(ctx context.Context, a Actor, status string) ([]Proposal, error) {
	if err := CanRead(a); err != nil {
		return nil, err
	}
	return s.store.Proposals(ctx, status, 0)
}

// ProposalInput is a risk officer's proposed change as entered (a form):
// for OpCreate the rule's environment, currency, scope, subject and kind
// and its bound; for OpChange the RuleID and the new bound; for OpRemove
// the RuleID. The bound is Amount in the currency's major unit ("250.00"
// GBP, "30000" JPY, "1.250" BHD) or, for a velocity rule, Count payments
// per WindowSeconds.
type ProposalInput struct {
	Op, RuleID                                    string
	Environment, Currency, Scope, SubjectID, Kind string
	Amount, Count, WindowSeconds                  string
	Reason                                        string
}

// ParseBound reads the bound of a rule of kind in currency from in
// (ParseMajor for amounts). Refusal: CodeValidation naming the field.
func ParseBound(in ProposalInput, kind Kind, currency string) (amount, count int64, window time.Duration, err error) {
	field := func(f, reason string) error {
		return problem.New(problem.CodeValidation, "%s %s", f, reason).With("errors", []FieldError{{f, reason}})
	}
	if kind == KindVelocity {
		count, err = strconv.ParseInt(strings.TrimSpace(in.Count), 10, 64)
		if err != nil {
			return 0, 0, 0, field("count", "must be a whole number of payments")
		}
		secs, err := strconv.ParseInt(strings.TrimSpace(in.WindowSeconds), 10, 64)
		if err != nil || secs < 0 || secs > int64(MaxWindow/time.Second) {
			return 0, 0, 0, field("window", "must be whole seconds between 1 and 2678400")
		}
		return 0, count, time.Duration(secs) * time.Second, nil
	}
	amount, err = money.ParseMajor(in.Amount, currency)
	if err != nil {
		var pe *problem.Error
		if errors.As(err, &pe) {
			return 0, 0, 0, field("amount", strings.TrimPrefix(pe.Detail, "amount "))
		}
		return 0, 0, 0, err
	}
	return amount, 0, 0, nil
}

// ParseRule reads a new rule from in (OpCreate's fields) and validates it.
// Refusal: CodeValidation naming the first invalid field.
func ParseRule(in ProposalInput) (Rule, error) {
	r := Rule{Environment: environment.Environment(strings.TrimSpace(in.Environment)),
		Currency: strings.ToUpper(strings.TrimSpace(in.Currency)), Scope: Scope(strings.TrimSpace(in.Scope)),
		SubjectID: strings.TrimSpace(in.SubjectID), Kind: Kind(strings.TrimSpace(in.Kind))}
	if r.Scope == ScopePlatform {
		r.SubjectID = ""
	}
	// The key first, so the bound is read in a known currency and kind.
	probe := r
	probe.Amount, probe.Count, probe.Window = 1, 0, 0
	if r.Kind == KindVelocity {
		probe.Amount, probe.Count, probe.Window = 0, 1, time.Second
	}
	if err := probe.Validate(); err != nil {
		return Rule{}, err
	}
	var err error
	if r.Amount, r.Count, r.Window, err = ParseBound(in, r.Kind, r.Currency); err != nil {
		return Rule{}, err
	}
	return r, r.Validate()
}

// Propose records a pending change of the rules; nothing changes until a
// second person approves it. Refusals: CodeForbidden, CodeValidation (the
// rule's fields, an unknown op, a missing reason), CodeNotFound (the rule
// to change or remove), CodeConflict (creating a rule whose slot is taken).
func (s *Service) Propose(ctx context.Context, a Actor, in ProposalInput) (Proposal, error) {
	if err := authorize(a, staff.ActLimitsPropose); err != nil {
		return Proposal{}, err
	}
	in.Reason = strings.TrimSpace(in.Reason)
	if in.Reason == "" {
		return Proposal{}, problem.New(problem.CodeValidation, "reason is required").
			With("errors", []FieldError{{"reason", "is required"}})
	}
	if len(in.Reason) > 500 {
		return Proposal{}, problem.New(problem.CodeValidation, "reason must be at most 500 characters").
			With("errors", []FieldError{{"reason", "must be at most 500 characters"}})
	}
	p := Proposal{ID: ids.New("lpr"), Op: in.Op, Reason: in.Reason, Status: ProposalPending, ProposedBy: a.ID,
		CreatedAt: s.now().UTC()}
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		switch in.Op {
		case OpCreate:
			r, err := ParseRule(in)
			if err != nil {
				return err
			}
			if existing, err := s.store.Rules(ctx, r.Environment); err != nil {
				return err
			} else if i := slices.IndexFunc(existing, func(x Rule) bool { return x.Key() == r.Key() }); i >= 0 {
				return problem.New(problem.CodeConflict, "a %s %s rule in %s for %s exists (%s): propose a change of it",
					r.Kind.Label(), r.Currency, r.Environment, r.Subject(), existing[i].ID)
			}
			p.Rule = r
		case OpChange, OpRemove:
			cur, err := s.store.Rule(ctx, strings.TrimSpace(in.RuleID))
			if errors.Is(err, ErrNotFound) {
				return problem.New(problem.CodeNotFound, "no limit rule %s", strings.TrimSpace(in.RuleID))
			}
			if err != nil {
				return err
			}
			p.RuleID, p.Rule = cur.ID, cur
			if in.Op == OpChange {
				if p.Rule.Amount, p.Rule.Count, p.Rule.Window, err = ParseBound(in, cur.Kind, cur.Currency); err != nil {
					return err
				}
				if err := p.Rule.Validate(); err != nil {
					return err
				}
			}
		default:
			return problem.New(problem.CodeValidation, "op must be create, change or remove").
				With("errors", []FieldError{{"op", "must be create, change or remove"}})
		}
		if err := s.store.CreateProposal(ctx, p); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: a.ID, Action: "limit.proposed",
			ObjectType: "limit_proposal", ObjectID: p.ID, PartnerID: partnerOf(p.Rule), Details: details(p)})
	})
	if err != nil {
		return Proposal{}, err
	}
	return p, nil
}

// partnerOf is the partner a rule concerns, for the audit trail.
func partnerOf(r Rule) string {
	if r.Scope == ScopePartner {
		return r.SubjectID
	}
	return ""
}

func details(p Proposal) map[string]any {
	d := map[string]any{"op": p.Op, "environment": string(p.Rule.Environment), "currency": p.Rule.Currency,
		"scope": string(p.Rule.Scope), "subject_id": p.Rule.SubjectID, "kind": string(p.Rule.Kind),
		"limit": p.Rule.Limit(), "maker": p.ProposedBy}
	if p.RuleID != "" {
		d["rule_id"] = p.RuleID
	}
	if p.Reason != "" {
		d["reason"] = p.Reason
	}
	return d
}

// claim decides the proposal id in the transaction in ctx as its first
// statement (a conditional update from pending: concurrent deciders
// serialise on it, one wins) and returns it as it was. A proposal that is
// not pending is CodeInvalidState; an unknown one CodeNotFound. newRuleID
// is recorded for a creation.
func (s *Service) claim(ctx context.Context, id, status, by, note, newRuleID string) (Proposal, error) {
	err := s.store.DecideProposal(ctx, id, status, by, note, newRuleID, s.now().UTC())
	p, err2 := s.store.Proposal(ctx, id)
	if errors.Is(err2, ErrNotFound) {
		return Proposal{}, problem.New(problem.CodeNotFound, "no limit proposal %s", id)
	}
	if err2 != nil {
		return Proposal{}, err2
	}
	if errors.Is(err, ErrStale) {
		return Proposal{}, problem.New(problem.CodeInvalidState, "limit proposal %s is already %s", p.ID, p.Status)
	}
	return p, err
}

// Approve applies a pending proposal: the second person's step (a risk
// officer or admin who did not propose it). The change is effective on
// every node when Approve returns (each node's cache has dropped the
// environment's rules). Refusals: CodeForbidden, CodeNotFound,
// CodeMakerChecker (the proposer), CodeInvalidState (decided already, also
// by a concurrent approval), CodeConflict (the rule's slot was taken or
// the rule removed meanwhile).
func (s *Service) Approve(ctx context.Context, a Actor, id string) (Proposal, error) {
	if err := authorize(a, staff.ActLimitsApprove); err != nil {
		return Proposal{}, err
	}
	var p Proposal
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		var err error
		if p, err = s.claim(ctx, id, ProposalApproved, a.ID, "", ids.New("lim")); err != nil {
			return err
		}
		if p.ProposedBy == a.ID {
			return problem.New(problem.CodeMakerChecker, "limit proposal %s was made by %s, who cannot also approve it", p.ID, a.ID)
		}
		r := p.Rule
		r.ID = p.RuleID
		r.ProposedBy, r.ApprovedBy, r.UpdatedAt = p.ProposedBy, a.ID, s.now().UTC()
		action := "limit.rule_" + map[string]string{OpCreate: "created", OpChange: "changed", OpRemove: "removed"}[p.Op]
		switch p.Op {
		case OpCreate:
			err = s.store.InsertRule(ctx, r)
			if errors.Is(err, ErrDuplicate) {
				return problem.New(problem.CodeConflict, "a %s %s rule in %s for %s exists now: reject this proposal and propose a change of it",
					r.Kind.Label(), r.Currency, r.Environment, r.Subject())
			}
		case OpChange:
			err = s.store.UpdateRule(ctx, r)
		case OpRemove:
			err = s.store.DeleteRule(ctx, r.ID)
		}
		if errors.Is(err, ErrNotFound) {
			return problem.New(problem.CodeConflict, "limit rule %s no longer exists: reject this proposal", r.ID)
		}
		if err != nil {
			return err
		}
		d := details(p)
		d["checker"], d["proposal_id"], d["rule_id"] = a.ID, p.ID, r.ID
		if err := s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: a.ID, Action: "limit.approved",
			ObjectType: "limit_proposal", ObjectID: p.ID, PartnerID: partnerOf(r), Details: d}); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: a.ID, Action: action,
			ObjectType: "limit_rule", ObjectID: r.ID, PartnerID: partnerOf(r), Details: d})
	})
	if err != nil {
		return Proposal{}, err
	}
	s.invalidate(ctx, p.Rule.Environment)
	return p, nil
}

// invalidate drops env's rules from every node's cache and waits for them
// to confirm; a failure is logged (the change is committed; the caches'
// TTL bounds how long a node that did not confirm may serve the old rules)
// and this node's cache is cleared at least.
func (s *Service) invalidate(ctx context.Context, env environment.Environment) {
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), CacheTopic, string(env)); err != nil {
		s.cache.Invalidate(string(env))
		s.log.ErrorContext(ctx, "limits: publish rule change", "environment", env, "err", err)
	}
}

// Reject turns a pending proposal down with a note; nothing changes. The
// proposer may withdraw their own proposal this way. Refusals:
// CodeForbidden, CodeValidation (no note), CodeNotFound, CodeInvalidState.
func (s *Service) Reject(ctx context.Context, a Actor, id, note string) (Proposal, error) {
	if err := authorize(a, staff.ActLimitsApprove); err != nil {
		return Proposal{}, err
	}
	note = strings.TrimSpace(note)
	if note == "" {
		return Proposal{}, problem.New(problem.CodeValidation, "a rejection needs a note").
			With("errors", []FieldError{{"note", "is required"}})
	}
	var p Proposal
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		var err error
		if p, err = s.claim(ctx, id, ProposalRejected, a.ID, note, ""); err != nil {
			return err
		}
		d := details(p)
		d["checker"], d["note"] = a.ID, note
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: a.ID, Action: "limit.rejected",
			ObjectType: "limit_proposal", ObjectID: p.ID, PartnerID: partnerOf(p.Rule), Details: d})
	})
	if err != nil {
		return Proposal{}, err
	}
	return p, nil
}
