package sca

import (
	"fmt"
	"slices"

	"github.com/bankbridge/bankbridge/internal/money"
)

// The exemptions Decide may grant (Decision.Exemption).
const (
	ExemptionLowValue           = "low_value"           // PSD2 RTS art. 16
	ExemptionTrustedBeneficiary = "trusted_beneficiary" // PSD2 RTS art. 13
	ExemptionOwnAccounts        = "own_accounts"        // PSD2 RTS art. 15
)

// Settings are the bank's exemption settings: each exemption can be switched
// off.
type Settings struct {
	LowValue LowValue
	// TrustedBeneficiaries exempts payments to a payee the customer marked
	// trusted.
	TrustedBeneficiaries bool
	// OwnAccounts exempts payments between the customer's own accounts.
	OwnAccounts bool
}

// LowValue is the low-value exemption: a payment of at most Single in its
// currency, when fewer than MaxCount payments were exempted since the
// customer's last SCA and the currency's exempted sum since then, this
// payment included, stays at most Cumulative. Limits are per currency and
// never mixed; a currency without limits has no low-value exemption.
type LowValue struct {
	Enabled  bool
	MaxCount int
	// Limits are by ISO 4217 code, in minor units of that currency.
	Limits map[string]CurrencyLimit
}

// CurrencyLimit are the low-value limits of one currency, in its minor
// units.
type CurrencyLimit struct {
	Single     int64
	Cumulative int64
}

// DefaultSettings are every exemption on, with the low-value limits of PSD2
// RTS art. 16 for EUR and GBP: 30.00 a payment, 5 payments or 100.00 since
// the last SCA.
func DefaultSettings() Settings {
	return Settings{
		LowValue: LowValue{Enabled: true, MaxCount: 5, Limits: map[string]CurrencyLimit{
			"EUR": {Single: 3000, Cumulative: 10000},
			"GBP": {Single: 3000, Cumulative: 10000},
		}},
		TrustedBeneficiaries: true,
		OwnAccounts:          true,
	}
}

// Validate reports settings Decide cannot apply: a low-value exemption on
// with MaxCount below 1, a currency the ISO 4217 table does not list, or a
// limit that is not positive or a Single above its Cumulative.
func (s Settings) Validate() error {
	if !s.LowValue.Enabled {
		return nil
	}
	if s.LowValue.MaxCount < 1 {
		return fmt.Errorf("%w: low-value max count must be at least 1", ErrInvalid)
	}
	codes := make([]string, 0, len(s.LowValue.Limits))
	for c := range s.LowValue.Limits {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		l := s.LowValue.Limits[c]
		if _, ok := money.Exponent(c); !ok {
			return fmt.Errorf("%w: low-value currency %q is not an ISO 4217 code", ErrInvalid, c)
		}
		if l.Single <= 0 || l.Cumulative <= 0 || l.Single > l.Cumulative {
			return fmt.Errorf("%w: low-value limits of %s must be positive with single at most cumulative", ErrInvalid, c)
		}
	}
	return nil
}

// Input is what Decide needs to know of a payment.
type Input struct {
	Amount money.Money
	Payee  Payee
	// PayeeTrusted says the payee's account is in the customer's trusted
	// payees.
	PayeeTrusted bool
	// OwnAccounts are the customer's own accounts.
	OwnAccounts []Account
	// Since are the customer's low-value counters since the last SCA.
	Since Counters
}

// Decision is whether a payment needs SCA and, when not, under which
// exemption; Reason says why, for the consent and the audit trail.
type Decision struct {
	SCARequired bool
	// Exemption is ExemptionLowValue, ExemptionTrustedBeneficiary,
	// ExemptionOwnAccounts, or "" when SCA is required.
	Exemption string
	Reason    string
}

// Decide applies the bank's exemption settings to a payment: own accounts
// first, then a trusted beneficiary, then low value (the only exemption
// that spends the counters: its grant still has to be claimed with
// Service.RecordExempted). It is pure: the caller supplies the counters
// and the trust.
func Decide(s Settings, in Input) Decision {
	payee := in.Payee.Account().normalise()
	if s.OwnAccounts && payee.Validate() == nil {
		for _, a := range in.OwnAccounts {
			if a.normalise() == payee {
				return Decision{Exemption: ExemptionOwnAccounts, Reason: "the payee account is one of the customer's own accounts"}
			}
		}
	}
	if s.TrustedBeneficiaries && in.PayeeTrusted {
		return Decision{Exemption: ExemptionTrustedBeneficiary, Reason: "the payee is one of the customer's trusted payees"}
	}
	if !s.LowValue.Enabled {
		return Decision{SCARequired: true, Reason: "no exemption applies"}
	}
	reason, ok := s.LowValue.allows(in.Amount, in.Since)
	if ok {
		return Decision{Exemption: ExemptionLowValue, Reason: reason}
	}
	return Decision{SCARequired: true, Reason: "no exemption applies: " + reason}
}

// allows reports whether amount is within the low-value limits given the
// counters since the last SCA, and why (or why not).
func (l LowValue) allows(amount money.Money, since Counters) (string, bool) {
	lim, ok := l.Limits[amount.Currency]
	if !ok {
		return fmt.Sprintf("no low-value limit is set for %s", amount.Currency), false
	}
	m := func(minor int64) string { return money.Money{Minor: minor, Currency: amount.Currency}.String() }
	sum := since.Sums[amount.Currency]
	switch {
	case amount.Minor <= 0:
		return "the amount is not positive", false
	case amount.Minor > lim.Single:
		return fmt.Sprintf("%s is above the low-value limit of %s", amount, m(lim.Single)), false
	case since.Count >= l.MaxCount:
		return fmt.Sprintf("%d payments were exempted since the last SCA (limit %d)", since.Count, l.MaxCount), false
	case sum > lim.Cumulative-amount.Minor:
		return fmt.Sprintf("the payments exempted since the last SCA would total more than %s", m(lim.Cumulative)), false
	}
	return fmt.Sprintf("%s is within the low-value limits: payment %d of %d since the last SCA, %s of %s",
		amount, since.Count+1, l.MaxCount, m(sum+amount.Minor), m(lim.Cumulative)), true
}
