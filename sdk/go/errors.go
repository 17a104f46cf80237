package bankbridge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Problem is an RFC 9457 problem detail answered by the platform's APIs
// (application/problem+json), as a Go error. Use errors.As to read it:
//
//	var p *bankbridge.Problem
//	if errors.As(err, &p) && p.Code == bankbridge.ProblemCodeConsentRevoked { … }
//
// or errors.Is with a *Problem carrying only the code:
//
//	errors.Is(err, &bankbridge.Problem{Code: bankbridge.ProblemCodeQuotaExhausted})
//
// A non-2xx answer without a problem body becomes a Problem too, with Type
// "about:blank", the status text as Title and the start of the body as Detail.
type Problem struct {
	Type     string      `json:"type"`               // urn:bankbridge:problem:<code>
	Title    string      `json:"title"`              // short summary of the code
	Status   int         `json:"status"`             // HTTP status
	Detail   string      `json:"detail,omitempty"`   // what exactly went wrong
	Instance string      `json:"instance,omitempty"` // the request path
	Code     ProblemCode `json:"code,omitempty"`     // stable code, one of the ProblemCode constants
	// Extensions are the other members of the problem (RFC 9457 §3.2), for
	// example "errors" with field-level validation failures.
	Extensions map[string]json.RawMessage `json:"-"`
	// InteractionID is the response's x-fapi-interaction-id: quote it to the
	// bank's support.
	InteractionID string `json:"-"`
	// RetryAfter is the response's Retry-After (429 rate_limited or
	// quota_exhausted), 0 when absent.
	RetryAfter time.Duration `json:"-"`
	// Challenge is the error of the response's WWW-Authenticate header
	// (invalid_token, insufficient_scope, invalid_dpop_proof, …), if any.
	Challenge string `json:"-"`
}

// Error implements error.
func (p *Problem) Error() string {
	code := string(p.Code)
	if code == "" {
		code = p.Title
	}
	if p.Detail == "" {
		return fmt.Sprintf("bankbridge: %d %s", p.Status, code)
	}
	return fmt.Sprintf("bankbridge: %d %s: %s", p.Status, code, p.Detail)
}

// Is reports whether target is a *Problem with the same Code (a target
// without a Code matches any problem with the same Status).
func (p *Problem) Is(target error) bool {
	t, ok := target.(*Problem)
	if !ok {
		return false
	}
	if t.Code != "" {
		return t.Code == p.Code
	}
	return t.Status != 0 && t.Status == p.Status
}

// UnmarshalJSON keeps the members Problem does not name in Extensions.
func (p *Problem) UnmarshalJSON(b []byte) error {
	type plain Problem
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	for _, k := range []string{"type", "title", "status", "detail", "instance", "code"} {
		delete(all, k)
	}
	if len(all) > 0 {
		p.Extensions = all
	}
	return nil
}

// OAuthError is an OAuth 2.0 error (RFC 6749 §5.2, §4.1.2.1; RFC 9126; RFC
// 9449): from the token or pushed authorization request endpoint, or from the
// authorization response the customer's browser brought back (StatusCode 0
// then), for example access_denied when the customer declined.
type OAuthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	// StatusCode is the HTTP status of the endpoint's answer; 0 for an error
	// in the authorization response.
	StatusCode int `json:"-"`
}

// Error implements error.
func (e *OAuthError) Error() string {
	if e.Description == "" {
		return "bankbridge: oauth error " + e.Code
	}
	return "bankbridge: oauth error " + e.Code + ": " + e.Description
}

// Is reports whether target is an *OAuthError with the same Code.
func (e *OAuthError) Is(target error) bool {
	t, ok := target.(*OAuthError)
	return ok && t.Code == e.Code
}

