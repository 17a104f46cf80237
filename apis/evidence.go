package apis

import (
	"context"
	"strings"
)

// LatestSuccess returns the newest request log entry of one of clientIDs for
// method on a path starting with pathPrefix whose status is 2xx, or nil (and
// no error) when there is none. Used as certification evidence.
func (s *Service) LatestSuccess(ctx context.Context, clientIDs []string, method, pathPrefix string) (*RequestLogEntry, error) {
	if len(clientIDs) == 0 {
		return nil, nil
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(pathPrefix)
	var r requestLogRow
	res := s.db.DB.WithContext(ctx).Model(&requestLogRow{}).
		Where("client_id IN ? AND method = ? AND status >= 200 AND status < 300", clientIDs, method).
		Where(`path LIKE ? ESCAPE '\'`, esc+"%").
		Order("at DESC, id DESC").Limit(1).Find(&r)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	return &RequestLogEntry{ID: r.ID, At: r.At.UTC(), ClientID: r.ClientID, PartnerID: r.PartnerID,
		Environment: r.Environment, Method: r.Method, Path: r.Path, Status: r.Status, LatencyUS: r.LatencyUS,
		InteractionID: r.InteractionID, ProblemType: r.ProblemType}, nil
}
