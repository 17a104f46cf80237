package main

import (
	"flag"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/oauth/sca"
)

// TestSCAConfig: the SCA flags' defaults are sca.DefaultSettings, account
// access needs SCA by default in production only, and each setting parses.
func TestSCAConfig(t *testing.T) {
	parse := func(t *testing.T, production bool, args ...string) SCAConfig {
		t.Helper()
		var c SCAConfig
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.flags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if err := c.validate(production); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("ok/defaults are the bank's default settings", func(t *testing.T) {
		c := parse(t, false)
		if !reflect.DeepEqual(c.Settings, sca.DefaultSettings()) || c.RequireForAccountAccess || c.Reauthentication != 180*24*time.Hour {
			t.Fatalf("%+v", c)
		}
	})
	t.Run("ok/production requires SCA for account access by default", func(t *testing.T) {
		if c := parse(t, true); !c.RequireForAccountAccess {
			t.Fatal("production default allows account access without SCA")
		}
		if c := parse(t, true, "--account-access-sca", "when-enrolled"); c.RequireForAccountAccess {
			t.Fatal("when-enrolled ignored in production")
		}
		if c := parse(t, false, "--account-access-sca", "required"); !c.RequireForAccountAccess {
			t.Fatal("required ignored in development")
		}
	})
	t.Run("ok/limits in major units of each currency", func(t *testing.T) {
		c := parse(t, false, "--sca-exemptions", "low-value", "--sca-low-value", "JPY=5000/15000, BHD=10.500/30.000", "--sca-low-value-count", "3")
		want := sca.Settings{LowValue: sca.LowValue{Enabled: true, MaxCount: 3, Limits: map[string]sca.CurrencyLimit{
			"JPY": {Single: 5000, Cumulative: 15000}, "BHD": {Single: 10500, Cumulative: 30000}}}}
		if !reflect.DeepEqual(c.Settings, want) {
			t.Fatalf("settings %+v, want %+v", c.Settings, want)
		}
		if got := c.describe(); got != "low-value (BHD 10.500/30.000, JPY 5000/15000, 3 payments)" {
			t.Fatalf("describe %q", got)
		}
	})
	t.Run("ok/none switches every exemption off", func(t *testing.T) {
		c := parse(t, false, "--sca-exemptions", "none")
		if c.Settings.LowValue.Enabled || c.Settings.TrustedBeneficiaries || c.Settings.OwnAccounts || c.describe() != "none" {
			t.Fatalf("%+v", c.Settings)
		}
	})
}
