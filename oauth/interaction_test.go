package oauth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// interactionServer is a Server with what interactions use: the sealing
// key from global, the clock and the SQL replay store on d.
func interactionServer(t *testing.T, d *db.DB, global string, now func() time.Time) *Server {
	t.Helper()
	box, err := interactionKeyFrom([]byte(global))
	if err != nil {
		t.Fatal(err)
	}
	replay := dpop.NewGormReplayStore(d.DB).(*dpop.GormReplayStore)
	replay.Now = now
	return &Server{now: now, interactions: box, deps: Deps{DPoPReplay: replay}}
}

// TestInteractions: the login/consent pages' sealed state and its single
// use, on both engines.
func TestInteractions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
		now := t0
		clock := func() time.Time { return now }
		s := interactionServer(t, d, "0123456789abcdef0123456789abcdef", clock)
		seal := func(t *testing.T, in *interaction) string {
			t.Helper()
			if err := s.sealInteraction(in); err != nil {
				t.Fatal(err)
			}
			return in.Token
		}
		fresh := func() *interaction {
			return &interaction{Nonce: randomID(), ClientID: "app_1", Request: `{"id":"r1"}`, ExpiresAt: now.Add(interactionLifetime)}
		}

		t.Run("ok/sealed and opened as it was", func(t *testing.T) {
			at := t0.Add(time.Minute)
			in := fresh()
			in.CustomerID, in.AuthTime = "cus_1", &at
			token := seal(t, in)
			if strings.Contains(token, "app_1") || strings.Contains(token, "cus_1") || strings.Contains(token, `"`) {
				t.Fatalf("the sealed interaction shows its content: %s", token)
			}
			got, err := s.openInteraction(token)
			if err != nil {
				t.Fatal(err)
			}
			if got.Nonce != in.Nonce || got.ClientID != "app_1" || got.CustomerID != "cus_1" || got.AuthTime == nil ||
				!got.AuthTime.Equal(at) || got.Request != `{"id":"r1"}` || !got.ExpiresAt.Equal(in.ExpiresAt) || got.Token != token {
				t.Fatalf("opened %+v, sealed %+v", got, in)
			}
		})
		t.Run("ok/every seal differs", func(t *testing.T) {
			in := fresh()
			a, b := seal(t, in), seal(t, in)
			if a == b {
				t.Fatal("two seals of one interaction are equal")
			}
		})
		valid := seal(t, fresh())
		otherKey := interactionServer(t, d, "another-secret-of-32-bytes-long!", clock)
		foreign := fresh()
		if err := otherKey.sealInteraction(foreign); err != nil {
			t.Fatal(err)
		}
		master, _ := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
		for _, tc := range []struct{ name, token string }{
			{"fail/empty", ""},
			{"fail/overlong", strings.Repeat("x", maxInteractionToken+1)},
			{"fail/not sealed", "v1.abc"},
			{"fail/changed by the browser", valid[:len(valid)-2] + map[bool]string{true: "AA", false: "AB"}[!strings.HasSuffix(valid, "AA")]},
			{"fail/sealed under another platform's key", foreign.Token},
			{"fail/sealed for another purpose", master.Seal([]byte(`{"n":"x","x":"2027-01-01T00:00:00Z"}`), "signing-key")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.openInteraction(tc.token); !errors.Is(err, errInteractionGone) {
					t.Fatalf("err = %v, want errInteractionGone", err)
				}
			})
		}
		t.Run("fail/expired", func(t *testing.T) {
			token := seal(t, fresh())
			now = t0.Add(interactionLifetime)
			defer func() { now = t0 }()
			if _, err := s.openInteraction(token); !errors.Is(err, errInteractionGone) {
				t.Fatalf("err = %v, want errInteractionGone", err)
			}
		})
		t.Run("ok/used once", func(t *testing.T) {
			in := fresh()
			seal(t, in)
			if err := s.consumeInteraction(ctx, in); err != nil {
				t.Fatal(err)
			}
			// fail/used again, also as a seal of the same interaction.
			again := *in
			seal(t, &again)
			if err := s.consumeInteraction(ctx, &again); !errors.Is(err, errInteractionGone) {
				t.Fatalf("second use: %v, want errInteractionGone", err)
			}
		})
		t.Run("ok/concurrent decisions: exactly one goes on", func(t *testing.T) {
			in := fresh()
			var won, lost atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := *in
					switch err := s.consumeInteraction(ctx, &c); {
					case err == nil:
						won.Add(1)
					case errors.Is(err, errInteractionGone):
						lost.Add(1)
					default:
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if won.Load() != 1 || lost.Load() != 7 {
				t.Fatalf("won %d, lost %d; want 1 and 7", won.Load(), lost.Load())
			}
		})
	})
}
