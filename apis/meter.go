package apis

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// Metering writes, in this order, before a partner call is answered (see
// Handler.meter):
//
//   - the handlers below write into a heldWriter, so nothing reaches the
//     partner yet;
//   - the call's request-log row and usage record — and, for a GET whose
//     DPoP proof id the verifier left to the commit (Handler.authenticate),
//     that id — are queued to the group commit (Handler.meters), which writes the rows of
//     every call queued meanwhile at once (group commit: one commit for many
//     calls, on both engines): on PostgreSQL one statement and no
//     transaction (writeCallsStatement: the proof ids' INSERT … RETURNING
//     guards the other rows' INSERTs), on SQLite one transaction. The proof
//     ids go first: a call whose id was recorded before (a replay, on any
//     node or earlier in the batch) writes nothing and is answered the
//     refusal VerifyRequest gives a replay (a GET has no side effects, so
//     nothing else is undone);
//   - once the commit that holds its rows is done the held response goes out
//     exactly as the handlers wrote it; if the write failed, a 2xx is
//     replaced by errUnrecorded (503 problem+json) — a success must never be
//     answered without its usage record — while a refusal still goes out
//     (the failure is logged).
//
// Exactly once: a usage record's key is a fresh use_… id and unique in
// usage_records (INSERT … ON CONFLICT DO NOTHING). When a batch fails, each
// of its calls is written again in a transaction of its own (so one bad row
// fails only its own call); a call whose usage record turns out to exist
// already — the batch did commit, only its answer was lost — writes nothing
// more, so neither its usage record nor its request-log row is doubled (nor
// is its proof id claimed again: it was committed with them).

// errUnrecorded answers a successful call whose usage record could not be
// committed (the partner retries; a POST under an idempotency key replays).
func errUnrecorded() error {
	return problem.New(problem.CodeBusy, "the call could not be recorded; retry it")
}

// unrecordedRetryAfter is the Retry-After, in seconds, of errUnrecorded.
const unrecordedRetryAfter = "1"

// heldWriter holds a response — status, headers as they were when the body
// started, body — until release. Streaming is out of scope: partner API
// responses are small JSON documents.
type heldWriter struct {
	gin.ResponseWriter
	status int
	size   int // -1: nothing written yet (gin's convention)
	buf    bytes.Buffer
	// sent is the header as it was when the response was started: what
	// net/http would have sent (later changes are ignored there too).
	sent http.Header
}

// heldWriters reuses heldWriters and their buffers across calls.
var heldWriters = sync.Pool{New: func() any { return new(heldWriter) }}

// maxPooledBody is the largest buffer a pooled heldWriter keeps.
const maxPooledBody = 256 << 10

func newHeldWriter(w gin.ResponseWriter) *heldWriter {
	hw := heldWriters.Get().(*heldWriter)
	hw.ResponseWriter, hw.status, hw.size, hw.sent = w, http.StatusOK, -1, nil
	return hw
}

// free returns w to the pool once its response was released or dropped;
// nothing may use w afterwards.
func (w *heldWriter) free() {
	if w.buf.Cap() > maxPooledBody {
		w.buf = bytes.Buffer{}
	}
	w.buf.Reset()
	w.ResponseWriter, w.sent = nil, nil
	heldWriters.Put(w)
}

// WriteHeader sets the status until the response is started (as gin does).
func (w *heldWriter) WriteHeader(code int) {
	if code > 0 && !w.Written() {
		w.status = code
	}
}

// WriteHeaderNow starts the response (the status and headers are fixed).
func (w *heldWriter) WriteHeaderNow() {
	if !w.Written() {
		w.size = 0
		w.sent = w.ResponseWriter.Header().Clone()
	}
}

// Write holds b.
func (w *heldWriter) Write(b []byte) (int, error) {
	w.WriteHeaderNow()
	n, err := w.buf.Write(b)
	w.size += n
	return n, err
}

// WriteString holds s.
func (w *heldWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	n, err := w.buf.WriteString(s)
	w.size += n
	return n, err
}

// Status is the status the handlers set (200 when none).
func (w *heldWriter) Status() int { return w.status }

// Size is the number of body bytes held (-1 before the response started).
func (w *heldWriter) Size() int { return w.size }

// Written reports whether the response was started.
func (w *heldWriter) Written() bool { return w.size != -1 }

// Flush starts the response but sends nothing: it is held.
func (w *heldWriter) Flush() { w.WriteHeaderNow() }

