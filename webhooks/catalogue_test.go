package webhooks

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

func TestCatalogue(t *testing.T) {
	want := []string{"app.suspended", "complaint.opened", "complaint.resolved", "consent.authorised", "consent.expired", "consent.revoked", "partner.status_changed",
		"partner.terminated", "partner.termination_cancelled", "partner.termination_scheduled",
		"payment.created", "payment.refunded", "payment.reversed", "payment.status_changed", "quota.threshold_reached", "statement.issued"}
	got := EventTypes()
	if len(got) != len(want) {
		t.Fatalf("%d types", len(got))
	}
	for i, et := range got {
		if et.Name != want[i] || et.Description == "" {
			t.Fatalf("type %d: %+v", i, et)
		}
		props := et.Data["properties"].(map[string]any)
		if _, ok := props["event_id"]; !ok {
			t.Fatalf("%s: data schema lacks event_id", et.Name)
		}
		if _, ok := props["partner_id"]; !ok {
			t.Fatalf("%s: data schema lacks partner_id", et.Name)
		}
	}
	wh := OpenAPIWebhooks()
	if len(wh) != len(want)+1 {
		t.Fatalf("%d webhooks in OpenAPI section", len(wh))
	}
	b, err := json.Marshal(map[string]any{"openapi": "3.1.0", "webhooks": wh})
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]map[string]map[string]any
	json.Unmarshal(b, &back)
	op := back["webhooks"]["payment.created"]["post"].(map[string]any)
	schema := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
	if schema["properties"].(map[string]any)["type"].(map[string]any)["const"] != "payment.created" {
		t.Fatalf("schema %v", schema)
	}
}

// FuzzVerify: Verify never panics on hostile headers, bodies or secrets, and
// never accepts what was not signed with the key.
func FuzzVerify(f *testing.F) {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Now().Unix()
	f.Add(secret, "msg_1", strconv.FormatInt(now, 10), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("whpk_AAAA", "x", "1", "v1a,AAAA v1,BBBB", []byte("{}"))
	f.Add(secret, "", "", "", []byte(""))
	f.Add("whsec_", "id", "99999999999999999999", "v1,", []byte("x"))
	f.Fuzz(func(t *testing.T, key, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		if err := Verify(key, h, body, 0); err == nil {
			// Only a genuine signature may pass.
			tsN, _ := strconv.ParseInt(ts, 10, 64)
			good, serr := Sign(key, id, tsN, body)
			if serr != nil || !containsField(sig, good) {
				t.Fatalf("accepted %q for key %q", sig, key)
			}
		}
	})
}

func containsField(list, s string) bool {
	for _, f := range strings.Fields(list) {
		if f == s {
			return true
		}
	}
	return false
}

// FuzzValidateURL: the endpoint URL check never panics and never lets an http
// URL through for production.
func FuzzValidateURL(f *testing.F) {
	s := &Service{cfg: Config{Resolver: testResolver, ConnectTimeout: time.Second}}
	for _, u := range []string{"https://hooks.example.com/x", "http://127.0.0.1:8080/", "https://[::1]/", "https://u:p@h/", "://", "https://%zz/", "https://10.0.0.1/", "HTTPS://HOOKS.EXAMPLE.COM/"} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if s.validateURL(t.Context(), raw, environment.Production) == "" {
			u, err := url.Parse(raw)
			if err != nil || u.Scheme != "https" || u.User != nil {
				t.Fatalf("accepted %q for production", raw)
			}
		}
	})
}
