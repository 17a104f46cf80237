package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bankbridge/bankbridge/internal/groupcommit"
)

// TestBatcher: every job is written exactly once, in batches of at most
// Max, and each Submit returns its own batch's error.
func TestBatcher(t *testing.T) {
	errBad := errors.New("bad batch")
	var (
		mu      sync.Mutex
		written = map[int]int{}
		batches atomic.Int64
		biggest atomic.Int64
	)
	b := &groupcommit.Batcher[int]{Max: 8, Write: func(_ context.Context, jobs []int) error {
		batches.Add(1)
		if n := int64(len(jobs)); n > biggest.Load() {
			biggest.Store(n)
		}
		mu.Lock()
		defer mu.Unlock()
		bad := false
		for _, j := range jobs {
			written[j]++
			bad = bad || j%50 == 7
		}
		if bad {
			return errBad
		}
		return nil
	}}
	const n = 400
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Submit(context.Background(), i)
		}()
	}
	wg.Wait()
	for i := range n {
		if written[i] != 1 {
			t.Fatalf("job %d written %d times", i, written[i])
		}
		if i%50 == 7 && !errors.Is(errs[i], errBad) {
			t.Fatalf("fail/job %d of a failed batch: %v, want errBad", i, errs[i])
		}
	}
	if biggest.Load() > 8 {
		t.Fatalf("a batch of %d jobs, Max is 8", biggest.Load())
	}
	if batches.Load() >= n {
		t.Logf("no two jobs shared a batch (%d batches): allowed, but the point is lost", batches.Load())
	}
}

// TestLeaderCancelled: a leader whose request is cancelled still writes
// its batch (it holds other requests' jobs).
func TestLeaderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var sawErr error
	b := &groupcommit.Batcher[int]{Write: func(ctx context.Context, _ []int) error {
		sawErr = ctx.Err()
		return nil
	}}
	if err := b.Submit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if sawErr != nil {
		t.Fatalf("the batch was written with a cancelled context: %v", sawErr)
	}
}
