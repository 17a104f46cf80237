package apis

import (
	"context"

	"github.com/bankbridge/bankbridge/oauth"
)

// QueuedCalls is how many metered calls wait for h's next group commit.
func QueuedCalls(h *Handler) int {
	return h.meters.Queued()
}

// WriteCallAgain writes one call's rows as the retry after a failed batch
// does.
func WriteCallAgain(ctx context.Context, h *Handler, log RequestLogEntry, usage UsageRecord) error {
	return h.writeCallsTx(ctx, []*callJob{{log: log, usage: usage}}, true)
}

// TestCall is one metered call for WriteCalls: its rows and the DPoP proof
// claim its verification left to the commit (nil: none).
type TestCall struct {
	Log   RequestLogEntry
	Usage UsageRecord
	Claim *oauth.ProofClaim
}

// WriteCalls writes calls as one group commit of h does and returns each
// call's refusal (nil: the call was written).
func WriteCalls(ctx context.Context, h *Handler, calls []TestCall) ([]*oauth.ResourceError, error) {
	jobs := make([]*callJob, len(calls))
	for i, c := range calls {
		jobs[i] = &callJob{log: c.Log, usage: c.Usage, claim: c.Claim}
	}
	if err := h.writeCalls(ctx, jobs); err != nil {
		return nil, err
	}
	out := make([]*oauth.ResourceError, len(jobs))
	for i, j := range jobs {
		if j.err != nil {
			return nil, j.err
		}
		out[i] = j.refused
	}
	return out, nil
}
