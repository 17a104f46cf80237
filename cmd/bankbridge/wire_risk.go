package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/risk"
	"github.com/bankbridge/bankbridge/risk/screening"
	"github.com/bankbridge/bankbridge/web"
)

// The risk controls (issue 16): the scoring, held payments and the risk
// officers' case queue. The scoring screens payees against the imported
// lists (risk/screening) and reads the partner's risk rating (partners).

// wireRiskAssessor builds the scoring apis calls (before apis; after
// screening).
func (p *Platform) wireRiskAssessor(now func() time.Time) error {
	screener := payeeScreening{p.Services.Screening}
	th, err := risk.ParseThresholds(p.Config.RiskThresholds)
	if err != nil {
		return fmt.Errorf("--risk-thresholds: %w", err)
	}
	if _, err := money.ParseMajor(p.Config.RiskDualControl, "BHD"); p.Config.RiskDualControl != "" && err != nil {
		return fmt.Errorf("--risk-dual-control %q: %w", p.Config.RiskDualControl, err)
	}
	a, err := risk.NewAssessor(risk.AssessorConfig{Store: risk.NewGormStore(p.DB), Screener: screener,
		Ratings: partnerRatings{partners.RatingReader{DB: p.DB.DB}}, Thresholds: th, Now: now})
	if err != nil {
		return err
	}
	p.Services.RiskAssessor = a
	return nil
}

// wireRiskCases builds the case queue on apis (after apis).
func (p *Platform) wireRiskCases(now func() time.Time) {
	s := &p.Services
	s.Risk = risk.NewService(risk.Config{Store: risk.NewGormStore(p.DB), Payments: riskPayments{s.APIs},
		SLA: p.Config.RiskCaseSLA, DualControl: p.Config.RiskDualControl, Now: now, Logger: p.Log})
}

// mountRisk registers the console's Risk cases pages.
func (p *Platform) mountRisk(r gin.IRouter, console *web.Console) {
	(&web.ConsoleRisk{Console: console, Risk: p.Services.Risk}).Register(r)
}

// riskPayments is risk's Payments port on apis: a decision's actor is the
// staff member, audited as such.
type riskPayments struct{ apis *apis.Service }

func staffActor(a risk.Actor) apis.Actor {
	return apis.Actor{Type: audit.ActorStaff, ID: a.ID, InteractionID: a.InteractionID}
}

func (r riskPayments) ReleaseHeld(ctx context.Context, paymentID string, actor risk.Actor) error {
	return heldErr(paymentID, r.apis.ReleaseHeld(ctx, paymentID, staffActor(actor)))
}

func (r riskPayments) Execute(ctx context.Context, paymentID string, actor risk.Actor) error {
	return r.apis.ExecuteReleased(ctx, paymentID, staffActor(actor))
}

func (r riskPayments) RejectHeld(ctx context.Context, paymentID, reason string, actor risk.Actor) error {
	return heldErr(paymentID, r.apis.RejectHeld(ctx, paymentID, reason, staffActor(actor)))
}

// heldErr turns apis' refusals into risk's.
func heldErr(paymentID string, err error) error {
	switch {
	case errors.Is(err, apis.ErrNotHeld):
		return risk.PaymentNotHeld(paymentID)
	case errors.Is(err, apis.ErrNotFound):
		return risk.PaymentNotHeld(paymentID)
	}
	return err
}

// payeeScreening is risk's Screener on risk/screening: each match as the
// scoring and the case page show it (similarity in percent, the names
// compared and how).
type payeeScreening struct{ s *screening.Service }

func (a payeeScreening) Screen(ctx context.Context, name string) ([]risk.Match, error) {
	ms, err := a.s.Screen(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]risk.Match, len(ms))
	for i, m := range ms {
		how := "matched " + m.EntryName
		if m.Alias {
			how = "matched the alias " + m.MatchedName + " of " + m.EntryName
		}
		out[i] = risk.Match{Name: m.EntryName, List: m.List, Reference: m.Reference, Score: int(math.Round(m.Score * 100)),
			Explain: fmt.Sprintf("%s: %q against %q, Jaro-Winkler %.3f (%s)", how, m.Query, m.Candidate, m.Score, m.Method)}
	}
	return out, nil
}

// partnerRatings is risk's Ratings on the partners table.
type partnerRatings struct{ r partners.RatingReader }

func (a partnerRatings) RiskRating(ctx context.Context, partnerID string) (string, error) {
	r, err := a.r.RiskRating(ctx, partnerID)
	return string(r), err
}

// raiseRatingsFromSignals raises the partners' risk ratings their activity
// calls for (risk.RatingSignal: rejected risk cases, complaints of
// unauthorised or refunded payments, payment volume spikes) and returns how many it raised. Signals only raise; a partner
// whose rating a person set (a review, staff) in the last
// risk.IncidentWindowDays keeps it: they decided knowing that activity.
// Housekeeping runs it on every node: SetRiskRating locks the partner and
// records nothing for a rating already set.
func (p *Platform) raiseRatingsFromSignals(ctx context.Context, now time.Time) (int, error) {
	const day = 24 * time.Hour
	payments := apis.NewGormStore(p.DB)
	window := risk.SignalWindowDays * day
	recent, err := payments.PartnerPaymentCounts(ctx, now.Add(-window), now)
	if err != nil {
		return 0, err
	}
	before, err := payments.PartnerPaymentCounts(ctx, now.Add(-2*window), now.Add(-window))
	if err != nil {
		return 0, err
	}
	rejected, err := risk.NewGormStore(p.DB).RejectedCasesByPartner(ctx, now.Add(-risk.IncidentWindowDays*day))
	if err != nil {
		return 0, err
	}
	complained, err := complaints.NewGormStore(p.DB).UpheldOrUnauthorisedByPartner(ctx, now.Add(-risk.ComplaintWindowDays*day))
	if err != nil {
		return 0, err
	}
	ids := make([]string, 0, len(recent)+len(rejected)+len(complained))
	for _, m := range []map[string]int64{recent, rejected, complained} {
		for id := range m {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	raised := 0
	for _, id := range ids {
		rating, source, reason := risk.RatingSignal(risk.PartnerActivity{PartnerID: id, Payments: recent[id],
			PaymentsBefore: before[id], RejectedCases: rejected[id], Complaints: complained[id]})
		if rating == "" {
			continue
		}
		current, err := p.Services.Partners.RiskRating(ctx, id)
		if err != nil {
			return raised, err
		}
		if !risk.Raises(string(current), rating) {
			continue
		}
		hist, err := p.Services.Partners.RiskHistory(ctx, id)
		if err != nil {
			return raised, err
		}
		if len(hist) > 0 && hist[0].ActorType == audit.ActorStaff && hist[0].At.After(now.Add(-risk.IncidentWindowDays*day)) {
			continue
		}
		err = p.DB.Tx(ctx, func(tx *gorm.DB) error {
			_, err := p.Services.Partners.SetRiskRating(ctx, tx, partners.RiskChange{PartnerID: id, Rating: partners.RiskRating(rating),
				Source: source, Reason: reason, ActorType: audit.ActorSystem, ActorID: "risk-signals"})
			return err
		})
		if err != nil {
			return raised, err
		}
		raised++
	}
	return raised, nil
}
