package problem

import "net/http"

// Code is a stable, documented problem type. Its HTTP status and title are
// defined here and nowhere else.
type Code string

// The problem codes of every surface. Add a code here with its status and title.
const (
	CodeInternal            Code = "internal_error"
	CodeInvalidRequest      Code = "invalid_request"
	CodeMalformedJSON       Code = "malformed_json"
	CodeValidation          Code = "validation_failed"
	CodeUnsupportedMedia    Code = "unsupported_media_type"
	CodeNotAcceptable       Code = "not_acceptable"
	CodeNotFound            Code = "not_found"
	CodeMethodNotAllowed    Code = "method_not_allowed"
	CodeConflict            Code = "conflict"
	CodeUnauthorized        Code = "unauthorized"
	CodeInvalidToken        Code = "invalid_token"
	CodeInvalidDPoPProof    Code = "invalid_dpop_proof"
	CodeInvalidJWSSignature Code = "invalid_jws_signature"
	CodeInsufficientScope   Code = "insufficient_scope"
	CodeForbidden           Code = "forbidden"
	CodeDatasetNotAllowed   Code = "dataset_not_allowed"

	CodeConsentNotAuthorised Code = "consent_not_authorised"
	CodeConsentExpired       Code = "consent_expired"
	CodeConsentRevoked       Code = "consent_revoked"
	CodeConsentConsumed      Code = "consent_consumed"
	CodeConsentMismatch      Code = "consent_mismatch"
	CodePermissionMissing    Code = "permission_missing"
	CodeAccountNotInConsent  Code = "account_not_in_consent"

	CodeIdempotencyKeyMissing Code = "idempotency_key_missing"
	CodeIdempotencyKeyReused  Code = "idempotency_key_reused"
	CodeIdempotencyInFlight   Code = "idempotency_request_in_progress"
	CodeLimitExceeded         Code = "limit_exceeded"
	CodeVelocityExceeded      Code = "velocity_exceeded"
	CodeRateLimited           Code = "rate_limited"
	CodeQuotaExhausted        Code = "quota_exhausted"
	// CodeRiskRejected: the bank's transaction risk scoring (package risk)
	// refused the payment consent or payment; the detail lists the reasons'
	// codes, never the scoring's internals such as screening matches.
	CodeRiskRejected Code = "risk_rejected"

	CodeMakerChecker Code = "maker_checker_violation"
	CodeInvalidState Code = "invalid_state_transition"
	CodeLockedOut    Code = "locked_out"
	CodeBusy         Code = "server_busy"
)

type codeInfo struct {
	status int
	title  string
}

var codes = map[Code]codeInfo{
	CodeInternal:            {http.StatusInternalServerError, "Internal error"},
	CodeInvalidRequest:      {http.StatusBadRequest, "Invalid request"},
	CodeMalformedJSON:       {http.StatusBadRequest, "Malformed JSON"},
	CodeValidation:          {http.StatusUnprocessableEntity, "Validation failed"},
	CodeUnsupportedMedia:    {http.StatusUnsupportedMediaType, "Unsupported media type"},
	CodeNotAcceptable:       {http.StatusNotAcceptable, "Not acceptable"},
	CodeNotFound:            {http.StatusNotFound, "Not found"},
	CodeMethodNotAllowed:    {http.StatusMethodNotAllowed, "Method not allowed"},
	CodeConflict:            {http.StatusConflict, "Conflict"},
	CodeUnauthorized:        {http.StatusUnauthorized, "Unauthorized"},
	CodeInvalidToken:        {http.StatusUnauthorized, "Invalid access token"},
	CodeInvalidDPoPProof:    {http.StatusUnauthorized, "Invalid DPoP proof"},
	CodeInvalidJWSSignature: {http.StatusBadRequest, "Invalid message signature"},
	CodeInsufficientScope:   {http.StatusForbidden, "Insufficient scope"},
	CodeForbidden:           {http.StatusForbidden, "Forbidden"},
	CodeDatasetNotAllowed:   {http.StatusForbidden, "Dataset not allowed for this partner"},

	CodeConsentNotAuthorised: {http.StatusForbidden, "Consent not authorised"},
	CodeConsentExpired:       {http.StatusForbidden, "Consent expired"},
	CodeConsentRevoked:       {http.StatusForbidden, "Consent revoked"},
	CodeConsentConsumed:      {http.StatusConflict, "Consent already used"},
	CodeConsentMismatch:      {http.StatusBadRequest, "Request does not match the consent"},
	CodePermissionMissing:    {http.StatusForbidden, "Permission missing from consent"},
	CodeAccountNotInConsent:  {http.StatusForbidden, "Account not covered by consent"},

	CodeIdempotencyKeyMissing: {http.StatusBadRequest, "Idempotency key missing"},
	CodeIdempotencyKeyReused:  {http.StatusUnprocessableEntity, "Idempotency key reused with a different request"},
	CodeIdempotencyInFlight:   {http.StatusConflict, "Request with this idempotency key is in progress"},
	CodeLimitExceeded:         {http.StatusUnprocessableEntity, "Payment limit exceeded"},
	CodeVelocityExceeded:      {http.StatusTooManyRequests, "Payment velocity exceeded"},
	CodeRateLimited:           {http.StatusTooManyRequests, "Rate limit exceeded"},
	CodeQuotaExhausted:        {http.StatusTooManyRequests, "Monthly quota exhausted"},
	CodeRiskRejected:          {http.StatusForbidden, "Refused by the bank's risk controls"},

	CodeMakerChecker: {http.StatusForbidden, "Maker-checker violation"},
	CodeInvalidState: {http.StatusConflict, "Invalid state transition"},
	CodeLockedOut:    {http.StatusTooManyRequests, "Too many attempts"},
	CodeBusy:         {http.StatusServiceUnavailable, "Server busy"},
}

// Status is the HTTP status for the code (500 for an unknown code).
func (c Code) Status() int {
	if i, ok := codes[c]; ok {
		return i.status
	}
	return http.StatusInternalServerError
}

// Title is the short, fixed summary for the code.
func (c Code) Title() string {
	if i, ok := codes[c]; ok {
		return i.title
	}
	return "Internal error"
}

// Codes lists every code (for documentation and tests).
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	return out
}
