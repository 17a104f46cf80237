package main

import "context"

// SeedSandbox creates the demo partner, its sandbox app and the synthetic bank
// customers; safe to run at every start.
func (p *Platform) SeedSandbox(ctx context.Context) error {
	return p.seed(ctx)
}
