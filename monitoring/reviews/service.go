package reviews

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Figures are monitoring's figures of a scope over a period
// (monitoring.Service).
type Figures interface {
	Summary(ctx context.Context, scope monitoring.Scope, from, to time.Time) (*monitoring.Summary, error)
}

// Statements are contracts' read API of a partner's statements
// (contracts.Service).
type Statements interface {
	Statements(ctx context.Context, partnerID string) ([]contracts.Statement, error)
}

// Staff authorises a staff member for an action in the caller's
// transaction (staff.Service).
type Staff interface {
	Require(tx *gorm.DB, staffID string, action staff.Action) (*staff.Member, error)
}

// Partners is what reviews need of the partners domain (partners.Service).
type Partners interface {
	Partner(ctx context.Context, partnerID string) (*partners.Partner, error)
	SetRiskRating(ctx context.Context, tx *gorm.DB, c partners.RiskChange) (bool, error)
}

// Complaints counts the customers' complaints about a partner's payments
// (complaints.Service).
type Complaints interface {
	// CountReceived counts the partner's complaints received in [from, to).
	CountReceived(ctx context.Context, partnerID string, from, to time.Time) (int64, error)
}

// Config is what a Service needs; every field but Complaints and Now is
// required.
type Config struct {
	Store      Store
	Figures    Figures
	Statements Statements
	Staff      Staff
	Partners   Partners
	// Complaints counts the quarter's complaints of the scorecard (nil:
	// Scorecard.Complaints stays nil, "not tracked yet").
	Complaints Complaints
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Service drafts, signs off and publishes reviews. Every state change is
// audited in its transaction.
type Service struct {
	store      Store
	figures    Figures
	statements Statements
	staff      Staff
	partners   Partners
	complaints Complaints
	now        func() time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Figures == nil || cfg.Statements == nil || cfg.Staff == nil || cfg.Partners == nil {
		return nil, errors.New("reviews: Config.Store, Figures, Statements, Staff and Partners are required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: cfg.Store, figures: cfg.Figures, statements: cfg.Statements, staff: cfg.Staff,
		partners: cfg.Partners, complaints: cfg.Complaints, now: func() time.Time { return now().UTC() }}, nil
}

// internal wraps an unexpected storage error (problem.Internal).
func internal(err error, what string) error { return problem.Internal(err, what) }

func notFound(id string) *problem.Error {
	return problem.New(problem.CodeNotFound, "review %s not found", id)
}

// verbs name each transition in refusals.
var verbs = map[Status]string{StatusSubmitted: "submit", StatusPublished: "approve", StatusDraft: "return"}

func wrongState(op, id string, is Status, need Status) *problem.Error {
	return problem.New(problem.CodeInvalidState, "cannot %s review %s: it is %s (needs %s)", op, id, is, need)
}

// load reads review id in the transaction in ctx.
func (s *Service) load(ctx context.Context, id string) (*Review, error) {
	r, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, notFound(id)
	}
	return r, internal(err, "load review")
}

func (s *Service) audit(ctx context.Context, staffID, action string, r *Review, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	details["quarter"] = r.Quarter
	return internal(s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorStaff, ActorID: staffID, Action: action,
		ObjectType: "partner_review", ObjectID: r.ID, PartnerID: r.PartnerID, Details: details}), "audit")
}

