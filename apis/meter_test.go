package apis_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/ids"
)

// meteredEnv serves e's APIs again with metering into contracts'
// usage_records (the cmd wiring) and returns the handler.
func meteredEnv(t *testing.T, e *env) *apis.Handler {
	t.Helper()
	h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, BaseURL: baseURL,
		Usage: usageToContracts{contracts.New(e.d, contracts.Options{}), e.d}})
	e.engine = gin.New()
	h.Register(e.engine)
	srv := httptest.NewServer(e.engine)
	t.Cleanup(srv.Close)
	e.srv = srv
	return h
}

// onStatement runs fn before (or after) every raw statement on d whose SQL
// contains part: a gorm callback on the real store, for statements run
// (Exec) and statements read (Raw(…).Rows(), as PostgreSQL's one-statement
// metering is).
func onStatement(t *testing.T, d *db.DB, name, part string, after bool, fn func(g *gorm.DB)) {
	t.Helper()
	cb := func(g *gorm.DB) {
		if strings.Contains(g.Statement.SQL.String(), part) {
			fn(g)
		}
	}
	var err error
	if after {
		err = errors.Join(d.DB.Callback().Raw().After("gorm:raw").Register(name, cb),
			d.DB.Callback().Row().After("gorm:row").Register(name, cb))
	} else {
		err = errors.Join(d.DB.Callback().Raw().Before("gorm:raw").Register(name, cb),
			d.DB.Callback().Row().Before("gorm:row").Register(name, cb))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// meteredRows counts the request-log rows and usage records (all and
// distinct keys) of app.
func meteredRows(t *testing.T, d *db.DB, app string) (logs, usage, keys int64) {
	t.Helper()
	if err := d.DB.Raw(`SELECT COUNT(*) FROM request_log WHERE client_id = ?`, app).Scan(&logs).Error; err != nil {
		t.Fatal(err)
	}
	if err := d.DB.Raw(`SELECT COUNT(*), COUNT(DISTINCT key) FROM usage_records WHERE app_id = ?`, app).Row().Scan(&usage, &keys); err != nil {
		t.Fatal(err)
	}
	return logs, usage, keys
}

// watchRecorder is an http.ResponseWriter that says whether anything of the
// response was written yet.
type watchRecorder struct {
	*httptest.ResponseRecorder
	started atomic.Bool
}

func (w *watchRecorder) WriteHeader(code int) {
	w.started.Store(true)
	w.ResponseRecorder.WriteHeader(code)
}

func (w *watchRecorder) Write(b []byte) (int, error) {
	w.started.Store(true)
	return w.ResponseRecorder.Write(b)
}

func getRequest(path, token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Authorization", "DPoP "+token)
	r.Header.Set("DPoP", "proof-"+token)
	return r
}

// TestMeterHoldsResponseUntilCommit: a call's response is not written before
// the transaction holding its request-log row and usage record commits.
func TestMeterHoldsResponseUntilCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		meteredEnv(t, e)
		p := e.partner("ptn_hold", environment.Sandbox)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		_, tok := p.accountConsent(alice, allPerms, cur.ID)

		logs0, usage0, _ := meteredRows(t, d, p.app) // the consent's creation
		entered, release := make(chan struct{}), make(chan struct{})
		var block atomic.Bool
		block.Store(true)
		onStatement(t, d, "test:hold", "INSERT INTO request_log", true, func(*gorm.DB) {
			if block.CompareAndSwap(true, false) {
				close(entered)
				<-release // inside the metering transaction, before its commit
			}
		})
		w := &watchRecorder{ResponseRecorder: httptest.NewRecorder()}
		served := make(chan struct{})
		go func() {
			defer close(served)
			e.engine.ServeHTTP(w, getRequest(aisp+"/accounts/"+cur.ID+"/balances", tok))
		}()
		<-entered
		if w.started.Load() {
			t.Fatal("the response was written before its metering transaction committed")
		}
		close(release)
		<-served
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"Balance"`) {
			t.Fatalf("after the commit: %d %s", w.Code, w.Body)
		}
		if logs, usage, _ := meteredRows(t, d, p.app); logs != logs0+1 || usage != usage0+1 {
			t.Fatalf("rows: %d request log, %d usage, want %d and %d", logs, usage, logs0+1, usage0+1)
		}
	})
}

// TestMeterGroupCommit: calls that arrive while a commit is in progress are
// written together in the next transaction; every call has exactly one
// request-log row and one usage record.
func TestMeterGroupCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		h := meteredEnv(t, e)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		for _, tc := range []struct {
			name      string
			failBatch bool  // the second batch's usage INSERT fails once: each call is written alone
			wantLogs  int64 // request-log writes: statements on PostgreSQL, transactions on SQLite
		}{
			{"ok/one-transaction-for-many", false, 2},
			{"ok/failed-batch-written-alone", true, n}, // the leader, then each of the n-1 alone
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.partner(ids.New("ptn"), environment.Sandbox)
				_, tok := p.accountConsent(alice, allPerms, cur.ID)
				logs0, usage0, _ := meteredRows(t, d, p.app) // the consent's creation

				release := make(chan struct{})
				var first, failed atomic.Bool
				var logInserts atomic.Int64
				// On SQLite a transaction inserts its rows one per INSERT
				// (db.RowsPerInsert): its writes are told apart by their
				// transaction (the map keeps each one alive, so no address
				// is reused).
				var mu sync.Mutex
				logTxs := map[gorm.ConnPool]bool{}
				var leaderTx gorm.ConnPool
				onStatement(t, d, "test:batch:"+tc.name, "INSERT INTO request_log", true, func(g *gorm.DB) {
					if g.Error == nil { // (one statement with the refused usage INSERT on PostgreSQL)
						if d.Dialect == db.SQLite {
							mu.Lock()
							if !logTxs[g.Statement.ConnPool] {
								logTxs[g.Statement.ConnPool] = true
								logInserts.Add(1)
							}
							mu.Unlock()
						} else {
							logInserts.Add(1)
						}
					}
					if first.CompareAndSwap(false, true) {
						<-release
					}
				})
				onStatement(t, d, "test:fail:"+tc.name, "INSERT INTO usage_records", false, func(g *gorm.DB) {
					second := strings.Count(g.Statement.SQL.String(), "), (") > 0
					if d.Dialect == db.SQLite {
						mu.Lock()
						if leaderTx == nil {
							leaderTx = g.Statement.ConnPool
						}
						second = g.Statement.ConnPool != leaderTx && len(logTxs) == 1
						mu.Unlock()
					}
					if tc.failBatch && second && failed.CompareAndSwap(false, true) {
						g.AddError(errors.New("test: batch refused"))
					}
				})
				path := e.srv.URL + aisp + "/accounts/" + cur.ID + "/balances"
				statuses := make(chan int, n)
				get := func() {
					r, _ := http.NewRequest(http.MethodGet, path, nil)
					r.Header.Set("Authorization", "DPoP "+tok)
					r.Header.Set("DPoP", "proof-"+tok)
					res, err := e.srv.Client().Do(r)
					if err != nil {
						statuses <- 0
						return
					}
					res.Body.Close()
					statuses <- res.StatusCode
				}
				go get() // leads; its commit waits for release
				for !first.Load() {
					time.Sleep(time.Millisecond)
				}
				for range n - 1 {
					go get()
				}
				for apis.QueuedCalls(h) < n-1 {
					time.Sleep(time.Millisecond)
				}
				close(release)
				for range n {
					if s := <-statuses; s != http.StatusOK {
						t.Fatalf("status %d, want 200", s)
					}
				}
				if got := logInserts.Load(); got != tc.wantLogs {
					t.Fatalf("%d request-log INSERTs for %d calls, want %d", got, n, tc.wantLogs)
				}
				if tc.failBatch && !failed.Load() {
					t.Fatal("the batch was never refused")
				}
				if logs, usage, keys := meteredRows(t, d, p.app); logs != logs0+n || usage != usage0+n || keys != usage {
					t.Fatalf("rows: %d request log, %d usage (%d keys), want %d new of each", logs, usage, keys, n)
				}
			})
		}
	})
}

// n is how many concurrent calls TestMeterGroupCommit makes.
const n = 12

// TestMeterWriteFailure: when the rows cannot be committed a success is
// answered 503 server_busy (nothing recorded), a refusal goes out as it is.
func TestMeterWriteFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		meteredEnv(t, e)
		p := e.partner("ptn_fail", environment.Sandbox)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		_, tok := p.accountConsent(alice, allPerms, cur.ID)
		logs0, usage0, _ := meteredRows(t, d, p.app) // the consent's creation
		onStatement(t, d, "test:fail", "INSERT INTO request_log", false, func(g *gorm.DB) {
			g.AddError(errors.New("test: disk full"))
		})
		for _, tc := range []struct {
			name   string
			path   string
			status int
			code   string
			detail string
		}{
			{"fail/success-becomes-503", aisp + "/accounts/" + cur.ID + "/balances", 503, "server_busy", "the call could not be recorded; retry it"},
			{"ok/refusal-still-answered", aisp + "/account-access-consents/aac_unknown", 404, "not_found", "consent aac_unknown not found"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				const interaction = "6f0c2a55-2d43-4a8e-9f54-bb5e1c7e0d11"
				res := e.do("GET", tc.path, tok, nil, withHeader(httpx.InteractionHeader, interaction))
				wantProblem(t, res, tc.status, tc.code, tc.detail)
				if got := res.header.Get(httpx.InteractionHeader); got != interaction {
					t.Fatalf("%s = %q, want %q", httpx.InteractionHeader, got, interaction)
				}
				if tc.status == 503 {
					if got := res.header.Get("Retry-After"); got != "1" {
						t.Fatalf("Retry-After = %q, want 1", got)
					}
					if got := res.header.Get("Cache-Control"); got != "no-store" {
						t.Fatalf("Cache-Control = %q, want no-store", got)
					}
				}
			})
		}
		if logs, usage, _ := meteredRows(t, d, p.app); logs != logs0 || usage != usage0 {
			t.Fatalf("rows: %d request log, %d usage, want none new (%d, %d)", logs, usage, logs0, usage0)
		}
	})
}

// TestMeterRetryExactlyOnce: a call written again after its batch failed
// writes nothing when its usage record exists (the batch did commit), and
// both rows when it does not.
func TestMeterRetryExactlyOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		h := meteredEnv(t, e)
		cs := contracts.New(d, contracts.Options{})
		at := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
		for _, tc := range []struct {
			name     string
			recorded bool
		}{
			{"ok/recorded-already", true},
			{"ok/not-recorded", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				app := ids.New("app")
				u := apis.UsageRecord{Key: ids.New("use"), PartnerID: "ptn_retry", AppID: app, Environment: environment.Sandbox,
					Product: apis.ProductAccounts, Kind: apis.KindCall, Billable: true, Status: 200, At: at}
				l := apis.RequestLogEntry{At: at, ClientID: app, PartnerID: "ptn_retry", Environment: environment.Sandbox,
					Method: "GET", Path: aisp + "/accounts", Status: 200}
				if tc.recorded {
					if _, err := (usageToContracts{cs, d}).RecordUsage(ctx, []apis.UsageRecord{u}); err != nil {
						t.Fatal(err)
					}
				}
				if err := apis.WriteCallAgain(ctx, h, l, u); err != nil {
					t.Fatal(err)
				}
				wantLogs := int64(1)
				if tc.recorded {
					wantLogs = 0
				}
				if logs, usage, _ := meteredRows(t, d, app); logs != wantLogs || usage != 1 {
					t.Fatalf("rows: %d request log, %d usage, want %d and 1", logs, usage, wantLogs)
				}
			})
		}
	})
}
