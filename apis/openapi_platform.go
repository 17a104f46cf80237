package apis

import (
	"regexp"
	"strings"
)

// platformPathParam matches a path template parameter ({client_id}).
var platformPathParam = regexp.MustCompile(`\{([A-Za-z_]+)\}`)

// The partner-facing APIs outside BasePath that /openapi.json also
// describes: the webhook endpoints API (webhooks.Handler.Register) and
// dynamic client registration, RFC 7591/7592 (partners.Service.
// MountRegistration). Their schemas mirror the handlers' JSON; a test in
// cmd/bankbridge compares the whole document with the platform's router.

// platformOp is one operation outside BasePath.
type platformOp struct {
	method, path, id, summary, tag string
	security                       string // "webhooks", "initialAccessToken", "registrationAccessToken" or "" (public)
	request                        string
	status                         int
	response                       string
	query                          []string
	rfc6749                        bool // errors are RFC 7591 {error, error_description}, not problem+json
}

var platformOps = []platformOp{
	{"GET", "/webhooks/public-keys", "GetWebhookPublicKeys", "The Ed25519 public keys (JWK) that sign webhooks of endpoints with signing ed25519", "Webhooks", "", "", 200, "WebhookPublicKeys", nil, false},
	{"POST", "/webhook-endpoints", "CreateWebhookEndpoint", "Create a webhook endpoint (its secret is shown once)", "Webhooks", "webhooks", "WebhookEndpointCreate", 201, "WebhookEndpointCreated", nil, false},
	{"GET", "/webhook-endpoints", "ListWebhookEndpoints", "List the app's webhook endpoints", "Webhooks", "webhooks", "", 200, "WebhookEndpointList", nil, false},
	{"GET", "/webhook-endpoints/{id}", "GetWebhookEndpoint", "Get a webhook endpoint", "Webhooks", "webhooks", "", 200, "WebhookEndpoint", nil, false},
	{"PATCH", "/webhook-endpoints/{id}", "UpdateWebhookEndpoint", "Update a webhook endpoint (absent members are kept)", "Webhooks", "webhooks", "WebhookEndpointUpdate", 200, "WebhookEndpoint", nil, false},
	{"DELETE", "/webhook-endpoints/{id}", "DeleteWebhookEndpoint", "Delete a webhook endpoint", "Webhooks", "webhooks", "", 204, "", nil, false},
	{"POST", "/webhook-endpoints/{id}/rotate-secret", "RotateWebhookEndpointSecret", "Rotate the signing secret or key (the new one is shown once; the old one stays valid for overlap_seconds)", "Webhooks", "webhooks", "WebhookRotateRequest", 200, "WebhookEndpointCreated", nil, false},
	{"POST", "/webhook-endpoints/{id}/test", "TestWebhookEndpoint", "Send a webhook.test event to the endpoint", "Webhooks", "webhooks", "", 202, "WebhookTestResponse", nil, false},
	{"POST", "/webhook-endpoints/{id}/replay", "ReplayWebhookEndpoint", "Deliver again the events of a time range", "Webhooks", "webhooks", "WebhookReplayRequest", 202, "WebhookReplayResponse", nil, false},
	{"GET", "/webhook-endpoints/{id}/attempts", "ListWebhookEndpointAttempts", "The endpoint's delivery log, newest first, paged with before=next_before", "Webhooks", "webhooks", "", 200, "WebhookAttemptList", []string{"event_id", "limit", "before", "failed"}, false},
	{"POST", "/register", "RegisterClient", "Register a sandbox client (RFC 7591 dynamic client registration)", "Client registration", "initialAccessToken", "ClientMetadata", 201, "ClientInformation", nil, true},
	{"GET", "/register/{client_id}", "GetRegisteredClient", "Read a registered client (RFC 7592)", "Client registration", "registrationAccessToken", "", 200, "ClientInformation", nil, true},
	{"PUT", "/register/{client_id}", "UpdateRegisteredClient", "Replace a registered client's metadata (RFC 7592)", "Client registration", "registrationAccessToken", "ClientMetadata", 200, "ClientInformation", nil, true},
	{"DELETE", "/register/{client_id}", "DeleteRegisteredClient", "Delete a registered client (RFC 7592)", "Client registration", "registrationAccessToken", "", 204, "", nil, true},
}