// Draft creates the partner's review for quarter ("YYYY-Qn") with its
// scorecard computed now. The quarter must have begun. Errors:
// CodeForbidden (role), CodeValidation (quarter), CodeNotFound (partner),
// CodeConflict (the partner has a review for the quarter already).
func (s *Service) Draft(ctx context.Context, staffID, partnerID, quarter string) (*Review, error) {
	q, err := ParseQuarter(strings.TrimSpace(quarter))
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !q.Start().Before(now) {
		return nil, problem.New(problem.CodeValidation, "quarter %s has not begun yet", q)
	}
	if _, err := s.staff.Require(s.store.Handle(ctx), staffID, staff.ActReviewsDraft); err != nil {
		return nil, err
	}
	if _, err := s.partners.Partner(ctx, partnerID); err != nil {
		return nil, err
	}
	sc, err := s.Scorecard(ctx, partnerID, q)
	if err != nil {
		return nil, err
	}
	r := &Review{ID: ids.New("prv"), PartnerID: partnerID, Quarter: q.String(), Status: StatusDraft, Scorecard: *sc,
		Ratings: Ratings{}, CreatedBy: staffID, CreatedAt: now, UpdatedAt: now}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.staff.Require(s.store.Handle(ctx), staffID, staff.ActReviewsDraft); err != nil {
			return err
		}
		if err := s.store.Create(ctx, r); err != nil {
			if errors.Is(err, ErrDuplicate) {
				return problem.New(problem.CodeConflict, "partner %s already has a review for %s", partnerID, r.Quarter)
			}
			return internal(err, "create review")
		}
		return s.audit(ctx, staffID, "review.drafted", r, nil)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// change runs fn on the review id in state need inside a transaction, by a
// staff member allowed act, then writes it back conditionally on need and
// audits action. Errors: CodeForbidden, CodeNotFound, CodeInvalidState,
// CodeConflict (changed concurrently), fn's.
func (s *Service) change(ctx context.Context, staffID, id string, act staff.Action, op string, need Status,
	action string, fn func(ctx context.Context, r *Review) (map[string]any, error)) (*Review, error) {
	var out *Review
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.staff.Require(s.store.Handle(ctx), staffID, act); err != nil {
			return err
		}
		r, err := s.load(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != need {
			return wrongState(op, id, r.Status, need)
		}
		details, err := fn(ctx, r)
		if err != nil {
			return err
		}
		if r.Status != need && !CanTransition(need, r.Status) {
			return wrongState(op, id, need, need) // a programming error: the table has no such move
		}
		r.UpdatedAt = s.now()
		if err := r.Validate(); err != nil {
			return err
		}
		if err := s.store.Update(ctx, r, need); err != nil {
			if errors.Is(err, ErrChanged) {
				return problem.New(problem.CodeConflict, "review %s was changed by someone else; reload and retry", id)
			}
			return internal(err, "update review")
		}
		out = r
		return s.audit(ctx, staffID, action, r, details)
	})
	return out, err
}

// Refresh recomputes a draft's scorecard now. Errors: as change.
func (s *Service) Refresh(ctx context.Context, staffID, id string) (*Review, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	q, err := ParseQuarter(r.Quarter)
	if err != nil {
		return nil, err
	}
	sc, err := s.Scorecard(ctx, r.PartnerID, q)
	if err != nil {
		return nil, err
	}
	return s.change(ctx, staffID, id, staff.ActReviewsDraft, "refresh", StatusDraft, "review.scorecard_refreshed",
		func(_ context.Context, r *Review) (map[string]any, error) {
			r.Scorecard = *sc
			return map[string]any{"computed_at": sc.ComputedAt}, nil
		})
}

// Edit replaces a draft's ratings, notes and outcome. Errors: as change,
// CodeValidation.
func (s *Service) Edit(ctx context.Context, staffID, id string, a Assessment) (*Review, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return s.change(ctx, staffID, id, staff.ActReviewsDraft, "edit", StatusDraft, "review.edited",
		func(_ context.Context, r *Review) (map[string]any, error) {
			r.Ratings, r.PartnerNotes, r.InternalNotes, r.Outcome = a.Ratings, a.PartnerNotes, a.InternalNotes, a.Outcome
			if r.Ratings == nil {
				r.Ratings = Ratings{}
			}
			return map[string]any{"ratings": r.Ratings, "outcome": string(r.Outcome)}, nil
		})
}

