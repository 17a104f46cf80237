package contracts

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/money"
)

// The contract clauses (issue 17 item 6) are part of a version's Terms. Each
// is optional: its zero value means "not agreed", which is what terms written
// before the clauses existed decode to (no service credits, no liability cap).

// Limits of the clause fields.
const (
	MaxClauseChars       = 20_000 // a clause's text
	MaxShortTextChars    = 200    // governing law, venue
	MaxEscalationSteps   = 10
	MaxConfidentialMonth = 240 // confidentiality after termination, months
	MaxDaysToEscalate    = 365 // dispute resolution
	MaxP95TargetMS       = 60_000
	MaxLiabilityCapMinor = MaxMonthlyMinimum
)

// Confidentiality is the confidentiality clause: its text and how many months
// after termination it still binds.
type Confidentiality struct {
	Clause                 string `json:"clause"`
	MonthsAfterTermination int    `json:"months_after_termination"`
}

// AvailabilityCredit is one band of the availability credit schedule: a
// month whose measured availability is below BelowBPS (basis points of
// 100 %, 9990 = 99.90 %) earns CreditBPS of the month's fees.
type AvailabilityCredit struct {
	BelowBPS  int64 `json:"below_bps"`
	CreditBPS int64 `json:"credit_bps"`
}

// ServiceLevels are the service levels the bank commits to and the credits it
// gives when it misses them, computed from the platform's own measurements of
// the partner's production resource calls (the request log, see
// ServiceMeasure). A zero ServiceLevels is "no service levels".
//
// The month's credit is the credit of the lowest availability band the
// measured availability is below (bands do not add up) plus LatencyCreditBPS
// when the measured p95 response time is over P95TargetMS, at most
// CreditCapBPS, in basis points of the month's fees (call fees, payment fees
// and any minimum-commitment top-up), rounded half-even once.
type ServiceLevels struct {
	// AvailabilityTargetBPS is the monthly availability target (9990 = 99.90 %); 0: none.
	AvailabilityTargetBPS int64 `json:"availability_target_bps"`
	// AvailabilityCredits are the bands, thresholds descending, credits ascending.
	AvailabilityCredits []AvailabilityCredit `json:"availability_credits"`
	// P95TargetMS is the p95 response time target of resource calls; 0: none.
	P95TargetMS int64 `json:"p95_target_ms"`
	// LatencyCreditBPS is the credit when p95 is over the target.
	LatencyCreditBPS int64 `json:"latency_credit_bps"`
	// CreditCapBPS caps the month's total credit.
	CreditCapBPS int64 `json:"credit_cap_bps"`
}

// Enabled reports whether any service level is agreed.
func (s ServiceLevels) Enabled() bool { return s.AvailabilityTargetBPS > 0 || s.P95TargetMS > 0 }

// Liability is liability and risk sharing: the cap of the bank's liability (in
// the contract currency, minor units; 0: not agreed), how fraud losses are
// shared (basis points each, summing to 10000 when agreed; both 0: not
// agreed) and the indemnity clause.
type Liability struct {
	CapMinor            int64  `json:"cap_minor"`
	FraudLossBankBPS    int64  `json:"fraud_loss_bank_bps"`
	FraudLossPartnerBPS int64  `json:"fraud_loss_partner_bps"`
	IndemnityClause     string `json:"indemnity_clause"`
}

// DisputeResolution is how disputes are resolved: the escalation steps in
// order, the days each step has before the next one may be taken, and the
// governing law and venue.
type DisputeResolution struct {
	EscalationSteps []string `json:"escalation_steps"`
	DaysToEscalate  int      `json:"days_to_escalate"`
	GoverningLaw    string   `json:"governing_law"`
	Venue           string   `json:"venue"`
}

func checkText(f *fieldErrors, path, s string, max int) {
	if utf8.RuneCountInString(s) > max {
		f.add(path, "must be at most %d characters", max)
	}
	if strings.ContainsRune(s, 0) {
		f.add(path, "must not contain NUL characters")
	}
}

func (c Confidentiality) validate(f *fieldErrors, path string) {
	checkText(f, path+".clause", c.Clause, MaxClauseChars)
	if c.MonthsAfterTermination < 0 || c.MonthsAfterTermination > MaxConfidentialMonth {
		f.add(path+".months_after_termination", "must be between 0 and %d", MaxConfidentialMonth)
	}
	if c.MonthsAfterTermination > 0 && strings.TrimSpace(c.Clause) == "" {
		f.add(path+".clause", "is required when a duration is given")
	}
}

