package httpx

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRecover(t *testing.T) {
	gin.SetMode(gin.TestMode)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	answered := 0
	r := gin.New()
	r.Use(Recover(log, func(c *gin.Context, err error) {
		answered++
		OAuthServerError(c)
	}))
	r.GET("/boom", func(*gin.Context) { panic("boom") })
	r.GET("/half", func(c *gin.Context) { c.String(http.StatusOK, "started"); panic("late") })
	r.GET("/abort", func(*gin.Context) { panic(http.ErrAbortHandler) })
	cases := []struct {
		name, path   string
		status       int
		body         string
		wantAnswered int
	}{
		{"ok/answered", "/boom", 500, `{"error":"server_error"}`, 1},
		{"ok/response-already-started", "/half", 200, "started", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.status || rec.Body.String() != tc.body || answered != tc.wantAnswered {
				t.Fatalf("got %d %q (answered %d), want %d %q (%d)", rec.Code, rec.Body.String(), answered, tc.status, tc.body, tc.wantAnswered)
			}
		})
	}
	t.Run("ok/abort-handler-re-raised", func(t *testing.T) {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/abort", nil))
		t.Fatal("no panic")
	})
}
