// Package webhooks delivers signed events to partner endpoints, at least once:
// endpoints per app (managed through a partner API), an event catalogue with
// JSON Schemas, a transactional outbox other packages publish into, Standard
// Webhooks signing (HMAC-SHA256 v1 and Ed25519 v1a) with secret rotation,
// dispatchers that claim due deliveries in batches with leases (FOR UPDATE SKIP
// LOCKED on PostgreSQL), record their outcomes in batches and retry on a
// durable schedule, a delivery log, dead letters,
// auto-disabling of failing endpoints with a notice to the partner, replay and
// test events.
//
// webhooks imports none of the domain packages that publish into it.
package webhooks

import (
	"encoding/json"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// Event is what other packages publish (see Service.Publish).
type Event struct {
	// ID is the event id (evt_…); Publish generates one when empty. It is sent as
	// webhook-id and as data.event_id, the same on every retry.
	ID string
	// Type is a catalogue type, e.g. "payment.created".
	Type      string
	PartnerID string
	// AppID is the app's client_id; "" sends to all of the partner's apps.
	AppID string
	// Data is the body's "data": a map[string]any, a json.RawMessage, or any
	// value that marshals to a JSON object. event_id, partner_id and (when set)
	// app_id are added when missing.
	Data any
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusDead      = "dead"      // dead-lettered after the last attempt
	StatusCancelled = "cancelled" // endpoint disabled or deleted before delivery
)

// Endpoint is a partner app's webhook subscription. It never holds the secret.
type Endpoint struct {
	ID             string                  `json:"id"`
	PartnerID      string                  `json:"partner_id"`
	AppID          string                  `json:"app_id"`
	Environment    environment.Environment `json:"environment"`
	URL            string                  `json:"url"`
	Description    string                  `json:"description"`
	EventTypes     []string                `json:"event_types"`
	Enabled        bool                    `json:"enabled"`
	DisabledReason string                  `json:"disabled_reason,omitempty"`
	Signing        string                  `json:"signing"`
	// PublicKey ("whpk_…") and KeyID are set for Ed25519 endpoints.
	PublicKey string `json:"public_key,omitempty"`
	KeyID     string `json:"key_id,omitempty"`
	// PreviousPublicKey is still signing (Ed25519) until PreviousValidUntil.
	PreviousPublicKey string `json:"previous_public_key,omitempty"`
	// PreviousValidUntil ends the rotation overlap, during which deliveries carry
	// a signature with the previous secret too.
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
	// FailingSince is when the current run of failed attempts began.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// EndpointInput creates an endpoint.
type EndpointInput struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Enabled     *bool    `json:"enabled,omitempty"` // default true
	Description string   `json:"description,omitempty"`
	Signing     string   `json:"signing,omitempty"` // SigningHMAC (default) or SigningEd25519
}

// EndpointPatch changes the fields that are set.
type EndpointPatch struct {
	URL         *string   `json:"url,omitempty"`
	EventTypes  *[]string `json:"event_types,omitempty"`
	Enabled     *bool     `json:"enabled,omitempty"`
	Description *string   `json:"description,omitempty"`
}

// Credentials is what a create or a rotation shows once: the new HMAC secret
// (hmac-sha256 endpoints) or the new public key (ed25519 endpoints).
type Credentials struct {
	Secret             string     `json:"secret,omitempty"`
	PublicKey          string     `json:"public_key,omitempty"`
	KeyID              string     `json:"key_id,omitempty"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

// Scope limits service calls to one partner and, when AppID is set, one app.
// The partner API always sets both; portal pages may leave AppID empty.
type Scope struct {
	PartnerID string
	AppID     string
	// Actor and InteractionID go to the audit trail (Actor defaults to AppID).
	Actor         string
	InteractionID string
}

// Attempt is one delivery attempt in an endpoint's delivery log.
type Attempt struct {
	ID              int64      `json:"id"`
	DeliveryID      string     `json:"delivery_id"`
	EndpointID      string     `json:"endpoint_id"`
	EventID         string     `json:"event_id"`
	EventType       string     `json:"event_type"`
	Attempt         int        `json:"attempt"`
	At              time.Time  `json:"at"`
	StatusCode      int        `json:"status_code"`
	LatencyMS       int64      `json:"latency_ms"`
	ResponseExcerpt string     `json:"response_excerpt"`
	Error           string     `json:"error,omitempty"`
	NextRetryAt     *time.Time `json:"next_retry_at,omitempty"`
	// Dispatcher names the dispatcher that made the attempt.
	Dispatcher string `json:"-"`
}

// Succeeded reports whether the attempt got a 2xx answer.
func (a Attempt) Succeeded() bool { return a.StatusCode >= 200 && a.StatusCode < 300 && a.Error == "" }

// AttemptFilter narrows Attempts; zero fields match everything.
type AttemptFilter struct {
	AppID      string // restrict to the endpoint of this app (404 otherwise)
	EventID    string
	FailedOnly bool
	Before     int64 // attempt id cursor: only attempts with a smaller id
	Limit      int   // default 50, max 500
}

// Delivery is one event's delivery to one endpoint.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
}

// Notice is a message to a partner shown in the portal.
type Notice struct {
	ID        string     `json:"id"`
	PartnerID string     `json:"partner_id"`
	AppID     string     `json:"app_id,omitempty"`
	Kind      string     `json:"kind"`
	ObjectID  string     `json:"object_id,omitempty"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
	ReadAt    *time.Time `json:"read_at,omitempty"`
}

// NoticeEndpointDisabled is the kind of the notice sent when an endpoint is
// disabled for failing continuously.
const NoticeEndpointDisabled = "webhook_endpoint_disabled"

// PublicKey is one entry of the public keys document.
type PublicKey struct {
	KeyID     string     `json:"kid"`
	Kty       string     `json:"kty"`
	Crv       string     `json:"crv"`
	X         string     `json:"x"` // base64url public key (RFC 8037)
	Alg       string     `json:"alg"`
	Use       string     `json:"use"`
	PublicKey string     `json:"public_key"` // the same key as whpk_…
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

// body is the JSON sent to receivers.
type body struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}
