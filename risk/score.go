package risk

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bankbridge/bankbridge/internal/money"
)

// Points of each reason (the documented scoring table; docs/risk.md).
const (
	PointsNoHistory          = 10 // first payment of the customer in this currency within 90 days
	PointsAboveUsual         = 20 // more than 3× the customer's mean payment
	PointsAboveMax           = 10 // more than the customer's largest payment
	PointsNewPayee           = 15 // never paid this creditor account
	PointsVelocityEach       = 10 // each payment beyond 3 in the last hour…
	PointsVelocityMax        = 30 // …at most
	PointsNight              = 10 // 00:00–05:59 UTC
	PointsRatingMedium       = 5
	PointsRatingHigh         = 20
	PointsContextMissing     = 5  // no PaymentContextCode
	PointsPartyToParty       = 10 // PaymentContextCode PartyToParty
	PointsContextOther       = 5  // any other code than bill payment or e-commerce
	PointsGoodsNoDelivery    = 10 // EcommerceGoods without a DeliveryAddress
	PointsDeliveryAbroad     = 10 // DeliveryAddress outside HomeCountry
	PointsMerchantCategory   = 15 // MerchantCategoryCode in HighRiskMCC
	PointsScreeningMatch     = 30 // the payee's name matches a watch list (and holds at least)
	usualFactor              = 3
	velocityFree             = 3
	nightEndHour             = 6
	HomeCountry              = "GB"
	historyMinForComparisons = 3
)

// HighRiskMCC are the merchant category codes that add PointsMerchantCategory:
// wire transfers and money orders (4829), quasi-cash (6050, 6051), betting
// and casinos (7995), dating and escort services (7273).
var HighRiskMCC = []string{"4829", "6050", "6051", "7273", "7995"}

// Score assesses in against th. It is deterministic: the same input gives the
// same assessment, reasons in a fixed order.
func Score(in Input, th Thresholds) Assessment {
	var rs []Reason
	add := func(code string, points int, format string, args ...any) {
		rs = append(rs, Reason{Code: code, Points: points, Detail: fmt.Sprintf(format, args...)})
	}
	amt := money.FormatMinor(in.Amount.Minor, in.Amount.Currency)
	if in.Customer {
		h := in.History
		switch {
		case h.Count == 0:
			add("no_history", PointsNoHistory, "first payment in %s in 90 days", in.Amount.Currency)
		case h.Count >= historyMinForComparisons && h.Mean > 0 && in.Amount.Minor > usualFactor*h.Mean:
			add("amount_above_usual", PointsAboveUsual, "%s %s is more than %d× the mean %s of %d payments in 90 days",
				amt, in.Amount.Currency, usualFactor, money.FormatMinor(h.Mean, in.Amount.Currency), h.Count)
		}
		if h.Count > 0 && in.Amount.Minor > h.Max {
			add("amount_above_max", PointsAboveMax, "%s %s is more than the largest payment in 90 days (%s)",
				amt, in.Amount.Currency, money.FormatMinor(h.Max, in.Amount.Currency))
		}
		if in.NewPayee {
			add("new_payee", PointsNewPayee, "the customer never paid this creditor account before")
		}
		if over := in.Velocity - velocityFree; over > 0 {
			add("velocity", int(min(over*PointsVelocityEach, PointsVelocityMax)), "%d payments in the last hour", in.Velocity)
		}
	}
	if h := in.At.UTC().Hour(); h < nightEndHour && !in.Sandbox {
		add("night", PointsNight, "initiated at %02d:%02d UTC (night: 00:00–05:59)", h, in.At.UTC().Minute())
	}
	switch in.PartnerRating {
	case RatingLow:
	case RatingHigh:
		add("partner_rating", PointsRatingHigh, "the partner's risk rating is high")
	default:
		add("partner_rating", PointsRatingMedium, "the partner's risk rating is medium")
	}
	scoreRiskBlock(in.Risk, add)
	var matches []Match
	for _, m := range in.Matches {
		if m.Score >= th.ScreeningMatch {
			matches = append(matches, m)
		}
	}
	if len(matches) > 0 {
		best := matches[0]
		for _, m := range matches[1:] {
			if m.Score > best.Score {
				best = m
			}
		}
		add("screening_match", PointsScreeningMatch, "payee name matches %q on %s (%s), similarity %d%%",
			best.Name, best.List, best.Reference, best.Score)
	}
	total := 0
	for _, r := range rs {
		total += r.Points
	}
	total = min(max(total, 0), 100)
	a := Assessment{Score: total, Decision: decide(total, th), Reasons: rs, Matches: matches}
	if a.Reasons == nil {
		a.Reasons = []Reason{}
	}
	if len(matches) > 0 && rank(a.Decision) < rank(DecisionHold) {
		a.Decision = DecisionHold
	}
	return a
}

func decide(score int, th Thresholds) string {
	switch {
	case score >= th.Reject:
		return DecisionReject
	case score >= th.Hold:
		return DecisionHold
	case score >= th.SCA:
		return DecisionSCA
	}
	return DecisionAllow
}

func rank(d string) int {
	return slices.Index([]string{DecisionAllow, DecisionSCA, DecisionHold, DecisionReject}, d)
}

// scoreRiskBlock reads the OB Risk block: PaymentContextCode,
// MerchantCategoryCode and DeliveryAddress (its Country).
func scoreRiskBlock(risk map[string]any, add func(code string, points int, format string, args ...any)) {
	ctxCode, _ := risk["PaymentContextCode"].(string)
	addr, hasAddr := risk["DeliveryAddress"].(map[string]any)
	switch ctxCode {
	case "":
		add("context_missing", PointsContextMissing, "the partner sent no PaymentContextCode")
	case "BillPayment", "EcommerceServices", "EcommerceMerchantInitiatedPayment":
	case "EcommerceGoods":
		if !hasAddr {
			add("goods_no_delivery", PointsGoodsNoDelivery, "EcommerceGoods without a DeliveryAddress")
		}
	case "PartyToParty":
		add("party_to_party", PointsPartyToParty, "PaymentContextCode PartyToParty")
	default:
		add("context_other", PointsContextOther, "PaymentContextCode %s", truncate(ctxCode, 35))
	}
	if mcc, _ := risk["MerchantCategoryCode"].(string); slices.Contains(HighRiskMCC, mcc) {
		add("merchant_category", PointsMerchantCategory, "MerchantCategoryCode %s is high risk", mcc)
	}
	if hasAddr {
		if c, _ := addr["Country"].(string); c != "" && !strings.EqualFold(c, HomeCountry) {
			add("delivery_abroad", PointsDeliveryAbroad, "delivery address in %s", truncate(strings.ToUpper(c), 2))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
