package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// Server is a running bankbridge serve, started in-process on :0.
type Server struct {
	// URL is where the server listens (http://127.0.0.1:port); Issuer is its
	// public base URL (the same unless --issuer was given).
	URL         string
	Issuer      string
	DataDir     string
	DatabaseURL string
	Main        *Main
	Stdout      *syncBuffer
	cancel      context.CancelFunc
	done        chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// MustStart runs `bankbridge serve --addr 127.0.0.1:0` with a fresh data dir
// (and PostgreSQL when databaseURL is set) and waits until it listens.
func MustStart(tb testing.TB, databaseURL string, extra ...string) *Server {
	tb.Helper()
	return MustStartWith(tb, nil, databaseURL, extra...)
}

// MustStartWith is MustStart with setup applied to the Main before it runs
// (nil: none), e.g. to set Main.DatabaseDriver.
func MustStartWith(tb testing.TB, setup func(*Main), databaseURL string, extra ...string) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	m := NewMain(out, out)
	if setup != nil {
		setup(m)
	}
	ready := make(chan [2]string, 1)
	m.Ready = func(issuer, listen string) { ready <- [2]string{issuer, listen} }
	dataDir := tb.TempDir()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}, extra...)
	if databaseURL != "" {
		args = append(args, "--database-url", databaseURL)
	}
	s := &Server{Main: m, Stdout: out, cancel: cancel, done: make(chan error, 1), DataDir: dataDir, DatabaseURL: databaseURL}
	go func() { s.done <- m.Run(ctx, args) }()
	select {
	case u := <-ready:
		s.Issuer, s.URL = u[0], u[1]
	case err := <-s.done:
		tb.Fatalf("serve exited: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		tb.Fatalf("serve did not start\n%s", out)
	}
	tb.Cleanup(func() { s.Stop(tb) })
	return s
}

// Stop shuts the server down gracefully (as SIGTERM does) and waits.
func (s *Server) Stop(tb testing.TB) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		tb.Errorf("serve returned %v", err)
	}
	s.Main.Close()
}

// engineURLs returns "" (SQLite) and, when configured, a fresh PostgreSQL schema URL.
func engineURLs(t *testing.T) map[string]func(t *testing.T) string {
	out := map[string]func(t *testing.T) string{"sqlite": func(*testing.T) string { return "" }}
	if os.Getenv(dbtest.PostgresEnv) != "" {
		out["postgres"] = func(t *testing.T) string { return dbtest.PostgresURL(t) }
	}
	return out
}

func TestServeHealthAndShutdown(t *testing.T) {
	for name, url := range engineURLs(t) {
		t.Run(name, func(t *testing.T) {
			s := MustStart(t, url(t))
			for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]string
				json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode != 200 || body["status"] != want {
					t.Fatalf("%s: %d %v", path, resp.StatusCode, body)
				}
				if resp.Header.Get("x-fapi-interaction-id") == "" {
					t.Fatalf("%s: no interaction id", path)
				}
			}
			if !strings.Contains(s.Stdout.String(), s.URL+"/.well-known/openid-configuration") {
				t.Fatalf("start banner missing discovery URL:\n%s", s.Stdout)
			}
			s.Stop(t)
			if _, err := http.Get(s.URL + "/healthz"); err == nil {
				t.Fatal("server still answering after shutdown")
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr error
		wantOut string
	}{
		{"ok/help", []string{"--help"}, nil, "bankbridge migrate"},
		{"fail/unknown-command", []string{"frobnicate"}, errUsage, `unknown command "frobnicate"`},
		{"fail/bad-log-level", []string{"migrate", "--log-level", "loud"}, errUsage, "--log-level must be debug, info, warn or error"},
		{"fail/bad-issuer", []string{"migrate", "--issuer", "ftp://x"}, errUsage, "--issuer must be an http(s) URL"},
		{"fail/public-debug-addr", []string{"migrate", "--debug-addr", "0.0.0.0:6060"}, errUsage, `--debug-addr must be a loopback host:port such as 127.0.0.1:6060, got "0.0.0.0:6060"`},
		{"fail/debug-addr-without-port", []string{"migrate", "--debug-addr", "127.0.0.1"}, errUsage, `--debug-addr must be a loopback host:port`},
		{"fail/bad-mode", []string{"migrate", "--mode", "staging"}, errUsage, `bankbridge migrate: --mode must be development or production, got "staging"`},
		{"fail/bad-smtp-url", []string{"migrate", "--smtp-url", "smtps://relay.example:99999"}, errUsage, `bankbridge migrate: --smtp-url has port "99999"; want 1-65535`},
		{"fail/bad-mail-from", []string{"migrate", "--mail-from", "no-reply"}, errUsage, `bankbridge migrate: --mail-from must be an address such as "Bankbridge <no-reply@bank.example>", got "no-reply"`},
		{"fail/bad-seed-env", []string{"migrate"}, errUsage, `bankbridge migrate: BANKBRIDGE_SEED must be true or false, got "maybe"`},
		{"fail/unknown-sca-exemption", []string{"migrate", "--sca-exemptions", "low-value,small-shops"}, errUsage, `bankbridge migrate: --sca-exemptions takes low-value, trusted-payees, own-accounts or none, got "small-shops"`},
		{"fail/none-with-sca-exemption", []string{"migrate", "--sca-exemptions", "none,low-value"}, errUsage, `bankbridge migrate: --sca-exemptions: none cannot be combined with other exemptions`},
		{"fail/sca-low-value-syntax", []string{"migrate", "--sca-low-value", "GBP=30.00"}, errUsage, `bankbridge migrate: --sca-low-value: "GBP=30.00" is not CUR=single/cumulative (e.g. GBP=30.00/100.00)`},
		{"fail/sca-low-value-currency", []string{"migrate", "--sca-low-value", "XYZ=1/2"}, errUsage, `bankbridge migrate: --sca-low-value: "XYZ" is not an ISO 4217 currency code`},
		{"fail/sca-low-value-single-above-cumulative", []string{"migrate", "--sca-low-value", "GBP=50.00/40.00"}, errUsage, `bankbridge migrate: SCA exemption settings: sca: invalid argument: low-value limits of GBP must be positive with single at most cumulative`},
		{"fail/sca-low-value-count", []string{"migrate", "--sca-low-value-count", "0"}, errUsage, `bankbridge migrate: --sca-low-value-count must be at least 1, got 0`},
		{"fail/account-access-sca", []string{"migrate", "--account-access-sca", "sometimes"}, errUsage, `bankbridge migrate: --account-access-sca must be when-enrolled or required, got "sometimes"`},
		{"fail/sca-reauthentication", []string{"migrate", "--sca-reauthentication", "5000h"}, errUsage, `bankbridge migrate: --sca-reauthentication must be between 1h and 4320h (180 days), got 5000h0m0s`},
		{"ok/sca-exemptions-none", []string{"migrate", "--sca-exemptions", "none", "--data-dir", t.TempDir()}, nil, "applied migrations"},
		{"ok/migrate", []string{"migrate", "--data-dir", t.TempDir()}, nil, "applied migrations"},
		{"ok/migrate-in-production-needs-no-key-or-smtp", []string{"migrate", "--mode", "production", "--data-dir", t.TempDir()}, nil, "applied migrations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "fail/bad-seed-env" {
				t.Setenv("BANKBRIDGE_SEED", "maybe")
			}
			var out bytes.Buffer
			m := NewMain(&out, &out)
			err := m.Run(context.Background(), tc.args)
			m.Close()
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v\n%s", err, tc.wantErr, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
}
