package risk

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
)

var noon = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func codes(a Assessment) []string {
	var out []string
	for _, r := range a.Reasons {
		out = append(out, r.Code)
	}
	return out
}

// TestScoreTable pins the scoring table: each case's reasons, score and
// decision with the default thresholds.
func TestScoreTable(t *testing.T) {
	gbp := func(minor int64) money.Money { return money.GBP(minor) }
	bill := map[string]any{"PaymentContextCode": "BillPayment"}
	regular := History{Count: 10, Mean: 5_000, Max: 12_000}
	for _, tc := range []struct {
		name     string
		in       Input
		codes    []string
		score    int
		decision string
	}{
		{"ok/regular-bill-low-rated-partner", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingLow, Risk: bill}, nil, 0, DecisionAllow},
		{"ok/medium-partner-no-context", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingMedium, Risk: map[string]any{}}, []string{"partner_rating", "context_missing"}, 10, DecisionAllow},
		{"ok/empty-rating-counts-as-medium", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, Risk: bill},
			[]string{"partner_rating"}, 5, DecisionAllow},
		{"ok/first-payment-new-payee", Input{Amount: gbp(4_000), Customer: true, NewPayee: true, At: noon,
			PartnerRating: RatingMedium, Risk: map[string]any{}},
			[]string{"no_history", "new_payee", "partner_rating", "context_missing"}, 35, DecisionSCA},
		{"ok/above-usual-and-max", Input{Amount: gbp(20_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingLow, Risk: bill}, []string{"amount_above_usual", "amount_above_max"}, 30, DecisionSCA},
		{"ok/above-max-only", Input{Amount: gbp(13_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingLow, Risk: bill}, []string{"amount_above_max"}, 10, DecisionAllow},
		{"ok/few-payments-no-mean-comparison", Input{Amount: gbp(20_000), Customer: true, History: History{Count: 2, Mean: 1_000, Max: 1_500},
			At: noon, PartnerRating: RatingLow, Risk: bill}, []string{"amount_above_max"}, 10, DecisionAllow},
		{"ok/velocity-capped", Input{Amount: gbp(4_000), Customer: true, History: regular, Velocity: 12, At: noon,
			PartnerRating: RatingLow, Risk: bill}, []string{"velocity"}, 30, DecisionSCA},
		{"ok/velocity-free-up-to-3", Input{Amount: gbp(4_000), Customer: true, History: regular, Velocity: 3, At: noon,
			PartnerRating: RatingLow, Risk: bill}, nil, 0, DecisionAllow},
		{"ok/night", Input{Amount: gbp(4_000), Customer: true, History: regular, At: time.Date(2026, 12, 4, 5, 59, 0, 0, time.UTC),
			PartnerRating: RatingLow, Risk: bill}, []string{"night"}, 10, DecisionAllow},
		{"ok/night-in-the-sandbox-does-not-count", Input{Amount: gbp(4_000), Customer: true, History: regular, At: time.Date(2026, 12, 4, 5, 59, 0, 0, time.UTC),
			PartnerRating: RatingLow, Risk: bill, Sandbox: true}, nil, 0, DecisionAllow},
		{"ok/six-is-day", Input{Amount: gbp(4_000), Customer: true, History: regular, At: time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC),
			PartnerRating: RatingLow, Risk: bill}, nil, 0, DecisionAllow},
		{"ok/risk-block", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, PartnerRating: RatingHigh,
			Risk: map[string]any{"PaymentContextCode": "EcommerceGoods", "MerchantCategoryCode": "7995"}},
			[]string{"partner_rating", "goods_no_delivery", "merchant_category"}, 45, DecisionSCA},
		{"ok/delivery-abroad", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, PartnerRating: RatingLow,
			Risk: map[string]any{"PaymentContextCode": "EcommerceGoods", "DeliveryAddress": map[string]any{"Country": "FR"}}},
			[]string{"delivery_abroad"}, 10, DecisionAllow},
		{"ok/delivery-home", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, PartnerRating: RatingLow,
			Risk: map[string]any{"PaymentContextCode": "EcommerceGoods", "DeliveryAddress": map[string]any{"Country": "GB"}}}, nil, 0, DecisionAllow},
		{"ok/party-to-party-other", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, PartnerRating: RatingLow,
			Risk: map[string]any{"PaymentContextCode": "PartyToParty"}}, []string{"party_to_party"}, 10, DecisionAllow},
		{"ok/context-other", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon, PartnerRating: RatingLow,
			Risk: map[string]any{"PaymentContextCode": "TransferToThirdParty"}}, []string{"context_other"}, 5, DecisionAllow},
		{"ok/consent-ignores-customer-fields", Input{Amount: gbp(4_000), NewPayee: true, Velocity: 20, At: noon,
			PartnerRating: RatingLow, Risk: bill}, nil, 0, DecisionAllow},
		{"ok/screening-match-holds-at-least", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingLow, Risk: bill, Matches: []Match{{Name: "IVAN PETROV", List: "OFAC SDN", Reference: "123", Score: 93}}},
			[]string{"screening_match"}, 30, DecisionHold},
		{"ok/screening-below-threshold-ignored", Input{Amount: gbp(4_000), Customer: true, History: regular, At: noon,
			PartnerRating: RatingLow, Risk: bill, Matches: []Match{{Name: "IVAN PETROVA", Score: 89}}}, nil, 0, DecisionAllow},
		{"ok/hold-by-score", Input{Amount: gbp(40_000), Customer: true, History: regular, NewPayee: true, At: noon,
			PartnerRating: RatingMedium, Risk: map[string]any{}},
			[]string{"amount_above_usual", "amount_above_max", "new_payee", "partner_rating", "context_missing"}, 55, DecisionHold},
		{"ok/reject-by-score-capped-at-100", Input{Amount: gbp(40_000), Customer: true, History: regular, NewPayee: true, Velocity: 9,
			At: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC), PartnerRating: RatingHigh,
			Risk:    map[string]any{"PaymentContextCode": "PartyToParty", "MerchantCategoryCode": "4829"},
			Matches: []Match{{Name: "X", Score: 100}}},
			[]string{"amount_above_usual", "amount_above_max", "new_payee", "velocity", "night", "partner_rating", "party_to_party",
				"merchant_category", "screening_match"}, 100, DecisionReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Score(tc.in, DefaultThresholds())
			if got := codes(a); !slices.Equal(got, tc.codes) {
				t.Errorf("reasons %v, want %v", got, tc.codes)
			}
			if a.Score != tc.score || a.Decision != tc.decision {
				t.Errorf("score %d %s, want %d %s (%+v)", a.Score, a.Decision, tc.score, tc.decision, a.Reasons)
			}
			for _, r := range a.Reasons {
				if r.Detail == "" || r.Points <= 0 {
					t.Errorf("reason %+v is not explained", r)
				}
			}
		})
	}
}

