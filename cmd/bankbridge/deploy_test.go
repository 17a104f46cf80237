package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/partners"
)

// The deployment kit (issue 15, item 5): `bankbridge version`, the startup
// warnings of setups that half-work, seeding by nodes starting together,
// /readyz with Redis, and two nodes behind a proxy losing one.

func TestBuildInfoFrom(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 11, 12, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     BuildInfo
		line     string
	}{
		{"ok/vcs-stamped", []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-04T10:11:12Z"}, {Key: "vcs.modified", Value: "false"}},
			BuildInfo{Module: "github.com/bankbridge/bankbridge", Version: "(devel)", Revision: "0123456789abcdef0123456789abcdef01234567", Time: &at,
				GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"bankbridge (devel) 0123456789ab (2026-12-04T10:11:12Z) go1.26.8 linux/amd64"},
		{"ok/vcs-modified", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-04T11:11:12+01:00"},
			{Key: "vcs.modified", Value: "true"}},
			BuildInfo{Module: "github.com/bankbridge/bankbridge", Version: "(devel)", Revision: "0123456789abcdef", Time: &at, Modified: true,
				GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"bankbridge (devel) 0123456789ab (2026-12-04T10:11:12Z, modified) go1.26.8 linux/amd64"},
		{"ok/no-vcs", nil,
			BuildInfo{Module: "github.com/bankbridge/bankbridge", Version: "(devel)", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"bankbridge (devel) go1.26.8 linux/amd64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/bankbridge/bankbridge", Version: "(devel)"}, Settings: tc.settings}
			got := buildInfoFrom(bi, "linux/amd64")
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tc.want)
			if string(gj) != string(wj) {
				t.Fatalf("got  %s\nwant %s", gj, wj)
			}
			if got.String() != tc.line {
				t.Fatalf("line %q, want %q", got.String(), tc.line)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr error
		check   func(t *testing.T, stdout, stderr string)
	}{
		{"ok/line", []string{"version"}, nil, func(t *testing.T, stdout, _ string) {
			if !strings.HasPrefix(stdout, "bankbridge ") || !strings.HasSuffix(stdout, " "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
				t.Fatalf("stdout %q", stdout)
			}
		}},
		{"ok/json", []string{"version", "--json"}, nil, func(t *testing.T, stdout, _ string) {
			var v map[string]any
			if err := json.Unmarshal([]byte(stdout), &v); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			if v["go_version"] != runtime.Version() || v["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
				t.Fatalf("json %v", v)
			}
		}},
		{"fail/argument", []string{"version", "now"}, errUsage, func(t *testing.T, _, stderr string) {
			if stderr != "bankbridge version: unexpected argument \"now\"\n" {
				t.Fatalf("stderr %q", stderr)
			}
		}},
		{"fail/unknown-flag", []string{"version", "--yaml"}, errUsage, func(t *testing.T, _, stderr string) {
			if !strings.HasPrefix(stderr, "flag provided but not defined: -yaml\n") {
				t.Fatalf("stderr %q", stderr)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			m := NewMain(&stdout, &stderr)
			err := m.Run(context.Background(), tc.args)
			m.Close()
			if err != tc.wantErr {
				t.Fatalf("err %v, want %v\n%s", err, tc.wantErr, stderr.String())
			}
			tc.check(t, stdout.String(), stderr.String())
		})
	}
}

// TestVersionOfBinary: the built binary reports the module, the commit it
// was built from (and whether the work tree had changes) and the Go
// version, from the build information the toolchain stamped.
func TestVersionOfBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed: the build carries no VCS stamp")
	}
	if fi, err := os.Stat(filepath.Join(repoRoot(t), ".git")); err != nil || !fi.IsDir() {
		t.Skip("not a git clone (a worktree's .git is a file): the go command stamps no VCS information")
	}
	head, err := exec.Command("git", "-C", repoRoot(t), "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	status, err := exec.Command("git", "-C", repoRoot(t), "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Stamped explicitly: GOFLAGS may carry -buildvcs=false.
	bin := filepath.Join(t.TempDir(), "bankbridge")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v BuildInfo
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	if v.Module != "github.com/bankbridge/bankbridge" || v.Revision != strings.TrimSpace(string(head)) || v.Time == nil ||
		v.Modified != (len(status) > 0) || v.GoVersion != strings.TrimSpace(string(goVersion)) {
		t.Fatalf("version %s\nwant revision %s, modified %v, go %s", out, head, len(status) > 0, goVersion)
	}
	line, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := v.String() + "\n"; string(line) != want {
		t.Fatalf("version line %q, want %q", line, want)
	}
}

