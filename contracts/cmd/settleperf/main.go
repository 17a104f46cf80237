// Command settleperf measures metering and settlement at volume: it inserts N
// usage records (batched) for P partners with active contracts into a fresh
// database, settles the month and reconciles it, and prints the timings.
//
//	go run ./contracts/cmd/settleperf                       # SQLite in a temp dir
//	go run ./contracts/cmd/settleperf -db postgres://postgres@127.0.0.1:5432/test?sslmode=disable
//
// On PostgreSQL it works in a fresh schema that it drops at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// cpu is the process's user+system CPU time so far: with other work on the
// machine, CPU time is a steadier figure than wall time.
func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	dbURL := flag.String("db", "", "PostgreSQL URL (empty: SQLite in a temp dir)")
	records := flag.Int("records", 1_000_000, "usage records to insert")
	partners := flag.Int("partners", 50, "partners with an active contract")
	batch := flag.Int("batch", 10_000, "records per insert transaction")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of settlement and reconciliation (not the inserts) to this file")
	flag.Parse()
	ctx := context.Background()

	var d *db.DB
	var err error
	if *dbURL == "" {
		dir, _ := os.MkdirTemp("", "settleperf")
		defer os.RemoveAll(dir)
		d, err = db.Open(ctx, db.Options{SQLitePath: filepath.Join(dir, "perf.db")})
	} else {
		schema := "perf_" + strings.ToLower(ids.Random(10))
		admin, aerr := db.Open(ctx, db.Options{URL: *dbURL})
		if aerr != nil {
			log.Fatal(aerr)
		}
		if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
			log.Fatal(err)
		}
		defer func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() }()
		u, _ := url.Parse(*dbURL)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		d, err = db.Open(ctx, db.Options{URL: u.String()})
	}
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	s := contracts.New(d, contracts.Options{Now: func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) }})
	maker := contracts.Actor{ID: "stf_maker", Role: staff.RoleFinance}
	checker := contracts.Actor{ID: "stf_checker", Role: staff.RoleAdmin}
	terms := contracts.Terms{
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Currency: "EUR", NoticeDays: 60,
		FeeSchedule: contracts.FeeSchedule{
			CallFees: []contracts.ProductFee{
				{Product: "accounts", Tiers: []contracts.Tier{{From: 0, To: 5000, UnitPriceMicros: 500_000}, {From: 5000, To: 0, UnitPriceMicros: 250_000}}},
				{Product: "data_sharing", Tiers: []contracts.Tier{{From: 0, To: 0, UnitPriceMicros: 1_000_000}}},
			},
			PaymentFee: contracts.PaymentFee{FixedMinor: 10, BPS: 15}, MonthlyMinimum: 5000,
		},
		RevenueShare: contracts.RevenueShare{Tiers: []contracts.ShareTier{{From: 0, To: 10_000_000, BPS: 1000}, {From: 10_000_000, BPS: 2000}}},
	}
	for p := 0; p < *partners; p++ {
		c, err := s.Draft(ctx, maker, fmt.Sprintf("ptn_%03d", p), terms)
		if err == nil {
			_, err = s.Submit(ctx, maker, c.ID)
		}
		if err == nil {
			_, err = s.Approve(ctx, checker, c.ID)
		}
		if err != nil {
			log.Fatal(err)
		}
	}

	rng := rand.New(rand.NewSource(1))
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	products := []string{"accounts", "data_sharing", "consents", "payments"}
	t0, c0 := time.Now(), cpu()
	buf := make([]contracts.UsageRecord, 0, *batch)
	for i := 0; i < *records; i++ {
		p := fmt.Sprintf("ptn_%03d", rng.Intn(*partners))
		r := contracts.UsageRecord{Key: fmt.Sprintf("int-%09d", i), PartnerID: p, AppID: "app_" + p, Environment: environment.Production,
			Kind: contracts.KindCall, Product: products[rng.Intn(len(products))], Billable: rng.Intn(50) != 0, Status: 200,
			At: start.Add(time.Duration(rng.Int63n(int64(31 * 24 * time.Hour))))}
		if rng.Intn(8) == 0 {
			r.Kind, r.Product, r.PaymentAmount = contracts.KindPayment, "payments", money.Money{Minor: rng.Int63n(500_000), Currency: "EUR"}
		}
		buf = append(buf, r)
		if len(buf) == *batch || i == *records-1 {
			if err := s.RecordUsageBatch(ctx, buf); err != nil {
				log.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	insert, insertCPU := time.Since(t0), cpu()-c0

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	t1, c1 := time.Now(), cpu()
	run, err := s.Settle(ctx, "2026-10", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	settle, settleCPU := time.Since(t1), cpu()-c1

	t2 := time.Now()
	again, err := s.Settle(ctx, "2026-10", time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	if err != nil || !again.AlreadySettled {
		log.Fatalf("rerun %+v %v", again, err)
	}
	rerun := time.Since(t2)

	t3, c3 := time.Now(), cpu()
	rep, err := s.Reconcile(ctx, "2026-10")
	if err != nil {
		log.Fatal(err)
	}
	reconcile, reconcileCPU := time.Since(t3), cpu()-c3
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	fmt.Printf("engine=%s records=%d partners=%d batch=%d\n", d.Dialect, *records, *partners, *batch)
	fmt.Printf("insert:    %v wall, %v cpu in this process (%.0f records/s)\n", insert.Round(time.Millisecond), insertCPU.Round(time.Millisecond), float64(*records)/insert.Seconds())
	fmt.Printf("settle:    %v wall, %v cpu (%d statements)\n", settle.Round(time.Millisecond), settleCPU.Round(time.Millisecond), len(run.StatementIDs))
	fmt.Printf("re-settle: %v (already settled, no change)\n", rerun.Round(time.Millisecond))
	fmt.Printf("reconcile: %v wall, %v cpu (%d statements, %d differences)\n", reconcile.Round(time.Millisecond), reconcileCPU.Round(time.Millisecond), rep.Statements, len(rep.Differences))
}
