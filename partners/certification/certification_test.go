package certification

import (
	"context"
	"testing"
)

// TestWebhookCheckSkippedWithoutWebhooks: a platform without the webhooks
// service marks the webhook check skipped, which does not fail the run. (The
// other checks run against the real platform in cmd/bankbridge's
// TestE2ECertification.)
func TestWebhookCheckSkippedWithoutWebhooks(t *testing.T) {
	c := New(nil, nil, nil)
	r, err := c.checkWebhookEndpoint(context.Background(), "ptn_x", "app_x")
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != CheckWebhooks || !r.Passed || r.Evidence["skipped"] != true ||
		r.Detail != "Skipped: webhook endpoint verification is not yet available." {
		t.Fatalf("check %+v", r)
	}
}