// TestConcurrentSeedingOnEmptyDatabase (PostgreSQL): two nodes of the real
// binary start at the same moment on one empty database, in development
// mode (which seeds the personas and the demo partner): both start, and the
// sandbox is seeded once: one of each persona, one demo login, partner and
// app, one active signing key per algorithm, one demo key file.
func TestConcurrentSeedingOnEmptyDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	if os.Getenv(dbtest.PostgresEnv) == "" {
		t.Skip("needs " + dbtest.PostgresEnv + ": two nodes share PostgreSQL")
	}
	bin := buildBinary(t)
	dbURL := dbtest.PostgresURL(t)
	env := childEnv(map[string]string{secrets.KeyEnv: testKey(t), "DATABASE_URL": dbURL})
	var nodes []*process
	var dirs []string
	for range 2 {
		dir := t.TempDir()
		dirs = append(dirs, dir)
		nodes = append(nodes, spawn(t, bin, dir, env, "serve", "--addr", freeAddr(t), "--log-level", "warn", "--webhook-dispatchers", "0"))
	}
	for _, n := range nodes {
		n.awaitReady(t)
	}
	d, err := db.Open(context.Background(), db.Options{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := d.Raw(q, args...).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	var dup []string
	if err := d.Raw(`SELECT username FROM core_customers WHERE environment = 'sandbox' GROUP BY username HAVING count(*) > 1`).Scan(&dup).Error; err != nil {
		t.Fatal(err)
	}
	customers := count(`SELECT count(*) FROM core_customers WHERE environment = 'sandbox'`)
	users := count(`SELECT count(*) FROM portal_users WHERE email = ?`, partners.SeedEmail)
	demoPartners := count(`SELECT count(*) FROM partners WHERE legal_name = ?`, partners.SeedPartnerName)
	apps := count(`SELECT count(*) FROM apps WHERE name = ?`, partners.SeedAppName)
	keys := count(`SELECT count(*) FROM signing_keys WHERE status = 'active'`)
	keyFiles := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "data", "demo-app-key.json")); err == nil {
			keyFiles++
		}
	}
	if len(dup) > 0 || customers != int64(len(core.Personas())) || users != 1 || demoPartners != 1 || apps != 1 || keys != 2 || keyFiles != 1 {
		t.Fatalf("after two concurrent starts: duplicated personas %v, %d sandbox customers (want %d), %d demo logins, %d demo partners, %d demo apps, %d active signing keys (want 2), %d demo key files; want one of each",
			dup, customers, len(core.Personas()), users, demoPartners, apps, keys, keyFiles)
	}
	for i, n := range nodes {
		if strings.Contains(n.stderr.String(), "level=ERROR") {
			t.Errorf("node %d logged errors:\n%s", i, n.stderr)
		}
	}
}

// testRedis returns BANKBRIDGE_TEST_REDIS (a Redis URL) or skips.
func testRedis(t *testing.T) string {
	t.Helper()
	u := os.Getenv("BANKBRIDGE_TEST_REDIS")
	if u == "" {
		t.Skip("needs BANKBRIDGE_TEST_REDIS")
	}
	return u
}

// logLine is a line of the JSON log.
type logLine struct {
	Level   string `json:"level"`
	Msg     string `json:"msg"`
	KeyFile string `json:"key_file"`
}

