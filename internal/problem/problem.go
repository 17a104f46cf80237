// Package problem is the error type of Bankbridge's non-OAuth HTTP surfaces and
// its RFC 9457 rendering (application/problem+json). OAuth endpoints do not use
// it: they answer RFC 6749 errors through fosite.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// MediaType is the RFC 9457 §3 media type.
const MediaType = "application/problem+json"

// TypePrefix prefixes a Code to make the problem's stable "type" URI.
const TypePrefix = "urn:bankbridge:problem:"

// Error is a problem a caller can act on. Services return it; handlers render it.
type Error struct {
	Code   Code
	Detail string
	// Extra holds RFC 9457 §3.2 extension members (for example "errors" for
	// field-level validation failures, or "retry_after").
	Extra map[string]any
	// Err is the cause, logged but never rendered.
	Err error
}

// New makes a problem with a human-readable detail.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Wrap makes a problem that keeps err as its (unrendered) cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...), Err: err}
}

// Internal wraps an unexpected error (storage, I/O) of doing what as
// CodeInternal "<what> failed"; a *Error passes through unchanged and nil
// stays nil.
func Internal(err error, what string) error {
	if err == nil {
		return nil
	}
	var p *Error
	if errors.As(err, &p) {
		return err
	}
	return Wrap(CodeInternal, err, "%s failed", what)
}

// With adds an extension member and returns the problem.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Detail + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the problem's code.
func (e *Error) Status() int { return e.Code.Status() }

// Is lets errors.Is(err, problem.New(code, "")) match by code.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// CodeOf returns the problem code carried by err, or CodeInternal.
func CodeOf(err error) Code {
	var p *Error
	if errors.As(err, &p) {
		return p.Code
	}
	return CodeInternal
}

// Body is the RFC 9457 JSON object.
type Body struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Code repeats the short code for clients that switch on it.
	Code  Code           `json:"code"`
	Extra map[string]any `json:"-"`
}

// MarshalJSON flattens Extra into the object (RFC 9457 §3.2).
func (b Body) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range b.Extra {
		m[k] = v
	}
	m["type"], m["title"], m["status"], m["code"] = b.Type, b.Title, b.Status, b.Code
	if b.Detail != "" {
		m["detail"] = b.Detail
	}
	if b.Instance != "" {
		m["instance"] = b.Instance
	}
	return json.Marshal(m)
}

// BodyOf turns any error into the body to send. Errors that are not problems
// become an opaque internal error: their text is never shown to the caller.
func BodyOf(err error, instance string) Body {
	var p *Error
	if !errors.As(err, &p) {
		p = &Error{Code: CodeInternal, Detail: "An unexpected error occurred; it has been logged."}
	}
	return Body{Type: TypePrefix + string(p.Code), Title: p.Code.Title(), Status: p.Code.Status(),
		Detail: p.Detail, Instance: instance, Code: p.Code, Extra: p.Extra}
}

// Write renders err as problem+json on w.
func Write(w http.ResponseWriter, r *http.Request, err error) {
	b := BodyOf(err, r.URL.Path)
	w.Header().Set("Content-Type", MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(b.Status)
	json.NewEncoder(w).Encode(b)
}
