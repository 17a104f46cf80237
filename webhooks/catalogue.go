package webhooks

import "sort"

// EventType describes one kind of event partners may subscribe to.
type EventType struct {
	// Name is the dotted type sent as "type" in the body, e.g. "payment.created".
	Name string
	// Description says when the event is sent.
	Description string
	// Data is the JSON Schema (2020-12, as OpenAPI 3.1 uses) of the body's "data".
	Data map[string]any
}

// TestEventType is the type of the events sent by SendTest. Every endpoint
// receives it on request; it cannot be subscribed to.
const TestEventType = "webhook.test"

func obj(required []string, props map[string]any) map[string]any {
	return map[string]any{"type": "object", "required": required, "properties": props, "additionalProperties": true}
}

var (
	str      = map[string]any{"type": "string"}
	dateTime = map[string]any{"type": "string", "format": "date-time"}
	integer  = map[string]any{"type": "integer"}
)

func strDesc(d string) map[string]any { return map[string]any{"type": "string", "description": d} }

// catalogue is the table of event types. Adding an event type is one line here.
var catalogue = []EventType{
	{"consent.authorised", "A customer approved a consent.", obj([]string{"event_id", "partner_id", "app_id", "consent_id"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "consent_id": str, "consent_type": str, "expires_at": dateTime})},
	{"consent.revoked", "A consent was revoked by the customer, the partner or the bank.", obj([]string{"event_id", "partner_id", "app_id", "consent_id"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "consent_id": str, "revoked_by": str})},
	{"consent.expired", "A consent reached its expiry.", obj([]string{"event_id", "partner_id", "app_id", "consent_id"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "consent_id": str, "expired_at": dateTime})},
	{"payment.created", "A payment was initiated.", obj([]string{"event_id", "partner_id", "app_id", "payment_id"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "payment_id": str, "consent_id": str, "amount": strDesc("minor units as a decimal integer string"), "currency": str, "status": str})},
	{"payment.status_changed", "A payment moved to a new status.", obj([]string{"event_id", "partner_id", "app_id", "payment_id", "status"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "payment_id": str, "previous_status": str, "status": str})},
	{"payment.refunded", "A refund of a payment (part or all of it) was approved and credited to the customer's account.", obj([]string{"event_id", "partner_id", "payment_id", "correction_id", "amount", "currency"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "payment_id": str, "correction_id": str, "amount": strDesc("minor units as a decimal integer string"), "currency": str, "reason": str})},
	{"payment.reversed", "A payment was reversed (its whole amount returned to the customer's account).", obj([]string{"event_id", "partner_id", "payment_id", "correction_id", "amount", "currency"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "payment_id": str, "correction_id": str, "amount": strDesc("minor units as a decimal integer string"), "currency": str, "reason": str})},
	{"partner.status_changed", "The partner's lifecycle status changed (e.g. live, suspended).", obj([]string{"event_id", "partner_id", "status"}, map[string]any{"event_id": str, "partner_id": str, "previous_status": str, "status": str, "reason": str})},
	{"partner.termination_scheduled", "The bank gave notice ending the partnership: the wind-down timeline (effective date, last API access, final settlement, data export, personal data deletion).", obj([]string{"event_id", "partner_id", "termination_id", "effective_at"}, map[string]any{"event_id": str, "partner_id": str, "termination_id": str, "effective_at": dateTime, "reason": str, "notice_days": integer, "export_available_until": dateTime, "personal_data_deletion_at": dateTime})},
	{"partner.termination_cancelled", "The bank withdrew its notice ending the partnership.", obj([]string{"event_id", "partner_id", "termination_id"}, map[string]any{"event_id": str, "partner_id": str, "termination_id": str, "reason": str})},
	{"partner.terminated", "The partnership ended: every consent and token is revoked; this is the partner's last event.", obj([]string{"event_id", "partner_id", "termination_id"}, map[string]any{"event_id": str, "partner_id": str, "termination_id": str, "effective_at": dateTime, "consents_revoked": integer})},
	{"app.suspended", "One of the partner's apps was suspended.", obj([]string{"event_id", "partner_id", "app_id"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "reason": str})},
	{"quota.threshold_reached", "Usage reached a share of the plan's quota.", obj([]string{"event_id", "partner_id", "threshold_bp"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "quota": str, "threshold_bp": integer, "used": integer, "limit": integer, "period": str})},
	{"complaint.opened", "A customer complained about a payment made through the partner; answer in the portal by partner_due_at.", obj([]string{"event_id", "partner_id", "complaint_id", "payment_id", "category"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "complaint_id": str, "payment_id": str, "consent_id": str, "category": str, "status": str, "received_at": dateTime, "due_at": dateTime, "partner_due_at": dateTime})},
	{"complaint.resolved", "The bank resolved a complaint: outcome rejected, or refund (with the correction and amount).", obj([]string{"event_id", "partner_id", "complaint_id", "payment_id", "outcome"}, map[string]any{"event_id": str, "partner_id": str, "app_id": str, "complaint_id": str, "payment_id": str, "consent_id": str, "category": str, "status": str, "outcome": str, "received_at": dateTime, "due_at": dateTime, "partner_due_at": dateTime, "resolved_at": dateTime, "correction_id": str, "refund_amount": strDesc("minor units as a decimal integer string"), "refund_currency": str})},
	{"statement.issued", "A settlement statement was issued.", obj([]string{"event_id", "partner_id", "statement_id"}, map[string]any{"event_id": str, "partner_id": str, "statement_id": str, "period_start": dateTime, "period_end": dateTime})},
}

