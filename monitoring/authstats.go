package monitoring

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// The authorization server's requests (PAR, authorize, token) are the
// token_auth family of the published statistics. Logging each one as a row
// (as request_log does for partner API calls) would add a write to the
// token endpoint, the platform's hottest path; instead each node counts
// them in memory (AuthRecorder) and appends one row per minute,
// environment, client and endpoint every flush (auth_request_stats). The
// counts are exact; latencies are kept as their sum (an exact mean) and a
// histogram over AuthLatencyBoundsUS, so the family's p95 is the upper
// bound of the bucket it falls in (never below the true value, at most one
// bucket above). What a node counted since its last flush is lost if the
// node is killed (SIGKILL); a graceful stop flushes.

// AuthStatsFlushInterval is how often a node appends what it counted.
const AuthStatsFlushInterval = 10 * time.Second

// AuthLatencyBoundsUS are the inclusive upper bounds, in microseconds, of
// the latency buckets of auth_request_stats; one more bucket counts the
// latencies above the last bound (taken as that bound in percentiles).
var AuthLatencyBoundsUS = []int64{
	500, 1_000, 2_000, 3_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 50_000, 75_000,
	100_000, 150_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
}

// authBucket is the index of the bucket latencyUS falls in.
func authBucket(latencyUS int64) int {
	for i, b := range AuthLatencyBoundsUS {
		if latencyUS <= b {
			return i
		}
	}
	return len(AuthLatencyBoundsUS)
}

// The authorization server endpoints counted (AuthRequest.Endpoint).
const (
	AuthEndpointPAR       = "par"
	AuthEndpointAuthorize = "authorize"
	AuthEndpointToken     = "token"
)

// AuthRequest is one answered request to the authorization server.
type AuthRequest struct {
	At time.Time
	// Environment is the environment of the client the request named;
	// "" when it named no registered client (such a request counts in
	// every environment's statistics: the platform answered it for
	// everyone).
	Environment         environment.Environment
	PartnerID, ClientID string
	// Endpoint is one of the AuthEndpoint… values.
	Endpoint string
	Status   int
	Latency  time.Duration
}

// AuthStat is the requests of one minute, environment, client and endpoint
// that one node counted between two flushes (one auth_request_stats row).
type AuthStat struct {
	Minute              time.Time
	Environment         environment.Environment
	PartnerID, ClientID string
	Endpoint            string
	// Requests counts the requests; ServerErrors those answered 5xx.
	Requests, ServerErrors int64
	// LatencySumUS is the sum of their latencies in microseconds.
	LatencySumUS int64
	// Buckets counts them per latency bucket: len(AuthLatencyBoundsUS)+1.
	Buckets []int64
}

type authKey struct {
	minute                        time.Time
	env                           environment.Environment
	partnerID, clientID, endpoint string
}

// AuthStatWriter appends counted minutes (Store.AddAuthStats).
type AuthStatWriter interface {
	// AddAuthStats appends stats in one statement. Errors: the database's.
	AddAuthStats(ctx context.Context, stats []AuthStat) error
}

// AuthRecorder counts a node's authorization server requests and flushes
// them to an AuthStatWriter. It is safe for concurrent use; Observe takes
// a mutex and touches a map, nothing else.
type AuthRecorder struct {
	w   AuthStatWriter
	log *slog.Logger

	mu      sync.Mutex
	pending map[authKey]*AuthStat
}

// NewAuthRecorder returns a recorder flushing to w; log reports failed
// flushes (nil: slog.Default()).
func NewAuthRecorder(w AuthStatWriter, log *slog.Logger) *AuthRecorder {
	if log == nil {
		log = slog.Default()
	}
	return &AuthRecorder{w: w, log: log, pending: map[authKey]*AuthStat{}}
}

// Observe counts q.
func (r *AuthRecorder) Observe(q AuthRequest) {
	k := authKey{minute: q.At.UTC().Truncate(time.Minute), env: q.Environment, partnerID: q.PartnerID,
		clientID: q.ClientID, endpoint: q.Endpoint}
	us := q.Latency.Microseconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.pending[k]
	if st == nil {
		st = &AuthStat{Minute: k.minute, Environment: k.env, PartnerID: k.partnerID, ClientID: k.clientID,
			Endpoint: k.endpoint, Buckets: make([]int64, len(AuthLatencyBoundsUS)+1)}
		r.pending[k] = st
	}
	st.Requests++
	if q.Status >= 500 {
		st.ServerErrors++
	}
	st.LatencySumUS += us
	st.Buckets[authBucket(us)]++
}

// Flush appends what was counted since the last flush. When the write
// fails the counts are kept for the next flush (merged with what came
// since), so nothing is lost but to a kill.
func (r *AuthRecorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = map[authKey]*AuthStat{}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	stats := make([]AuthStat, 0, len(batch))
	for _, st := range batch {
		stats = append(stats, *st)
	}
	err := r.w.AddAuthStats(ctx, stats)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, st := range batch {
		cur := r.pending[k]
		if cur == nil {
			r.pending[k] = st
			continue
		}
		cur.Requests += st.Requests
		cur.ServerErrors += st.ServerErrors
		cur.LatencySumUS += st.LatencySumUS
		for i := range cur.Buckets {
			cur.Buckets[i] += st.Buckets[i]
		}
	}
	return err
}

// Run flushes every interval until ctx is done, then once more (with a
// few seconds of its own) so a graceful stop loses nothing.
func (r *AuthRecorder) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := r.Flush(ctx); err != nil {
				r.log.Warn("monitoring: flush authorization server request counts", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := r.Flush(fctx); err != nil {
				r.log.Warn("monitoring: final flush of authorization server request counts", "err", err)
			}
			cancel()
			return
		}
	}
}

// percentileMixed is the nearest-rank p-th percentile of the exact
// latencies sorted together with hist (counts per bucket of
// AuthLatencyBoundsUS, each taken as its bucket's upper bound; the bucket
// past the last bound as that bound); 0 when both are empty.
func percentileMixed(sorted, hist []int64, p int) int64 {
	n := int64(len(sorted))
	for _, c := range hist {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := max(1, min((int64(p)*n+99)/100, n))
	var seen int64
	i := 0
	for j, c := range hist {
		bound := AuthLatencyBoundsUS[min(j, len(AuthLatencyBoundsUS)-1)]
		for ; i < len(sorted) && sorted[i] <= bound; i++ {
			if seen++; seen == rank {
				return sorted[i]
			}
		}
		if seen += c; seen >= rank {
			return bound
		}
	}
	for ; i < len(sorted); i++ {
		if seen++; seen == rank {
			return sorted[i]
		}
	}
	return sorted[len(sorted)-1]
}
