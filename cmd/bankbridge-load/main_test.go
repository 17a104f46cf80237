package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestDriveCountsAndErrors(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%10 == 0 {
			http.Error(w, "nope", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	rep := drive(context.Background(), 4, time.Minute, 100, func(ctx context.Context, c *http.Client) (int, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		return do(c, req)
	}, func(status int, _ []byte) bool { return status == 200 })
	if rep.Requests != 100 || rep.Errors != 10 || rep.FirstError != "429 nope\n" {
		t.Fatalf("report %+v: want 100 requests, 10 errors", rep)
	}
	if rep.P50 <= 0 || rep.P99 < rep.P50 {
		t.Fatalf("percentiles %+v", rep)
	}
}
