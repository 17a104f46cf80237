package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail/mailtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// testKey is a fresh base64 master key.
func testKey(tb testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// childEnv is this process's environment without any Bankbridge setting,
// plus extra (so that what the test runner exported does not leak in).
func childEnv(extra map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "BANKBRIDGE_") || k == "DATABASE_URL" || k == "REDIS_URL" || k == "SSL_CERT_FILE" {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range extra {
		out = append(out, k+"="+v)
	}
	return out
}

// TestProductionRefusals runs the real binary in production mode without
// each required part: it exits 2 with one line naming the missing setting,
// before opening anything (no data/ directory appears in its working
// directory).
func TestProductionRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	key := testKey(t)
	full := map[string]string{"BANKBRIDGE_MODE": "production", secrets.KeyEnv: key,
		"BANKBRIDGE_SMTP_URL": "smtp://127.0.0.1:2525", "BANKBRIDGE_ISSUER": "https://bank.example"}
	without := func(name string, set ...string) map[string]string {
		m := map[string]string{}
		for k, v := range full {
			if k != name {
				m[k] = v
			}
		}
		for i := 0; i < len(set); i += 2 {
			m[set[i]] = set[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"fail/no-encryption-key", without(secrets.KeyEnv), []string{"serve"},
			"bankbridge serve: --mode production requires BANKBRIDGE_ENCRYPTION_KEY (base64 of 32 random bytes); it is not set"},
		{"fail/blank-encryption-key", without(secrets.KeyEnv, secrets.KeyEnv, "  "), []string{"serve"},
			"bankbridge serve: --mode production requires BANKBRIDGE_ENCRYPTION_KEY (base64 of 32 random bytes); it is not set"},
		{"fail/no-smtp-url", without("BANKBRIDGE_SMTP_URL"), []string{"serve"},
			"bankbridge serve: --mode production requires BANKBRIDGE_SMTP_URL (or --smtp-url); it is not set"},
		{"fail/no-issuer", without("BANKBRIDGE_ISSUER"), []string{"serve"},
			"bankbridge serve: --mode production requires an https issuer (--issuer https://… or BANKBRIDGE_ISSUER); it is not set"},
		{"fail/http-issuer", without("BANKBRIDGE_ISSUER"), []string{"serve", "--issuer", "http://bank.example"},
			`bankbridge serve: --mode production requires an https issuer (--issuer https://… or BANKBRIDGE_ISSUER), got "http://bank.example"`},
		{"fail/mode-by-flag", without("BANKBRIDGE_MODE", secrets.KeyEnv, ""), []string{"serve", "--mode", "production"},
			"bankbridge serve: --mode production requires BANKBRIDGE_ENCRYPTION_KEY (base64 of 32 random bytes); it is not set"},
		{"fail/default-command-is-serve", without("BANKBRIDGE_SMTP_URL"), nil,
			"bankbridge serve: --mode production requires BANKBRIDGE_SMTP_URL (or --smtp-url); it is not set"},
		{"fail/loopback-webhooks", full, []string{"serve", "--webhooks-allow-loopback"},
			"bankbridge serve: --mode production refuses --webhooks-allow-loopback (BANKBRIDGE_WEBHOOKS_ALLOW_LOOPBACK), a development setting"},
		{"fail/operator-command-without-key", without(secrets.KeyEnv), []string{"staff", "create", "--email", "ops@bank.example", "--role", "admin"},
			"bankbridge staff create: --mode production requires BANKBRIDGE_ENCRYPTION_KEY (base64 of 32 random bytes); it is not set"},
		{"fail/malformed-key", without(secrets.KeyEnv, secrets.KeyEnv, "c2hvcnQ="), []string{"serve"},
			"bankbridge serve: BANKBRIDGE_ENCRYPTION_KEY must be base64 of 32 bytes (e.g. from: openssl rand -base64 32)"},
		{"fail/unknown-mode", without("BANKBRIDGE_MODE", "BANKBRIDGE_MODE", "prod"), []string{"serve"},
			`bankbridge serve: --mode must be development or production, got "prod"`},
		{"fail/bad-smtp-url", without("BANKBRIDGE_SMTP_URL", "BANKBRIDGE_SMTP_URL", "mail.bank.example:25"), []string{"serve"},
			`bankbridge serve: --smtp-url has scheme "mail.bank.example"; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Dir, cmd.Env = dir, childEnv(tc.env)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("exit: %v, want status 2\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			if got := stderr.String(); got != tc.want+"\n" {
				t.Fatalf("stderr %q\nwant   %q", got, tc.want+"\n")
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q", stdout.String())
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("the refused start left %v in its working directory", entries)
			}
		})
	}
}

// process is a bankbridge binary running as a child.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	ready  chan struct{} // closed once the start banner was printed
	exited chan struct{} // closed once Wait returned
	state  *os.ProcessState
}

// startIn runs `bin args…` in dir with env and waits for the start banner.
func startIn(t *testing.T, bin, dir string, env []string, args ...string) *process {
	t.Helper()
	p := spawn(t, bin, dir, env, args...)
	p.awaitReady(t)
	return p
}

// spawn runs `bin args…` in dir with env without waiting for it to start
// (see awaitReady); the test's cleanup kills it.
func spawn(t *testing.T, bin, dir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, ready: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() { // what the process said, to explain the failure
			out := p.stderr.String()
			if len(out) > 8<<10 {
				out = "…" + out[len(out)-8<<10:]
			}
			t.Logf("%s %s: %v; its stderr:\n%s", bin, strings.Join(args, " "), p.state, out)
		}
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Bankbridge is running at") {
				close(p.ready)
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		p.state = cmd.ProcessState
		close(p.exited)
	}()
	return p
}

// awaitReady waits for the start banner; it fails the test when the
// process exits first or takes longer than 90 s.
func (p *process) awaitReady(t *testing.T) {
	t.Helper()
	select {
	case <-p.ready:
	case <-p.exited:
		t.Fatalf("bankbridge exited: %v\n%s", p.state, p.stderr)
	case <-time.After(90 * time.Second):
		t.Fatalf("bankbridge did not start\n%s", p.stderr)
	}
}

// stop sends SIGTERM (a graceful shutdown) and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if !p.state.Success() {
			t.Errorf("bankbridge did not stop cleanly: %v\n%s", p.state, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("bankbridge did not stop within 30 s of SIGTERM\n%s", p.stderr)
	}
}

var verifyLinkRe = regexp.MustCompile(`https://bank\.example/portal/verify-email\?token=([A-Za-z0-9_\-]+)`)

// TestProductionEndToEnd starts the real binary in production mode, as a
// deployment behind a TLS-terminating proxy would (issuer
// https://bank.example, plain http on 127.0.0.1), on a fresh PostgreSQL
// schema, in a working directory without data/, mailing through an SMTP
// server that requires STARTTLS and AUTH. A partner developer signs up in
// chromium, the verification mail arrives over SMTP, its link (rewritten to
// the server's address) verifies the address and the developer reaches the
// portal with Secure cookies. The development outbox answers 404, the demo
// login does not exist, the outbox keeps no usable link, and no data/
// directory was created.
func TestProductionEndToEnd(t *testing.T) {
	requireE2E(t, true)
	dbURL := dbtest.PostgresURL(t)
	cert := mailtest.NewCert(t, "127.0.0.1")
	sink := mailtest.Start(t, mailtest.Options{StartTLS: cert.Server, Username: "relay", Password: "relay-pw"})
	caFile := filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(caFile, cert.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	work := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	env := childEnv(map[string]string{"BANKBRIDGE_MODE": "production", secrets.KeyEnv: testKey(t),
		"BANKBRIDGE_SMTP_URL": "smtp://relay:relay-pw@127.0.0.1:" + strconv.Itoa(sink.Port), "DATABASE_URL": dbURL,
		"SSL_CERT_FILE": caFile})
	p := startIn(t, bin, work, env, "serve", "--issuer", "https://bank.example", "--addr", addr)

	// The development outbox is not there, for a loopback client either.
	resp, err := http.Get(base + "/portal/dev/outbox")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	unknown, err := http.Get(base + "/portal/no-such-page")
	if err != nil {
		t.Fatal(err)
	}
	unknownBody, _ := io.ReadAll(unknown.Body)
	unknown.Body.Close()
	if resp.StatusCode != http.StatusNotFound || unknown.StatusCode != http.StatusNotFound || string(body) != string(unknownBody) ||
		!strings.Contains(string(body), "There is no page at this address.") {
		t.Fatalf("/portal/dev/outbox: %d %q, want the 404 page of an unknown path", resp.StatusCode, body)
	}

	// The test's mailbox: the verification link of the mail that reached
	// the SMTP server, rewritten to the server's http address.
	mailbox := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range sink.Messages() {
			if len(m.To) == 1 && m.To[0] == r.URL.Query().Get("to") {
				if link := verifyLinkRe.FindString(m.Text); link != "" {
					io.WriteString(w, base+strings.TrimPrefix(link, "https://bank.example"))
					return
				}
			}
		}
		http.NotFound(w, r)
	}))
	defer mailbox.Close()
	res := runNode(t, "production-signup.mjs", map[string]string{"BASE": base, "MAILBOX": mailbox.URL,
		"CHROMIUM": chromiumPath(), "ARTIFACTS": artifactsDir(t)})
	if res.Error != nil {
		b, _ := json.MarshalIndent(res, "", "  ")
		t.Fatalf("browser run failed:\n%s\nserver log:\n%s", b, p.stderr)
	}
	email, _ := res.Step("signed_up")["email"].(string)
	if res.Step("signed_up")["mentions_dev_outbox"] != false {
		t.Errorf("the check-email page points at the development outbox: %v", res.Step("signed_up"))
	}
	if got := res.Step("mail_link")["path"]; got != "/portal/verify-email" {
		t.Errorf("mail link path %v", got)
	}
	portal := res.Step("portal")
	if pid, _ := portal["partner_id"].(string); !strings.HasPrefix(pid, "ptn_") || portal["status"] != "Sandbox" {
		t.Errorf("portal after verification: %v", portal)
	}
	secure := map[string]bool{}
	for _, c := range portal["cookies"].([]any) {
		c := c.(map[string]any)
		secure[c["name"].(string)] = c["secure"] == true && c["httpOnly"] == true
	}
	if !secure["bb_portal"] || !secure["bb_csrf"] {
		t.Errorf("session and CSRF cookies must be Secure and HttpOnly: %v", portal["cookies"])
	}
	if dl := res.Step("demo_login"); dl["path"] != "/portal/sign-in" || dl["alert"] != "Unknown email or wrong password." {
		t.Errorf("demo login: %v, want the sign-in page's refusal", dl)
	}
	if st := res.Step("dev_outbox")["status"]; st != float64(404) {
		t.Errorf("browser /portal/dev/outbox: %v, want 404", st)
	}

	// What went over SMTP: one verification mail, over STARTTLS, authenticated.
	var verification []mailtest.Message
	for _, m := range sink.Messages() {
		if len(m.To) == 1 && m.To[0] == email {
			verification = append(verification, m)
		}
	}
	if len(verification) != 1 {
		t.Fatalf("%d mails to %s, want 1", len(verification), email)
	}
	m := verification[0]
	if !m.TLS || m.AuthUser != "relay" || m.From != "no-reply@bank.example" || m.Subject() != "Verify your Bankbridge email address" {
		t.Errorf("mail: tls %v auth %q from %q subject %q", m.TLS, m.AuthUser, m.From, m.Subject())
	}
	token := verifyLinkRe.FindStringSubmatch(m.Text)[1]

	d, err := db.Open(context.Background(), db.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var demoUsers, demoPartners, customers int64
	d.Raw(`SELECT count(*) FROM portal_users WHERE email = 'demo@wallet.example'`).Scan(&demoUsers)
	d.Raw(`SELECT count(*) FROM partners WHERE legal_name = 'Demo Wallet Ltd'`).Scan(&demoPartners)
	d.Raw(`SELECT count(*) FROM core_customers`).Scan(&customers)
	if demoUsers != 0 || demoPartners != 0 || customers != 0 {
		t.Errorf("production without --seed: %d demo users, %d demo partners, %d customers; want none", demoUsers, demoPartners, customers)
	}
	var outbox []struct {
		Body   string
		SentAt *time.Time
	}
	d.Raw(`SELECT body, sent_at FROM email_outbox WHERE recipient = ?`, email).Scan(&outbox)
	if len(outbox) != 1 || outbox[0].SentAt == nil || strings.Contains(outbox[0].Body, token) ||
		!strings.Contains(outbox[0].Body, "https://bank.example/portal/verify-email?token=[sent]") {
		t.Errorf("outbox after sending: %+v; want it sent, its link redacted", outbox)
	}
	p.stop(t)
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("production left %v in its working directory (no data/ expected)", entries)
	}
}
