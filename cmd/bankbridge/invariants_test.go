package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// Issue 14's invariants, which no optimisation may weaken: a replayed DPoP
// proof is refused on every node; a revoked token or consent is refused at
// once on every node; a call answered 2xx keeps its usage record, its
// request-log row and its DPoP jti through a SIGKILL right after.

// lbIssuer is the public base URL two nodes share, as behind one load
// balancer: proofs and assertions name it, whichever node gets the request.
const lbIssuer = "http://bankbridge.test"

// twoNodes starts two nodes on one fresh PostgreSQL schema with one master
// key, one issuer and the extra flags; it skips without
// BANKBRIDGE_TEST_POSTGRES.
func twoNodes(t *testing.T, extra ...string) (a, b *Server) {
	t.Helper()
	if os.Getenv(dbtest.PostgresEnv) == "" {
		t.Skip("needs " + dbtest.PostgresEnv + ": two nodes share PostgreSQL")
	}
	sharedMasterKey(t)
	dbURL := dbtest.PostgresURL(t)
	args := append([]string{"--issuer", lbIssuer, "--webhook-dispatchers", "0"}, extra...)
	a = MustStart(t, dbURL, args...)
	b = MustStart(t, dbURL, args...)
	return a, b
}

// cacheBuses are the flags selecting each cross-node cache bus to test:
// PostgreSQL LISTEN/NOTIFY, and Redis pub/sub when BANKBRIDGE_TEST_REDIS is
// set.
func cacheBuses() map[string][]string {
	out := map[string][]string{"postgres-bus": nil}
	if u := os.Getenv("BANKBRIDGE_TEST_REDIS"); u != "" {
		out["redis-bus"] = []string{"--redis-url", u}
	}
	return out
}

// with is p reporting to tb (a subtest).
func (p *flowPartner) with(tb testing.TB) *flowPartner {
	q := *p
	q.tb = tb
	return &q
}

// wantResourceRefusal checks a partner API refusal: status, the exact
// WWW-Authenticate challenge and the problem's code and detail.
func wantResourceRefusal(t *testing.T, st int, h http.Header, body map[string]any, status int, code, detail string) {
	t.Helper()
	challenge := `DPoP error="` + code + `", error_description="` + detail + `", algs="ES256 PS256"`
	if st != status || h.Get("WWW-Authenticate") != challenge || body["code"] != code || body["detail"] != detail {
		t.Fatalf("got %d WWW-Authenticate %q body %v\nwant %d %q code %s detail %q", st, h.Get("WWW-Authenticate"), body, status, challenge, code, detail)
	}
}

func transactionsPath(account string) string {
	return "/open-banking/v3.1/aisp/accounts/" + account + "/transactions"
}

