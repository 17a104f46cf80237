// Package reviews is the quarterly partner performance review (issue 15):
// a scorecard per partner and quarter computed from the platform's own data
// (monitoring's figures, contracts' statements, the audit trail of the
// partner lifecycle) and frozen when the draft is created or refreshed;
// staff ratings per dimension, notes (for the partner, and internal ones the
// partner never sees) and an outcome; sign-off under maker-checker; and the
// outcome fed into the partner's risk rating (partners.SetRiskRating) in
// the transaction that publishes the review. The partner sees its
// published reviews in the portal (PartnerReview, which has no internal
// notes).
//
// States (transitions, below): draft → submitted (the maker, with
// staff.ActReviewsDraft) → published (a checker with staff.ActReviewsApprove
// who neither created nor submitted it) or back to draft with the checker's
// note.
package reviews

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
)

// Status is where a review is in its sign-off.
type Status string

// The review states.
const (
	StatusDraft     Status = "draft"
	StatusSubmitted Status = "submitted"
	StatusPublished Status = "published"
)

// transitions is THE review state machine: from → the states it may move to.
// draft → submitted (submit); submitted → published (approve) or → draft
// (reject, with the checker's note). Published is final.
var transitions = map[Status][]Status{
	StatusDraft:     {StatusSubmitted},
	StatusSubmitted: {StatusPublished, StatusDraft},
}

// CanTransition reports whether a review may move from one state to another.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Outcome is what the bank decides about the cooperation.
type Outcome string

// The outcomes.
const (
	OutcomeContinue    Outcome = "continue"
	OutcomeWatch       Outcome = "watch"
	OutcomeRenegotiate Outcome = "renegotiate"
	OutcomeExit        Outcome = "exit"
)

// Outcomes lists the outcomes in the order the console offers them.
var Outcomes = []Outcome{OutcomeContinue, OutcomeWatch, OutcomeRenegotiate, OutcomeExit}

// Valid reports whether o is an outcome.
func (o Outcome) Valid() bool {
	for _, x := range Outcomes {
		if x == o {
			return true
		}
	}
	return false
}

// RiskRating is the partner risk rating a published outcome sets:
// continue → low (the cooperation is sound), watch → medium, renegotiate →
// medium (a commercial question, not a risk by itself), exit → high.
func (o Outcome) RiskRating() partners.RiskRating {
	switch o {
	case OutcomeContinue:
		return partners.RiskLow
	case OutcomeExit:
		return partners.RiskHigh
	}
	return partners.RiskMedium
}

// Dimension is one thing staff rate, 1 (poor) to 5 (excellent).
type Dimension struct {
	Key, Label, Hint string
}

// Dimensions are the rated dimensions, in the order they are shown.
var Dimensions = []Dimension{
	{"reliability", "Reliability", "error rate, webhook endpoint availability"},
	{"performance", "Performance", "latency of their calls, quota discipline"},
	{"growth", "Volume and growth", "calls, payments and consents against the previous quarter"},
	{"commercial", "Commercial", "revenue and fees, statements settled"},
	{"conduct", "Conduct and compliance", "incidents, suspensions, complaints"},
}

// Ratings are the staff's ratings by Dimension key.
type Ratings map[string]int

// Rating returns the rating of dimension key (0: not rated).
func (r Ratings) Rating(key string) int { return r[key] }

// Missing lists the dimensions not rated yet, in Dimensions order.
func (r Ratings) Missing() []string {
	var out []string
	for _, d := range Dimensions {
		if r[d.Key] == 0 {
			out = append(out, d.Key)
		}
	}
	return out
}

// Validate checks that every rating names a dimension and is 1–5.
func (r Ratings) Validate() error {
	for k, v := range r {
		known := false
		for _, d := range Dimensions {
			known = known || d.Key == k
		}
		if !known {
			return problem.New(problem.CodeValidation, "unknown rating dimension %q", k)
		}
		if v < 1 || v > 5 {
			return problem.New(problem.CodeValidation, "rating of %s must be 1 to 5, got %d", k, v)
		}
	}
	return nil
}

// Quarter is a calendar quarter, e.g. 2026-Q4 (October to December 2026, UTC).
type Quarter struct {
	Year int
	Q    int // 1–4
}

var quarterRE = regexp.MustCompile(`^([0-9]{4})-Q([1-4])$`)

