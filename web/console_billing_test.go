package web

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/problem"
)

func TestBillingPagesParse(t *testing.T) {
	r := MustRenderer()
	for _, p := range []string{"console/contracts", "console/contracts_form", "console/contracts_detail", "console/billing",
		"statement", "console/billing_reconcile", "console/billing_plans", "portal/billing"} {
		if !r.Has(p) {
			t.Errorf("page %s missing", p)
		}
	}
}

func TestTermsForm(t *testing.T) {
	ok := termsForm{Start: "2026-10-01", End: "2027-10-01", AutoRenew: true, NoticeDays: "60", Currency: "eur",
		DataScopes: "transaction_insights, risk_signals", CallFees: "accounts 0 1000 250000\naccounts 1000 0 100000\npayments 0 0 5",
		PaymentFixed: "10", PaymentBPS: "5", MonthlyMinimum: "50000", ShareTiers: "0 100000 500\n100000 0 1000"}
	got, err := ok.terms()
	if err != nil {
		t.Fatal(err)
	}
	want := contracts.Terms{Start: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 10, 1, 0, 0, 0, 0, time.UTC),
		AutoRenew: true, NoticeDays: 60, Currency: "EUR", DataScopes: []string{"transaction_insights", "risk_signals"},
		FeeSchedule: contracts.FeeSchedule{CallFees: []contracts.ProductFee{
			{Product: "accounts", Tiers: []contracts.Tier{{From: 0, To: 1000, UnitPriceMicros: 250000}, {From: 1000, To: 0, UnitPriceMicros: 100000}}},
			{Product: "payments", Tiers: []contracts.Tier{{From: 0, To: 0, UnitPriceMicros: 5}}}},
			PaymentFee: contracts.PaymentFee{FixedMinor: 10, BPS: 5}, MonthlyMinimum: 50000},
		RevenueShare: contracts.RevenueShare{Tiers: []contracts.ShareTier{{From: 0, To: 100000, BPS: 500}, {From: 100000, To: 0, BPS: 1000}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("terms\n got %+v\nwant %+v", got, want)
	}
	if back := formOfTerms("", got); back.CallFees != "accounts 0 1000 250000\naccounts 1000 0 100000\npayments 0 0 5" || back.ShareTiers != "0 100000 500\n100000 0 1000" {
		t.Fatalf("round trip %+v", back)
	}
	for _, tc := range []struct {
		name   string
		mut    func(*termsForm)
		detail string
	}{
		{"fail/start", func(f *termsForm) { f.Start = "1 Oct" }, "term start must be a date (YYYY-MM-DD)"},
		{"fail/end", func(f *termsForm) { f.End = "" }, "term end must be a date (YYYY-MM-DD)"},
		{"fail/notice", func(f *termsForm) { f.NoticeDays = "sixty" }, "notice period must be a whole number"},
		{"fail/call-fee-shape", func(f *termsForm) { f.CallFees = "accounts 0 1000" }, "call fee line 1 must be: product from to unit_price_micros"},
		{"fail/call-fee-number", func(f *termsForm) { f.CallFees = "accounts 0 x 1" }, "call fee line 1 must be a whole number"},
		{"fail/share-shape", func(f *termsForm) { f.ShareTiers = "\n0 1" }, "revenue share line 2 must be: from to bps"},
		{"fail/minimum", func(f *termsForm) { f.MonthlyMinimum = "5.00" }, "monthly minimum must be a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.mut(&f)
			_, err := f.terms()
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Code != problem.CodeValidation || pe.Detail != tc.detail {
				t.Fatalf("err %v, want %q", err, tc.detail)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		name, in, currency string
		want               int64
		err                string
	}{
		{"ok/gbp-whole", "12", "GBP", 1200, ""},
		{"ok/gbp-one-decimal", "12.5", "GBP", 1250, ""},
		{"ok/gbp-two-decimals", " 0.05 ", "GBP", 5, ""},
		{"ok/jpy-whole", "12", "JPY", 12, ""},
		{"ok/bhd-three-decimals", "1.234", "BHD", 1234, ""},
		{"ok/bhd-whole", "12", "BHD", 12000, ""},
		{"fail/gbp-three-decimals", "1.005", "GBP", 0, "amount has more decimals than GBP allows (2)"},
		{"fail/jpy-decimals", "12.5", "JPY", 0, "amount has more decimals than JPY allows (0)"},
		{"fail/bhd-four-decimals", "1.2345", "BHD", 0, "amount has more decimals than BHD allows (3)"},
		{"fail/empty", "", "GBP", 0, "amount must be a number such as 12.50"},
		{"fail/zero", "0.00", "GBP", 0, "amount must be more than zero"},
		{"fail/negative", "-3", "JPY", 0, "amount must be a number such as 12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAmount(tc.in, tc.currency)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Fatalf("%d %v", got, err)
				}
				return
			}
			var pe *problem.Error
			if !errors.As(err, &pe) || pe.Code != problem.CodeValidation || pe.Detail != tc.err {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestReminderDue(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := contracts.Contract{Status: contracts.StatusActive, NoticeDays: 30, End: now.Add(60 * 24 * time.Hour)}
	if !reminderDue(c, now) {
		t.Fatal("term ending at notice + 30 days is due")
	}
	c.End = c.End.Add(time.Second)
	if reminderDue(c, now) {
		t.Fatal("term ending later is not due")
	}
	c.End, c.Status = now, contracts.StatusTerminated
	if reminderDue(c, now) {
		t.Fatal("terminated contracts get no reminder")
	}
}
