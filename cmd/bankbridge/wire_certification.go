package main

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/partners/certification"
)

// wireCertification builds this area's services (called from wire, after the
// core services): the certification checks over the authorization server's
// token rows, the partner API request log and the webhook delivery attempts.
func (p *Platform) wireCertification(ctx context.Context) error {
	s := &p.Services
	s.Partners.SetCertificationEvidence(certification.New(s.OAuth.Store(), s.APIs, s.Webhooks))
	return nil
}

// mountCertification registers this area's routes. The partner launches a run
// from the portal (/portal/orgs/:pid/certification) and staff from the console
// partner page; both are mounted with those areas.
func (p *Platform) mountCertification(r *gin.Engine) {}