// TestStartupWarnings runs the binary (JSON logs) in setups that start but
// half-work with several nodes and compares its warnings exactly: on
// PostgreSQL, no Redis (quotas per node) and a key file instead of
// BANKBRIDGE_ENCRYPTION_KEY (development mode); SQLite, a single node's
// engine, warns about neither.
func TestStartupWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	bin := buildBinary(t)
	type warning struct{ msg, keyFile string }
	cases := []struct {
		name     string
		postgres bool
		redis    bool
		key      bool
		want     func(dir string) []warning
	}{
		{"ok/sqlite-key-file-no-redis", false, false, false, func(string) []warning { return nil }},
		{"ok/postgres-key-file-no-redis", true, false, false, func(dir string) []warning {
			return []warning{{msg: warnQuotasPerNode}, {msg: warnKeyFile, keyFile: filepath.Join(dir, "data", "master.key")}}
		}},
		{"ok/postgres-key-no-redis", true, false, true, func(string) []warning { return []warning{{msg: warnQuotasPerNode}} }},
		{"ok/postgres-key-file-redis", true, true, false, func(dir string) []warning {
			return []warning{{msg: warnKeyFile, keyFile: filepath.Join(dir, "data", "master.key")}}
		}},
		{"ok/postgres-key-redis", true, true, true, func(string) []warning { return nil }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			extra := map[string]string{}
			if tc.postgres {
				extra["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			if tc.redis {
				extra["REDIS_URL"] = testRedis(t)
			}
			if tc.key {
				extra[secrets.KeyEnv] = testKey(t)
			}
			dir := t.TempDir()
			p := startIn(t, bin, dir, childEnv(extra), "serve", "--addr", freeAddr(t), "--seed=false", "--log-format", "json", "--webhook-dispatchers", "0")
			p.stop(t)
			var got []warning
			for _, l := range strings.Split(strings.TrimSpace(p.stderr.String()), "\n") {
				var ll logLine
				if err := json.Unmarshal([]byte(l), &ll); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				if ll.Level == "WARN" || ll.Level == "ERROR" {
					got = append(got, warning{ll.Msg, ll.KeyFile})
				}
			}
			want := tc.want(dir)
			if len(got) != len(want) {
				t.Fatalf("warnings %q\nwant %q", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("warning %d: %q\nwant %q", i, got[i], want[i])
				}
			}
		})
	}
}

// tcpRelay forwards connections to a TCP address until closed; Close then
// also cuts the connections it relays (the service "goes away").
type tcpRelay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPRelay(t *testing.T, target string) *tcpRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{ln: ln}
	t.Cleanup(r.Close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return r
}

// Addr is where the relay listens.
func (r *tcpRelay) Addr() string { return r.ln.Addr().String() }

// Close stops accepting and cuts every relayed connection.
func (r *tcpRelay) Close() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestReadyzChecksRedis: with --redis-url, /readyz answers 200 naming Redis
// while Redis answers PING, and 503 once Redis is unreachable (a relay to
// the test's Redis is cut), while /healthz still answers 200.
func TestReadyzChecksRedis(t *testing.T) {
	redisURL := testRedis(t)
	for engine, dbURL := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			u, err := url.Parse(redisURL)
			if err != nil {
				t.Fatal(err)
			}
			relay := newTCPRelay(t, u.Host)
			u.Host = relay.Addr()
			s := MustStart(t, dbURL(t), "--redis-url", u.String(), "--seed=false", "--webhook-dispatchers", "0")
			get := func(path string) (int, string) {
				resp, err := http.Get(s.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			dialect := string(s.Main.Platform.DB.Dialect)
			for _, tc := range []struct {
				name   string
				before func()
				status int
				body   string
			}{
				{"ok/redis-up", func() {}, http.StatusOK, `{"database":"` + dialect + `","redis":"ok","status":"ready"}`},
				{"fail/redis-unreachable", relay.Close, http.StatusServiceUnavailable, `{"database":"` + dialect + `","redis":"unreachable","status":"unavailable"}`},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.before()
					if st, body := get("/readyz"); st != tc.status || body != tc.body {
						t.Fatalf("/readyz: %d %s\nwant %d %s", st, body, tc.status, tc.body)
					}
					if st, body := get("/healthz"); st != http.StatusOK || body != `{"status":"ok"}` {
						t.Fatalf("/healthz: %d %s", st, body)
					}
				})
			}
		})
	}
}

