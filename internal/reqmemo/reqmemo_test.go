package reqmemo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/bankbridge/bankbridge/internal/reqmemo"
)

func TestLoad(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		memo      bool
		loads     []error // each Load's loader result
		wantCalls int
	}{
		{"ok/memoised once", true, []error{nil, nil, nil}, 1},
		{"ok/no memo loads every time", false, []error{nil, nil, nil}, 3},
		{"fail/an error is not memoised", true, []error{errBoom, nil, nil}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.memo {
				ctx = reqmemo.With(ctx)
			}
			calls := 0
			for i, lerr := range tt.loads {
				got, err := reqmemo.Load(ctx, "customer:1", func() (int, error) {
					calls++
					if lerr != nil {
						return 0, lerr
					}
					return 42, nil
				})
				if lerr != nil && calls == i+1 {
					if !errors.Is(err, lerr) {
						t.Fatalf("load %d: err %v, want %v", i, err, lerr)
					}
					continue
				}
				if err != nil || got != 42 {
					t.Fatalf("load %d: %d, %v", i, got, err)
				}
			}
			if calls != tt.wantCalls {
				t.Fatalf("loader called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

func TestForgetAndPut(t *testing.T) {
	ctx := reqmemo.With(context.Background())
	if reqmemo.With(ctx) != ctx {
		t.Fatal("With on a context with a memo made a new memo")
	}
	n := 0
	load := func() (int, error) { n++; return n, nil }
	if v, _ := reqmemo.Load(ctx, "k", load); v != 1 {
		t.Fatalf("first load %d", v)
	}
	reqmemo.Forget(ctx, "k")
	if v, _ := reqmemo.Load(ctx, "k", load); v != 2 {
		t.Fatalf("after Forget: %d, want a fresh load (2)", v)
	}
	reqmemo.Put(ctx, "k", 7)
	if v, _ := reqmemo.Load(ctx, "k", load); v != 7 {
		t.Fatalf("after Put: %d, want 7", v)
	}
	// A value of another type under the key is not returned as this type.
	if v, _ := reqmemo.Load(ctx, "k", func() (string, error) { return "s", nil }); v != "s" {
		t.Fatalf("typed load: %q", v)
	}
	// Other requests never see this memo.
	other := reqmemo.With(context.Background())
	if v, _ := reqmemo.Load(other, "k", func() (int, error) { return 9, nil }); v != 9 {
		t.Fatalf("another request's memo served %d", v)
	}
}
