package throttle_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

// BenchmarkSignInAttempt measures what the throttle adds to one sign-in: a
// successful attempt (three counters hit, then reset or refunded) and a
// failed one (three counters hit), on distinct accounts and addresses.
func BenchmarkSignInAttempt(b *testing.B) {
	for _, e := range dbtest.Engines() {
		b.Run(e.Name, func(b *testing.B) { benchSignIn(b, e.Open(b)) })
	}
}

func benchSignIn(b *testing.B, d *db.DB) {
	{
		l := throttle.NewStore(d.DB, func() time.Time { return time.Now().UTC() }).Limiter("bench", throttle.DefaultPolicy)
		for _, outcome := range []string{"succeeded", "failed"} {
			b.Run(outcome, func(b *testing.B) {
				i := 0
				for b.Loop() {
					i++
					a, err := l.Begin(ctx, fmt.Sprintf("user%d@bench.example", i), fmt.Sprintf("198.51.%d.%d", i/250%250, i%250))
					if err != nil {
						b.Fatal(err)
					}
					if outcome == "succeeded" {
						err = a.Succeeded(ctx)
					} else {
						err = a.Failed()
					}
					if err != nil && outcome == "succeeded" {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