// errHeldHijack refuses to hijack a held response's connection.
var errHeldHijack = errors.New("apis: a metered response cannot hijack its connection")

// Hijack is refused: the response must wait for its usage record.
func (w *heldWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, errHeldHijack }

// release sends the held response on the writer it wraps, with the status
// and headers the handlers set. A response never started only gets its
// status (gin writes it once the chain returns, as without holding).
func (w *heldWriter) release() {
	out := w.ResponseWriter
	out.WriteHeader(w.status)
	if !w.Written() {
		return
	}
	h := out.Header()
	clear(h)
	maps.Copy(h, w.sent)
	if w.buf.Len() == 0 {
		out.WriteHeaderNow()
		return
	}
	_, _ = out.Write(w.buf.Bytes())
}

// callJob is one metered call's rows in a group commit.
type callJob struct {
	log   RequestLogEntry
	usage UsageRecord
	// claim is the call's DPoP proof id left to the commit (a GET; see
	// Handler.authenticate); refused is set by the commit when it
	// was recorded before: the call is then a replay, and nothing of it is
	// written.
	claim   *oauth.ProofClaim
	refused *oauth.ResourceError
	err     error // set by writeCalls when the call failed alone
}

// meterMaxBatch bounds the calls one group commit writes
// (internal/groupcommit: each call is answered only after the commit that
// holds its rows).
const meterMaxBatch = 64

// writeCalls writes jobs' rows in one statement (PostgreSQL,
// writeCallsStatement) or one transaction; if that fails, each job again in
// a transaction of its own, at once (see the file comment).
func (h *Handler) writeCalls(ctx context.Context, jobs []*callJob) error {
	done, err := h.writeCallsStatement(ctx, jobs)
	if !done {
		err = h.writeCallsTx(ctx, jobs, false)
	}
	if err == nil || len(jobs) == 1 {
		return err
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.err = h.writeCallsTx(ctx, []*callJob{j}, true)
		}()
	}
	wg.Wait()
	return nil
}

// callWriter is a Store that writes a batch of metered calls as one
// statement (GormStore on PostgreSQL).
type callWriter interface {
	// OneStatementCalls reports whether WriteCalls can run.
	OneStatementCalls() bool
	// WriteCalls records claims and, for each call i whose guards[i] is nil
	// or a key claimed now, its usage record (row i of usage, when not nil)
	// and request-log row es[i], all or nothing; it returns the keys
	// claimed now.
	WriteCalls(ctx context.Context, claims db.Rows, guards []any, usage *db.Rows, es []*RequestLogEntry) ([]string, error)
}

// writeCallsStatement writes jobs' rows as one statement and no
// transaction, when the store, the verifier and the usage recorder can
// hand theirs as rows (PostgreSQL); done is false when they cannot, and
// nothing was written. It is writeCallsTx's batch in one round trip instead
// of five: the proof ids' INSERT … RETURNING decides which jobs' usage
// records and request-log rows are written, so a replayed proof (recorded
// before by any node, or by an earlier job of the batch) writes nothing and
// gets the refusal ClaimProofs gives it. The statement is atomic and is
// done before the calls are answered, as the transaction's commit was.
func (h *Handler) writeCallsStatement(ctx context.Context, jobs []*callJob) (done bool, err error) {
	cw := h.svc.calls
	if cw == nil || !cw.OneStatementCalls() {
		return false, nil
	}
	var ur UsageRowser
	ok := false
	if h.usage != nil {
		if ur, ok = h.usage.(UsageRowser); !ok {
			return false, nil
		}
	}
	sc, _ := h.deferring.(oauth.StatementClaimer)
	var (
		claims []*oauth.ProofClaim
		keep   = make([]*callJob, 0, len(jobs))
		guards = make([]any, 0, len(jobs))
		// first[i]: jobs[i]'s claim is the batch's first of its key (a
		// later one is a replay of it, and is not written at all).
		first = make([]bool, len(jobs))
		seen  map[string]bool
	)
	for i, j := range jobs {
		if j.claim == nil {
			keep = append(keep, j)
			guards = append(guards, nil)
			continue
		}
		if sc == nil {
			return false, nil
		}
		k := j.claim.Key()
		if seen[k] {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool)
		}
		seen[k], first[i] = true, true
		claims = append(claims, j.claim)
		keep = append(keep, j)
		guards = append(guards, k)
	}
	var crows db.Rows
	if len(claims) > 0 {
		if crows, ok = sc.ClaimRows(claims); !ok {
			return false, nil
		}
	}
	es := make([]*RequestLogEntry, len(keep))
	for i, j := range keep {
		es[i] = &j.log
	}
	var usage *db.Rows
	if ur != nil {
		recs := make([]UsageRecord, len(keep))
		for i, j := range keep {
			recs[i] = j.usage
		}
		rows, err := ur.UsageRows(recs)
		if err != nil {
			return true, err
		}
		usage = &rows
	}
	claimed, err := cw.WriteCalls(ctx, crows, guards, usage, es)
	if err != nil {
		return true, err
	}
	won := make(map[string]bool, len(claimed))
	for _, k := range claimed {
		won[k] = true
	}
	for i, j := range jobs {
		j.refused = nil
		if j.claim != nil && (!first[i] || !won[j.claim.Key()]) {
			j.refused = sc.ClaimRefused()
		}
	}
	return true, nil
}

