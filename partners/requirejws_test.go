package partners

import (
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestRequireSignedRequests: the app setting reaches the oauth client the
// resource server consults (migration 0024).
func TestRequireSignedRequests(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p, err := e.s.CreatePartner(ctx, "Signer Ltd")
		mustOK(t, err)
		for name, want := range map[string]bool{"ok/required": true, "ok/not-required": false} {
			t.Run(name, func(t *testing.T) {
				in := sandboxApp(t)
				in.RequireSignedRequests = want
				a, err := e.s.CreateAppAsOperator(ctx, p.ID, in)
				mustOK(t, err)
				c, err := e.s.OAuthClient(ctx, a.ID)
				mustOK(t, err)
				if c.RequireSignedRequests != want {
					t.Fatalf("RequireSignedRequests = %v, want %v", c.RequireSignedRequests, want)
				}
			})
		}
	})
}
