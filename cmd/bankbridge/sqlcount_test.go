package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/bankbridge/bankbridge/internal/sqlhook"
	"github.com/jackc/pgx/v5/stdlib"
)

// sqlCounter counts what a database/sql driver is asked to do on behalf of
// HTTP requests: statements (Exec/Query, direct or through a prepared
// statement), prepares, BEGINs and COMMIT/ROLLBACKs — each one a round trip
// to PostgreSQL, and one call into SQLite. Work done outside a request (the
// webhook dispatcher, the mail sender, housekeeping, SQLite checkpoints) is
// counted apart, as background.
type sqlCounter struct {
	mu         sync.Mutex
	on         bool
	stmts      []string // statement texts, in order
	prepares   int
	begins     int
	ends       int
	background int
	marks      []mark
}

// mark is where a step began: its name and the round trips before it.
type mark struct {
	step string
	at   int
}

// counts is a snapshot of a sqlCounter.
type counts struct {
	Statements, Prepares, Begins, Ends, Background int
	SQL                                            []string
	// Steps are the round trips of each marked step, in order.
	Steps []string
}

// RoundTrips is every call that reaches the database for a request once
// the pool is warm: statements, BEGINs and COMMIT/ROLLBACKs. Prepares are
// left out: database/sql prepares a statement again on each pooled
// connection new to it, so their number depends on which connection a
// request gets (none once every connection has seen every statement).
func (c counts) RoundTrips() int { return c.Statements + c.Begins + c.Ends }

func (c counts) String() string {
	steps := ""
	if len(c.Steps) > 0 {
		steps = " [" + strings.Join(c.Steps, ", ") + "]"
	}
	return fmt.Sprintf("%d round trips%s: %d statements, %d begins, %d commits/rollbacks (and %d prepares; %d background calls not counted)",
		c.RoundTrips(), steps, c.Statements, c.Begins, c.Ends, c.Prepares, c.Background)
}

// start resets the counts and starts counting; stop returns them.
func (s *sqlCounter) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on, s.stmts, s.prepares, s.begins, s.ends, s.background, s.marks = true, nil, 0, 0, 0, 0, nil
}

// step starts counting if it has not started, and marks where step begins.
func (s *sqlCounter) step(name string) {
	s.mu.Lock()
	on := s.on
	s.mu.Unlock()
	if !on {
		s.start()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.marks = append(s.marks, mark{name, len(s.stmts) + s.begins + s.ends})
}

func (s *sqlCounter) stop() counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	out := counts{Statements: len(s.stmts), Prepares: s.prepares, Begins: s.begins, Ends: s.ends, Background: s.background, SQL: s.stmts}
	for i, m := range s.marks {
		end := out.RoundTrips()
		if i+1 < len(s.marks) {
			end = s.marks[i+1].at
		}
		out.Steps = append(out.Steps, fmt.Sprintf("%s %d", m.step, end-m.at))
	}
	return out
}

// inRequest reports whether ctx belongs to an HTTP request served by
// net/http (its context carries the server).
func inRequest(ctx context.Context) bool {
	return ctx != nil && ctx.Value(http.ServerContextKey) != nil
}

func (s *sqlCounter) note(ctx context.Context, what, query string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.on {
		return
	}
	if !inRequest(ctx) {
		s.background++
		return
	}
	switch what {
	case "prepare":
		s.prepares++
	case "begin":
		s.begins++
	case "end":
		s.ends++
	default:
		s.stmts = append(s.stmts, strings.Join(strings.Fields(query), " "))
	}
}

var (
	countersOnce sync.Once
	counters     = map[string]*sqlCounter{}
)

// countingDrivers registers, once, counting wrappers (internal/sqlhook) of
// the pgx and SQLite drivers and returns their names by engine; their
// counters are in counters.
func countingDrivers() map[string]string {
	countersOnce.Do(func() {
		lite, err := sql.Open("sqlite", "")
		if err != nil {
			panic(err)
		}
		base := map[string]driver.Driver{"sqlite": lite.Driver(), "postgres": stdlib.GetDefaultDriver()}
		lite.Close()
		for engine, d := range base {
			n := &sqlCounter{}
			counters[engine] = n
			sql.Register("bankbridge-counting-"+engine, sqlhook.Wrap(d, n.hook))
		}
	})
	return map[string]string{"sqlite": "bankbridge-counting-sqlite", "postgres": "bankbridge-counting-postgres"}
}

// hook notes every call that reached the database (not those the driver
// declined with driver.ErrSkip: database/sql then prepares and runs them,
// which is noted).
func (s *sqlCounter) hook(ctx context.Context, op sqlhook.Op, q string) (context.Context, func(error)) {
	return ctx, func(err error) {
		if errors.Is(err, driver.ErrSkip) {
			return
		}
		switch op {
		case sqlhook.OpCommit, sqlhook.OpRollback:
			s.note(ctx, "end", "")
		default:
			s.note(ctx, string(op), q)
		}
	}
}

// maxRoundTrips are today's counts (issue 14): a change that adds a round
// trip to the code flow or to a resource call fails TestSQLRoundTrips; one
// that removes some should lower these.
var maxRoundTrips = map[string]struct{ Flow, Resource int }{
	"sqlite":   {Flow: 24, Resource: 5},
	"postgres": {Flow: 18, Resource: 2},
}

// TestSQLRoundTrips counts, on both engines, the SQL round trips one full
// code flow (PAR → authorize GET → login POST → consent POST → token) and
// one resource call (GET /accounts/{id}/transactions) make, through a
// counting wrapper of the real driver, and fails when either grows past
// today's count. Issue 14's target is fewer than 20 per flow.
func TestSQLRoundTrips(t *testing.T) {
	names := countingDrivers()
	for engine, url := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			n := counters[engine]
			s := MustStartWith(t, func(m *Main) { m.DatabaseDriver = names[engine] }, url(t), "--webhook-dispatchers", "0")
			p := newFlowPartner(t, s, s.URL)
			p.codeFlow(s.URL, p.accountConsent(s.URL), nil) // warm: the first flow prepares statements
			token := p.codeFlow(s.URL, p.accountConsent(s.URL), n.step)
			flow := n.stop()
			account := p.firstAccount(s.URL, token)
			path := "/open-banking/v3.1/aisp/accounts/" + account + "/transactions"
			p.call(s.URL, http.MethodGet, path, token, "", nil) // warm: the first call prepares statements
			n.start()
			st, _, body := p.call(s.URL, http.MethodGet, path, token, "", nil)
			res := n.stop()
			if st != http.StatusOK {
				t.Fatalf("transactions: %d %v", st, body)
			}
			t.Logf("code flow: %s", flow)
			for i, q := range flow.SQL {
				t.Logf("  flow %2d: %.160s", i+1, q)
			}
			t.Logf("resource call: %s", res)
			for i, q := range res.SQL {
				t.Logf("  call %2d: %.160s", i+1, q)
			}
			want := maxRoundTrips[engine]
			if flow.RoundTrips() > want.Flow {
				t.Errorf("code flow: %d round trips, more than today's %d", flow.RoundTrips(), want.Flow)
			}
			if res.RoundTrips() > want.Resource {
				t.Errorf("resource call: %d round trips, more than today's %d", res.RoundTrips(), want.Resource)
			}
			if flow.RoundTrips() >= 20 {
				t.Logf("code flow: %d round trips, issue 14's target is fewer than 20", flow.RoundTrips())
			}
		})
	}
}