// errReplayedAlone rolls back the transaction of a job written alone whose
// proof turned out replayed (its usage record must not stay).
var errReplayedAlone = errors.New("apis: replayed proof")

// writeCallsTx writes, in one transaction, the jobs' DPoP proof ids (those
// left to the commit, see Handler.authenticate), then the usage records
// (when a UsageRecorder is configured) and request-log rows of the jobs
// whose proof was not replayed. retry: a single job written again after its
// batch failed; its usage record goes first, and when it exists already
// that batch committed (its proof id too) and nothing more is written.
func (h *Handler) writeCallsTx(ctx context.Context, jobs []*callJob, retry bool) error {
	err := h.svc.store.Tx(ctx, func(ctx context.Context) error {
		for _, j := range jobs {
			j.refused = nil
		}
		if retry && h.usage != nil {
			added, err := h.usage.RecordUsage(ctx, []UsageRecord{jobs[0].usage})
			if err != nil {
				return err
			}
			if added == 0 {
				return nil
			}
			if err := h.claimProofs(ctx, jobs); err != nil {
				return err
			}
			if jobs[0].refused != nil {
				return errReplayedAlone
			}
			return h.svc.store.LogRequests(ctx, []*RequestLogEntry{&jobs[0].log})
		}
		if err := h.claimProofs(ctx, jobs); err != nil {
			return err
		}
		recs := make([]UsageRecord, 0, len(jobs))
		es := make([]*RequestLogEntry, 0, len(jobs))
		for _, j := range jobs {
			if j.refused == nil {
				recs = append(recs, j.usage)
				es = append(es, &j.log)
			}
		}
		if len(es) == 0 {
			return nil
		}
		if h.usage != nil {
			if _, err := h.usage.RecordUsage(ctx, recs); err != nil {
				return err
			}
		}
		return h.svc.store.LogRequests(ctx, es)
	})
	if errors.Is(err, errReplayedAlone) {
		return nil
	}
	return err
}

// claimProofs records the jobs' deferred proof ids in the transaction in
// ctx, setting refused on the jobs whose id was recorded before.
func (h *Handler) claimProofs(ctx context.Context, jobs []*callJob) error {
	var claims []*oauth.ProofClaim
	var of []*callJob
	for _, j := range jobs {
		if j.claim != nil {
			claims = append(claims, j.claim)
			of = append(of, j)
		}
	}
	if len(claims) == 0 {
		return nil
	}
	refused, err := h.deferring.ClaimProofs(ctx, claims)
	if err != nil {
		return err
	}
	for i, re := range refused {
		of[i].refused = re
	}
	return nil
}

// answerReplayed replaces a held response whose proof turned out replayed
// by the refusal VerifyRequest answers a replay with: the handlers' headers
// are dropped (the interaction id stays), the body is not sent.
func answerReplayed(c *gin.Context, re *oauth.ResourceError) {
	hd := c.Writer.Header()
	id := hd.Get(httpx.InteractionHeader)
	clear(hd)
	if id != "" {
		hd.Set(httpx.InteractionHeader, id)
	}
	renderResourceError(c, re)
}

// answerUnrecorded replaces a held success whose rows were not committed by
// errUnrecorded: the handlers' headers are dropped (the interaction id
// stays), the body is not sent.
func answerUnrecorded(c *gin.Context) {
	hd := c.Writer.Header()
	id := hd.Get(httpx.InteractionHeader)
	clear(hd)
	if id != "" {
		hd.Set(httpx.InteractionHeader, id)
	}
	hd.Set("Retry-After", unrecordedRetryAfter)
	abort(c, errUnrecorded())
}
