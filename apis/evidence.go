package apis

import "context"

// LatestSuccess returns the newest request log entry of one of clientIDs for
// method on a path starting with pathPrefix whose status is 2xx, or nil (and
// no error) when there is none. Used as certification evidence.
func (s *Service) LatestSuccess(ctx context.Context, clientIDs []string, method, pathPrefix string) (*RequestLogEntry, error) {
	return s.store.LatestSuccess(ctx, clientIDs, method, pathPrefix)
}
