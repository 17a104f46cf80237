package bankbridge

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks (https://www.standardwebhooks.com) header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// DefaultWebhookTolerance is how far webhook-timestamp may be from now.
const DefaultWebhookTolerance = 5 * time.Minute

// Webhook verification errors (test with errors.Is).
var (
	ErrWebhookHeaders   = errors.New("bankbridge: webhook lacks webhook-id, webhook-timestamp or webhook-signature")
	ErrWebhookTimestamp = errors.New("bankbridge: webhook-timestamp is not unix seconds within the tolerance")
	ErrWebhookSignature = errors.New("bankbridge: no webhook signature matches")
	ErrWebhookKey       = errors.New("bankbridge: webhook key is neither whsec_… nor whpk_… base64")
)

// WebhookVerifier verifies webhooks the platform signs per the Standard
// Webhooks specification: "v1" signatures (HMAC-SHA256 with the endpoint's
// whsec_ secret) and "v1a" signatures (Ed25519 with the endpoint's whpk_
// public key) over webhook-id "." webhook-timestamp "." body.
type WebhookVerifier struct {
	// Keys are the endpoint's whsec_… secret or whpk_… public key; during a
	// rotation give the new and the previous one (any may match).
	Keys []string
	// Tolerance bounds the distance between webhook-timestamp and now;
	// 0 means DefaultWebhookTolerance.
	Tolerance time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks one delivery: the three headers, the timestamp within
// the tolerance (replay defence; also de-duplicate on webhook-id, which is
// the same on every retry) and at least one signature that matches a key,
// compared in constant time.
func (v *WebhookVerifier) Verify(header http.Header, body []byte) error {
	if len(v.Keys) == 0 {
		return fmt.Errorf("%w: WebhookVerifier.Keys is empty", ErrWebhookKey)
	}
	id, ts, sigs := header.Get(HeaderWebhookID), header.Get(HeaderWebhookTimestamp), header.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrWebhookHeaders
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrWebhookTimestamp, ts)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultWebhookTolerance
	}
	if d := now().Sub(time.Unix(sec, 0)); d > tol || d < -tol {
		return fmt.Errorf("%w: %s away", ErrWebhookTimestamp, d.Round(time.Second))
	}
	msg := make([]byte, 0, len(id)+len(ts)+len(body)+2)
	msg = append(append(append(append(append(msg, id...), '.'), ts...), '.'), body...)
	type check struct {
		version string
		ok      func(sig []byte) bool
	}
	var checks []check
	for _, k := range v.Keys {
		switch {
		case strings.HasPrefix(k, "whsec_"):
			secret, err := base64.StdEncoding.DecodeString(k[len("whsec_"):])
			if err != nil || len(secret) == 0 {
				return ErrWebhookKey
			}
			m := hmac.New(sha256.New, secret)
			m.Write(msg)
			want := m.Sum(nil)
			checks = append(checks, check{"v1", func(sig []byte) bool { return subtle.ConstantTimeCompare(sig, want) == 1 }})
		case strings.HasPrefix(k, "whpk_"):
			pub, err := base64.StdEncoding.DecodeString(k[len("whpk_"):])
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return ErrWebhookKey
			}
			checks = append(checks, check{"v1a", func(sig []byte) bool { return ed25519.Verify(ed25519.PublicKey(pub), msg, sig) }})
		default:
			return ErrWebhookKey
		}
	}
	for _, s := range strings.Fields(sigs) {
		version, enc, ok := strings.Cut(s, ",")
		if !ok {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		for _, c := range checks {
			if c.version == version && c.ok(sig) {
				return nil
			}
		}
	}
	return ErrWebhookSignature
}

