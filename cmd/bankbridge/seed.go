package main

import "context"

// SeedSandbox creates the synthetic bank customers and, in development mode
// only, the demo partner with its portal login and sandbox app; safe to run
// at every start.
func (p *Platform) SeedSandbox(ctx context.Context) error {
	return p.seed(ctx)
}
