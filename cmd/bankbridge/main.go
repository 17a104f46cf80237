// Command bankbridge runs the Bankbridge open-banking partner platform and its
// operator commands. It is the composition root: the only place that wires the
// domain packages together.
//
//	bankbridge [serve]            run the platform (the default command)
//	bankbridge migrate            apply database migrations and exit
//	bankbridge partners create    create a partner organisation
//	bankbridge apps create        create a partner app (OAuth client)
//	bankbridge customers create   create a bank customer (sandbox, or production with --env production)
//	bankbridge keys rotate        rotate the authorization server's signing key
//	bankbridge staff create       create a staff user (one-time password + TOTP)
//	bankbridge settle             settle a month into partner statements
//	bankbridge version            print the build information (module, VCS revision, Go version)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.opentelemetry.io/otel/trace"
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	err := m.Run(ctx, os.Args[1:])
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "bankbridge:", err)
		os.Exit(1)
	}
}

// defaultGCPercent is the node's garbage collection target unless Go's own
// GOGC variable sets one: a collection when the heap has grown by 400 % of
// what was live after the last. A node's live heap is small (about 20 MB
// under load) and its request paths allocate fast, so Go's default of 100
// spent 12–17 % of the node's CPU collecting under load (issue 14's
// profiles); 400 collects a quarter as often for a heap of ~100 MB.
const defaultGCPercent = 400

// errUsage marks a command-line mistake (already explained on stderr).
var errUsage = errors.New("usage")

// Main is the program: parse the command line, run the command, close what it opened.
type Main struct {
	Stdout, Stderr io.Writer
	// Platform is set once a command has opened it (tests read it).
	Platform *Platform
	// Ready, when set, is called once the server is listening, with the
	// issuer (the public base URL) and the listener's own http:// URL (the
	// same in development without --issuer; behind a TLS-terminating proxy
	// in production they differ).
	Ready func(issuer, listenURL string)
	// DatabaseDriver, when set, is the database/sql driver name serve opens
	// the store with instead of the engine's own (tests register a
	// statement-counting wrapper; see internal/db.Options.DriverName).
	DatabaseDriver string
	// TracerProvider, when set, turns tracing on with it instead of from the
	// OTEL_* environment (tests pass an SDK provider with an in-memory
	// exporter); the platform does not shut it down.
	TracerProvider trace.TracerProvider
	// LogOutput, when set, is where serve writes its log instead of os.Stderr
	// (tests read the access log there).
	LogOutput io.Writer
}

// NewMain returns a Main writing to the given streams.
func NewMain(stdout, stderr io.Writer) *Main { return &Main{Stdout: stdout, Stderr: stderr} }

// Run parses args and runs the command they name.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		m.usage()
		return nil
	}
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return m.runServe(ctx, args)
	case "migrate":
		return m.runMigrate(ctx, args)
	case "partners", "apps", "customers", "keys", "staff", "settle", "screening", "risk":
		return m.runOperator(ctx, cmd, args)
	case "version":
		return m.runVersion(args)
	case "help":
		m.usage()
		return nil
	}
	fmt.Fprintf(m.Stderr, "bankbridge: unknown command %q\n\n", cmd)
	m.usage()
	return errUsage
}

// Close releases what Run opened.
func (m *Main) Close() error {
	if m.Platform != nil {
		return m.Platform.Close()
	}
	return nil
}

func (m *Main) usage() {
	fmt.Fprint(m.Stderr, `Bankbridge: the open-banking partner platform.

Usage:
  bankbridge [serve] [flags]     run the platform (API, authorization server, portal, console)
  bankbridge migrate [flags]     apply database migrations and exit
  bankbridge partners create --name N [--json]
  bankbridge apps create --partner ID --env sandbox|production --name N --redirect-uri URI --jwks FILE --scope "..." [--json]
  bankbridge customers create --username U --password P [--name N] [--email E] [--env sandbox|production] [--json]
  bankbridge keys rotate [--alg ES256|PS256]
  bankbridge staff create --email E --role admin|partner_manager|risk_officer|finance|auditor [--json]
  bankbridge settle --period YYYY-MM [--json]
  bankbridge screening import --format ofac-sdn|uk-csv|csv [--aliases alt.csv] [--json] FILE
  bankbridge risk cases [--json]  list the open risk cases (held payments), oldest first
  bankbridge risk sar export ID   print a suspicious activity report with its case and audit trail (JSON)
  bankbridge version [--json]    print the build information (module version, VCS revision, Go version)

Every command takes the common flags (also settable by environment variable):
`)
	fs := flag.NewFlagSet("bankbridge", flag.ContinueOnError)
	var c Config
	c.Flags(fs)
	fs.SetOutput(m.Stderr)
	fs.PrintDefaults()
}
