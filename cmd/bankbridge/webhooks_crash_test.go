package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bankbridge "github.com/bankbridge/bankbridge/sdk/go"
	"github.com/bankbridge/bankbridge/webhooks"
)

// buildBinary compiles bankbridge once for process-level tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bankbridge")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startProcess runs `bankbridge serve` as a child process and waits until it
// listens; SIGKILL it with p.Process.Kill().
func startProcess(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Bankbridge is running at") {
				ready <- true
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		t.Fatalf("bankbridge did not start\n%s", stderr.String())
	}
	return cmd
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestWebhooksSurviveSIGKILL emits N events, kills the server with SIGKILL
// while deliveries are in flight, restarts it on the same database and checks
// that every event arrives at least once, each delivery verified with the
// endpoint's secret (counted by webhook-id).
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills real processes")
	}
	const n = 30
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	issuer := "http://" + addr
	args := []string{"--addr", addr, "--data-dir", dataDir, "--log-level", "warn", "--webhooks-allow-loopback", "--webhook-lease", "21s"}

	var (
		mu       sync.Mutex
		secret   string
		got      = map[string]int{}
		badSigs  int
		inFlight = make(chan struct{}, 100)
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		sec := secret
		mu.Unlock()
		if err := webhooks.Verify(sec, r.Header, body, 5*time.Minute); err != nil {
			mu.Lock()
			badSigs++
			mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		select {
		case inFlight <- struct{}{}:
		default:
		}
		time.Sleep(100 * time.Millisecond) // keep deliveries in flight
		mu.Lock()
		got[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	first := startProcess(t, bin, args...)
	s := &Server{URL: issuer, DataDir: dataDir}
	cid, key := sandboxApp(t, s, "https://wallet.example/cb", "accounts webhooks")
	ctx := context.Background()
	partner, err := bankbridge.New(bankbridge.Config{Issuer: issuer, ClientID: cid, PrivateJWK: []byte(key.PrivateJSON(t))})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := partner.ClientCredentials(ctx, "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	api := partner.API(tok)
	ep, err := api.CreateWebhookEndpoint(ctx, bankbridge.WebhookEndpointInput{URL: receiver.URL + "/hooks", EventTypes: []string{"payment.created"}})
	if err != nil {
		t.Fatalf("create endpoint: %v", err)
	}
	mu.Lock()
	secret = ep.Secret
	mu.Unlock()
	emitted := map[string]bool{}
	for i := 0; i < n; i++ {
		id, err := api.SendTestWebhook(ctx, ep.ID)
		if err != nil {
			t.Fatalf("send test %d: %v", i, err)
		}
		emitted[id] = true
	}
	<-inFlight // at least one delivery is under way
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	mu.Lock()
	before := len(got)
	mu.Unlock()
	t.Logf("SIGKILL with %d of %d events delivered", before, n)
	if before == n {
		t.Fatal("every event was delivered before the kill: the test proves nothing; slow the receiver")
	}

	startProcess(t, bin, args...)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := len(got)
		mu.Unlock()
		if done >= n {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for id := range emitted {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 || badSigs > 0 {
		t.Fatalf("after restart: %d of %d events delivered, missing %v, %d bad signatures", len(got), n, missing, badSigs)
	}
	dups := 0
	for _, c := range got {
		dups += c - 1
	}
	t.Logf("all %d events delivered; %s", n, fmt.Sprintf("%d duplicate deliveries (at-least-once)", dups))
}
