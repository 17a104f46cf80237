package webhooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
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
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// Environment of the dispatcher child process.
const (
	helperEnv    = "WEBHOOKS_TEST_HELPER"
	helperDBURL  = "WEBHOOKS_TEST_DB_URL"
	helperDBPath = "WEBHOOKS_TEST_DB_PATH"
	helperKey    = "WEBHOOKS_TEST_KEY"
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
	NewDispatcher(s, DispatcherOptions{Workers: 4, Lease: time.Second}).Run(ctx)
}

// TestCrashLosesNothing runs a dispatcher in a child process, SIGKILLs it while
// a delivery is in flight, starts another, and checks every event arrives.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	type engine struct {
		name string
		open func(t *testing.T) (*db.DB, []string)
	}
	engines := []engine{{"sqlite", func(t *testing.T) (*db.DB, []string) {
		path := filepath.Join(t.TempDir(), "crash.db")
		d, err := db.Open(context.Background(), db.Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		return d, []string{helperDBPath + "=" + path}
	}}}
	if os.Getenv(dbtest.PostgresEnv) != "" {
		engines = append(engines, engine{"postgres", func(t *testing.T) (*db.DB, []string) {
			u := dbtest.PostgresURL(t)
			d, err := db.Open(context.Background(), db.Options{URL: u})
			if err != nil {
				t.Fatal(err)
			}
			return d, []string{helperDBURL + "=" + u}
		}})
	}
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
			ep, _ := mustCreate(t, s, scA1, EnvSandbox, EndpointInput{URL: rc.URL, EventTypes: []string{"payment.created"}})
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
