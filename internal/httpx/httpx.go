// Package httpx holds the small HTTP plumbing every gin surface shares: the
// x-fapi-interaction-id, problem rendering and strict JSON decoding.
package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// InteractionHeader is the FAPI interaction id header.
const InteractionHeader = "x-fapi-interaction-id"

const interactionKey = "bankbridge.interaction_id"

var uuidLike = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// InteractionID echoes a well-formed (UUID) x-fapi-interaction-id from the
// request, or generates one, on every response.
func InteractionID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(InteractionHeader)
		if !uuidLike.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(interactionKey, id)
		c.Header(InteractionHeader, id)
		c.Next()
	}
}

// InteractionIDOf returns the interaction id set by InteractionID ("" if none).
func InteractionIDOf(c *gin.Context) string { return c.GetString(interactionKey) }

// Abort renders err as RFC 9457 problem+json and stops the handler chain. Any
// non-problem error is logged by the caller's logger middleware via c.Error.
func Abort(c *gin.Context, err error) {
	var p *problem.Error
	if !errors.As(err, &p) || p.Code == problem.CodeInternal {
		c.Error(err)
	}
	b := problem.BodyOf(err, c.Request.URL.Path)
	c.Header("Cache-Control", "no-store")
	c.Abort()
	c.Render(b.Status, problemRender{b})
}

type problemRender struct{ b problem.Body }

func (r problemRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return json.NewEncoder(w).Encode(r.b)
}

func (problemRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", problem.MediaType)
}

// MaxBody is the largest JSON request body accepted (1 MiB).
const MaxBody = 1 << 20

// DecodeJSON reads the request body as exactly one JSON value into v, refusing
// a wrong content type, unknown fields, trailing data and oversize bodies with a
// problem whose detail says what is wrong.
func DecodeJSON(c *gin.Context, v any) error {
	ct := c.GetHeader("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem.New(problem.CodeUnsupportedMedia, "Content-Type must be application/json, got %q", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem.New(problem.CodeMalformedJSON, "request body must hold a single JSON value")
	}
	return nil
}

func malformed(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &big):
		return problem.New(problem.CodeMalformedJSON, "request body exceeds %d bytes", MaxBody)
	case errors.As(err, &syn):
		return problem.New(problem.CodeMalformedJSON, "invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		return problem.New(problem.CodeMalformedJSON, "field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return problem.New(problem.CodeMalformedJSON, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return problem.New(problem.CodeMalformedJSON, "request body ends in the middle of a JSON value")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json exposes no typed error for unknown fields.
		return problem.New(problem.CodeMalformedJSON, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return problem.New(problem.CodeMalformedJSON, "invalid JSON: %s", err.Error())
}
