package main

import (
	"context"

	"github.com/gin-gonic/gin"
)

// wireWebhooks builds this area's services (called from wire, after the core services).
func (p *Platform) wireWebhooks(ctx context.Context) error { return nil }

// mountWebhooks registers this area's routes.
func (p *Platform) mountWebhooks(r *gin.Engine) {}
