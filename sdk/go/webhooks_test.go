package bankbridge

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The reference vectors of the Standard Webhooks libraries
// (github.com/standard-webhooks/standard-webhooks, libraries/go
// webhook_test.go TestWebhookSign and webhook_asymmetric_test.go
// TestAsymmetricWebhookSign).
const (
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorV1        = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	vectorSeed      = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=" // Ed25519 seed (whsk_)
	vectorV1a       = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

func vectorPublicKey(t *testing.T) (string, ed25519.PrivateKey) {
	seed, err := base64.StdEncoding.DecodeString(vectorSeed)
	if err != nil {
		t.Fatal(err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), priv
}

func webhookHeader(id string, ts int64, sigs ...string) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, strings.Join(sigs, " "))
	return h
}

func hmacSig(secret, id string, ts int64, body string) string {
	k, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestWebhookVerifier(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	pub, priv := vectorPublicKey(t)
	otherSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 32 bytes!!!!!"))
	edSig := func(body string, ts int64) string {
		return "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(vectorID+"."+strconv.FormatInt(ts, 10)+"."+body)))
	}
	cases := []struct {
		name   string
		keys   []string
		header http.Header
		body   string
		now    time.Time
		want   error
	}{
		{"ok/reference-v1", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, nil},
		{"ok/reference-v1a", []string{pub}, webhookHeader(vectorID, vectorTimestamp, vectorV1a), vectorBody, at, nil},
		{"ok/within-tolerance", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at.Add(5 * time.Minute), nil},
		{"ok/several-signatures", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp,
			"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", vectorV1), vectorBody, at, nil},
		{"ok/rotation-previous-key", []string{otherSecret, vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, nil},
		{"ok/hmac-and-ed25519", []string{pub}, webhookHeader(vectorID, vectorTimestamp, vectorV1, edSig(vectorBody, vectorTimestamp)), vectorBody, at, nil},
		{"fail/tampered-body", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), `{"test": 2432232315}`, at, ErrWebhookSignature},
		{"fail/tampered-body-v1a", []string{pub}, webhookHeader(vectorID, vectorTimestamp, vectorV1a), `{"test": 1}`, at, ErrWebhookSignature},
		{"fail/other-id", []string{vectorSecret}, webhookHeader("msg_other", vectorTimestamp, vectorV1), vectorBody, at, ErrWebhookSignature},
		{"fail/wrong-secret", []string{otherSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, ErrWebhookSignature},
		{"fail/v1-sig-for-public-key", []string{pub}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, ErrWebhookSignature},
		{"fail/v1a-sig-for-secret", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1a), vectorBody, at, ErrWebhookSignature},
		{"fail/partial-signature", []string{pub}, webhookHeader(vectorID, vectorTimestamp, "v1a,"), vectorBody, at, ErrWebhookSignature},
		{"fail/too-old", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at.Add(5*time.Minute + time.Second), ErrWebhookTimestamp},
		{"fail/from-the-future", []string{vectorSecret}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at.Add(-5*time.Minute - time.Second), ErrWebhookTimestamp},
		{"fail/timestamp-not-a-number", []string{vectorSecret}, func() http.Header {
			h := webhookHeader(vectorID, vectorTimestamp, vectorV1)
			h.Set(HeaderWebhookTimestamp, "yesterday")
			return h
		}(), vectorBody, at, ErrWebhookTimestamp},
		{"fail/no-id", []string{vectorSecret}, func() http.Header {
			h := webhookHeader(vectorID, vectorTimestamp, vectorV1)
			h.Del(HeaderWebhookID)
			return h
		}(), vectorBody, at, ErrWebhookHeaders},
		{"fail/no-signature", []string{vectorSecret}, func() http.Header {
			h := webhookHeader(vectorID, vectorTimestamp, vectorV1)
			h.Del(HeaderWebhookSignature)
			return h
		}(), vectorBody, at, ErrWebhookHeaders},
		{"fail/bad-key", []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, ErrWebhookKey},
		{"fail/no-keys", nil, webhookHeader(vectorID, vectorTimestamp, vectorV1), vectorBody, at, ErrWebhookKey},
		{"fail/short-public-key", []string{"whpk_AAAA"}, webhookHeader(vectorID, vectorTimestamp, vectorV1a), vectorBody, at, ErrWebhookKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &WebhookVerifier{Keys: tc.keys, Now: func() time.Time { return tc.now }}
			err := v.Verify(tc.header, []byte(tc.body))
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestWebhookHandler(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	var got []*WebhookEvent
	fail := false
	h := WebhookHandler(&WebhookVerifier{Keys: []string{secret}}, func(_ context.Context, ev *WebhookEvent) error {
		if fail {
			return errors.New("database down")
		}
		got = append(got, ev)
		return nil
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := `{"type":"payment.status_changed","timestamp":"2026-01-01T00:00:00Z","data":{"event_id":"evt_1","partner_id":"ptn_1","app_id":"app_1","payment_id":"pay_1","status":"AcceptedSettlementCompleted","previous_status":"AcceptedSettlementInProcess"}}`
	post := func(method string, h http.Header, body string) int {
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now().Unix()
	signed := webhookHeader("evt_1", now, hmacSig(secret, "evt_1", now, body))
	for _, tc := range []struct {
		name   string
		method string
		header http.Header
		body   string
		fail   bool
		status int
		events int
	}{
		{"ok/delivered", "POST", signed, body, false, 204, 1},
		{"fail/bad-signature", "POST", signed, strings.Replace(body, "pay_1", "pay_2", 1), false, 401, 0},
		{"fail/handler-error", "POST", signed, body, true, 500, 0},
		{"fail/get", "GET", signed, "", false, 405, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fail = nil, tc.fail
			if st := post(tc.method, tc.header, tc.body); st != tc.status || len(got) != tc.events {
				t.Fatalf("status %d events %d, want %d and %d", st, len(got), tc.status, tc.events)
			}
		})
	}
	t.Run("ok/typed-data", func(t *testing.T) {
		got, fail = nil, false
		post("POST", signed, body)
		ev := got[0]
		var d PaymentStatusChangedEventData
		if err := ev.DecodeData(&d); err != nil {
			t.Fatal(err)
		}
		if ev.ID != "evt_1" || ev.Type != "payment.status_changed" || d.PaymentId != "pay_1" || d.Status != "AcceptedSettlementCompleted" {
			t.Fatalf("event %+v data %+v", ev, d)
		}
	})
}
