package apis

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestHeldWriterRelease: a held response goes out with the status, headers
// and body the handler set, as if it had not been held; headers set after
// the body started are ignored, as net/http ignores them.
func TestHeldWriterRelease(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler gin.HandlerFunc
		status  int
		body    string
		header  map[string]string // "" : absent
	}{
		{"ok/json", func(c *gin.Context) {
			c.Header("X-Before", "1")
			c.JSON(http.StatusCreated, gin.H{"a": 1})
			c.Header("X-Late", "1")
		}, 201, `{"a":1}`, map[string]string{"X-Before": "1", "X-Late": "", "Content-Type": "application/json; charset=utf-8"}},
		{"ok/status-only", func(c *gin.Context) { c.Status(http.StatusNoContent) }, 204, "", map[string]string{"Content-Type": ""}},
		{"ok/abort-with-status", func(c *gin.Context) {
			c.Header("WWW-Authenticate", "DPoP")
			c.AbortWithStatus(http.StatusUnauthorized)
		}, 401, "", map[string]string{"WWW-Authenticate": "DPoP"}},
		{"ok/nothing-written", func(*gin.Context) {}, 200, "", nil},
		{"ok/second-status-ignored", func(c *gin.Context) {
			c.String(http.StatusAccepted, "x")
			c.Status(http.StatusTeapot)
		}, 202, "x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			r.GET("/x", func(c *gin.Context) {
				w := newHeldWriter(c.Writer)
				c.Writer = w
				c.Next()
				c.Writer = w.ResponseWriter
				w.release()
			}, tc.handler)
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body, tc.status, tc.body)
			}
			for k, v := range tc.header {
				if got := rec.Header().Get(k); got != v {
					t.Fatalf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
