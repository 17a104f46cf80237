package webhooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// e2eEnv, when "1" (CI), turns a missing node or node_modules into a failure.
const e2eEnv = "BANKBRIDGE_E2E"

// TestStandardWebhooksJS has the standardwebhooks npm library verify real
// deliveries (including the two signatures of a rotation overlap), and refuse
// tampered ones.
func TestStandardWebhooksJS(t *testing.T) {
	dir, _ := filepath.Abs(filepath.Join("..", "e2e", "webhooks"))
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "standardwebhooks", "package.json"))
	if err != nil || modErr != nil {
		msg := fmt.Sprintf("needs node and %s/node_modules (run: cd e2e/webhooks && npm install)", dir)
		if os.Getenv(e2eEnv) == "1" {
			t.Fatalf("%s=1 but %s", e2eEnv, msg)
		}
		t.Skip(msg)
	}
	d := dbtest.MustSQLite(t)
	s := mustService(t, d, nil)
	rc := newReceiver(t, nil)
	e, creds := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created", "consent.authorised"}})
	runDispatchers(t, s, 1, DispatcherOptions{})
	for i := 0; i < 5; i++ {
		mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i), "amount": "1250", "currency": "EUR", "note": "naïve ☃ \"quoted\""}})
	}
	eventually(t, "5 deliveries", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 5 })
	_, rotated, err := s.RotateSecret(t.Context(), scA1, e.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	mustPublish(t, s, d, Event{Type: "consent.authorised", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"consent_id": "cns_1"}})
	eventually(t, "6 deliveries", func() bool { return deliveryStatuses(t, d, e.ID)[StatusSucceeded] == 6 })

	type delivery struct {
		Secret  string            `json:"secret"`
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Expect  string            `json:"expect"`
	}
	var in struct {
		Deliveries []delivery `json:"deliveries"`
	}
	flat := func(h http.Header) map[string]string {
		return map[string]string{HeaderID: h.Get(HeaderID), HeaderTimestamp: h.Get(HeaderTimestamp), HeaderSignature: h.Get(HeaderSignature)}
	}
	got := rc.all()
	for i, r := range got {
		in.Deliveries = append(in.Deliveries, delivery{creds.Secret, flat(r.Header), string(r.Body), "valid"})
		if i == len(got)-1 { // the overlap delivery: valid under the new secret too
			in.Deliveries = append(in.Deliveries, delivery{rotated.Secret, flat(r.Header), string(r.Body), "valid"})
		}
	}
	r := got[0]
	in.Deliveries = append(in.Deliveries,
		delivery{creds.Secret, flat(r.Header), strings.Replace(string(r.Body), "pay_", "pay_X", 1), "invalid"},
		delivery{rotated.Secret, flat(r.Header), string(r.Body), "invalid"},
		delivery{NewSecret(), flat(r.Header), string(r.Body), "invalid"},
	)
	file := filepath.Join(t.TempDir(), "deliveries.json")
	b, _ := json.Marshal(in)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, "verify.mjs"), file)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("verify.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("standardwebhooks refused a delivery: %v", err)
	}
	if want := fmt.Sprintf(`"total":%d,"verified":7,"refused":3`, len(in.Deliveries)); !strings.Contains(string(out), want) {
		t.Fatalf("summary lacks %s", want)
	}
}
