package oauth_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestDPoPCodeFlowEvidence: client_credentials tokens are not evidence of the
// code flow; a PAR + DPoP code exchange is, with the grant id and both keys.
func TestDPoPCodeFlowEvidence(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		h := newHarness(t, d, nil)
		c := h.client
		st := h.srv.Store()
		cases := []struct {
			name string
			do   func()
			want bool
		}{
			{"fail/nothing yet", func() {}, false},
			{"fail/client_credentials only", func() {
				if resp, body := h.clientCredentials(c); resp.StatusCode != http.StatusOK {
					t.Fatalf("client_credentials: %d %v", resp.StatusCode, body)
				}
			}, false},
			{"ok/code flow", func() {
				code, verifier := h.code(c, nil, nil)
				if resp, body := h.exchange(c, code, verifier); resp.StatusCode != http.StatusOK {
					t.Fatalf("exchange: %d %v", resp.StatusCode, body)
				}
			}, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tc.do()
				ev, err := st.DPoPCodeFlow(ctx, []string{c.id})
				if err != nil {
					t.Fatal(err)
				}
				if !tc.want {
					if ev != nil {
						t.Fatalf("evidence %+v, want none", ev)
					}
					return
				}
				if ev == nil || ev.ClientID != c.id || ev.JKT != c.jkt() || ev.GrantID == "" || ev.IssuedAt.IsZero() {
					t.Fatalf("evidence %+v (want jkt %s)", ev, c.jkt())
				}
				if other, _ := st.DPoPCodeFlow(ctx, []string{h.other.id}); other != nil {
					t.Fatalf("another client's evidence: %+v", other)
				}
			})
		}
	})
}
