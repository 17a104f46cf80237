package risk

import "fmt"

// A partner's risk rating (partners) is raised by what the platform sees of
// its activity (issue 16 item 6), besides suspensions and performance
// reviews: RatingSignal decides from a PartnerActivity. Signals only raise
// a rating; lowering one is a person's decision (a performance review).
// Customers' complaints (package complaints, issue 17) are a signal too.

// The signals' thresholds.
const (
	// SignalWindowDays is the volume window: the last 30 days against the
	// 30 before.
	SignalWindowDays = 30
	// VolumeSpikeFactor and VolumeSpikeMinimum: payments in the window at
	// least this many times those of the window before, and at least this
	// many, are a spike (medium).
	VolumeSpikeFactor  = 3
	VolumeSpikeMinimum = 100
	// IncidentWindowDays is how far back rejected risk cases count;
	// IncidentsHigh rejected cases make a partner high, one makes it medium.
	IncidentWindowDays = 90
	IncidentsHigh      = 3
	// ComplaintWindowDays is how far back complaints count (by receipt):
	// those about unauthorised payments or upheld with a refund.
	// ComplaintsMedium of them make a partner medium, ComplaintsHigh high.
	ComplaintWindowDays = 90
	ComplaintsMedium    = 3
	ComplaintsHigh      = 10
)

// PartnerActivity is what the signals look at for one partner.
type PartnerActivity struct {
	PartnerID string
	// Payments and PaymentsBefore count its non-rejected payments in the
	// last SignalWindowDays and in the SignalWindowDays before.
	Payments, PaymentsBefore int64
	// RejectedCases counts its held payments that risk officers rejected in
	// the last IncidentWindowDays.
	RejectedCases int64
	// Complaints counts the customers' complaints about its payments
	// received in the last ComplaintWindowDays that are about unauthorised
	// payments or were upheld (refunded).
	Complaints int64
}

// RatingSignal is the rating a's activity calls for, with the source and
// reason recorded in the rating's history; rating "" when it calls for
// nothing. The strongest signal wins; between equals, rejected risk cases,
// then complaints, then volumes.
func RatingSignal(a PartnerActivity) (rating, source, reason string) {
	type signal struct{ rating, source, reason string }
	var signals []signal
	switch {
	case a.RejectedCases >= IncidentsHigh:
		signals = append(signals, signal{RatingHigh, "signal:risk_cases", fmt.Sprintf("%d held payments rejected by risk officers in %d days", a.RejectedCases, IncidentWindowDays)})
	case a.RejectedCases > 0:
		signals = append(signals, signal{RatingMedium, "signal:risk_cases", fmt.Sprintf("%d held payment rejected by risk officers in %d days", a.RejectedCases, IncidentWindowDays)})
	}
	switch {
	case a.Complaints >= ComplaintsHigh:
		signals = append(signals, signal{RatingHigh, "signal:complaints", fmt.Sprintf("%d complaints of unauthorised or refunded payments in %d days", a.Complaints, ComplaintWindowDays)})
	case a.Complaints >= ComplaintsMedium:
		signals = append(signals, signal{RatingMedium, "signal:complaints", fmt.Sprintf("%d complaints of unauthorised or refunded payments in %d days", a.Complaints, ComplaintWindowDays)})
	}
	if a.Payments >= VolumeSpikeMinimum && a.Payments >= VolumeSpikeFactor*a.PaymentsBefore {
		signals = append(signals, signal{RatingMedium, "signal:volumes", fmt.Sprintf("payments grew from %d to %d in %d days", a.PaymentsBefore, a.Payments, SignalWindowDays)})
	}
	for _, s := range signals {
		if rating == "" || Raises(rating, s.rating) {
			rating, source, reason = s.rating, s.source, s.reason
		}
	}
	return rating, source, reason
}

// Raises reports whether rating proposed is above current (low < medium <
// high; an unknown current counts as medium).
func Raises(current, proposed string) bool {
	rank := func(r string) int {
		switch r {
		case RatingLow:
			return 0
		case RatingHigh:
			return 2
		}
		return 1
	}
	return proposed != "" && rank(proposed) > rank(current)
}
