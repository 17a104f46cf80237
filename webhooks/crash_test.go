package webhooks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// Environment of the dispatcher child process.
const (
	helperEnv    = "WEBHOOKS_TEST_HELPER"
	helperDBURL  = "WEBHOOKS_TEST_DB_URL"
	helperDBPath = "WEBHOOKS_TEST_DB_PATH"
	helperKey    = "WEBHOOKS_TEST_KEY"
	helperLease  = "WEBHOOKS_TEST_LEASE" // the dispatcher's lease (default 1 s)
)

// TestHelperDispatcherProcess is not a test: TestCrashLosesNothing re-executes
// the test binary to run it as a dispatcher process it can SIGKILL.
func TestHelperDispatcherProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestCrashLosesNothing")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	d, err := db.Open(ctx, db.Options{URL: os.Getenv(helperDBURL), SQLitePath: os.Getenv(helperDBPath)})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(os.Getenv(helperKey))
	box, err := secrets.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	s := mustService(t, d, func(c *Config) { c.Box = box })
	fmt.Println("dispatcher ready")
	lease := time.Second // short, so the crash test's restart retakes the dead claims quickly
	if v, err := time.ParseDuration(os.Getenv(helperLease)); err == nil {
		lease = v
	}
	NewDispatcher(s, DispatcherOptions{Workers: 4, Lease: lease}).Run(ctx)
}

// TestCrashLosesNothing runs a dispatcher in a child process, SIGKILLs it while
// a delivery is in flight, starts another, and checks every event arrives.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	engines := processEngines(t)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			d, env := e.open(t)
			t.Cleanup(func() { d.Close() })
			if _, err := d.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			box, key := mustBox(t)
			s := mustService(t, d, func(c *Config) { c.Box = box })

			const n = 60
			const blockAt = 10
			blocked, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			rc := newReceiver(t, func(i int, w http.ResponseWriter, r *http.Request) {
				if i == blockAt { // hold this delivery until its dispatcher is dead
					once.Do(func() { close(blocked) })
					<-release
				}
				time.Sleep(3 * time.Millisecond)
				w.WriteHeader(http.StatusOK)
			})
			ep, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
			for i := 0; i < n; i++ {
				mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i)}})
			}
			start := func() (*exec.Cmd, *bytes.Buffer) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDispatcherProcess$", "-test.v")
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				cmd.Env = append(os.Environ(), append(env, helperEnv+"=1", helperKey+"="+base64.StdEncoding.EncodeToString(key))...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				return cmd, &out
			}
			first, out1 := start()
			select {
			case <-blocked:
			case <-time.After(60 * time.Second):
				first.Process.Kill()
				t.Fatalf("first dispatcher never delivered %d events:\n%s", blockAt, out1)
			}
			if err := first.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			first.Wait()
			close(release)
			var claimed int64
			d.Model(&deliveryRow{}).Where("claimed_by <> '' AND status = ?", StatusPending).Count(&claimed)
			before := len(rc.distinctIDs())
			t.Logf("killed first dispatcher: %d distinct ids received, %d deliveries left claimed", before, claimed)
			if before >= n {
				t.Fatalf("first dispatcher delivered everything before the kill")
			}

			second, out2 := start()
			t.Cleanup(func() { second.Process.Kill(); second.Wait() })
			eventually(t, "every event delivered after the crash", func() bool {
				return deliveryStatuses(t, d, ep.ID)[StatusSucceeded] == n
			})
			second.Process.Signal(syscall.SIGTERM)
			second.Wait()
			ids := rc.distinctIDs()
			if len(ids) != n {
				t.Fatalf("%d distinct webhook-ids received, want %d\n%s", len(ids), n, out2)
			}
			dups := 0
			for _, c := range ids {
				dups += c - 1
			}
			t.Logf("%d events, %d receipts, %d duplicates (at-least-once)", n, len(rc.all()), dups)
		})
	}
}

// processEngine opens a database that dispatcher child processes can share,
// and the environment that tells a child where it is.
type processEngine struct {
	name string
	open func(t *testing.T) (*db.DB, []string)
}

