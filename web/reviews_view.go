package web

import (
	"fmt"
	"strings"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/monitoring"
	"github.com/bankbridge/bankbridge/monitoring/reviews"
)

// scorecardView renders a review's frozen scorecard (partials/review_scorecard.html),
// in the console and in the portal alike.
type scorecardView struct {
	*reviews.Scorecard
}

// bps renders basis points as a percentage with two decimals ("12.34 %").
func bps(v int64) string { return fmt.Sprintf("%d.%02d %%", v/100, v%100) }

// ErrorRate is the share of calls answered 5xx or not at all.
func (s scorecardView) ErrorRate() string { return bps(s.ErrorRateBPS()) }

// ClientErrorRate is the share of calls refused with a 4xx.
func (s scorecardView) ClientErrorRate() string { return bps(s.ClientErrorRateBPS()) }

// WebhookAvailability is the endpoints' availability, or why there is none.
func (s scorecardView) WebhookAvailability() string {
	v, ok := s.WebhookAvailabilityBPS()
	if !ok {
		return "no deliveries"
	}
	return bps(v)
}

// P50 and P95 are the latency percentiles in milliseconds.
func (s scorecardView) P50() string { return monitoring.MS(s.P50US) }

// P95 is the 95th latency percentile in milliseconds.
func (s scorecardView) P95() string { return monitoring.MS(s.P95US) }

// Complaints is the count, or "not tracked yet" while nothing records them.
func (s scorecardView) Complaints() string {
	if s.Scorecard.Complaints == nil {
		return "not tracked yet"
	}
	return fmt.Sprint(*s.Scorecard.Complaints)
}

// Amounts renders one Money per currency ("none" when empty).
func (s scorecardView) Amounts(ms []money.Money) string {
	if len(ms) == 0 {
		return "none"
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return strings.Join(out, ", ")
}

// ratingRow is one dimension with its rating (0: not rated).
type ratingRow struct {
	reviews.Dimension
	Rating int
}

func ratingRows(r reviews.Ratings) []ratingRow {
	out := make([]ratingRow, len(reviews.Dimensions))
	for i, d := range reviews.Dimensions {
		out[i] = ratingRow{Dimension: d, Rating: r.Rating(d.Key)}
	}
	return out
}

// outcomeLabels describe each outcome for people.
var outcomeLabels = map[reviews.Outcome]string{
	reviews.OutcomeContinue:    "Continue",
	reviews.OutcomeWatch:       "Watch",
	reviews.OutcomeRenegotiate: "Renegotiate",
	reviews.OutcomeExit:        "Exit",
}