// ParseQuarter reads "YYYY-Qn" (n 1–4, year 2000–2999). Refusal:
// CodeValidation `quarter must be YYYY-Qn (e.g. 2026-Q4), got "…"`.
func ParseQuarter(s string) (Quarter, error) {
	m := quarterRE.FindStringSubmatch(s)
	if m == nil || m[1][0] != '2' {
		return Quarter{}, problem.New(problem.CodeValidation, "quarter must be YYYY-Qn (e.g. 2026-Q4), got %q", s)
	}
	y, _ := strconv.Atoi(m[1])
	q, _ := strconv.Atoi(m[2])
	return Quarter{Year: y, Q: q}, nil
}

// QuarterOf is the quarter t falls in (UTC).
func QuarterOf(t time.Time) Quarter {
	t = t.UTC()
	return Quarter{Year: t.Year(), Q: (int(t.Month())-1)/3 + 1}
}

// String is "YYYY-Qn".
func (q Quarter) String() string { return fmt.Sprintf("%04d-Q%d", q.Year, q.Q) }

// Start is the quarter's first instant (UTC).
func (q Quarter) Start() time.Time {
	return time.Date(q.Year, time.Month(3*(q.Q-1)+1), 1, 0, 0, 0, 0, time.UTC)
}

// End is the next quarter's first instant.
func (q Quarter) End() time.Time { return q.Start().AddDate(0, 3, 0) }

// Previous is the quarter before q.
func (q Quarter) Previous() Quarter {
	if q.Q == 1 {
		return Quarter{Year: q.Year - 1, Q: 4}
	}
	return Quarter{Year: q.Year, Q: q.Q - 1}
}

// Months are the quarter's months as YYYY-MM (statement periods).
func (q Quarter) Months() []string {
	s := q.Start()
	return []string{s.Format("2006-01"), s.AddDate(0, 1, 0).Format("2006-01"), s.AddDate(0, 2, 0).Format("2006-01")}
}

// Volume is a count this quarter and in the previous one.
type Volume struct {
	Count    int64 `json:"count"`
	Previous int64 `json:"previous"`
}

// GrowthBPS is the change against the previous quarter in basis points
// (+2500 is +25 %), rounded toward zero; ok is false when the previous
// quarter had none (growth is then undefined).
func (v Volume) GrowthBPS() (bps int64, ok bool) {
	if v.Previous == 0 {
		return 0, false
	}
	return (v.Count - v.Previous) * 10000 / v.Previous, true
}

// Growth renders GrowthBPS ("+25.0 %", "−", "n/a" without a previous quarter).
func (v Volume) Growth() string {
	bps, ok := v.GrowthBPS()
	if !ok {
		return "n/a (none the previous quarter)"
	}
	sign := "+"
	if bps < 0 {
		sign, bps = "-", -bps
	}
	return fmt.Sprintf("%s%d.%d %%", sign, bps/100, bps%100/10)
}

// Incident is a lifecycle event of the partner or one of its apps in the
// quarter, from the audit trail (suspensions, reinstatements, termination).
type Incident struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // partner.suspended, partner.reinstated, partner.terminated, app.suspended, app.reinstated
	Object string    `json:"object"`
	Reason string    `json:"reason,omitempty"`
}

// Scorecard is the frozen snapshot of a partner's quarter, computed from the
// platform's data (production traffic only: the cooperation is judged on
// live use) when the draft is created or refreshed.
type Scorecard struct {
	Quarter string `json:"quarter"`
	// From and To bound what was counted: [From, To). To is the quarter's
	// end, or the computation time while the quarter is still running
	// (Partial).
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Partial    bool      `json:"partial"`
	ComputedAt time.Time `json:"computed_at"`

	Calls    Volume `json:"calls"`
	Payments Volume `json:"payments"`
	Consents Volume `json:"consents"`
	// ClientErrors (4xx) and ServerErrors (5xx and unanswered) of Calls.
	ClientErrors int64 `json:"client_errors"`
	ServerErrors int64 `json:"server_errors"`
	// P50US and P95US are nearest-rank latency percentiles (µs).
	P50US int64 `json:"p50_us"`
	P95US int64 `json:"p95_us"`
	// QuotaRefusals counts calls refused by rate limit or quota.
	QuotaRefusals int64 `json:"quota_refusals"`

	// Webhook deliveries to the partner's endpoints: Delivered (succeeded),
	// FailedAttempts (attempts without a 2xx) and Dead (given up).
	WebhooksDelivered      int64 `json:"webhooks_delivered"`
	WebhooksFailedAttempts int64 `json:"webhooks_failed_attempts"`
	WebhooksDead           int64 `json:"webhooks_dead"`

	// Complaints counts the customers' complaints about the partner's
	// payments received in the quarter (package complaints); nil when the
	// service has no complaints register (Config.Complaints), shown as "not
	// tracked yet", never as 0 — and in scorecards frozen before it.
	Complaints *int64 `json:"complaints"`

	// Fees are what the partner was charged in the quarter's statements
	// (call and payment fees and minimum top-ups), RevenueShare what the
	// bank owed it, Net the statements' net; one Money per currency.
	Fees         []money.Money `json:"fees"`
	RevenueShare []money.Money `json:"revenue_share"`
	Net          []money.Money `json:"net"`
	// Statements are the periods (YYYY-MM) of the statements counted.
	Statements []string `json:"statements"`

	Suspensions int64      `json:"suspensions"` // of the partner and of its apps
	Incidents   []Incident `json:"incidents"`
}

