package recon

import (
	"sort"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/money"
)

// Found is one break a matching finds.
type Found struct {
	PaymentID                          string
	Kind                               string
	BankValue, PartnerValue, CoreValue string
}

func amountOf(m money.Money) string {
	return money.FormatAmount(m.Minor, m.Currency) + " " + m.Currency
}

// Match compares the platform's payments of a day (with their core entries)
// and the partner's record (nil: none uploaded, so nothing is missing at
// the partner and nothing is compared with it) and returns the breaks (see
// the package doc), ordered by payment id and kind. It is a pure function.
func Match(platform []apis.ReconciledPayment, record []apis.RecordedPayment) []Found {
	var out []Found
	add := func(f Found) { out = append(out, f) }
	theirs := make(map[string]apis.RecordedPayment, len(record))
	for _, r := range record {
		theirs[r.PaymentID] = r
	}
	ours := make(map[string]bool, len(platform))
	for i := range platform {
		p := &platform[i]
		ours[p.ID] = true
		bank := amountOf(p.Amount)
		core := ""
		if p.Entry != nil {
			core = amountOf(p.Entry.Amount)
		}
		accepted := p.Status == apis.PaymentAcceptedSettlementInProcess || p.Status == apis.PaymentAcceptedSettlementCompleted
		if accepted && p.Entry == nil {
			add(Found{PaymentID: p.ID, Kind: apis.BreakMissingInCore, BankValue: bank})
		}
		r, listed := theirs[p.ID]
		partner := ""
		if listed {
			partner = amountOf(r.Amount)
		}
		switch {
		case listed && r.Amount.Currency != p.Amount.Currency,
			p.Entry != nil && p.Entry.Amount.Currency != p.Amount.Currency:
			add(Found{PaymentID: p.ID, Kind: apis.BreakCurrencyDiffers, BankValue: bank, PartnerValue: partner, CoreValue: core})
		case listed && r.Amount.Minor != p.Amount.Minor,
			p.Entry != nil && p.Entry.Amount.Minor != p.Amount.Minor:
			add(Found{PaymentID: p.ID, Kind: apis.BreakAmountDiffers, BankValue: bank, PartnerValue: partner, CoreValue: core})
		}
		switch {
		case record != nil && !listed:
			add(Found{PaymentID: p.ID, Kind: apis.BreakMissingAtPartner, BankValue: bank, CoreValue: core})
		case listed && r.Status != p.Status:
			add(Found{PaymentID: p.ID, Kind: apis.BreakStatusDiffers, BankValue: p.Status, PartnerValue: r.Status})
		}
	}
	for _, r := range record {
		if !ours[r.PaymentID] {
			add(Found{PaymentID: r.PaymentID, Kind: apis.BreakMissingAtBank, PartnerValue: amountOf(r.Amount)})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PaymentID != out[j].PaymentID {
			return out[i].PaymentID < out[j].PaymentID
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}
