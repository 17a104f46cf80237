package sca_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

var (
	gbp    = func(minor int64) money.Money { return money.Money{Minor: minor, Currency: "GBP"} }
	ownAcc = sca.Account{Scheme: "UK.OBIE.IBAN", Identification: "GB29NWBK60161331926819"}
)

func TestDecide(t *testing.T) {
	def := sca.DefaultSettings()
	off := func(mut func(*sca.Settings)) sca.Settings {
		s := sca.DefaultSettings()
		mut(&s)
		return s
	}
	ownPayee := sca.Payee{Name: "Me", Scheme: " UK.OBIE.IBAN", Identification: "gb29 nwbk 6016 1331 9268 19"}
	for name, tc := range map[string]struct {
		settings sca.Settings
		in       sca.Input
		want     sca.Decision
	}{
		"ok/own accounts (normalised)": {def, sca.Input{Amount: gbp(500000), Payee: ownPayee, OwnAccounts: []sca.Account{ownAcc}},
			sca.Decision{Exemption: sca.ExemptionOwnAccounts, Reason: "the payee account is one of the customer's own accounts"}},
		"ok/trusted beneficiary": {def, sca.Input{Amount: gbp(500000), Payee: payeeA, PayeeTrusted: true},
			sca.Decision{Exemption: sca.ExemptionTrustedBeneficiary, Reason: "the payee is one of the customer's trusted payees"}},
		"ok/own accounts before trusted": {def, sca.Input{Amount: gbp(10), Payee: ownPayee, PayeeTrusted: true, OwnAccounts: []sca.Account{ownAcc}},
			sca.Decision{Exemption: sca.ExemptionOwnAccounts, Reason: "the payee account is one of the customer's own accounts"}},
		"ok/low value, first": {def, sca.Input{Amount: gbp(3000), Payee: payeeA},
			sca.Decision{Exemption: sca.ExemptionLowValue, Reason: "30.00 GBP is within the low-value limits: payment 1 of 5 since the last SCA, 30.00 GBP of 100.00 GBP"}},
		"ok/low value, fifth, sum exactly at the limit": {def, sca.Input{Amount: gbp(1000), Payee: payeeA, Since: sca.Counters{Count: 4, Sums: map[string]int64{"GBP": 9000}}},
			sca.Decision{Exemption: sca.ExemptionLowValue, Reason: "10.00 GBP is within the low-value limits: payment 5 of 5 since the last SCA, 100.00 GBP of 100.00 GBP"}},
		"ok/low value, other currencies' sums do not count": {def, sca.Input{Amount: gbp(3000), Payee: payeeA, Since: sca.Counters{Count: 1, Sums: map[string]int64{"EUR": 10000}}},
			sca.Decision{Exemption: sca.ExemptionLowValue, Reason: "30.00 GBP is within the low-value limits: payment 2 of 5 since the last SCA, 30.00 GBP of 100.00 GBP"}},
		"ok/low value in BHD (3 decimals)": {mixed(), sca.Input{Amount: money.Money{Minor: 12000, Currency: "BHD"}, Payee: payeeA, Since: sca.Counters{Count: 2, Sums: map[string]int64{"BHD": 28000, "GBP": 10000}}},
			sca.Decision{Exemption: sca.ExemptionLowValue, Reason: "12.000 BHD is within the low-value limits: payment 3 of 5 since the last SCA, 40.000 BHD of 40.000 BHD"}},
		"fail/above the JPY limit (no decimals)": {mixed(), sca.Input{Amount: money.Money{Minor: 5001, Currency: "JPY"}, Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5001 JPY is above the low-value limit of 5000 JPY"}},
		"fail/BHD sum over by one fils": {mixed(), sca.Input{Amount: money.Money{Minor: 12000, Currency: "BHD"}, Payee: payeeA, Since: sca.Counters{Count: 2, Sums: map[string]int64{"BHD": 28001}}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: the payments exempted since the last SCA would total more than 40.000 BHD"}},
		"fail/above the single limit": {def, sca.Input{Amount: gbp(3001), Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 30.01 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/count reached": {def, sca.Input{Amount: gbp(100), Payee: payeeA, Since: sca.Counters{Count: 5, Sums: map[string]int64{"GBP": 500}}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5 payments were exempted since the last SCA (limit 5)"}},
		"fail/cumulative sum exceeded": {def, sca.Input{Amount: gbp(1001), Payee: payeeA, Since: sca.Counters{Count: 3, Sums: map[string]int64{"GBP": 9000}}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: the payments exempted since the last SCA would total more than 100.00 GBP"}},
		"fail/no limit for the currency": {def, sca.Input{Amount: money.Money{Minor: 100, Currency: "JPY"}, Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: no low-value limit is set for JPY"}},
		"fail/zero amount": {def, sca.Input{Amount: gbp(0), Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: the amount is not positive"}},
		"fail/negative amount": {def, sca.Input{Amount: gbp(-1), Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: the amount is not positive"}},
		"fail/own accounts switched off": {off(func(s *sca.Settings) { s.OwnAccounts = false }),
			sca.Input{Amount: gbp(500000), Payee: ownPayee, OwnAccounts: []sca.Account{ownAcc}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5000.00 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/scheme differs in case": {def, sca.Input{Amount: gbp(500000), Payee: sca.Payee{Name: "Me", Scheme: "uk.obie.iban", Identification: ownAcc.Identification}, OwnAccounts: []sca.Account{ownAcc}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5000.00 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/not an own account": {def, sca.Input{Amount: gbp(500000), Payee: payeeA, OwnAccounts: []sca.Account{ownAcc}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5000.00 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/empty payee account is never own": {def, sca.Input{Amount: gbp(500000), Payee: sca.Payee{Name: "x"}, OwnAccounts: []sca.Account{{}}},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5000.00 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/trusted switched off": {off(func(s *sca.Settings) { s.TrustedBeneficiaries = false }),
			sca.Input{Amount: gbp(500000), Payee: payeeA, PayeeTrusted: true},
			sca.Decision{SCARequired: true, Reason: "no exemption applies: 5000.00 GBP is above the low-value limit of 30.00 GBP"}},
		"fail/low value switched off": {off(func(s *sca.Settings) { s.LowValue.Enabled = false }),
			sca.Input{Amount: gbp(100), Payee: payeeA},
			sca.Decision{SCARequired: true, Reason: "no exemption applies"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := sca.Decide(tc.settings, tc.in); got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// mixed are low-value settings in currencies of 0, 2 and 3 decimals.
func mixed() sca.Settings {
	s := sca.DefaultSettings()
	s.LowValue.Limits = map[string]sca.CurrencyLimit{
		"JPY": {Single: 5000, Cumulative: 15000},  // ¥5,000 / ¥15,000
		"GBP": {Single: 3000, Cumulative: 10000},  // £30.00 / £100.00
		"BHD": {Single: 12000, Cumulative: 40000}, // BD 12.000 / BD 40.000
	}
	return s
}

// TestDecideLowValueProperty checks Decide's low-value arithmetic against a
// model on random amounts and counters in JPY, GBP and BHD: per currency,
// never mixed.
func TestDecideLowValueProperty(t *testing.T) {
	s := mixed()
	r := rand.New(rand.NewPCG(13, 5))
	curs := []string{"JPY", "GBP", "BHD"}
	for i := 0; i < 20000; i++ {
		cur := curs[r.IntN(3)]
		lim := s.LowValue.Limits[cur]
		amount := r.Int64N(2*lim.Single+2) - 1 // -1 … 2×Single
		since := sca.Counters{Count: r.IntN(7), Sums: map[string]int64{}}
		for _, c := range curs {
			since.Sums[c] = r.Int64N(s.LowValue.Limits[c].Cumulative + 1)
		}
		want := amount > 0 && amount <= lim.Single && since.Count < 5 && since.Sums[cur]+amount <= lim.Cumulative
		got := sca.Decide(s, sca.Input{Amount: money.Money{Minor: amount, Currency: cur}, Payee: payeeA, Since: since})
		if (got.Exemption == sca.ExemptionLowValue) != want || got.SCARequired == want {
			t.Fatalf("%s %d with %+v: %+v, want exempt %v", cur, amount, since, got, want)
		}
		// Only the payment's own currency matters: the others' sums at any value change nothing.
		for _, c := range curs {
			if c != cur {
				since.Sums[c] = 1 << 62
			}
		}
		if again := sca.Decide(s, sca.Input{Amount: money.Money{Minor: amount, Currency: cur}, Payee: payeeA, Since: since}); again != got {
			t.Fatalf("%s %d: other currencies' sums changed the decision: %+v vs %+v", cur, amount, again, got)
		}
	}
}

func TestSettingsValidate(t *testing.T) {
	with := func(mut func(*sca.Settings)) sca.Settings {
		s := sca.DefaultSettings()
		mut(&s)
		return s
	}
	for name, tc := range map[string]struct {
		s    sca.Settings
		want string
	}{
		"ok/default":                      {sca.DefaultSettings(), ""},
		"ok/mixed currencies":             {mixed(), ""},
		"ok/low value off with no limits": {with(func(s *sca.Settings) { s.LowValue = sca.LowValue{} }), ""},
		"fail/max count zero": {with(func(s *sca.Settings) { s.LowValue.MaxCount = 0 }),
			"sca: invalid argument: low-value max count must be at least 1"},
		"fail/unknown currency": {with(func(s *sca.Settings) { s.LowValue.Limits["gbp"] = sca.CurrencyLimit{Single: 1, Cumulative: 1} }),
			`sca: invalid argument: low-value currency "gbp" is not an ISO 4217 code`},
		"fail/single above cumulative": {with(func(s *sca.Settings) { s.LowValue.Limits["EUR"] = sca.CurrencyLimit{Single: 2, Cumulative: 1} }),
			"sca: invalid argument: low-value limits of EUR must be positive with single at most cumulative"},
		"fail/zero limit": {with(func(s *sca.Settings) { s.LowValue.Limits["EUR"] = sca.CurrencyLimit{} }),
			"sca: invalid argument: low-value limits of EUR must be positive with single at most cumulative"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, sca.ErrInvalid) || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestTrustedPayees(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Settings: sca.DefaultSettings()})
		p := sca.Payee{Name: "Landlord", Scheme: "UK.OBIE.IBAN", Identification: "gb29 nwbk 6016 1331 9268 19"}
		wantErr(t, f.svc.TrustPayee(ctx, "cus_1", p))
		p.Name = "My landlord"
		wantErr(t, f.svc.TrustPayee(ctx, "cus_1", p)) // renames
		wantErr(t, f.svc.TrustPayee(ctx, "cus_1", payeeA))
		got, err := f.svc.TrustedPayees(ctx, "cus_1")
		wantErr(t, err)
		if len(got) != 2 || got[0].Payee != (sca.Payee{Name: "My landlord", Scheme: "UK.OBIE.IBAN", Identification: "GB29NWBK60161331926819"}) ||
			!got[0].CreatedAt.Equal(start) || got[1].Payee != payeeA {
			t.Fatalf("trusted payees = %+v", got)
		}
		if other, err := f.svc.TrustedPayees(ctx, "cus_2"); err != nil || len(other) != 0 {
			t.Fatalf("another customer's trusted payees: %+v, %v", other, err)
		}

		// DecidePayment asks the store: a trusted payee is exempt at any amount.
		dec, err := f.svc.DecidePayment(ctx, "cus_1", gbp(900000), sca.Payee{Name: "x", Scheme: "UK.OBIE.IBAN", Identification: "GB29NWBK60161331926819"}, nil)
		wantErr(t, err)
		if dec.Exemption != sca.ExemptionTrustedBeneficiary || dec.SCARequired {
			t.Fatalf("decision = %+v", dec)
		}
		dec, err = f.svc.DecidePayment(ctx, "cus_2", gbp(900000), payeeA, nil)
		wantErr(t, err)
		if !dec.SCARequired {
			t.Fatalf("another customer's trusted payee: %+v", dec)
		}

		for name, tc := range map[string]struct {
			customer string
			p        sca.Payee
			want     error
		}{
			"fail/no customer":       {"", payeeA, sca.ErrInvalid},
			"fail/no name":           {"cus_1", sca.Payee{Scheme: "UK.OBIE.IBAN", Identification: "GB1"}, sca.ErrInvalid},
			"fail/no scheme":         {"cus_1", sca.Payee{Name: "x", Identification: "GB1"}, sca.ErrInvalid},
			"fail/no identification": {"cus_1", sca.Payee{Name: "x", Scheme: "UK.OBIE.IBAN", Identification: " "}, sca.ErrInvalid},
		} {
			t.Run(name, func(t *testing.T) {
				if err := f.svc.TrustPayee(ctx, tc.customer, tc.p); !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}

		wantErr(t, f.svc.UntrustPayee(ctx, "cus_1", sca.Account{Scheme: "UK.OBIE.IBAN", Identification: "GB29 NWBK 6016 1331 9268 19"}))
		wantErr(t, f.svc.UntrustPayee(ctx, "cus_1", sca.Account{Scheme: "UK.OBIE.IBAN", Identification: "GB29NWBK60161331926819"}), sca.ErrNotFound)
		if err := f.svc.UntrustPayee(ctx, "cus_1", sca.Account{}); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("untrust empty account: %v", err)
		}
		got, err = f.svc.TrustedPayees(ctx, "cus_1")
		if err != nil || len(got) != 1 || got[0].Payee != payeeA {
			t.Fatalf("after untrust: %+v, %v", got, err)
		}
	})
}

func TestRecordExempted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Settings: mixed()})
		// Sequential steps: each case sees what the previous ones left.
		for _, tc := range []struct {
			name   string
			amount money.Money
			want   error
		}{
			{"ok/30.00 GBP", gbp(3000), nil},
			{"ok/30.00 GBP again", gbp(3000), nil},
			{"ok/30.00 GBP a third time (90.00)", gbp(3000), nil},
			{"fail/10.01 GBP would make 100.01", gbp(1001), sca.ErrExemptionExhausted},
			{"ok/5000 JPY (own sum)", money.Money{Minor: 5000, Currency: "JPY"}, nil},
			{"fail/above the JPY single limit", money.Money{Minor: 5001, Currency: "JPY"}, sca.ErrExemptionExhausted},
			{"fail/no limit for EUR", money.Money{Minor: 1, Currency: "EUR"}, sca.ErrExemptionExhausted},
			{"fail/zero", gbp(0), sca.ErrExemptionExhausted},
			{"ok/10.00 GBP makes exactly 100.00 (5th payment)", gbp(1000), nil},
			{"fail/6th payment, any currency", money.Money{Minor: 1, Currency: "BHD"}, sca.ErrExemptionExhausted},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := f.svc.RecordExempted(ctx, "cus_1", tc.amount)
				if tc.want == nil {
					wantErr(t, err)
				} else {
					wantErr(t, err, tc.want)
				}
			})
		}
		c, err := sca.NewGormStore(d).ExemptionCounters(ctx, "cus_1")
		wantErr(t, err)
		if c.Count != 5 || len(c.Sums) != 2 || c.Sums["GBP"] != 10000 || c.Sums["JPY"] != 5000 {
			t.Fatalf("counters = %+v", c)
		}
		dec, err := f.svc.DecidePayment(ctx, "cus_1", gbp(1), payeeA, nil)
		if err != nil || !dec.SCARequired {
			t.Fatalf("after 5: %+v, %v", dec, err)
		}
		wantErr(t, f.svc.ResetAfterSCA(ctx, "cus_1"))
		c, err = sca.NewGormStore(d).ExemptionCounters(ctx, "cus_1")
		if err != nil || c.Count != 0 || len(c.Sums) != 0 {
			t.Fatalf("after reset: %+v, %v", c, err)
		}
		dec, err = f.svc.DecidePayment(ctx, "cus_1", gbp(1), payeeA, nil)
		if err != nil || dec.Exemption != sca.ExemptionLowValue {
			t.Fatalf("after reset: %+v, %v", dec, err)
		}
		if err := f.svc.RecordExempted(ctx, "", gbp(1)); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("no customer: %v", err)
		}
		if err := f.svc.ResetAfterSCA(ctx, ""); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("no customer: %v", err)
		}
	})
}

// TestRecordExemptedRace: many nodes claiming at once never exceed the
// count or the sum.
func TestRecordExemptedRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{Settings: mixed()})
		nodes := []*sca.Service{f.svc, f.node(t, sca.Config{Settings: mixed()})}
		for _, tc := range []struct {
			name     string
			customer string
			amount   int64
			wantOK   int
		}{
			{"count limit", "cus_count", 100, 5}, // 12 × £1.00: the count stops at 5
			{"sum limit", "cus_sum", 2500, 4},    // 12 × £25.00: the sum stops at £100.00
		} {
			t.Run(tc.name, func(t *testing.T) {
				const n = 12
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						errs[i] = nodes[i%2].RecordExempted(ctx, tc.customer, gbp(tc.amount))
					}(i)
				}
				wg.Wait()
				ok := 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case err != sca.ErrExemptionExhausted:
						t.Fatalf("err = %v", err)
					}
				}
				c, err := sca.NewGormStore(d).ExemptionCounters(ctx, tc.customer)
				if err != nil || ok != tc.wantOK || c.Count != tc.wantOK || c.Sums["GBP"] != int64(tc.wantOK)*tc.amount {
					t.Fatalf("%d claims accepted, counters %+v, %v; want %d", ok, c, err, tc.wantOK)
				}
			})
		}
	})
}

// TestRecordExemptedProperty runs random claims in JPY, GBP and BHD against
// a model of the counters: per-currency sums, one count, never mixed.
func TestRecordExemptedProperty(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := mixed()
		s.LowValue.MaxCount = 8
		f := mustService(t, d, sca.Config{Settings: s})
		store := sca.NewGormStore(d)
		r := rand.New(rand.NewPCG(4, 217))
		curs := []string{"JPY", "GBP", "BHD"}
		count, sums := 0, map[string]int64{}
		for i := 0; i < 150; i++ {
			if r.IntN(12) == 0 {
				wantErr(t, f.svc.ResetAfterSCA(ctx, "cus_1"))
				count, sums = 0, map[string]int64{}
				continue
			}
			cur := curs[r.IntN(3)]
			lim := s.LowValue.Limits[cur]
			amount := money.Money{Minor: 1 + r.Int64N(lim.Single+lim.Single/4), Currency: cur}
			// Decide and the conditional write agree.
			dec := sca.Decide(s, sca.Input{Amount: amount, Payee: payeeA, Since: sca.Counters{Count: count, Sums: copySums(sums)}})
			want := amount.Minor <= lim.Single && count < s.LowValue.MaxCount && sums[cur]+amount.Minor <= lim.Cumulative
			if (dec.Exemption == sca.ExemptionLowValue) != want {
				t.Fatalf("step %d: Decide(%s) = %+v, want exempt %v", i, amount, dec, want)
			}
			err := f.svc.RecordExempted(ctx, "cus_1", amount)
			if want {
				wantErr(t, err)
				count++
				sums[cur] += amount.Minor
			} else {
				wantErr(t, err, sca.ErrExemptionExhausted)
			}
			got, err := store.ExemptionCounters(ctx, "cus_1")
			wantErr(t, err)
			if got.Count != count {
				t.Fatalf("step %d: count %d, want %d", i, got.Count, count)
			}
			for _, c := range curs {
				if got.Sums[c] != sums[c] {
					t.Fatalf("step %d: %s sum %d, want %d", i, c, got.Sums[c], sums[c])
				}
			}
		}
	})
}

func copySums(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