func (s ServiceLevels) validate(f *fieldErrors, path string) {
	if s.AvailabilityTargetBPS < 0 || s.AvailabilityTargetBPS > money.BPSDenominator {
		f.add(path+".availability_target_bps", "must be between 0 and 10000")
	}
	if s.P95TargetMS < 0 || s.P95TargetMS > MaxP95TargetMS {
		f.add(path+".p95_target_ms", "must be between 0 and %d", MaxP95TargetMS)
	}
	for i, b := range s.AvailabilityCredits {
		p := fmt.Sprintf("%s.availability_credits[%d]", path, i)
		switch {
		case s.AvailabilityTargetBPS == 0:
			f.add(p, "needs an availability target")
		case b.BelowBPS <= 0 || b.BelowBPS > s.AvailabilityTargetBPS:
			f.add(p+".below_bps", "must be between 1 and the availability target (%d)", s.AvailabilityTargetBPS)
		case i > 0 && b.BelowBPS >= s.AvailabilityCredits[i-1].BelowBPS:
			f.add(p+".below_bps", "must be below the previous band's (%d)", s.AvailabilityCredits[i-1].BelowBPS)
		}
		if b.CreditBPS <= 0 || b.CreditBPS > money.BPSDenominator {
			f.add(p+".credit_bps", "must be between 1 and 10000")
		} else if i > 0 && b.CreditBPS <= s.AvailabilityCredits[i-1].CreditBPS {
			f.add(p+".credit_bps", "must be above the previous band's (%d)", s.AvailabilityCredits[i-1].CreditBPS)
		}
	}
	if s.LatencyCreditBPS < 0 || s.LatencyCreditBPS > money.BPSDenominator {
		f.add(path+".latency_credit_bps", "must be between 0 and 10000")
	} else if s.LatencyCreditBPS > 0 && s.P95TargetMS == 0 {
		f.add(path+".latency_credit_bps", "needs a p95 response time target")
	}
	credits := len(s.AvailabilityCredits) > 0 || s.LatencyCreditBPS > 0
	switch {
	case s.CreditCapBPS < 0 || s.CreditCapBPS > money.BPSDenominator:
		f.add(path+".credit_cap_bps", "must be between 0 and 10000")
	case credits && s.CreditCapBPS == 0:
		f.add(path+".credit_cap_bps", "is required when credits are agreed")
	}
}

func (l Liability) validate(f *fieldErrors, path string) {
	if l.CapMinor < 0 || l.CapMinor > MaxLiabilityCapMinor {
		f.add(path+".cap_minor", "must be between 0 and %d", int64(MaxLiabilityCapMinor))
	}
	bank, partner := l.FraudLossBankBPS, l.FraudLossPartnerBPS
	switch {
	case bank < 0 || bank > money.BPSDenominator:
		f.add(path+".fraud_loss_bank_bps", "must be between 0 and 10000")
	case partner < 0 || partner > money.BPSDenominator:
		f.add(path+".fraud_loss_partner_bps", "must be between 0 and 10000")
	case (bank != 0 || partner != 0) && bank+partner != money.BPSDenominator:
		f.add(path+".fraud_loss_partner_bps", "bank and partner shares must sum to 10000 (now %d)", bank+partner)
	}
	checkText(f, path+".indemnity_clause", l.IndemnityClause, MaxClauseChars)
}

func (d DisputeResolution) validate(f *fieldErrors, path string) {
	if len(d.EscalationSteps) > MaxEscalationSteps {
		f.add(path+".escalation_steps", "at most %d steps", MaxEscalationSteps)
	}
	for i, s := range d.EscalationSteps {
		p := fmt.Sprintf("%s.escalation_steps[%d]", path, i)
		if strings.TrimSpace(s) == "" {
			f.add(p, "must not be empty")
		}
		checkText(f, p, s, MaxClauseChars)
	}
	if d.DaysToEscalate < 0 || d.DaysToEscalate > MaxDaysToEscalate {
		f.add(path+".days_to_escalate", "must be between 0 and %d", MaxDaysToEscalate)
	} else if d.DaysToEscalate > 0 && len(d.EscalationSteps) == 0 {
		f.add(path+".days_to_escalate", "needs escalation steps")
	}
	checkText(f, path+".governing_law", d.GoverningLaw, MaxShortTextChars)
	checkText(f, path+".venue", d.Venue, MaxShortTextChars)
}

