package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/mail/mailtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// dirNames lists a directory's entries but the SQLite database's own files
// ("" for a missing directory).
func dirNames(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return ""
	}
	var names []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "bankbridge.db") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// TestModeSeeding: development seeds the demo partner, its portal login and
// app key file by default; production seeds nothing unless asked, and when
// asked only the synthetic sandbox customers. Production writes no key file
// and serves no development outbox.
func TestModeSeeding(t *testing.T) {
	sink := mailtest.Start(t, mailtest.Options{})
	prod := []string{"--mode", "production", "--issuer", "https://bank.example", "--smtp-url", "smtp://" + sink.Addr}
	cases := []struct {
		name      string
		args      []string
		seedEnv   string
		customers bool
		demo      bool
		outbox    int
		noKeyEnv  bool
		files     string // the data dir's files besides the SQLite database and its companions (-wal, -shm, -jtis)
	}{
		{"ok/development-default", nil, "", true, true, http.StatusOK, false, "demo-app-key.json"},
		{"ok/development-generates-key-file", nil, "", true, true, http.StatusOK, true, "demo-app-key.json master.key"},
		{"ok/development-no-seed", []string{"--seed=false"}, "", false, false, http.StatusOK, false, ""},
		{"ok/production-default-seeds-nothing", prod, "", false, false, http.StatusNotFound, false, ""},
		{"ok/production-seed-flag-customers-only", append([]string{"--seed"}, prod...), "", true, false, http.StatusNotFound, false, ""},
		{"ok/production-seed-env-customers-only", prod, "true", true, false, http.StatusNotFound, false, ""},
		{"ok/production-seed-env-false", prod, "false", false, false, http.StatusNotFound, false, ""},
	}
	for engine, url := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					key := testKey(t)
					if tc.noKeyEnv {
						key = ""
					}
					t.Setenv(secrets.KeyEnv, key)
					t.Setenv("BANKBRIDGE_SEED", tc.seedEnv)
					s := MustStart(t, url(t), tc.args...)
					d := s.Main.Platform.DB
					var customers, demoUsers, demoPartners int64
					d.Raw(`SELECT count(*) FROM core_customers WHERE username = 'alice'`).Scan(&customers)
					d.Raw(`SELECT count(*) FROM portal_users WHERE email = 'demo@wallet.example'`).Scan(&demoUsers)
					d.Raw(`SELECT count(*) FROM partners WHERE legal_name = 'Demo Wallet Ltd'`).Scan(&demoPartners)
					if (customers == 1) != tc.customers || (demoUsers == 1) != tc.demo || (demoPartners == 1) != tc.demo {
						t.Fatalf("seeded: alice %d, demo user %d, demo partner %d; want customers %v, demo %v", customers, demoUsers, demoPartners, tc.customers, tc.demo)
					}
					resp, err := http.Get(s.URL + "/portal/dev/outbox")
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != tc.outbox {
						t.Fatalf("/portal/dev/outbox from loopback: %d, want %d", resp.StatusCode, tc.outbox)
					}
					s.Stop(t)
					if got := dirNames(t, s.DataDir); got != tc.files {
						t.Fatalf("data dir holds %q, want %q", got, tc.files)
					}
				})
			}
		})
	}
}

// TestServeWithoutDataDir: on PostgreSQL with an explicit encryption key,
// serve starts in a place whose data directory does not exist; development
// creates it only to write the demo app's key, production never.
func TestServeWithoutDataDir(t *testing.T) {
	sink := mailtest.Start(t, mailtest.Options{})
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"ok/development": {nil, "demo-app-key.json"},
		"ok/production":  {[]string{"--mode", "production", "--issuer", "https://bank.example", "--smtp-url", "smtp://" + sink.Addr, "--seed"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			dbURL := engineURLs(t)["postgres"]
			if dbURL == nil {
				t.Skip("needs PostgreSQL")
			}
			t.Setenv(secrets.KeyEnv, testKey(t))
			dataDir := filepath.Join(t.TempDir(), "absent", "data")
			s := MustStart(t, dbURL(t), append([]string{"--data-dir", dataDir}, c.args...)...)
			s.Stop(t)
			if got := dirNames(t, dataDir); got != c.want {
				t.Fatalf("data dir holds %q, want %q", got, c.want)
			}
		})
	}
}

