package apis

import "context"

// QueuedCalls is how many metered calls wait for h's next group commit.
func QueuedCalls(h *Handler) int {
	return h.meters.Queued()
}

// WriteCallAgain writes one call's rows as the retry after a failed batch
// does.
func WriteCallAgain(ctx context.Context, h *Handler, log RequestLogEntry, usage UsageRecord) error {
	return h.writeCallsTx(ctx, []*callJob{{log: log, usage: usage}}, true)
}
