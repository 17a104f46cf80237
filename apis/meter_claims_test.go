package apis_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// claimingVerifier is the fake verifier deferring each proof's claim (its
// DPoP header is the key) to the commit, claimed in the real replay table
// as oauth.Server claims it: ClaimProofs in a transaction (SQLite), the
// replay store's rows in the metering statement (PostgreSQL).
type claimingVerifier struct {
	*fakeVerifier
	d      *db.DB
	replay *dpop.GormReplayStore
	exp    time.Time
}

var _ oauth.StatementClaimer = (*claimingVerifier)(nil)

func replayRefusal() *oauth.ResourceError {
	return &oauth.ResourceError{Status: http.StatusUnauthorized, Code: "invalid_dpop_proof", Description: "DPoP proof replayed.",
		WWWAuthenticate: `DPoP error="invalid_dpop_proof", error_description="DPoP proof replayed.", algs="ES256 PS256"`}
}

func (v *claimingVerifier) VerifyRequestDeferred(ctx context.Context, r *http.Request) (*oauth.AccessContext, *oauth.ProofClaim, error) {
	ac, err := v.VerifyRequest(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return ac, oauth.NewProofClaim(r.Header.Get("DPoP"), v.exp), nil
}

func (v *claimingVerifier) ClaimProofs(ctx context.Context, claims []*oauth.ProofClaim) ([]*oauth.ResourceError, error) {
	ex := v.d.Conn(ctx).Statement.ConnPool
	out := make([]*oauth.ResourceError, len(claims))
	for i, c := range claims {
		err := v.replay.UseIn(ctx, ex, c.Key(), v.exp)
		switch {
		case errors.Is(err, dpop.ErrReplay):
			out[i] = replayRefusal()
		case err != nil:
			return nil, err
		}
	}
	return out, nil
}

func (v *claimingVerifier) ClaimRows(claims []*oauth.ProofClaim) (db.Rows, bool) {
	keys := make([]string, len(claims))
	exps := make([]time.Time, len(claims))
	for i, c := range claims {
		keys[i], exps[i] = c.Key(), v.exp
	}
	return v.replay.Rows(keys, exps)
}

func (v *claimingVerifier) ClaimRefused() *oauth.ResourceError { return replayRefusal() }

// TestMeterClaimsInOneStatement: a group commit mixing fresh proofs, a
// proof recorded before (by another node, say), a proof replayed within the
// batch and calls without a deferred claim writes the usage record and
// request-log row of exactly the calls whose proof was fresh or who had
// none, records the fresh proofs, and refuses exactly the replays; on
// PostgreSQL as one statement.
func TestMeterClaimsInOneStatement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		v := &claimingVerifier{fakeVerifier: e.verifier, d: d, replay: dpop.NewGormReplayStore(d.DB).(*dpop.GormReplayStore),
			exp: time.Now().Add(time.Hour)}
		h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: v, BaseURL: baseURL,
			Usage: usageToContracts{contracts.New(d, contracts.Options{}), d}})
		var combined atomic.Int64 // statements writing usage records and log rows at once
		onStatement(t, d, "test:combined", "INSERT INTO request_log", false, func(g *gorm.DB) {
			if strings.Contains(g.Statement.SQL.String(), "INSERT INTO usage_records") {
				combined.Add(1)
			}
		})
		at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		// call is one call: its proof ("" none; "replayed": recorded
		// before the batch; another name: a fresh proof of that name,
		// shared by calls of one case) and whether it must be refused.
		type call struct {
			proof   string
			refused bool
		}
		for _, tc := range []struct {
			name  string
			calls []call
		}{
			{"ok/mixed-batch", []call{{"a", false}, {"replayed", true}, {"", false}, {"b", false}, {"a", true}, {"", false}}},
			{"ok/only-replays", []call{{"replayed", true}, {"replayed", true}}},
			{"ok/no-claims", []call{{"", false}, {"", false}}},
			{"ok/one-fresh", []call{{"a", false}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				app, pfx := ids.New("app"), ids.New("prf")+":"
				if err := v.replay.Use(ctx, pfx+"replayed", v.exp); err != nil {
					t.Fatal(err)
				}
				calls := make([]apis.TestCall, len(tc.calls))
				for i, c := range tc.calls {
					id := ids.New("ixn")
					calls[i] = apis.TestCall{
						Usage: apis.UsageRecord{Key: ids.New("use"), PartnerID: "ptn_claims", AppID: app, Environment: environment.Sandbox,
							Product: apis.ProductAccounts, Kind: apis.KindCall, Billable: true, Status: 200, At: at},
						Log: apis.RequestLogEntry{At: at, ClientID: app, PartnerID: "ptn_claims", Environment: environment.Sandbox,
							Method: "GET", Path: aisp + "/accounts", Status: 200, LatencyUS: 1, InteractionID: id},
					}
					if c.proof != "" {
						calls[i].Claim = oauth.NewProofClaim(pfx+c.proof, v.exp)
					}
				}
				combined.Store(0)
				refused, err := apis.WriteCalls(ctx, h, calls)
				if err != nil {
					t.Fatal(err)
				}
				var written int64
				for i, c := range tc.calls {
					if got := refused[i] != nil; got != c.refused {
						t.Errorf("call %d (proof %q): refused %v, want %v", i, c.proof, got, c.refused)
					} else if got && *refused[i] != *replayRefusal() {
						t.Errorf("call %d: refusal %+v, want the replay's", i, refused[i])
					}
					var usage, logs int64
					if err := d.DB.Raw(`SELECT COUNT(*) FROM usage_records WHERE key = ?`, calls[i].Usage.Key).Scan(&usage).Error; err != nil {
						t.Fatal(err)
					}
					if err := d.DB.Raw(`SELECT COUNT(*) FROM request_log WHERE interaction_id = ?`, calls[i].Log.InteractionID).Scan(&logs).Error; err != nil {
						t.Fatal(err)
					}
					want := int64(1)
					if c.refused {
						want = 0
					}
					written += want
					if usage != want || logs != want {
						t.Errorf("call %d (proof %q): %d usage records, %d log rows, want %d of each", i, c.proof, usage, logs, want)
					}
					if c.proof != "" {
						var jtis int64
						if err := d.DB.Raw(`SELECT COUNT(*) FROM used_jtis WHERE key = ?`, pfx+c.proof).Scan(&jtis).Error; err != nil {
							t.Fatal(err)
						}
						if jtis != 1 {
							t.Errorf("proof %q: %d used_jtis rows, want 1", c.proof, jtis)
						}
					}
				}
				if logs, usage, keys := meteredRows(t, d, app); logs != written || usage != written || keys != written {
					t.Errorf("app rows: %d log, %d usage (%d keys), want %d", logs, usage, keys, written)
				}
				if d.Dialect == db.Postgres && combined.Load() != 1 {
					t.Errorf("%d statements writing usage and log rows together, want 1 (one statement on PostgreSQL)", combined.Load())
				}
			})
		}
	})
}