// Errors the SDK itself returns (wrapped with details; test with errors.Is).
var (
	// ErrStateMismatch: the authorization response's state is not the one
	// sent (a forged or mixed-up callback).
	ErrStateMismatch = errors.New("bankbridge: the authorization response's state does not match the request")
	// ErrIssuerMismatch: the authorization response's iss is missing or not
	// the configured issuer (RFC 9207 mix-up defence), or discovery
	// answered for another issuer (RFC 8414 §3.3).
	ErrIssuerMismatch = errors.New("bankbridge: issuer mismatch")
	// ErrMissingCode: the authorization response carries neither a code nor an error.
	ErrMissingCode = errors.New("bankbridge: the authorization response has no code")
	// ErrNotDPoPBound: the token endpoint issued a token that is not
	// DPoP-bound (token_type is not DPoP, RFC 9449 §5).
	ErrNotDPoPBound = errors.New("bankbridge: the token endpoint did not issue a DPoP-bound token")
	// ErrForeignLink: a pagination link points outside the platform's origin;
	// the SDK does not send the access token and its proof there.
	ErrForeignLink = errors.New("bankbridge: pagination link outside the platform's origin")
	// ErrUnexpectedResponse: a 2xx answer whose body is not the expected JSON.
	ErrUnexpectedResponse = errors.New("bankbridge: unexpected response")
)

// maxErrorDetail is how much of a non-problem error body becomes Detail.
const maxErrorDetail = 512

// problemFrom makes the *Problem of a non-2xx resource answer.
func problemFrom(resp *http.Response, body []byte) *Problem {
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		if err := json.Unmarshal(body, p); err != nil || p.Type == "" && p.Code == "" && p.Title == "" {
			p = &Problem{}
		}
	}
	if p.Type == "" {
		p.Type = "about:blank"
		p.Title = http.StatusText(resp.StatusCode)
		p.Detail = strings.TrimSpace(string(truncate(body, maxErrorDetail)))
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	p.InteractionID = resp.Header.Get(HeaderInteractionID)
	p.Challenge = authParam(resp.Header.Values("WWW-Authenticate"), "error")
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil && secs >= 0 {
			p.RetryAfter = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(ra); err == nil {
			p.RetryAfter = max(time.Until(at), 0)
		}
	}
	return p
}

// oauthErrorFrom makes the *OAuthError of a non-2xx OAuth endpoint answer.
func oauthErrorFrom(resp *http.Response, body []byte) *OAuthError {
	e := &OAuthError{}
	if err := json.Unmarshal(body, e); err != nil || e.Code == "" {
		e = &OAuthError{Code: "server_error", Description: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(truncate(body, maxErrorDetail)))}
	}
	e.StatusCode = resp.StatusCode
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// authParam returns the value of parameter name in the first challenge of
// WWW-Authenticate values that carries it (RFC 9110 §11.6.1 auth-params,
// quoted or token values).
func authParam(values []string, name string) string {
	for _, v := range values {
		// Skip the scheme, then read name=value pairs.
		s := strings.TrimSpace(v)
		if i := strings.IndexByte(s, ' '); i >= 0 {
			s = s[i+1:]
		} else {
			continue
		}
		for s != "" {
			s = strings.TrimLeft(s, " ,")
			eq := strings.IndexByte(s, '=')
			if eq < 0 {
				break
			}
			key := strings.TrimSpace(s[:eq])
			s = strings.TrimLeft(s[eq+1:], " ")
			var val string
			if strings.HasPrefix(s, `"`) {
				var b strings.Builder
				i := 1
				for ; i < len(s); i++ {
					if s[i] == '\\' && i+1 < len(s) {
						i++
						b.WriteByte(s[i])
						continue
					}
					if s[i] == '"' {
						break
					}
					b.WriteByte(s[i])
				}
				val = b.String()
				if i < len(s) {
					i++
				}
				s = s[i:]
			} else {
				end := strings.IndexAny(s, ", ")
				if end < 0 {
					end = len(s)
				}
				val, s = s[:end], s[end:]
			}
			if strings.EqualFold(key, name) {
				return val
			}
		}
	}
	return ""
}
