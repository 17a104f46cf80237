package oauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth"
)

// TestAuthenticateCustomerThrottles checks the throttle every customer sign-in
// page shares: five wrong passwords lock the username, even for the right one.
func TestAuthenticateCustomerThrottles(t *testing.T) {
	h := newHarness(t, dbtest.MustSQLite(t), nil)
	ctx := context.Background()
	c := h.srv.ThrottledCustomers()
	if _, err := c.Authenticate(ctx, environment.Sandbox, "alice", "wrong"); !errors.Is(err, oauth.ErrBadCredentials) {
		t.Fatalf("fail/wrong-password: %v", err)
	}
	for i := 0; i < 4; i++ {
		c.Authenticate(ctx, environment.Sandbox, "alice", "wrong")
	}
	if _, err := c.Authenticate(ctx, environment.Sandbox, "Alice", "correct horse"); !errors.Is(err, oauth.ErrLoginThrottled) {
		t.Fatalf("fail/locked-after-5: err %v, want ErrLoginThrottled (case-insensitive username)", err)
	}
	if _, err := c.Authenticate(ctx, environment.Sandbox, "bob", "nope"); !errors.Is(err, oauth.ErrBadCredentials) {
		t.Fatalf("other usernames are not locked: %v", err)
	}
}