// normalizeClauses trims the clause texts and never leaves nil slices.
func (t Terms) normalizeClauses() Terms {
	t.Confidentiality.Clause = strings.TrimSpace(t.Confidentiality.Clause)
	t.Liability.IndemnityClause = strings.TrimSpace(t.Liability.IndemnityClause)
	d := &t.DisputeResolution
	d.GoverningLaw, d.Venue = strings.TrimSpace(d.GoverningLaw), strings.TrimSpace(d.Venue)
	steps := make([]string, 0, len(d.EscalationSteps))
	for _, s := range d.EscalationSteps {
		steps = append(steps, strings.TrimSpace(s))
	}
	d.EscalationSteps = steps
	t.ServiceLevels.AvailabilityCredits = append([]AvailabilityCredit{}, t.ServiceLevels.AvailabilityCredits...)
	return t
}

// ServiceMeasure is the platform's own measurement of a partner's production
// resource calls over one month (monitoring's request log): how many were
// logged, how many failed (5xx or unanswered) and the nearest-rank p95
// response time.
type ServiceMeasure struct {
	Requests int64 `json:"requests"`
	Failed   int64 `json:"failed"`
	P95US    int64 `json:"p95_us"`
}

// AvailabilityBPS is (Requests − Failed) / Requests in basis points, rounded
// down; ok is false without requests (availability is then undefined).
func (m ServiceMeasure) AvailabilityBPS() (bps int64, ok bool) {
	if m.Requests <= 0 {
		return 0, false
	}
	return (m.Requests - m.Failed) * money.BPSDenominator / m.Requests, true
}

// ServiceLevelSource gives contracts the platform's measurements (the
// monitoring package, adapted in cmd/bankbridge). MonthServiceLevel returns a
// partner's production figures over [from, to).
type ServiceLevelSource interface {
	MonthServiceLevel(ctx context.Context, partnerID string, from, to time.Time) (ServiceMeasure, error)
}

// CreditDecision is how a month's service credit was reached.
type CreditDecision struct {
	AvailabilityBPS int64 // the availability band's credit (0: target met or no band)
	LatencyBPS      int64 // the p95 credit (0: target met)
	RateBPS         int64 // min(AvailabilityBPS + LatencyBPS, cap)
	Capped          bool
	Amount          int64 // minor units, positive: MulDivHalfEven(base, RateBPS, 10000)
}

// ServiceCredit decides the month's credit from the service levels, the
// measurement and the month's fees (base, minor units). A month without
// requests earns no credit (nothing was measured); availability below a band
// is compared exactly ((Requests−Failed)×10000 < BelowBPS×Requests), not
// after rounding.
func ServiceCredit(sl ServiceLevels, m ServiceMeasure, base int64) CreditDecision {
	var d CreditDecision
	if !sl.Enabled() || m.Requests <= 0 || base <= 0 {
		return d
	}
	good := m.Requests - m.Failed
	for _, b := range sl.AvailabilityCredits {
		if good*money.BPSDenominator < b.BelowBPS*m.Requests {
			d.AvailabilityBPS = b.CreditBPS
		}
	}
	if sl.P95TargetMS > 0 && m.P95US > sl.P95TargetMS*1000 {
		d.LatencyBPS = sl.LatencyCreditBPS
	}
	d.RateBPS = d.AvailabilityBPS + d.LatencyBPS
	if d.RateBPS > sl.CreditCapBPS {
		d.RateBPS, d.Capped = sl.CreditCapBPS, true
	}
	d.Amount = money.MulDivHalfEven(base, d.RateBPS, money.BPSDenominator)
	return d
}

// serviceCreditDescription is the statement line's text.
func serviceCreditDescription(sl ServiceLevels, m ServiceMeasure, d CreditDecision) string {
	var parts []string
	if a, ok := m.AvailabilityBPS(); ok {
		parts = append(parts, fmt.Sprintf("availability %s%% (target %s%%)", bpsPercent(a), bpsPercent(sl.AvailabilityTargetBPS)))
	}
	if sl.P95TargetMS > 0 {
		parts = append(parts, fmt.Sprintf("p95 %s ms (target %d ms)", msText(m.P95US), sl.P95TargetMS))
	}
	s := "service credit: " + strings.Join(parts, ", ")
	if d.Capped {
		s += fmt.Sprintf(", capped at %d bps", sl.CreditCapBPS)
	}
	return s
}

// bpsPercent formats basis points as a percentage with two decimals ("99.90").
func bpsPercent(bps int64) string { return fmt.Sprintf("%d.%02d", bps/100, bps%100) }

// msText formats microseconds as milliseconds with three decimals.
func msText(us int64) string { return fmt.Sprintf("%d.%03d", us/1000, us%1000) }
