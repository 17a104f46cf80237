// Package risk scores payments (issue 16 item 2), holds the ones that need a
// person to look at them and keeps the risk officers' case queue (item 4).
//
// Scoring is a pure function (Score) of what the payment platform knows about
// a payment: its amount against the customer's history, whether the payee is
// new, the customer's velocity, the time of day, the partner's risk rating,
// the Open Banking Risk block the partner sent and the screening of the
// payee's name. It returns a score 0–100, a decision (allow, sca, hold,
// reject) and every reason with its points, so a decision is always
// explained.
//
// The sanctions screening (risk/screening) and the partner's risk rating
// (partners) are consumed through the ports Screener and Ratings defined
// here; cmd/bankbridge wires them.
package risk

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
)

// Decisions, from the mildest.
const (
	DecisionAllow  = "allow"
	DecisionSCA    = "sca"
	DecisionHold   = "hold"
	DecisionReject = "reject"
)

// Partner risk ratings (partners' performance reviews).
const (
	RatingLow    = "low"
	RatingMedium = "medium"
	RatingHigh   = "high"
)

// Reason is one contribution to a score.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Points int    `json:"points"`
}

// Assessment is the outcome of Score.
type Assessment struct {
	Score    int      `json:"score"`
	Decision string   `json:"decision"`
	Reasons  []Reason `json:"reasons"`
	// Matches are the screening matches at or above the threshold.
	Matches []Match `json:"matches,omitempty"`
}

// History summarises a customer's non-rejected payments in one currency over
// HistoryWindow (minor units of that currency).
type History struct {
	Count int64
	Mean  int64
	Max   int64
}

// HistoryWindow is how far back History looks.
const HistoryWindow = 90 * 24 * time.Hour

// VelocityWindow is the window of Input.Velocity.
const VelocityWindow = time.Hour

// Match is one screening hit of a payee's name against a watch list.
type Match struct {
	Name      string `json:"name"`      // the listed name
	List      string `json:"list"`      // e.g. "OFAC SDN"
	Reference string `json:"reference"` // the list's id of the entry
	Score     int    `json:"score"`     // similarity 0–100
	Explain   string `json:"explain,omitempty"`
}

// Input is everything Score looks at. At payment-consent creation the
// customer is not known yet (the customer authorises later): Customer is
// false and History, NewPayee and Velocity are ignored.
type Input struct {
	Amount money.Money
	// Customer reports whether History, NewPayee and Velocity are known.
	Customer bool
	History  History
	// NewPayee: the customer never paid this creditor account before.
	NewPayee bool
	// Velocity counts the customer's payments in the last VelocityWindow.
	Velocity int64
	At       time.Time
	// PartnerRating is RatingLow, RatingMedium or RatingHigh ("" counts as medium).
	PartnerRating string
	// Risk is the OB Risk block the partner sent.
	Risk map[string]any
	// Matches are the screening results of the payee's name.
	Matches []Match
	// Sandbox: the payment is in the sandbox, where the time of day does not
	// count, so a partner's tests score the same at any hour.
	Sandbox bool
}

// Screener screens a name against the imported watch lists (risk/screening
// implements it).
type Screener interface {
	Screen(ctx context.Context, name string) ([]Match, error)
}

// Ratings reads a partner's risk rating (partners implements it).
type Ratings interface {
	// RiskRating returns RatingLow, RatingMedium or RatingHigh.
	RiskRating(ctx context.Context, partnerID string) (string, error)
}

// NoMatches is the Screener of an Assessor configured without one: nothing
// matches (the platform wires risk/screening).
type NoMatches struct{}

// Screen implements Screener.
func (NoMatches) Screen(context.Context, string) ([]Match, error) { return nil, nil }

// FixedRating is a Ratings that rates every partner the same (an Assessor
// configured without Ratings uses medium; the platform wires partners).
type FixedRating string

// RiskRating implements Ratings.
func (r FixedRating) RiskRating(context.Context, string) (string, error) { return string(r), nil }

// Thresholds decide from a score: at or above SCA → sca, Hold → hold,
// Reject → reject. ScreeningMatch is the similarity (0–100) at which a
// screening match counts; a counted match holds the payment at least.
type Thresholds struct {
	SCA, Hold, Reject int
	ScreeningMatch    int
}

// DefaultThresholds: sca from 30, hold from 50, reject from 80; screening
// matches count from a similarity of 90.
func DefaultThresholds() Thresholds {
	return Thresholds{SCA: 30, Hold: 50, Reject: 80, ScreeningMatch: 90}
}

// Validate checks 0 < SCA ≤ Hold ≤ Reject ≤ 100 and 0 < ScreeningMatch ≤ 100.
func (t Thresholds) Validate() error {
	if t.SCA <= 0 || t.SCA > t.Hold || t.Hold > t.Reject || t.Reject > 100 {
		return fmt.Errorf("risk thresholds: want 0 < sca (%d) ≤ hold (%d) ≤ reject (%d) ≤ 100", t.SCA, t.Hold, t.Reject)
	}
	if t.ScreeningMatch <= 0 || t.ScreeningMatch > 100 {
		return fmt.Errorf("risk thresholds: screening match %d not in 1..100", t.ScreeningMatch)
	}
	return nil
}

// ParseThresholds reads the operator's thresholds, "sca=30,hold=50,reject=80,match=90"
// (any subset, in any order; the rest keep DefaultThresholds), and validates
// them. "" is the defaults.
func ParseThresholds(s string) (Thresholds, error) {
	th := DefaultThresholds()
	if strings.TrimSpace(s) == "" {
		return th, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil {
			return Thresholds{}, fmt.Errorf("risk thresholds: %q is not name=number (sca, hold, reject, match)", part)
		}
		switch strings.TrimSpace(k) {
		case "sca":
			th.SCA = n
		case "hold":
			th.Hold = n
		case "reject":
			th.Reject = n
		case "match":
			th.ScreeningMatch = n
		default:
			return Thresholds{}, fmt.Errorf("risk thresholds: unknown threshold %q (sca, hold, reject, match)", strings.TrimSpace(k))
		}
	}
	return th, th.Validate()
}