// ErrorRateBPS is the share of calls answered 5xx or not at all, in basis points.
func (s *Scorecard) ErrorRateBPS() int64 { return share(s.ServerErrors, s.Calls.Count) }

// ClientErrorRateBPS is the share of calls refused with a 4xx.
func (s *Scorecard) ClientErrorRateBPS() int64 { return share(s.ClientErrors, s.Calls.Count) }

// WebhookAvailabilityBPS is the partner's endpoints' availability: the
// share of delivery attempts that got a 2xx (each delivered delivery is one
// successful attempt); ok is false without any attempt.
func (s *Scorecard) WebhookAvailabilityBPS() (bps int64, ok bool) {
	total := s.WebhooksDelivered + s.WebhooksFailedAttempts
	if total == 0 {
		return 0, false
	}
	return share(s.WebhooksDelivered, total), true
}

func share(part, whole int64) int64 {
	if whole == 0 {
		return 0
	}
	return part * 10000 / whole
}

// Review is a partner's performance review for one quarter.
type Review struct {
	ID        string
	PartnerID string
	Quarter   string
	Status    Status
	Scorecard Scorecard
	Ratings   Ratings
	// PartnerNotes are shown to the partner once published; InternalNotes
	// never are.
	PartnerNotes  string
	InternalNotes string
	Outcome       Outcome // "" until chosen
	CreatedBy     string
	SubmittedBy   string
	SubmittedAt   *time.Time
	DecidedBy     string
	DecidedAt     *time.Time
	// ReturnNote is the checker's note when the review was sent back to draft.
	ReturnNote string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Validate checks a review's fields.
func (r *Review) Validate() error {
	if _, err := ParseQuarter(r.Quarter); err != nil {
		return err
	}
	if _, ok := transitions[r.Status]; !ok && r.Status != StatusPublished {
		return problem.New(problem.CodeValidation, "unknown review status %q", r.Status)
	}
	if r.Outcome != "" && !r.Outcome.Valid() {
		return problem.New(problem.CodeValidation, "outcome must be continue, watch, renegotiate or exit, got %q", r.Outcome)
	}
	if err := r.Ratings.Validate(); err != nil {
		return err
	}
	if len(r.PartnerNotes) > 8000 || len(r.InternalNotes) > 8000 || len(r.ReturnNote) > 4000 {
		return problem.New(problem.CodeValidation, "notes must be at most 8000 characters (a return note 4000)")
	}
	return nil
}

// Assessment is what the maker edits on a draft.
type Assessment struct {
	Ratings       Ratings
	PartnerNotes  string
	InternalNotes string
	Outcome       Outcome
}

// Validate checks an assessment (an empty outcome is allowed on a draft).
func (a *Assessment) Validate() error {
	a.PartnerNotes, a.InternalNotes = strings.TrimSpace(a.PartnerNotes), strings.TrimSpace(a.InternalNotes)
	r := Review{Quarter: "2000-Q1", Status: StatusDraft, Ratings: a.Ratings, PartnerNotes: a.PartnerNotes,
		InternalNotes: a.InternalNotes, Outcome: a.Outcome}
	return r.Validate()
}

// PartnerReview is a published review as the partner sees it: no internal
// notes, no staff identities.
type PartnerReview struct {
	ID           string
	Quarter      string
	Scorecard    Scorecard
	Ratings      Ratings
	PartnerNotes string
	Outcome      Outcome
	PublishedAt  time.Time
}

// ForPartner is r as its partner sees it.
func (r *Review) ForPartner() PartnerReview {
	p := PartnerReview{ID: r.ID, Quarter: r.Quarter, Scorecard: r.Scorecard, Ratings: r.Ratings,
		PartnerNotes: r.PartnerNotes, Outcome: r.Outcome}
	if r.DecidedAt != nil {
		p.PublishedAt = *r.DecidedAt
	}
	return p
}
