package main

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// The bank's strong customer authentication settings (issue 13): which
// exemptions apply (PSD2 RTS art. 13, 15, 16), the low-value limits,
// whether account access needs SCA from customers without a second factor,
// and how often SCA is renewed for account access (RTS art. 10a).

// The names --sca-exemptions takes.
const (
	exemptionLowValue      = "low-value"
	exemptionTrustedPayees = "trusted-payees"
	exemptionOwnAccounts   = "own-accounts"
)

// Values of --account-access-sca.
const (
	// accountAccessSCAWhenEnrolled: customers with a second factor perform
	// SCA; customers without one grant access with the password alone.
	accountAccessSCAWhenEnrolled = "when-enrolled"
	// accountAccessSCARequired: customers without a second factor cannot
	// grant account access.
	accountAccessSCARequired = "required"
)

// SCAConfig is the SCA part of Config.
type SCAConfig struct {
	// Exemptions is --sca-exemptions as given: a comma-separated list of
	// low-value, trusted-payees and own-accounts, or "none".
	Exemptions string
	// LowValue is --sca-low-value as given: per currency the single and
	// cumulative limits in major units, "GBP=30.00/100.00,EUR=30.00/100.00".
	LowValue string
	// LowValueCount is how many payments the low-value exemption spares
	// between two SCAs.
	LowValueCount int
	// AccountAccess is --account-access-sca as given ("" means the mode's
	// default: when-enrolled in development, required in production).
	AccountAccess string
	// Reauthentication is how old the authentication behind a refresh
	// token may be.
	Reauthentication time.Duration

	// Settings are the exemption settings parsed by validate.
	Settings sca.Settings
	// RequireForAccountAccess is AccountAccess parsed by validate.
	RequireForAccountAccess bool
}

// flags registers the SCA flags on fs, with environment defaults.
func (c *SCAConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Exemptions, "sca-exemptions", envOr("BANKBRIDGE_SCA_EXEMPTIONS", "low-value,trusted-payees,own-accounts"),
		"exemptions from strong customer authentication for payments: a comma-separated list of low-value, trusted-payees and own-accounts, or none (env BANKBRIDGE_SCA_EXEMPTIONS)")
	fs.StringVar(&c.LowValue, "sca-low-value", envOr("BANKBRIDGE_SCA_LOW_VALUE", "GBP=30.00/100.00,EUR=30.00/100.00"),
		"low-value exemption limits per currency in major units, single/cumulative since the last SCA; other currencies have none (env BANKBRIDGE_SCA_LOW_VALUE)")
	fs.IntVar(&c.LowValueCount, "sca-low-value-count", envInt("BANKBRIDGE_SCA_LOW_VALUE_COUNT", 5),
		"payments the low-value exemption spares between two SCAs (env BANKBRIDGE_SCA_LOW_VALUE_COUNT)")
	fs.StringVar(&c.AccountAccess, "account-access-sca", envOr("BANKBRIDGE_ACCOUNT_ACCESS_SCA", ""),
		"when-enrolled (production customers without a second factor grant account access with the password alone) or required (they cannot; sandbox personas always can); default when-enrolled in development, required in production (env BANKBRIDGE_ACCOUNT_ACCESS_SCA)")
	fs.DurationVar(&c.Reauthentication, "sca-reauthentication", envDuration("BANKBRIDGE_SCA_REAUTHENTICATION", oauth.DefaultReauthentication),
		"how old the customer's authentication behind a refresh token may be before the customer must authenticate again (PSD2 RTS art. 10a: 180 days) (env BANKBRIDGE_SCA_REAUTHENTICATION)")
}

