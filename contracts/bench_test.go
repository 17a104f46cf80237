package contracts_test

import (
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// BenchmarkRecordUsageBatch measures batched metering inserts on SQLite
// (10,000 records per op); the settleperf command measures at 1,000,000.
func BenchmarkRecordUsageBatch(b *testing.B) {
	s := contracts.New(dbtest.MustSQLite(b), contracts.Options{})
	recs := make([]contracts.UsageRecord, 10_000)
	at := date(2026, 10, 1)
	for i := 0; i < b.N; i++ {
		for j := range recs {
			recs[j] = call(keyf("b%d-%d", i, j), keyf("ptn_%d", j%50), "accounts", at.Add(time.Duration(j)*time.Second))
		}
		if err := s.RecordUsageBatch(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}
