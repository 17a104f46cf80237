package risk

import "testing"

func TestRatingSignal(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		a                      PartnerActivity
		rating, source, reason string
	}{
		{"ok/quiet", PartnerActivity{Payments: 500, PaymentsBefore: 400}, "", "", ""},
		{"ok/spike", PartnerActivity{Payments: 300, PaymentsBefore: 100}, RatingMedium, "signal:volumes", "payments grew from 100 to 300 in 30 days"},
		{"ok/spike-from-nothing", PartnerActivity{Payments: 100}, RatingMedium, "signal:volumes", "payments grew from 0 to 100 in 30 days"},
		{"ok/small-is-no-spike", PartnerActivity{Payments: 99}, "", "", ""},
		{"ok/just-under-the-factor", PartnerActivity{Payments: 299, PaymentsBefore: 100}, "", "", ""},
		{"ok/one-rejected-case", PartnerActivity{RejectedCases: 1}, RatingMedium, "signal:risk_cases", "1 held payment rejected by risk officers in 90 days"},
		{"ok/two-complaints-are-nothing", PartnerActivity{Complaints: 2}, "", "", ""},
		{"ok/three-complaints", PartnerActivity{Complaints: 3}, RatingMedium, "signal:complaints", "3 complaints of unauthorised or refunded payments in 90 days"},
		{"ok/nine-complaints", PartnerActivity{Complaints: 9}, RatingMedium, "signal:complaints", "9 complaints of unauthorised or refunded payments in 90 days"},
		{"ok/ten-complaints", PartnerActivity{Complaints: 10}, RatingHigh, "signal:complaints", "10 complaints of unauthorised or refunded payments in 90 days"},
		{"ok/complaints-beat-one-case", PartnerActivity{RejectedCases: 1, Complaints: 10}, RatingHigh, "signal:complaints", "10 complaints of unauthorised or refunded payments in 90 days"},
		{"ok/cases-before-complaints-when-equal", PartnerActivity{RejectedCases: 1, Complaints: 3}, RatingMedium, "signal:risk_cases", "1 held payment rejected by risk officers in 90 days"},
		{"ok/complaints-before-volumes-when-equal", PartnerActivity{Complaints: 3, Payments: 300, PaymentsBefore: 100}, RatingMedium, "signal:complaints", "3 complaints of unauthorised or refunded payments in 90 days"},
		{"ok/incidents-beat-volumes", PartnerActivity{RejectedCases: 3, Payments: 1000}, RatingHigh, "signal:risk_cases", "3 held payments rejected by risk officers in 90 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, s, why := RatingSignal(tc.a)
			if r != tc.rating || s != tc.source || why != tc.reason {
				t.Fatalf("got %q %q %q, want %q %q %q", r, s, why, tc.rating, tc.source, tc.reason)
			}
		})
	}
}

func TestRaises(t *testing.T) {
	for _, tc := range []struct {
		current, proposed string
		want              bool
	}{
		{RatingLow, RatingMedium, true}, {RatingMedium, RatingHigh, true}, {RatingLow, RatingHigh, true},
		{RatingHigh, RatingMedium, false}, {RatingMedium, RatingMedium, false}, {RatingHigh, RatingLow, false},
		{"", RatingMedium, false}, {"", RatingHigh, true}, {RatingLow, "", false},
	} {
		if got := Raises(tc.current, tc.proposed); got != tc.want {
			t.Errorf("Raises(%q, %q) = %v, want %v", tc.current, tc.proposed, got, tc.want)
		}
	}
}