// validate parses the settings; production is the mode's default for
// --account-access-sca.
func (c *SCAConfig) validate(production bool) error {
	s := sca.Settings{LowValue: sca.LowValue{MaxCount: c.LowValueCount, Limits: map[string]sca.CurrencyLimit{}}}
	for _, name := range strings.Split(c.Exemptions, ",") {
		switch strings.TrimSpace(name) {
		case exemptionLowValue:
			s.LowValue.Enabled = true
		case exemptionTrustedPayees:
			s.TrustedBeneficiaries = true
		case exemptionOwnAccounts:
			s.OwnAccounts = true
		case "none":
			if strings.TrimSpace(c.Exemptions) != "none" {
				return fmt.Errorf("--sca-exemptions: none cannot be combined with other exemptions")
			}
		default:
			return fmt.Errorf("--sca-exemptions takes low-value, trusted-payees, own-accounts or none, got %q", strings.TrimSpace(name))
		}
	}
	if s.LowValue.Enabled {
		limits, err := parseLowValue(c.LowValue)
		if err != nil {
			return fmt.Errorf("--sca-low-value: %v", err)
		}
		s.LowValue.Limits = limits
		if c.LowValueCount < 1 {
			return fmt.Errorf("--sca-low-value-count must be at least 1, got %d", c.LowValueCount)
		}
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("SCA exemption settings: %v", err)
	}
	c.Settings = s
	switch c.AccountAccess {
	case "":
		c.RequireForAccountAccess = production
	case accountAccessSCAWhenEnrolled:
		c.RequireForAccountAccess = false
	case accountAccessSCARequired:
		c.RequireForAccountAccess = true
	default:
		return fmt.Errorf("--account-access-sca must be %s or %s, got %q", accountAccessSCAWhenEnrolled, accountAccessSCARequired, c.AccountAccess)
	}
	if c.Reauthentication < time.Hour || c.Reauthentication > oauth.DefaultReauthentication {
		return fmt.Errorf("--sca-reauthentication must be between 1h and 4320h (180 days), got %s", c.Reauthentication)
	}
	return nil
}

// parseLowValue parses "GBP=30.00/100.00,EUR=30.00/100.00": per ISO 4217
// currency, the single and cumulative limits in major units.
func parseLowValue(spec string) (map[string]sca.CurrencyLimit, error) {
	out := map[string]sca.CurrencyLimit{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		cur, limits, ok := strings.Cut(item, "=")
		single, cumulative, ok2 := strings.Cut(limits, "/")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not CUR=single/cumulative (e.g. GBP=30.00/100.00)", item)
		}
		cur = strings.TrimSpace(cur)
		if _, known := money.Exponent(cur); !known {
			return nil, fmt.Errorf("%q is not an ISO 4217 currency code", cur)
		}
		if _, dup := out[cur]; dup {
			return nil, fmt.Errorf("%s is given twice", cur)
		}
		s, err := money.ParseMajor(single, cur)
		if err != nil {
			return nil, fmt.Errorf("%s single limit %q: %v", cur, single, err)
		}
		cu, err := money.ParseMajor(cumulative, cur)
		if err != nil {
			return nil, fmt.Errorf("%s cumulative limit %q: %v", cur, cumulative, err)
		}
		out[cur] = sca.CurrencyLimit{Single: s, Cumulative: cu}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no currency is given")
	}
	return out, nil
}

// describe is the settings in one line for the startup log.
func (c *SCAConfig) describe() string {
	var on []string
	if c.Settings.LowValue.Enabled {
		var cur []string
		for k, l := range c.Settings.LowValue.Limits {
			cur = append(cur, fmt.Sprintf("%s %s/%s", k, money.FormatMinor(l.Single, k), money.FormatMinor(l.Cumulative, k)))
		}
		slices.Sort(cur)
		on = append(on, fmt.Sprintf("low-value (%s, %d payments)", strings.Join(cur, ", "), c.Settings.LowValue.MaxCount))
	}
	if c.Settings.TrustedBeneficiaries {
		on = append(on, exemptionTrustedPayees)
	}
	if c.Settings.OwnAccounts {
		on = append(on, exemptionOwnAccounts)
	}
	if len(on) == 0 {
		on = []string{"none"}
	}
	return strings.Join(on, ", ")
}
