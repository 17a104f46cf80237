package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// runServe runs the platform until ctx is cancelled (SIGINT/SIGTERM), then shuts
// down gracefully: stop accepting, finish in-flight requests (up to 15 s), stop
// background workers, close the store.
func (m *Main) runServe(ctx context.Context, args []string) error {
	c, err := m.parseCommon("serve", args, nil)
	if err != nil {
		return err
	}
	c.DatabaseDriver, c.TracerProvider = m.DatabaseDriver, m.TracerProvider
	var logOut io.Writer = os.Stderr
	if m.LogOutput != nil {
		logOut = m.LogOutput
	}
	log := newLogger(c, logOut)
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	defer ln.Close()
	issuer := c.Issuer
	if issuer == "" {
		issuer = "http://" + ln.Addr().String()
	}
	c.Serving = true
	p, err := OpenPlatform(ctx, c, issuer, log)
	if err != nil {
		return err
	}
	m.Platform = p
	p.warnHalfWorkingSetups()
	if c.Seed {
		if err := p.SeedSandbox(ctx); err != nil {
			return fmt.Errorf("seed sandbox: %w", err)
		}
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}

	bgCtx, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range p.bg {
		wg.Add(1)
		go func(run func(context.Context)) { defer wg.Done(); run(bgCtx) }(run)
	}
	if c.DebugAddr != "" {
		stopDebug, err := serveDebug(c.DebugAddr, log)
		if err != nil {
			stopBG()
			return err
		}
		defer stopDebug()
	}
	if c.MetricsAddr != "" {
		stopMetrics, err := p.serveMetrics(c.MetricsAddr, log)
		if err != nil {
			stopBG()
			return err
		}
		defer stopMetrics()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	log.Info("bankbridge listening", "addr", ln.Addr().String(), "issuer", issuer, "database", p.DB.Dialect)
	fmt.Fprintf(m.Stdout, `Bankbridge is running at %[1]s
  discovery:  %[1]s/.well-known/openid-configuration
  portal:     %[1]s/portal
  console:    %[1]s/console
  API docs:   %[1]s/docs   (OpenAPI: %[1]s/openapi.json)
`, issuer)
	if m.Ready != nil {
		m.Ready(issuer, "http://"+ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		stopBG()
		wg.Wait()
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shCtx)
	stopBG()
	wg.Wait()
	log.Info("stopped")
	return err
}

// runMigrate applies migrations and reports what it did.
func (m *Main) runMigrate(ctx context.Context, args []string) error {
	c, err := m.parseCommon("migrate", args, nil)
	if err != nil {
		return err
	}
	d, err := openDB(ctx, c)
	if err != nil {
		return err
	}
	defer d.Close()
	applied, err := d.Migrate(ctx)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(m.Stdout, "database is up to date")
		return nil
	}
	fmt.Fprintf(m.Stdout, "applied migrations %v\n", applied)
	return nil
}