// WebhookEvent is a verified delivery: the envelope's type, timestamp and
// data, and the webhook-id to de-duplicate on. Decode Data into the event's
// generated type (e.g. PaymentStatusChangedEventData) with DecodeData.
type WebhookEvent struct {
	ID        string          `json:"-"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// DecodeData decodes the event's data into dst.
func (e *WebhookEvent) DecodeData(dst any) error { return json.Unmarshal(e.Data, dst) }

// maxWebhookBody bounds the body WebhookHandler reads.
const maxWebhookBody = 1 << 20

// WebhookHandler returns an http.Handler for a webhook endpoint: it reads
// the body, verifies it with v and calls fn with the event. A delivery that
// fails verification is answered 401 (and not passed to fn); fn's error
// answers 500 so that the platform retries; success answers 204.
func WebhookHandler(v *WebhookVerifier, fn func(ctx context.Context, ev *WebhookEvent) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "signature verification failed", http.StatusUnauthorized)
			return
		}
		ev := &WebhookEvent{ID: r.Header.Get(HeaderWebhookID)}
		if err := json.Unmarshal(body, ev); err != nil || ev.Type == "" {
			http.Error(w, "not a webhook event", http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), ev); err != nil {
			http.Error(w, "not processed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Webhook signing schemes of an endpoint.
const (
	WebhookSigningHMAC    = "hmac-sha256"
	WebhookSigningEd25519 = "ed25519"
)

// WebhookEndpointInput creates a webhook endpoint.
type WebhookEndpointInput struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled,omitempty"`
	Description string   `json:"description,omitempty"`
	// Signing is WebhookSigningHMAC (default) or WebhookSigningEd25519.
	Signing string `json:"signing,omitempty"`
}

// WebhookEndpoint is one of the app's webhook endpoints. Secret is set
// only in the answer that created the endpoint (hmac-sha256): keep it.
type WebhookEndpoint struct {
	ID                 string     `json:"id"`
	AppID              string     `json:"app_id"`
	Environment        string     `json:"environment"`
	URL                string     `json:"url"`
	Description        string     `json:"description"`
	EventTypes         []string   `json:"event_types"`
	Enabled            bool       `json:"enabled"`
	DisabledReason     string     `json:"disabled_reason,omitempty"`
	Signing            string     `json:"signing"`
	PublicKey          string     `json:"public_key,omitempty"`
	KeyID              string     `json:"key_id,omitempty"`
	PreviousPublicKey  string     `json:"previous_public_key,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	Secret             string     `json:"secret,omitempty"`
}

// VerificationKey is the key to put in WebhookVerifier.Keys: the whsec_
// secret (only known from the create answer) or the whpk_ public key.
func (e *WebhookEndpoint) VerificationKey() string {
	if e.Secret != "" {
		return e.Secret
	}
	return e.PublicKey
}

// CreateWebhookEndpoint registers a webhook endpoint (client credentials
// token with scope webhooks). The answer carries the signing secret once.
func (a *API) CreateWebhookEndpoint(ctx context.Context, in WebhookEndpointInput, opts ...CallOption) (*WebhookEndpoint, error) {
	return call[WebhookEndpoint](ctx, a, http.MethodPost, "/webhook-endpoints", in, opts)
}

// WebhookEndpoints lists the app's webhook endpoints.
func (a *API) WebhookEndpoints(ctx context.Context, opts ...CallOption) ([]WebhookEndpoint, error) {
	out, err := call[struct {
		Data []WebhookEndpoint `json:"data"`
	}](ctx, a, http.MethodGet, "/webhook-endpoints", nil, opts)
	if err != nil {
		return nil, err
	}
	return out.Data, nil
}

// SendTestWebhook queues a signed test event to the endpoint and returns its
// event id (the webhook-id the endpoint will receive).
func (a *API) SendTestWebhook(ctx context.Context, endpointID string, opts ...CallOption) (string, error) {
	out, err := call[struct {
		EventID string `json:"event_id"`
	}](ctx, a, http.MethodPost, "/webhook-endpoints/"+esc(endpointID)+"/test", nil, opts)
	if err != nil {
		return "", err
	}
	return out.EventID, nil
}

// DeleteWebhookEndpoint deletes a webhook endpoint.
func (a *API) DeleteWebhookEndpoint(ctx context.Context, id string, opts ...CallOption) error {
	return a.Do(ctx, http.MethodDelete, "/webhook-endpoints/"+esc(id), nil, nil, opts...)
}