// processEngines lists SQLite (a file) and, with BANKBRIDGE_TEST_POSTGRES,
// PostgreSQL (a schema of its own).
func processEngines(t *testing.T) []processEngine {
	engines := []processEngine{{"sqlite", func(t *testing.T) (*db.DB, []string) {
		path := filepath.Join(t.TempDir(), "crash.db")
		d, err := db.Open(context.Background(), db.Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		return d, []string{helperDBPath + "=" + path}
	}}}
	if os.Getenv(dbtest.PostgresEnv) != "" {
		engines = append(engines, processEngine{"postgres", func(t *testing.T) (*db.DB, []string) {
			u := dbtest.PostgresURL(t)
			d, err := db.Open(context.Background(), db.Options{URL: u})
			if err != nil {
				t.Fatal(err)
			}
			return d, []string{helperDBURL + "=" + u}
		}})
	}
	return engines
}

// startDispatcherProcess re-executes the test binary as a dispatcher process
// (TestHelperDispatcherProcess) on the database env names, and returns once
// it says it is ready (or fails the test after 60 s).
func startDispatcherProcess(t *testing.T, env []string, key []byte) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDispatcherProcess$", "-test.v")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"=1", helperKey+"="+base64.StdEncoding.EncodeToString(key))...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "dispatcher ready" {
				close(ready)
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("dispatcher process never became ready")
	}
	return cmd
}

// TestTwoDispatcherProcessesNeverOverlap runs two dispatcher processes (4
// workers each) against one database: no webhook-id is ever in flight twice
// at once, every event arrives exactly once (the receiver always answers 200
// within the lease), and both processes delivered some of them.
func TestTwoDispatcherProcessesNeverOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, e := range processEngines(t) {
		t.Run(e.name, func(t *testing.T) {
			d, env := e.open(t)
			t.Cleanup(func() { d.Close() })
			if _, err := d.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			box, key := mustBox(t)
			s := mustService(t, d, func(c *Config) { c.Box = box })
			var (
				mu       sync.Mutex
				inFlight = map[string]int{}
				maxSeen  int
			)
			rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				id := r.Header.Get(HeaderID)
				mu.Lock()
				inFlight[id]++
				maxSeen = max(maxSeen, inFlight[id])
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
				mu.Lock()
				inFlight[id]--
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			})
			ep, _ := mustCreate(t, s, scA1, environment.Sandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
			// A long lease: a slow machine must not turn into a retaken claim
			// (that would be the lease working, not an overlap).
			env = append(env, helperLease+"=30s")
			procs := []*exec.Cmd{startDispatcherProcess(t, env, key), startDispatcherProcess(t, env, key)}
			t.Cleanup(func() {
				for _, p := range procs {
					p.Process.Signal(syscall.SIGTERM)
					p.Wait()
				}
			})
			const n = 200
			for i := 0; i < n; i++ {
				mustPublish(t, s, d, Event{Type: "payment.created", PartnerID: partnerA, AppID: appA1, Data: map[string]any{"payment_id": fmt.Sprint("pay_", i)}})
			}
			eventually(t, "every event delivered", func() bool { return deliveryStatuses(t, d, ep.ID)[StatusSucceeded] == n })
			mu.Lock()
			defer mu.Unlock()
			if maxSeen != 1 {
				t.Fatalf("a webhook-id was in flight %d times at once", maxSeen)
			}
			if ids, all := rc.distinctIDs(), rc.all(); len(ids) != n || len(all) != n {
				t.Fatalf("%d distinct webhook-ids in %d receipts, want %d each", len(ids), len(all), n)
			}
			var perDispatcher []struct {
				Dispatcher string
				N          int
			}
			d.Raw(`SELECT dispatcher, COUNT(*) AS n FROM webhook_attempts WHERE endpoint_id = ? GROUP BY dispatcher ORDER BY dispatcher`, ep.ID).Scan(&perDispatcher)
			if len(perDispatcher) != 2 {
				t.Fatalf("deliveries by dispatcher %+v, want both processes", perDispatcher)
			}
			t.Logf("deliveries per process: %+v", perDispatcher)
		})
	}
}