// Submit hands a complete draft (every dimension rated, an outcome chosen)
// to a checker; the submitter is its maker. Errors: as change,
// CodeValidation.
func (s *Service) Submit(ctx context.Context, staffID, id string) (*Review, error) {
	return s.change(ctx, staffID, id, staff.ActReviewsDraft, verbs[StatusSubmitted], StatusDraft, "review.submitted",
		func(_ context.Context, r *Review) (map[string]any, error) {
			if m := r.Ratings.Missing(); len(m) > 0 {
				return nil, problem.New(problem.CodeValidation, "rate every dimension before submitting; missing: %s", strings.Join(m, ", "))
			}
			if r.Outcome == "" {
				return nil, problem.New(problem.CodeValidation, "choose an outcome before submitting")
			}
			now := s.now()
			r.Status, r.SubmittedBy, r.SubmittedAt, r.ReturnNote = StatusSubmitted, staffID, &now, ""
			return map[string]any{"outcome": string(r.Outcome)}, nil
		})
}

// makerChecker refuses a checker who created or submitted the review.
func makerChecker(checkerID string, r *Review) error {
	if checkerID == r.SubmittedBy || checkerID == r.CreatedBy {
		return problem.New(problem.CodeMakerChecker,
			"review %s was prepared by you; another staff member with reviews.approve must sign it off", r.ID)
	}
	return nil
}

// Approve signs off a submitted review: it is published (the partner sees
// it) and its outcome sets the partner's risk rating (Outcome.RiskRating,
// source "review:<id>") in the same transaction. Of parallel approvals
// exactly one wins. Errors: as change, CodeMakerChecker.
func (s *Service) Approve(ctx context.Context, staffID, id string) (*Review, error) {
	return s.change(ctx, staffID, id, staff.ActReviewsApprove, verbs[StatusPublished], StatusSubmitted, "review.published",
		func(ctx context.Context, r *Review) (map[string]any, error) {
			if err := makerChecker(staffID, r); err != nil {
				return nil, err
			}
			now := s.now()
			r.Status, r.DecidedBy, r.DecidedAt = StatusPublished, staffID, &now
			rating := r.Outcome.RiskRating()
			changed, err := s.partners.SetRiskRating(ctx, s.store.Handle(ctx), partners.RiskChange{PartnerID: r.PartnerID,
				Rating: rating, Source: "review:" + r.ID, Reason: "performance review " + r.Quarter + ": " + string(r.Outcome),
				ActorType: audit.ActorStaff, ActorID: staffID})
			if err != nil {
				return nil, err
			}
			return map[string]any{"maker": r.SubmittedBy, "outcome": string(r.Outcome), "risk_rating": string(rating),
				"risk_rating_changed": changed}, nil
		})
}

// Reject sends a submitted review back to draft with the checker's note
// (required). Errors: as change, CodeMakerChecker, CodeValidation.
func (s *Service) Reject(ctx context.Context, staffID, id, note string) (*Review, error) {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, problem.New(problem.CodeValidation, "a note is required to send a review back (the maker sees it)")
	}
	return s.change(ctx, staffID, id, staff.ActReviewsApprove, verbs[StatusDraft], StatusSubmitted, "review.returned",
		func(_ context.Context, r *Review) (map[string]any, error) {
			if err := makerChecker(staffID, r); err != nil {
				return nil, err
			}
			maker := r.SubmittedBy
			r.Status, r.ReturnNote, r.SubmittedBy, r.SubmittedAt = StatusDraft, note, "", nil
			return map[string]any{"maker": maker, "note": note}, nil
		})
}

// Get returns a review (staff). Errors: CodeNotFound.
func (s *Service) Get(ctx context.Context, id string) (*Review, error) { return s.load(ctx, id) }

// List returns reviews (staff), newest quarter first.
func (s *Service) List(ctx context.Context, f Filter) ([]Review, error) {
	out, err := s.store.List(ctx, f)
	return out, internal(err, "list reviews")
}

// Published lists the partner's published reviews as it sees them.
func (s *Service) Published(ctx context.Context, partnerID string) ([]PartnerReview, error) {
	if partnerID == "" {
		return nil, notFound("")
	}
	rs, err := s.store.List(ctx, Filter{PartnerID: partnerID, Status: StatusPublished})
	if err != nil {
		return nil, internal(err, "list reviews")
	}
	out := make([]PartnerReview, len(rs))
	for i := range rs {
		out[i] = rs[i].ForPartner()
	}
	return out, nil
}