func TestScoreDetailExplains(t *testing.T) {
	a := Score(Input{Amount: money.GBP(20_000), Customer: true, History: History{Count: 10, Mean: 5_000, Max: 12_000}, At: noon,
		PartnerRating: RatingLow, Risk: map[string]any{"PaymentContextCode": "BillPayment"},
		Matches: []Match{{Name: "IVAN PETROV", List: "OFAC SDN", Reference: "OFAC-123", Score: 95}}}, DefaultThresholds())
	want := []Reason{
		{"amount_above_usual", "200.00 GBP is more than 3× the mean 50.00 of 10 payments in 90 days", PointsAboveUsual},
		{"amount_above_max", "200.00 GBP is more than the largest payment in 90 days (120.00)", PointsAboveMax},
		{"screening_match", `payee name matches "IVAN PETROV" on OFAC SDN (OFAC-123), similarity 95%`, PointsScreeningMatch},
	}
	if !reflect.DeepEqual(a.Reasons, want) {
		t.Errorf("reasons\n%+v\nwant\n%+v", a.Reasons, want)
	}
}

func TestThresholdsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		th   Thresholds
		want string
	}{
		{"ok/default", DefaultThresholds(), ""},
		{"fail/order", Thresholds{SCA: 60, Hold: 50, Reject: 80, ScreeningMatch: 90}, "risk thresholds: want 0 < sca (60) ≤ hold (50) ≤ reject (80) ≤ 100"},
		{"fail/zero", Thresholds{SCA: 0, Hold: 50, Reject: 80, ScreeningMatch: 90}, "risk thresholds: want 0 < sca (0) ≤ hold (50) ≤ reject (80) ≤ 100"},
		{"fail/above-100", Thresholds{SCA: 30, Hold: 50, Reject: 101, ScreeningMatch: 90}, "risk thresholds: want 0 < sca (30) ≤ hold (50) ≤ reject (101) ≤ 100"},
		{"fail/match", Thresholds{SCA: 30, Hold: 50, Reject: 80, ScreeningMatch: 0}, "risk thresholds: screening match 0 not in 1..100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.th.Validate()
			if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}

// randomInput draws an input from every factor's range.
func randomInput(r *rand.Rand) Input {
	ctxs := []string{"", "BillPayment", "EcommerceGoods", "EcommerceServices", "PartyToParty", "Other"}
	mccs := []string{"", "5411", "7995", "4829"}
	block := map[string]any{}
	if c := ctxs[r.IntN(len(ctxs))]; c != "" {
		block["PaymentContextCode"] = c
	}
	if m := mccs[r.IntN(len(mccs))]; m != "" {
		block["MerchantCategoryCode"] = m
	}
	if r.IntN(2) == 0 {
		block["DeliveryAddress"] = map[string]any{"Country": []string{"GB", "FR", "gb", ""}[r.IntN(4)]}
	}
	in := Input{Amount: money.Money{Minor: r.Int64N(10_000_000) + 1, Currency: []string{"GBP", "JPY", "BHD"}[r.IntN(3)]},
		Customer: r.IntN(2) == 0, NewPayee: r.IntN(2) == 0, Velocity: r.Int64N(20),
		At:            time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))),
		PartnerRating: []string{"", RatingLow, RatingMedium, RatingHigh}[r.IntN(4)], Risk: block}
	if n := r.Int64N(30); n > 0 {
		mean := r.Int64N(1_000_000) + 1
		in.History = History{Count: n, Mean: mean, Max: mean + r.Int64N(1_000_000)}
	}
	for range r.IntN(3) {
		in.Matches = append(in.Matches, Match{Name: "N", List: "L", Reference: "R", Score: r.IntN(101)})
	}
	return in
}