// platformSchemas are the schemas of the webhook endpoints API and of client
// registration.
func platformSchemas() map[string]any {
	obj := func(required []string, props map[string]any) map[string]any {
		if required == nil {
			required = []string{}
		}
		return map[string]any{"type": "object", "required": required, "properties": props}
	}
	strs := map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
	signing := map[string]any{"type": "string", "enum": []string{"hmac-sha256", "ed25519"}}
	endpointProps := func() map[string]any {
		return map[string]any{
			"id": str("whe_… endpoint id"), "partner_id": str("partner id"), "app_id": str("the app (client_id) the endpoint belongs to"),
			"environment": map[string]any{"type": "string", "enum": []string{"sandbox", "production"}},
			"url":         map[string]any{"type": "string", "format": "uri"}, "description": map[string]any{"type": "string"},
			"event_types": strs, "enabled": map[string]any{"type": "boolean"},
			"disabled_reason": map[string]any{"type": "string"}, "signing": signing,
			"public_key": str("ed25519: the current public key (whpk_…)"), "key_id": str("ed25519: the current key id"),
			"previous_public_key":  str("ed25519: the key before the last rotation, while it is still valid"),
			"previous_valid_until": dateTimeSchema(), "failing_since": dateTimeSchema(),
			"created_at": dateTimeSchema(), "updated_at": dateTimeSchema(),
		}
	}
	endpointRequired := []string{"id", "partner_id", "app_id", "environment", "url", "description", "event_types", "enabled", "signing", "created_at", "updated_at"}
	withSecret := endpointProps()
	withSecret["secret"] = str("hmac-sha256: the signing secret, shown only in this response")
	attempt := obj([]string{"id", "delivery_id", "endpoint_id", "event_id", "event_type", "attempt", "at", "status_code", "latency_ms", "response_excerpt"}, map[string]any{
		"id": map[string]any{"type": "integer", "format": "int64"}, "delivery_id": map[string]any{"type": "string"},
		"endpoint_id": map[string]any{"type": "string"}, "event_id": map[string]any{"type": "string"}, "event_type": map[string]any{"type": "string"},
		"attempt": map[string]any{"type": "integer"}, "at": dateTimeSchema(), "status_code": map[string]any{"type": "integer"},
		"latency_ms": map[string]any{"type": "integer", "format": "int64"}, "response_excerpt": map[string]any{"type": "string"},
		"error": map[string]any{"type": "string"}, "next_retry_at": dateTimeSchema()})
	metadataProps := func() map[string]any {
		return map[string]any{
			"redirect_uris": strs, "client_name": map[string]any{"type": "string"}, "scope": str("space-separated scopes"),
			"jwks":     map[string]any{"type": "object", "description": "JWK Set (RFC 7517) with the client's public keys"},
			"jwks_uri": map[string]any{"type": "string", "format": "uri"}, "token_endpoint_auth_method": map[string]any{"type": "string"},
			"token_endpoint_auth_signing_alg": map[string]any{"type": "string"}, "grant_types": strs, "response_types": strs,
			"require_signed_request_object": map[string]any{"type": "boolean", "description": "RFC 9101 §10.5: the client sends every authorization request as a signed request object (JAR)"},
		}
	}
	meta := metadataProps()
	meta["client_id"] = str("RFC 7592 update: must equal the client's id")
	info := metadataProps()
	info["client_id"] = map[string]any{"type": "string"}
	info["client_id_issued_at"] = map[string]any{"type": "integer", "format": "int64"}
	info["environment"] = map[string]any{"type": "string", "description": "Bankbridge extension: sandbox"}
	info["registration_access_token"] = str("RFC 7592 bearer token for /register/{client_id}")
	info["registration_client_uri"] = map[string]any{"type": "string", "format": "uri"}
	return map[string]any{
		"WebhookEndpoint":        obj(endpointRequired, endpointProps()),
		"WebhookEndpointCreated": obj(endpointRequired, withSecret),
		"WebhookEndpointList":    obj([]string{"data"}, map[string]any{"data": map[string]any{"type": "array", "items": ref("WebhookEndpoint")}}),
		"WebhookEndpointCreate": obj([]string{"url", "event_types"}, map[string]any{
			"url": map[string]any{"type": "string", "format": "uri"}, "event_types": strs,
			"enabled": map[string]any{"type": "boolean", "default": true}, "description": map[string]any{"type": "string"}, "signing": signing}),
		"WebhookEndpointUpdate": obj(nil, map[string]any{
			"url": map[string]any{"type": "string", "format": "uri"}, "event_types": strs,
			"enabled": map[string]any{"type": "boolean"}, "description": map[string]any{"type": "string"}}),
		"WebhookRotateRequest": obj(nil, map[string]any{"overlap_seconds": map[string]any{"type": "integer", "format": "int64",
			"description": "how long the previous secret or key stays valid"}}),
		"WebhookTestResponse": obj([]string{"event_id"}, map[string]any{"event_id": map[string]any{"type": "string"}}),
		"WebhookReplayRequest": obj([]string{"from", "to"}, map[string]any{"from": dateTimeSchema(), "to": dateTimeSchema(),
			"failed_only": map[string]any{"type": "boolean"}}),
		"WebhookReplayResponse": obj([]string{"queued"}, map[string]any{"queued": map[string]any{"type": "integer"}}),
		"WebhookAttempt":        attempt,
		"WebhookAttemptList": obj([]string{"data"}, map[string]any{"data": map[string]any{"type": "array", "items": ref("WebhookAttempt")},
			"next_before": map[string]any{"type": "integer", "format": "int64", "description": "pass as before= for the next page"}}),
		"WebhookPublicKeys": obj([]string{"keys"}, map[string]any{"keys": map[string]any{"type": "array", "items": obj(
			[]string{"kid", "kty", "crv", "x", "alg", "use", "public_key"}, map[string]any{
				"kid": map[string]any{"type": "string"}, "kty": map[string]any{"type": "string"}, "crv": map[string]any{"type": "string"},
				"x": map[string]any{"type": "string"}, "alg": map[string]any{"type": "string"}, "use": map[string]any{"type": "string"},
				"public_key": str("whpk_… form of the same key"), "not_after": dateTimeSchema()})}}),
		"ClientMetadata":    obj([]string{"redirect_uris"}, meta),
		"ClientInformation": obj([]string{"client_id", "client_id_issued_at", "client_name", "redirect_uris", "scope", "token_endpoint_auth_method", "grant_types", "response_types", "environment"}, info),
		"RegistrationError": obj([]string{"error"}, map[string]any{"error": str("RFC 7591 §3.2.2 error code"), "error_description": map[string]any{"type": "string"}}),
	}
}

