package main

import (
	"context"

	"github.com/gin-gonic/gin"
)

// wireCertification builds this area's services (called from wire, after the core services).
func (p *Platform) wireCertification(ctx context.Context) error { return nil }

// mountCertification registers this area's routes.
func (p *Platform) mountCertification(r *gin.Engine) {}
