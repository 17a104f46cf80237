package apis_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/httpx"
)

// panicPolicy is a DatasetPolicy that panics (a bug in a dependency).
type panicPolicy struct{}

func (panicPolicy) AllowedDatasets(context.Context, string) ([]string, error) {
	panic("policy exploded")
}

// TestPanicReleasesIdempotencyKey: a handler that panics under an
// idempotency key answers problem+json 500 (the platform's recovery) and
// frees the key, so the partner's retry runs instead of waiting 24 h.
func TestPanicReleasesIdempotencyKey(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p := e.partner("ptn_panic", environment.Sandbox)
		svc := apis.NewService(apis.Config{DB: d, Core: e.core, Datasets: panicPolicy{}})
		r := gin.New()
		r.Use(httpx.Recover(slog.New(slog.NewTextHandler(io.Discard, nil)), httpx.Abort))
		apis.NewHandler(apis.HandlerConfig{Service: svc, Verifier: e.verifier, BaseURL: baseURL}).Register(r)
		e.srv = httptest.NewServer(r)
		t.Cleanup(e.srv.Close)

		const key = "panic-key-1"
		body := map[string]any{"Data": map[string]any{"Datasets": []string{apis.DatasetTransactionInsights}}, "Risk": map[string]any{}}
		res := e.do("POST", dataPath+"/data-sharing-consents", p.token, body, withHeader(apis.IdempotencyHeader, key))
		wantProblem(t, res, 500, "internal_error", "An unexpected error occurred; it has been logged.")
		if _, err := apis.NewGormStore(d).Key(ctx, p.id, environment.Sandbox, key); !errors.Is(err, apis.ErrNotFound) {
			t.Fatalf("key after the panic: err = %v, want ErrNotFound (released)", err)
		}
		// The server keeps serving.
		wantStatus(t, e.do("GET", dataPath+"/data-sharing-consents/dsc_unknown", p.token, nil), 404)
	})
}
