package main

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/monitoring"
)

// TestAuthRequestStats: the authorization server's requests (PAR,
// authorize, token) reach the published statistics' token_auth family on
// both engines: counted per node in memory, attributed to the environment
// and client they named, and flushed by a graceful stop.
func TestAuthRequestStats(t *testing.T) {
	for name, dbURL := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, dbURL(t), "--webhook-dispatchers", "0")
			p := newFlowPartner(t, s, s.URL)
			p.clientCredentials(s.URL)
			p.clientCredentials(s.URL)
			p.codeFlow(s.URL, p.accountConsent(s.URL), nil) // PAR, authorize GET + 2 POSTs, token
			// Refused: an unregistered client (no environment), and a
			// registered one without client authentication (its own).
			if st, _, body := p.post(s.URL, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app_nobody"}},
				p.proof(http.MethodPost, "/token", "")); st != http.StatusUnauthorized && st != http.StatusBadRequest {
				t.Fatalf("unregistered client: %d %v", st, body)
			}
			if st, _, body := p.post(s.URL, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {p.id}},
				p.proof(http.MethodPost, "/token", "")); st < 400 {
				t.Fatalf("unauthenticated: %d %v", st, body)
			}
			s.Stop(t) // flushes

			store, err := db.Open(context.Background(), db.Options{URL: s.DatabaseURL, SQLitePath: filepath.Join(s.DataDir, "bankbridge.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			var rows []struct {
				Environment, ClientID, PartnerID, Endpoint string
				Requests, ServerErrors                     int64
			}
			if err := store.Raw(`SELECT environment, client_id, partner_id, endpoint, SUM(requests) AS requests, SUM(server_errors) AS server_errors
FROM auth_request_stats GROUP BY environment, client_id, partner_id, endpoint ORDER BY environment, client_id, endpoint`).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, r := range rows {
				if r.ServerErrors != 0 {
					t.Errorf("server errors: %+v", r)
				}
				if r.ClientID == p.id && r.PartnerID == "" {
					t.Errorf("no partner: %+v", r)
				}
				got[r.Environment+" "+r.ClientID+" "+r.Endpoint] = r.Requests
			}
			want := map[string]int64{
				"sandbox " + p.id + " token":     4, // 2 client_credentials, the consent's, the code exchange
				"sandbox " + p.id + " par":       1,
				"sandbox " + p.id + " authorize": 3, // GET, login, consent
				// The unregistered client, and the unauthenticated one
				// (refused before its client is looked up): counted in
				// both environments.
				"  token": 2,
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("%q: %d requests, want %d (all: %v)", k, got[k], n, got)
				}
			}
			st, err := monitoring.New(monitoring.NewGormStore(store), nil).Statistics(context.Background(), time.Now().UTC().Format("2006-01"), environment.Sandbox)
			if err != nil {
				t.Fatal(err)
			}
			ta := st.Families[len(st.Families)-1]
			if ta.Key != "token_auth" || !ta.Recorded || ta.Requests < 9 || ta.AvailabilityText() != "100.000" || ta.P95LatencyUS == 0 {
				t.Fatalf("token_auth: %+v %s", ta, ta.AvailabilityText())
			}
		})
	}
}