// TestSecretsFromFiles: DATABASE_URL, REDIS_URL, BANKBRIDGE_SMTP_URL and
// BANKBRIDGE_ENCRYPTION_KEY may be given as files (NAME_FILE, the Compose
// secrets convention); a flag still wins.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := testKey(t)
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		want    func(c *Config) string // "" when as expected
		wantErr string
	}{
		{"ok/database-url-file", map[string]string{"DATABASE_URL_FILE": write("db", "postgres://bb:pw@postgres/bankbridge\n")}, nil,
			func(c *Config) string { return cmpStr(c.DatabaseURL, "postgres://bb:pw@postgres/bankbridge") }, ""},
		{"ok/key-and-smtp-files", map[string]string{secrets.KeyEnv + "_FILE": write("key", key+"\n"),
			"BANKBRIDGE_SMTP_URL_FILE": write("smtp", "smtp://relay:pw@mail.bank.example:587")}, nil,
			func(c *Config) string {
				return cmpStr(c.EncryptionKey, key) + cmpStr(c.SMTPURL, "smtp://relay:pw@mail.bank.example:587")
			}, ""},
		{"ok/redis-url-file", map[string]string{"REDIS_URL_FILE": write("redis", "redis://redis:6379/0")}, nil,
			func(c *Config) string { return cmpStr(c.RedisURL, "redis://redis:6379/0") }, ""},
		{"ok/flag-wins", map[string]string{"DATABASE_URL_FILE": write("db2", "postgres://from-file/x")}, []string{"--database-url", "postgres://from-flag/x"},
			func(c *Config) string { return cmpStr(c.DatabaseURL, "postgres://from-flag/x") }, ""},
		{"fail/both-set", map[string]string{"DATABASE_URL": "postgres://a/b", "DATABASE_URL_FILE": write("db3", "postgres://c/d")}, nil, nil,
			"DATABASE_URL and DATABASE_URL_FILE are both set; use one"},
		{"fail/missing-file", map[string]string{"REDIS_URL_FILE": filepath.Join(dir, "absent")}, nil, nil,
			"REDIS_URL_FILE: open " + filepath.Join(dir, "absent") + ": no such file or directory"},
		{"fail/empty-file", map[string]string{"BANKBRIDGE_SMTP_URL_FILE": write("empty", " \n")}, nil, nil,
			"BANKBRIDGE_SMTP_URL_FILE: " + filepath.Join(dir, "empty") + " is empty"},
		{"fail/bad-key-file", map[string]string{secrets.KeyEnv + "_FILE": write("badkey", "c2hvcnQ=")}, nil, nil,
			secrets.KeyEnv + " must be base64 of 32 bytes (e.g. from: openssl rand -base64 32)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range secretSettings {
				t.Setenv(name, "")
				t.Setenv(name+secretFileSuffix, "")
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var c Config
			c.Flags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := tc.want(&c); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func cmpStr(got, want string) string {
	if got != want {
		return "got " + got + ", want " + want + "\n"
	}
	return ""
}

// TestProductionFromSecretFiles runs the binary in production mode as the
// compose file does: the database URL, SMTP URL and encryption key each in
// a file named by NAME_FILE; it starts (no data/ written) and is ready.
func TestProductionFromSecretFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs real processes")
	}
	dbURL := dbtest.PostgresURL(t) // skips without BANKBRIDGE_TEST_POSTGRES
	bin := buildBinary(t)
	dir := t.TempDir()
	files := map[string]string{"DATABASE_URL": dbURL, "BANKBRIDGE_SMTP_URL": "smtp://127.0.0.1:2525", secrets.KeyEnv: testKey(t)}
	env := map[string]string{"BANKBRIDGE_MODE": "production", "BANKBRIDGE_ISSUER": "https://bank.example"}
	for name, v := range files {
		p := filepath.Join(dir, strings.ToLower(name))
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env[name+secretFileSuffix] = p
	}
	work := t.TempDir()
	addr := freeAddr(t)
	p := startIn(t, bin, work, childEnv(env), "serve", "--addr", addr, "--webhook-dispatchers", "0")
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"database":"postgres","status":"ready"}` {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
	}
	p.stop(t)
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Fatalf("production left %v in its working directory", entries)
	}
}