// platformSecuritySchemes are the bearer schemes of the operations outside
// BasePath.
func platformSecuritySchemes() map[string]any {
	return map[string]any{
		"dpop": map[string]any{"type": "http", "scheme": "DPoP",
			"description": "A client_credentials access token with scope webhooks, DPoP-bound (RFC 9449): Authorization: DPoP <token> and a DPoP proof. The token endpoint is in the discovery document."},
		"initialAccessToken": map[string]any{"type": "http", "scheme": "bearer",
			"description": "RFC 7591 §3 initial access token, issued in the developer portal (Authorization: Bearer <token>)."},
		"registrationAccessToken": map[string]any{"type": "http", "scheme": "bearer",
			"description": "RFC 7592 registration access token, returned by POST /register (Authorization: Bearer <token>)."},
	}
}

// platformPaths returns the path items of platformOps; problemResp makes a
// problem+json response.
func platformPaths(problemResp func(desc string) map[string]any) map[string]any {
	paths := map[string]any{}
	errResp := func(rfc bool, desc string) map[string]any {
		if rfc {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": ref("RegistrationError")}}}
		}
		return problemResp(desc)
	}
	for _, op := range platformOps {
		o := map[string]any{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag}}
		switch op.security {
		case "":
			o["security"] = []any{}
		case "webhooks":
			o["security"] = []any{map[string]any{"dpop": []string{"webhooks"}}}
		default:
			o["security"] = []any{map[string]any{op.security: []string{}}}
		}
		params := []any{}
		for _, m := range platformPathParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.request != "" {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(op.request)}}}
		}
		ok := map[string]any{"description": "Success"}
		if op.response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.response)}}
		}
		responses := map[string]any{itoa(op.status): ok}
		if op.security != "" {
			responses["400"] = errResp(op.rfc6749, "Malformed request or invalid metadata")
			responses["401"] = errResp(op.rfc6749, "Token refused (WWW-Authenticate says why)")
		}
		if strings.Contains(op.path, "{") {
			responses["404"] = errResp(op.rfc6749, "Unknown id (or another app's)")
		}
		o["responses"] = responses
		item, _ := paths[op.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[op.path] = item
		}
		item[strings.ToLower(op.method)] = o
	}
	return paths
}
