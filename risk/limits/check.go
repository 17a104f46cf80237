package limits

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// The defaults' names in refusals (as before rules existed).
const (
	DefaultPerPaymentLabel = "per-payment"
	DefaultDailyLabel      = "daily partner"
)

// Effective returns the rules that bound p (see the package's precedence):
// the stored rules that apply to it, and for each kind without a platform
// rule among them the default of d (none for per_month, which had none).
func Effective(d Defaults, rules []Rule, p Payment) []Rule {
	var out []Rule
	platform := map[Kind]bool{}
	for _, r := range rules {
		if r.Applies(p) {
			out = append(out, r)
			if r.Scope == ScopePlatform {
				platform[r.Kind] = true
			}
		}
	}
	def := func(k Kind, label string, amount, count int64, window time.Duration) {
		if platform[k] {
			return
		}
		out = append(out, Rule{Environment: p.Environment, Currency: p.Amount.Currency, Scope: ScopePlatform, Kind: k,
			Amount: amount, Count: count, Window: window, Default: true, DefaultLabel: label})
	}
	def(KindPerPayment, DefaultPerPaymentLabel, d.PerPayment, 0, 0)
	def(KindPerDay, DefaultDailyLabel, d.PerPartnerDaily, 0, 0)
	def(KindVelocity, "", 0, d.VelocityCount, d.VelocityWindow)
	if p.PartnerRating == RatingHigh {
		for i := range out {
			if out[i].Kind != KindVelocity {
				out[i].Amount, out[i].HighRisk = ScaleBPS(out[i].Amount, HighRiskShareBPS), true
			}
		}
	}
	return out
}

// ScaleBPS is amount × bps / 10 000 rounded down, without overflow for any
// non-negative amount and 0 <= bps <= 10 000.
func ScaleBPS(amount, bps int64) int64 {
	return amount/10_000*bps + amount%10_000*bps/10_000
}

// rank orders ties: customer, app, partner, platform (the narrowest first).
func rank(s Scope) int {
	switch s {
	case ScopeCustomer:
		return 0
	case ScopeApp:
		return 1
	case ScopePartner:
		return 2
	}
	return 3
}

// Add returns a+b and whether it fits in int64 (amounts are never negative:
// a sum that would overflow is refused, never wrapped).
func Add(a, b int64) (int64, bool) {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// Tightest returns the rule of kind among rules with the smallest bound
// (Amount, or Count for velocity), ties by rank; ok false when none.
func Tightest(rules []Rule, kind Kind) (Rule, bool) {
	var best Rule
	found := false
	for _, r := range rules {
		if r.Kind != kind {
			continue
		}
		b, bb := r.Amount, best.Amount
		if kind == KindVelocity {
			b, bb = r.Count, best.Count
		}
		if !found || b < bb || (b == bb && rank(r.Scope) < rank(best.Scope)) {
			best, found = r, true
		}
	}
	return best, found
}

// CheckAmount refuses an amount above the tightest per_payment rule of
// rules: CodeLimitExceeded "the <name> limit is <amount> <currency>".
func CheckAmount(rules []Rule, amount money.Money) error {
	r, ok := Tightest(rules, KindPerPayment)
	if ok && amount.Minor > r.Amount {
		return r.refusal()
	}
	return nil
}

// refusal is the problem for an amount rule overrun.
func (r Rule) refusal() *problem.Error {
	e := problem.New(problem.CodeLimitExceeded, "the %s limit is %s%s", r.Name(), r.Limit(), r.highRiskNote()).
		With("limit", money.FormatAmount(r.Amount, r.Currency)).With("currency", r.Currency)
	if !r.Default {
		e = e.With("scope", string(r.Scope)).With("kind", string(r.Kind))
	}
	if r.HighRisk {
		e = e.With("partner_risk_rating", RatingHigh)
	}
	return e
}

// highRiskNote is what a refusal adds for a limit scaled for a high-risk
// partner.
func (r Rule) highRiskNote() string {
	if !r.HighRisk {
		return ""
	}
	return " (half the usual: the partner's risk rating is high)"
}

// Usage is what CheckUsage reads, in the caller's transaction: the sums and
// counts of payments already made.
type Usage interface {
	// Total sums, in minor units, the non-rejected payments in the payment's
	// environment and currency created at or after since by the payment's
	// partner (ScopePartner, and ScopePlatform), app or customer.
	Total(ctx context.Context, by Scope, since time.Time) (int64, error)
	// DebtorCount counts the payments from the payment's debtor account
	// created at or after since.
	DebtorCount(ctx context.Context, since time.Time) (int64, error)
}

// DayStart and MonthStart are the UTC day's and month's first instants.
func DayStart(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

// MonthStart is the first instant of t's UTC month.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// CheckUsage refuses p when it would overrun a per_day or per_month rule
// of rules (CodeLimitExceeded naming the rule with the least room left,
// with what is used in "used_today" / "used_this_month"), or when its debtor
// account reached a velocity rule (CodeVelocityExceeded naming the
// smallest count). Run it where concurrent payments are serialised.
func CheckUsage(ctx context.Context, rules []Rule, p Payment, now time.Time, u Usage) error {
	type sumKey struct {
		by    Scope
		since time.Time
	}
	sums := map[sumKey]int64{}
	var worst *Rule
	var worstRoom, worstUsed int64
	for i := range rules {
		r := &rules[i]
		var since time.Time
		switch r.Kind {
		case KindPerDay:
			since = DayStart(now)
		case KindPerMonth:
			since = MonthStart(now)
		default:
			continue
		}
		k := sumKey{r.Scope, since}
		if r.Scope == ScopePlatform {
			k.by = ScopePartner
		}
		used, ok := sums[k]
		if !ok {
			var err error
			if used, err = u.Total(ctx, k.by, since); err != nil {
				return err
			}
			sums[k] = used
		}
		total, fits := Add(used, p.Amount.Minor)
		if fits && total <= r.Amount {
			continue
		}
		room := r.Amount - used // both ≥ 0: no overflow
		if worst == nil || room < worstRoom || (room == worstRoom && rank(r.Scope) < rank(worst.Scope)) {
			worst, worstRoom, worstUsed = r, room, used
		}
	}
	if worst != nil {
		field := "used_today"
		if worst.Kind == KindPerMonth {
			field = "used_this_month"
		}
		return worst.refusal().With(field, money.FormatAmount(worstUsed, worst.Currency))
	}
	var hit *Rule
	counts := map[time.Duration]int64{}
	for i := range rules {
		r := &rules[i]
		if r.Kind != KindVelocity {
			continue
		}
		n, ok := counts[r.Window]
		if !ok {
			var err error
			if n, err = u.DebtorCount(ctx, now.Add(-r.Window)); err != nil {
				return err
			}
			counts[r.Window] = n
		}
		if n < r.Count {
			continue
		}
		if hit == nil || r.Count < hit.Count || (r.Count == hit.Count && rank(r.Scope) < rank(hit.Scope)) {
			hit = r
		}
	}
	if hit != nil {
		secs := int(hit.Window / time.Second)
		detail := fmt.Sprintf("at most %s per %d seconds from one debtor account", Payments(hit.Count), secs)
		e := problem.New(problem.CodeVelocityExceeded, "%s", detail)
		if !hit.Default {
			e = problem.New(problem.CodeVelocityExceeded, "the %s limit is %s", hit.Name(), detail).
				With("scope", string(hit.Scope)).With("kind", string(hit.Kind))
		}
		return e.With("retry_after", secs)
	}
	return nil
}
