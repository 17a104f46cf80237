package main

import (
	"context"

	"github.com/gin-gonic/gin"
)

// wireBilling builds this area's services (called from wire, after the core services).
func (p *Platform) wireBilling(ctx context.Context) error { return nil }

// mountBilling registers this area's routes.
func (p *Platform) mountBilling(r *gin.Engine) {}
