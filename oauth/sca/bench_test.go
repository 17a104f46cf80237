package sca_test

import (
	"fmt"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// BenchmarkDecidePayment is the exemption decision the authorization flow
// makes for a payment after the password and again at approval (trusted
// payee lookup and low-value counters: two reads), on each engine.
func BenchmarkDecidePayment(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			d := e.Open(b)
			f := mustBenchService(b, d)
			payee := sca.Payee{Name: "Corner Shop", Scheme: "UK.OBIE.SortCodeAccountNumber", Identification: "20000012345678"}
			if err := f.svc.TrustPayee(ctx, "cus_b", sca.Payee{Name: "Landlord", Scheme: payee.Scheme, Identification: "20000087654321"}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dec, err := f.svc.DecidePayment(ctx, "cus_b", money.GBP(1250), payee, nil)
				if err != nil || dec.Exemption != sca.ExemptionLowValue {
					b.Fatalf("%+v %v", dec, err)
				}
			}
		})
	}
}

// BenchmarkRecordExempted is the claim of a low-value exemption at approval
// (one conditional write), reset after every MaxCount claims as SCA would.
func BenchmarkRecordExempted(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			d := e.Open(b)
			f := mustBenchService(b, d)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i%5 == 0 {
					if err := f.svc.ResetAfterSCA(ctx, "cus_b"); err != nil {
						b.Fatal(err)
					}
				}
				if err := f.svc.RecordExempted(ctx, "cus_b", money.GBP(100)); err != nil {
					b.Fatal(fmt.Errorf("claim %d: %w", i, err))
				}
			}
		})
	}
}

func mustBenchService(b *testing.B, d *db.DB) fixture {
	b.Helper()
	return mustService(b, d, sca.Config{Settings: sca.DefaultSettings()})
}
