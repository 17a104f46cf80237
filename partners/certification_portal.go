package partners

import (
	"context"

	"gorm.io/gorm"
)

// RunCertification is the partner's side of certification: a member who may
// change sandbox apps (owner or developer) launches the checks for one of the
// organisation's sandbox apps from the portal. The run is kept exactly as a
// staff-recorded one (RunBy is the user id) and a passed run moves contracted
// → certified. Errors: CodeNotFound (not a member, unknown app),
// CodeForbidden (viewer), CodeInvalidState (not contracted or certified),
// CodeValidation (not a sandbox app), CodeInternal (no evidence provider).
func (s *Service) RunCertification(ctx context.Context, userID, partnerID, appID string) (*CertificationRun, error) {
	return s.recordCertification(ctx, userActor(userID), partnerID, appID, func(g *gorm.DB) (*Partner, error) {
		p, _, err := s.requireMember(g, userID, partnerID, ActAppsSandbox, false)
		return p, err
	})
}