// TestDPoPReplayAcrossNodes: a DPoP proof accepted by node A is refused by
// node B, on a resource call and at the token endpoint.
func TestDPoPReplayAcrossNodes(t *testing.T) {
	a, b := twoNodes(t)
	p := newFlowPartner(t, a, lbIssuer)
	token := p.codeFlow(a.URL, p.accountConsent(a.URL), nil)
	path := transactionsPath(p.firstAccount(a.URL, token))

	t.Run("fail/resource-call-replayed-on-node-b", func(t *testing.T) {
		p := p.with(t)
		proof := p.proof(http.MethodGet, path, token)
		if st, _, body := p.call(a.URL, http.MethodGet, path, token, proof, nil); st != http.StatusOK {
			t.Fatalf("node A: %d %v", st, body)
		}
		st, h, body := p.call(b.URL, http.MethodGet, path, token, proof, nil)
		wantResourceRefusal(t, st, h, body, http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof jti has been used before.")
	})
	t.Run("fail/token-proof-replayed-on-node-b", func(t *testing.T) {
		p := p.with(t)
		proof := p.proof(http.MethodPost, "/token", "")
		form := func() url.Values {
			return p.authenticated(url.Values{"grant_type": {"client_credentials"}, "scope": {"accounts"}})
		}
		if st, _, body := p.post(a.URL, "/token", form(), proof); st != http.StatusOK {
			t.Fatalf("node A: %d %v", st, body)
		}
		st, _, body := p.post(b.URL, "/token", form(), proof)
		if st != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" ||
			body["error_description"] != "The DPoP proof is not valid. DPoP proof jti has been used before." {
			t.Fatalf("node B: %d %v, want 400 invalid_dpop_proof (jti used before)", st, body)
		}
	})
}

// TestRevocationAcrossNodes: node B has the token, its consent and its
// customer cached (a successful call first); then a token revoked at node A
// (POST /revoke), a consent revoked at node A (the partner's DELETE, or the
// customer on the dashboard) and an app suspended at node A (staff) are
// refused by node B's very next resource call, with the exact error.
func TestRevocationAcrossNodes(t *testing.T) {
	for bus, extra := range cacheBuses() {
		t.Run(bus, func(t *testing.T) { revocationAcrossNodes(t, extra) })
	}
}

func revocationAcrossNodes(t *testing.T, extra []string) {
	a, b := twoNodes(t, extra...)
	p := newFlowPartner(t, a, lbIssuer)
	ctx := context.Background()

	// cachedOnB runs a code flow and one call on node B, which caches the
	// token row, the consent and the customer there.
	cachedOnB := func(p *flowPartner) (consent, token, path string) {
		consent = p.accountConsent(a.URL)
		token = p.codeFlow(a.URL, consent, nil)
		path = transactionsPath(p.firstAccount(a.URL, token))
		for range 2 {
			if st, _, body := p.call(b.URL, http.MethodGet, path, token, "", nil); st != http.StatusOK {
				p.tb.Fatalf("node B before revocation: %d %v", st, body)
			}
		}
		return consent, token, path
	}
	tests := []struct {
		name   string
		revoke func(t *testing.T, p *flowPartner, consent, token string)
	}{
		{"fail/token-revoked-on-node-a", func(t *testing.T, p *flowPartner, _, token string) {
			if st, _, body := p.post(a.URL, "/revoke", p.authenticated(url.Values{"token": {token}, "token_type_hint": {"access_token"}}), ""); st != http.StatusOK {
				t.Fatalf("revoke at node A: %d %v", st, body)
			}
		}},
		{"fail/consent-deleted-by-partner-on-node-a", func(t *testing.T, p *flowPartner, consent, _ string) {
			cc := p.clientCredentials(a.URL)
			if st, _, body := p.call(a.URL, http.MethodDelete, "/open-banking/v3.1/aisp/account-access-consents/"+consent, cc, "", nil); st != http.StatusNoContent {
				t.Fatalf("delete consent at node A: %d %v", st, body)
			}
		}},
		{"fail/consent-revoked-by-customer-on-node-a", func(t *testing.T, p *flowPartner, consent, _ string) {
			// What the customer dashboard's revoke button calls.
			c, err := apis.NewGormStore(a.Main.Platform.DB).Consent(ctx, consent)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Main.Platform.Services.APIs.RevokeByCustomer(ctx, c.CustomerID, consent); err != nil {
				t.Fatalf("customer revokes at node A: %v", err)
			}
		}},
		{"fail/app-suspended-on-node-a", func(t *testing.T, p *flowPartner, _, _ string) {
			svc := a.Main.Platform.Services
			st, err := svc.Staff.Bootstrap(ctx, "risk-"+randJTI()[:8]+"@bank.test", staff.RoleRiskOfficer)
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Partners.SuspendApp(ctx, st.Staff.ID, p.id, "test: suspension across nodes"); err != nil {
				t.Fatalf("suspend app at node A: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := p.with(t)
			if strings.HasPrefix(tc.name, "fail/app-suspended") {
				p = newFlowPartner(t, a, lbIssuer) // its own app: the others keep theirs
			}
			consent, token, path := cachedOnB(p)
			tc.revoke(t, p, consent, token)
			st, h, body := p.call(b.URL, http.MethodGet, path, token, "", nil)
			wantResourceRefusal(t, st, h, body, http.StatusUnauthorized, "invalid_token", "The access token is not active.")
		})
	}
}

// TestResourceCallsSurviveSIGKILL (both engines, the real binary): n
// concurrent resource GETs are answered 2xx; the node is SIGKILLed as soon
// as the last status line arrives (bodies unread); after a restart every
// 2xx call has its usage record and its request-log row, and its DPoP proof
// is refused as a replay.
func TestResourceCallsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills real processes")
	}
	bin := buildBinary(t)
	for engine, dbURL := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			const n = 48
			dataDir := t.TempDir()
			addr := freeAddr(t)
			issuer := "http://" + addr
			args := []string{"--addr", addr, "--data-dir", dataDir, "--log-level", "warn", "--webhook-dispatchers", "0"}
			s := &Server{URL: issuer, DataDir: dataDir, DatabaseURL: dbURL(t)}
			if s.DatabaseURL != "" {
				args = append(args, "--database-url", s.DatabaseURL)
			}
			node := startProcess(t, bin, args...)
			p := newFlowPartner(t, s, issuer)
			store, err := db.Open(context.Background(), db.Options{URL: s.DatabaseURL, SQLitePath: filepath.Join(dataDir, "bankbridge.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			// n calls at once exceed the sandbox plan (burst 20): lift the
			// app's accounts limit as staff would with an app override
			// (before its first call: a node caches an app's plan for 5 s).
			if err := store.Exec("INSERT INTO plan_assignments (scope, subject_id, limit_overrides, updated_by, updated_at) VALUES ('app', ?, ?, 'test', ?)",
				p.id, `{"accounts":{"rate":100000,"burst":100000}}`, time.Now().UTC()).Error; err != nil {
				t.Fatal(err)
			}
			token := p.codeFlow(issuer, p.accountConsent(issuer), nil)
			path := transactionsPath(p.firstAccount(issuer, token))

			usage := func() int64 {
				var c int64
				if err := store.Raw("SELECT COUNT(*) FROM usage_records WHERE app_id = ? AND product = 'accounts' AND status = 200", p.id).Scan(&c).Error; err != nil {
					t.Fatal(err)
				}
				return c
			}
			before := usage()

			type answer struct {
				status      int
				interaction string
				jti         string
				err         error
			}
			answers := make(chan answer, n)
			var bodies sync.WaitGroup
			bodies.Add(1)
			release := sync.OnceFunc(bodies.Done) // also on a failure before the kill
			defer release()
			for i := 0; i < n; i++ {
				jti := fmt.Sprintf("sigkill-%d-%s", i, randJTI())
				req, _ := http.NewRequest(http.MethodGet, issuer+path, nil)
				req.Header.Set("Authorization", "DPoP "+token)
				req.Header.Set("DPoP", p.proofJTI(http.MethodGet, path, token, jti))
				go func() {
					resp, err := p.hc.Do(req)
					if err != nil {
						answers <- answer{err: err}
						return
					}
					answers <- answer{status: resp.StatusCode, interaction: resp.Header.Get("x-fapi-interaction-id"), jti: jti}
					bodies.Wait() // the body is read only after the kill
					resp.Body.Close()
				}()
			}
			var got []answer
			for range n {
				a := <-answers
				if a.err != nil || a.status/100 != 2 {
					t.Fatalf("call: %d %v (every call should be answered 2xx)", a.status, a.err)
				}
				got = append(got, a)
			}
			if err := node.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			node.Wait()
			release()
			startProcess(t, bin, args...)

			var logged int64
			for _, a := range got {
				var c int64
				if err := store.Raw("SELECT COUNT(*) FROM request_log WHERE interaction_id = ? AND status = ?", a.interaction, a.status).Scan(&c).Error; err != nil {
					t.Fatal(err)
				}
				logged += c
			}
			metered := usage() - before
			t.Logf("%d calls answered 2xx before SIGKILL; after restart: %d usage records, %d request-log rows", n, metered, logged)
			if metered != n || logged != n {
				t.Fatalf("after SIGKILL: %d usage records, %d request-log rows for %d calls answered 2xx; want %d of each",
					metered, logged, n, n)
			}
			// Every proof answered 2xx is still recorded (the used_jtis
			// table on PostgreSQL, the data directory's journal on
			// SQLite): the restarted node refuses each one as a replay,
			// and meters none of them.
			for _, a := range got {
				st, h, body := p.call(issuer, http.MethodGet, path, token, p.proofJTI(http.MethodGet, path, token, a.jti), nil)
				wantResourceRefusal(t, st, h, body, http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}
			if after := usage() - before; after != n {
				t.Fatalf("%d usage records after replaying the proofs, want %d", after, n)
			}
		})
	}
}

// TestDPoPReplayInGroupCommit (both engines): a GET records its DPoP proof
// id in the metering transaction, so proofs are refused there: of n
// concurrent GETs presenting one proof exactly one is answered 200 and
// metered, every other one gets the exact replay refusal (as when the id
// was recorded before the call ran) and leaves no usage record; a later
// replay is refused the same way.
func TestDPoPReplayInGroupCommit(t *testing.T) {
	for engine, dbURL := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			const n = 8
			s := MustStart(t, dbURL(t), "--webhook-dispatchers", "0")
			p := newFlowPartner(t, s, s.URL)
			token := p.codeFlow(s.URL, p.accountConsent(s.URL), nil)
			path := transactionsPath(p.firstAccount(s.URL, token))
			usage := func() int64 {
				var c int64
				if err := s.Main.Platform.DB.Raw("SELECT COUNT(*) FROM usage_records WHERE app_id = ? AND product = 'accounts'", p.id).Scan(&c).Error; err != nil {
					t.Fatal(err)
				}
				return c
			}
			before := usage()
			proof := p.proof(http.MethodGet, path, token)
			type answer struct {
				st   int
				h    http.Header
				body map[string]any
			}
			answers := make(chan answer, n)
			for range n {
				go func() {
					st, h, body := p.call(s.URL, http.MethodGet, path, token, proof, nil)
					answers <- answer{st, h, body}
				}()
			}
			ok := 0
			for range n {
				a := <-answers
				if a.st == http.StatusOK {
					ok++
					continue
				}
				wantResourceRefusal(t, a.st, a.h, a.body, http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			}
			if ok != 1 {
				t.Fatalf("%d of %d calls with one proof answered 200, want 1", ok, n)
			}
			st, h, body := p.call(s.URL, http.MethodGet, path, token, proof, nil)
			wantResourceRefusal(t, st, h, body, http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof jti has been used before.")
			if got := usage() - before; got != 1 {
				t.Fatalf("%d usage records for one accepted call and %d replays, want 1", got, n)
			}
		})
	}
}

// TestOneServePerSQLiteDatabase: serve on SQLite holds the data directory's
// DPoP replay journal, so a second serve on the same database refuses to
// start (it would keep its own proof ids and accept the first one's
// replays) with the exact error; once the first has stopped, serve starts
// there again. Operator commands beside a running serve are not refused
// (TestOperatorCommands rotates keys beside one).
func TestOneServePerSQLiteDatabase(t *testing.T) {
	s := MustStart(t, "", "--webhook-dispatchers", "0")
	second := func() error {
		var out bytes.Buffer
		m := NewMain(&out, &out)
		defer m.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Ready = func(string, string) { cancel() } // started: stop at once
		return m.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", s.DataDir, "--log-level", "warn", "--webhook-dispatchers", "0"})
	}
	dir := filepath.Join(s.DataDir, "bankbridge.db-jtis")
	want := "dpop: the replay journal in " + dir + " is held by another process (a SQLite database is served by one node): resource temporarily unavailable"
	if err := second(); err == nil || err.Error() != want {
		t.Fatalf("second serve: %v\nwant %s", err, want)
	}
	s.Stop(t)
	if err := second(); err != nil {
		t.Fatalf("serve after the first stopped: %v", err)
	}
}