// TestScoreProperties: for random inputs the score is within 0–100, is the
// capped sum of its reasons, decides by the thresholds (a counted screening
// match holds at least), is deterministic, and never falls when a risk
// factor is added.
func TestScoreProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 4))
	th := DefaultThresholds()
	for i := range 5000 {
		in := randomInput(r)
		a := Score(in, th)
		sum := 0
		for _, x := range a.Reasons {
			sum += x.Points
		}
		if a.Score < 0 || a.Score > 100 || a.Score != min(sum, 100) {
			t.Fatalf("#%d: score %d, reasons sum %d", i, a.Score, sum)
		}
		want := decide(a.Score, th)
		if len(a.Matches) > 0 && rank(want) < rank(DecisionHold) {
			want = DecisionHold
		}
		if a.Decision != want {
			t.Fatalf("#%d: decision %s for score %d, want %s", i, a.Decision, a.Score, want)
		}
		if b := Score(in, th); !reflect.DeepEqual(a, b) {
			t.Fatalf("#%d: not deterministic:\n%+v\n%+v", i, a, b)
		}
		worse := in
		worse.PartnerRating, worse.NewPayee, worse.Velocity = RatingHigh, true, in.Velocity+1
		worse.Matches = append(slices.Clone(in.Matches), Match{Name: "Z", Score: 100})
		if w := Score(worse, th); w.Score < a.Score || rank(w.Decision) < rank(a.Decision) {
			t.Fatalf("#%d: adding risk lowered the outcome: %d %s → %d %s", i, a.Score, a.Decision, w.Score, w.Decision)
		}
	}
}

func TestParseThresholds(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Thresholds
		err      string
	}{
		{"ok/empty-is-default", "", DefaultThresholds(), ""},
		{"ok/subset", " hold=60 , reject=90", Thresholds{SCA: 30, Hold: 60, Reject: 90, ScreeningMatch: 90}, ""},
		{"ok/all", "match=85,sca=20,hold=40,reject=70", Thresholds{SCA: 20, Hold: 40, Reject: 70, ScreeningMatch: 85}, ""},
		{"fail/not-a-pair", "hold", Thresholds{}, `risk thresholds: "hold" is not name=number (sca, hold, reject, match)`},
		{"fail/not-a-number", "hold=high", Thresholds{}, `risk thresholds: "hold=high" is not name=number (sca, hold, reject, match)`},
		{"fail/unknown", "allow=10", Thresholds{}, `risk thresholds: unknown threshold "allow" (sca, hold, reject, match)`},
		{"fail/order", "hold=90", Thresholds{SCA: 30, Hold: 90, Reject: 80, ScreeningMatch: 90}, "risk thresholds: want 0 < sca (30) ≤ hold (90) ≤ reject (80) ≤ 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseThresholds(tc.in)
			if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) || got != tc.want {
				t.Errorf("ParseThresholds(%q) = %+v, %v; want %+v, %q", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// FuzzParseThresholds: whatever the operator writes, the result is valid
// thresholds or an error.
func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{"", "sca=30,hold=50,reject=80,match=90", "hold=", "=1", ",,", "reject=-1", "sca=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := ParseThresholds(s)
		if err == nil {
			if verr := th.Validate(); verr != nil {
				t.Fatalf("ParseThresholds(%q) = %+v, invalid: %v", s, th, verr)
			}
		}
	})
}
