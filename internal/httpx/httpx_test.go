package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestDecodeJSON(t *testing.T) {
	gin.SetMode(gin.TestMode)
	type body struct {
		Amount int64  `json:"amount"`
		Name   string `json:"name"`
	}
	cases := []struct {
		name, ct, body string
		wantStatus     int
		wantDetail     string
	}{
		{"ok/plain", "application/json", `{"amount":5,"name":"x"}`, 200, ""},
		{"fail/content-type", "text/plain", `{}`, 415, `Content-Type must be application/json, got "text/plain"`},
		{"fail/syntax", "application/json", `{"amount":}`, 400, "invalid JSON at byte 11: invalid character '}' looking for beginning of value"},
		{"fail/type", "application/json", `{"amount":"5"}`, 400, `field "amount": expected int64, got JSON string`},
		{"fail/unknown-field", "application/json", `{"amnt":5}`, 400, `unknown field "amnt"`},
		{"fail/trailing", "application/json", `{"amount":5} {}`, 400, "request body must hold a single JSON value"},
		{"fail/empty", "application/json", ``, 400, "request body is empty"},
		{"fail/truncated", "application/json", `{"amount":5`, 400, "request body ends in the middle of a JSON value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			r.Use(InteractionID())
			r.POST("/", func(c *gin.Context) {
				var b body
				if err := DecodeJSON(c, &b); err != nil {
					Abort(c, err)
					return
				}
				c.JSON(200, b)
			})
			req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ct)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d want %d: %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if rec.Header().Get(InteractionHeader) == "" {
				t.Fatal("no interaction id")
			}
			if tc.wantDetail != "" {
				var m map[string]any
				json.Unmarshal(rec.Body.Bytes(), &m)
				if m["detail"] != tc.wantDetail {
					t.Fatalf("detail %q want %q", m["detail"], tc.wantDetail)
				}
			}
		})
	}
}

func TestInteractionIDEcho(t *testing.T) {
	r := gin.New()
	r.Use(InteractionID())
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for name, tc := range map[string]struct{ in, want string }{
		"ok/echo":          {"93bac548-d2de-4546-b106-880a5018460d", "93bac548-d2de-4546-b106-880a5018460d"},
		"ok/replace-bogus": {"<script>", ""},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set(InteractionHeader, tc.in)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, req)
			got := rec.Header().Get(InteractionHeader)
			if tc.want != "" && got != tc.want || tc.want == "" && (got == tc.in || !uuidLike.MatchString(got)) {
				t.Fatalf("got %q", got)
			}
		})
	}
}