var testEvent = EventType{TestEventType, "A test event sent on request to one endpoint.", obj([]string{"event_id", "endpoint_id"}, map[string]any{"event_id": str, "endpoint_id": str, "partner_id": str, "app_id": str})}

// EventTypes lists the subscribable event types, sorted by name.
func EventTypes() []EventType {
	out := append([]EventType(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// KnownEventType reports whether name is a subscribable event type.
func KnownEventType(name string) bool {
	for _, t := range catalogue {
		if t.Name == name {
			return true
		}
	}
	return false
}

// OpenAPIWebhooks returns the OpenAPI 3.1 "webhooks" section: one POST
// operation per event type (including webhook.test) with its body schema and
// the Standard Webhooks headers.
func OpenAPIWebhooks() map[string]any {
	out := map[string]any{}
	for _, t := range append(EventTypes(), testEvent) {
		body := map[string]any{
			"type":     "object",
			"required": []string{"type", "timestamp", "data"},
			"properties": map[string]any{
				"type":      map[string]any{"type": "string", "const": t.Name},
				"timestamp": dateTime,
				"data":      t.Data,
			},
		}
		out[t.Name] = map[string]any{
			"post": map[string]any{
				"summary":     t.Name,
				"description": t.Description + " Signed per the Standard Webhooks specification; retried until a 2xx answer.",
				"operationId": "webhook_" + t.Name,
				"parameters": []any{
					map[string]any{"in": "header", "name": "webhook-id", "required": true, "description": "The event id; the same on every retry: de-duplicate on it.", "schema": str},
					map[string]any{"in": "header", "name": "webhook-timestamp", "required": true, "description": "Unix seconds when this attempt was signed.", "schema": str},
					map[string]any{"in": "header", "name": "webhook-signature", "required": true, "description": "Space-separated v1,<base64 HMAC-SHA256> and/or v1a,<base64 Ed25519> signatures over id.timestamp.body.", "schema": str},
				},
				"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": body}}},
				"responses": map[string]any{
					"2XX": map[string]any{"description": "Received. Any other status (or none within the timeout) is retried; 410 disables the endpoint."},
				},
			},
		}
	}
	return out
}
