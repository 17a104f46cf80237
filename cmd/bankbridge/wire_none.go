//go:build !wiring

package main

import (
	"context"

	"github.com/gin-gonic/gin"
)

// Services is empty until the domain packages are wired (build tag wiring).
type Services struct{}

func (p *Platform) wire(ctx context.Context) error { return nil }
func (p *Platform) mount(r *gin.Engine)            {}
func (p *Platform) seed(ctx context.Context) error { return nil }