// TestServeSendsMail: with --smtp-url, serve's background sender delivers
// the outbox (from the default or the configured sender address) and
// redacts what it sent; development mode keeps the outbox page.
func TestServeSendsMail(t *testing.T) {
	for engine, url := range engineURLs(t) {
		t.Run(engine, func(t *testing.T) {
			for name, c := range map[string]struct {
				args     []string
				wantFrom string
			}{
				"ok/default-sender":    {nil, `"Bankbridge" <no-reply@[127.0.0.1]>`},
				"ok/configured-sender": {[]string{"--mail-from", "Acme Bank <developers@acme-bank.example>"}, `"Acme Bank" <developers@acme-bank.example>`},
			} {
				t.Run(name, func(t *testing.T) {
					sink := mailtest.Start(t, mailtest.Options{})
					s := MustStart(t, url(t), append([]string{"--seed=false", "--smtp-url", "smtp://" + sink.Addr}, c.args...)...)
					d := s.Main.Platform.DB
					m, err := mail.Enqueue(context.Background(), d.DB, mail.Message{Recipient: "dev@wallet.example", Template: "verify_email",
						Subject: "Verify your Bankbridge email address", Body: "Open " + s.Issuer + "/portal/verify-email?token=abc"})
					if err != nil {
						t.Fatal(err)
					}
					got := sink.WaitFor(t, 1, 30*time.Second)[0]
					if got.Header.Get("From") != c.wantFrom || strings.TrimSuffix(got.Text, "\n") != "Open "+s.Issuer+"/portal/verify-email?token=abc" {
						t.Fatalf("arrived from %q: %q", got.Header.Get("From"), got.Text)
					}
					deadline := time.Now().Add(30 * time.Second)
					for {
						var row mail.Message
						if err := d.DB.Where("id = ?", m.ID).Take(&row).Error; err != nil {
							t.Fatal(err)
						}
						if row.SentAt != nil {
							if row.Body != "Open "+s.Issuer+"/portal/verify-email?token=[sent]" {
								t.Fatalf("outbox keeps %q", row.Body)
							}
							break
						}
						if time.Now().After(deadline) {
							t.Fatal("the outbox row was not marked sent")
						}
						time.Sleep(20 * time.Millisecond)
					}
				})
			}
		})
	}
}

// TestTrustedProxies: behind a trusted proxy the client named by
// X-Forwarded-For is the one the platform sees (the loopback-only outbox page
// is refused to a remote client relayed by a loopback proxy); without the
// setting the header is ignored.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  int
	}{
		{name: "ok/no-trusted-proxy-header-ignored", want: http.StatusOK},
		{name: "fail/trusted-proxy-relays-remote-client", extra: []string{"--trusted-proxies", "127.0.0.0/8"}, want: http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := MustStart(t, "", append([]string{"--seed=false"}, tc.extra...)...)
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/portal/dev/outbox", nil)
			req.Header.Set("X-Forwarded-For", "203.0.113.5")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("GET /portal/dev/outbox via proxy: %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	t.Run("fail/bad-setting", func(t *testing.T) {
		out := &syncBuffer{}
		err := NewMain(out, out).Run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--trusted-proxies", "lb.internal"})
		if err == nil || !strings.Contains(out.String(), `bankbridge serve: --trusted-proxies: trusted proxy "lb.internal" is not an address or CIDR prefix`) {
			t.Fatalf("err = %v, output:\n%s", err, out)
		}
	})
}