// PublishedReview is one of the partner's published reviews as it sees it;
// a draft, a submitted review and another partner's review are
// CodeNotFound, exactly as an unknown id.
func (s *Service) PublishedReview(ctx context.Context, partnerID, id string) (*PartnerReview, error) {
	r, err := s.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && (r.PartnerID != partnerID || r.Status != StatusPublished)) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, internal(err, "load review")
	}
	p := r.ForPartner()
	return &p, nil
}

// Scorecard computes the partner's scorecard for quarter q now, from
// production traffic: monitoring's figures for q (up to now while q runs)
// and for the previous quarter (growth), contracts' statements of q's
// months, and the audit trail of the partner's and its apps' lifecycle.
func (s *Service) Scorecard(ctx context.Context, partnerID string, q Quarter) (*Scorecard, error) {
	now := s.now()
	sc := &Scorecard{Quarter: q.String(), From: q.Start(), To: q.End(), ComputedAt: now, Statements: []string{},
		Fees: []money.Money{}, RevenueShare: []money.Money{}, Net: []money.Money{}, Incidents: []Incident{}}
	if now.Before(sc.To) {
		sc.To, sc.Partial = now, true
	}
	scope := monitoring.Scope{PartnerID: partnerID, Environment: environment.Production}
	cur, err := s.figures.Summary(ctx, scope, sc.From, sc.To)
	if err != nil {
		return nil, internal(err, "monitoring figures")
	}
	prev, err := s.figures.Summary(ctx, scope, q.Previous().Start(), q.Start())
	if err != nil {
		return nil, internal(err, "monitoring figures")
	}
	sc.Calls = Volume{cur.Total.Requests, prev.Total.Requests}
	sc.Payments = Volume{monitoring.Sum(cur.Payments), monitoring.Sum(prev.Payments)}
	sc.Consents = Volume{monitoring.Sum(cur.Consents), monitoring.Sum(prev.Consents)}
	sc.ClientErrors, sc.ServerErrors = cur.Total.ClientErrors, cur.Total.ServerErrors+cur.Total.Unanswered
	sc.P50US, sc.P95US, sc.QuotaRefusals = cur.Total.P50, cur.Total.P95, cur.Total.QuotaRefusals
	sc.WebhooksDelivered, sc.WebhooksFailedAttempts, sc.WebhooksDead = cur.Webhooks.Delivered, cur.Webhooks.FailedAttempts, cur.Webhooks.Dead

	if s.complaints != nil {
		n, err := s.complaints.CountReceived(ctx, partnerID, sc.From, sc.To)
		if err != nil {
			return nil, internal(err, "count complaints")
		}
		sc.Complaints = &n
	}

	stms, err := s.statements.Statements(ctx, partnerID)
	if err != nil {
		return nil, internal(err, "statements")
	}
	months := q.Months()
	fees, share, net := map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, st := range stms {
		if !slices.Contains(months, st.Period) {
			continue
		}
		sc.Statements = append(sc.Statements, st.Period)
		fees[st.Currency] += st.CallFees + st.PaymentFees + st.MinimumTopUp
		share[st.Currency] += st.RevenueShare
		net[st.Currency] += st.Net
	}
	slices.Sort(sc.Statements)
	sc.Fees, sc.RevenueShare, sc.Net = amounts(fees), amounts(share), amounts(net)

	evs, err := s.store.Lifecycle(ctx, partnerID, sc.From, sc.To)
	if err != nil {
		return nil, internal(err, "lifecycle events")
	}
	for _, e := range evs {
		if in, ok := incident(e); ok {
			sc.Incidents = append(sc.Incidents, in)
			if strings.HasSuffix(in.Kind, ".suspended") {
				sc.Suspensions++
			}
		}
	}
	return sc, nil
}

// amounts turns per-currency sums into Money, by currency.
func amounts(m map[string]int64) []money.Money {
	out := make([]money.Money, 0, len(m))
	for cur, v := range m {
		out = append(out, money.Money{Minor: v, Currency: cur})
	}
	slices.SortFunc(out, func(a, b money.Money) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}
