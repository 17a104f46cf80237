package mail_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/mail/mailtest"
)

func TestParseSMTPURL(t *testing.T) {
	cases := []struct {
		name, raw string
		want      mail.SMTP
		tls       mail.TLSMode
		err       string
	}{
		{"ok/loopback-default-port", "smtp://127.0.0.1", mail.SMTP{Host: "127.0.0.1", Port: 587}, mail.TLSStartTLSOpportunistic, ""},
		{"ok/localhost", "smtp://localhost:2525", mail.SMTP{Host: "localhost", Port: 2525}, mail.TLSStartTLSOpportunistic, ""},
		{"ok/ipv6-loopback", "smtp://[::1]:25", mail.SMTP{Host: "::1", Port: 25}, mail.TLSStartTLSOpportunistic, ""},
		{"ok/other-loopback", "smtp://127.0.0.2:25", mail.SMTP{Host: "127.0.0.2", Port: 25}, mail.TLSStartTLSOpportunistic, ""},
		{"ok/remote-requires-starttls", "smtp://user:p%40ss@mail.bank.example:587", mail.SMTP{Host: "mail.bank.example", Port: 587, Username: "user", Password: "p@ss"}, mail.TLSStartTLSRequired, ""},
		{"ok/private-address-is-not-loopback", "smtp://10.0.0.5:25", mail.SMTP{Host: "10.0.0.5", Port: 25}, mail.TLSStartTLSRequired, ""},
		{"ok/localhost-lookalike", "smtp://localhost.bank.example:25", mail.SMTP{Host: "localhost.bank.example", Port: 25}, mail.TLSStartTLSRequired, ""},
		{"ok/smtps", "smtps://relay.example", mail.SMTP{Host: "relay.example", Port: 465, Implicit: true}, mail.TLSImplicit, ""},
		{"ok/smtps-loopback", "smtps://127.0.0.1:1465", mail.SMTP{Host: "127.0.0.1", Port: 1465, Implicit: true}, mail.TLSImplicit, ""},
		{"fail/scheme", "http://relay.example", mail.SMTP{}, 0, `has scheme "http"; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port`},
		{"fail/no-scheme", "relay.example:25", mail.SMTP{}, 0, `has scheme "relay.example"; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port`},
		{"fail/no-host", "smtp://:25", mail.SMTP{}, 0, "has no host; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port"},
		{"fail/port", "smtp://relay.example:70000", mail.SMTP{}, 0, `has port "70000"; want 1-65535`},
		{"fail/path", "smtp://relay.example:25/x", mail.SMTP{}, 0, "must be only scheme, credentials, host and port; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port"},
		{"fail/password-without-user", "smtp://:secret@relay.example", mail.SMTP{}, 0, "has a password but no user name; want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mail.ParseSMTPURL(tc.raw)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("error repeats the password: %v", err)
				}
				return
			}
			if err != nil || got != tc.want || got.TLS() != tc.tls {
				t.Fatalf("got %+v (%v), %v; want %+v (%v)", got, got.TLS(), err, tc.want, tc.tls)
			}
		})
	}
	if s, _ := mail.ParseSMTPURL("smtp://u:secret@relay.example:25"); s.String() != "smtp://u@relay.example:25" {
		t.Fatalf("String() = %q, want the URL without the password", s.String())
	}
}

func TestRedact(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"ok/verification-link": {
			"Confirm: https://bank.example/portal/verify-email?token=abc123_-XYZ\n\nThanks.",
			"Confirm: https://bank.example/portal/verify-email?token=[sent]\n\nThanks."},
		"ok/several-params-fragment-and-trailing-dot": {
			"Open http://127.0.0.1:8080/portal/invitations/accept?token=t0k&x=1#frag.",
			"Open http://127.0.0.1:8080/portal/invitations/accept?token=[sent]&x=[sent]#[sent]."},
		"ok/bare-query-value":        {"See https://a.example/p?secret", "See https://a.example/p?[sent]"},
		"ok/link-without-query-kept": {"Docs: https://bank.example/docs", "Docs: https://bank.example/docs"},
		"ok/no-links":                {"Your endpoint was disabled.", "Your endpoint was disabled."},
	} {
		if got := mail.Redact(c.in); got != c.want {
			t.Errorf("%s: Redact = %q, want %q", name, got, c.want)
		}
	}
}

// clock is a test clock the sender reads.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock {
	return &clock{t: time.Now().UTC().Add(time.Second).Truncate(time.Microsecond)}
}

const verifyBody = "Confirm your address: https://bank.example/portal/verify-email?token=tok-%d-secret\n"

func enqueue(t *testing.T, d *db.DB, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		m, err := mail.Enqueue(context.Background(), d.DB, mail.Message{Recipient: fmt.Sprintf("dev%d@wallet.example", i),
			Template: "verify_email", Subject: "Verify your Bankbridge email address", Body: fmt.Sprintf(verifyBody, i)})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m.ID)
	}
	return out
}

func row(t *testing.T, d *db.DB, id string) mail.Message {
	t.Helper()
	var m mail.Message
	if err := d.DB.Where("id = ?", id).Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	return m
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sender makes a Sender to smtpURL; dialTo, when set, is where every
// connection really goes (so a non-loopback host name reaches the sink).
func sender(t *testing.T, d *db.DB, smtpURL string, c *clock, dialTo string, cert *mailtest.Cert, mod func(*mail.SenderConfig)) *mail.Sender {
	t.Helper()
	s, err := mail.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mail.SenderConfig{DB: d, SMTP: s, From: "Bankbridge <no-reply@bank.example>", Logger: quiet(), Timeout: 5 * time.Second}
	if c != nil {
		cfg.Now = c.now
	}
	if cert != nil {
		cfg.RootCAs = cert.Pool
	}
	if dialTo != "" {
		cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, network, dialTo)
		}
	}
	if mod != nil {
		mod(&cfg)
	}
	snd, err := mail.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func sendDue(t *testing.T, s *mail.Sender) int {
	t.Helper()
	n, err := s.SendDue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSenderConnections sends one verification mail over each kind of
// connection the URL can ask for and checks what arrived and what the outbox
// keeps; the refusals send nothing at all.
func TestSenderConnections(t *testing.T) {
	eachEngine(t, func(t *testing.T, open func(testing.TB) *db.DB) {
		loopCert := mailtest.NewCert(t, "127.0.0.1")
		remoteCert := mailtest.NewCert(t, "mail.bank.example")
		cases := []struct {
			name    string
			sink    mailtest.Options
			url     func(s *mailtest.Sink) string
			remote  bool // dial "mail.bank.example" to the sink
			cert    *mailtest.Cert
			wantTLS bool
			user    string
			lastErr string // "" for delivered
		}{
			{name: "ok/plain-loopback", sink: mailtest.Options{},
				url: func(s *mailtest.Sink) string { return "smtp://" + s.Addr }},
			{name: "ok/loopback-uses-offered-starttls", sink: mailtest.Options{StartTLS: loopCert.Server, Username: "relay", Password: "pw"},
				url: func(s *mailtest.Sink) string { return "smtp://relay:pw@" + s.Addr }, cert: loopCert, wantTLS: true, user: "relay"},
			{name: "ok/remote-starttls", sink: mailtest.Options{StartTLS: remoteCert.Server, Username: "relay", Password: "pw"},
				url: func(s *mailtest.Sink) string { return fmt.Sprintf("smtp://relay:pw@mail.bank.example:%d", s.Port) }, remote: true,
				cert: remoteCert, wantTLS: true, user: "relay"},
			{name: "ok/smtps", sink: mailtest.Options{Implicit: loopCert.Server, Username: "relay", Password: "pw"},
				url: func(s *mailtest.Sink) string { return "smtps://relay:pw@" + s.Addr }, cert: loopCert, wantTLS: true, user: "relay"},
			{name: "fail/remote-without-starttls", sink: mailtest.Options{Username: "relay", Password: "pw"},
				url: func(s *mailtest.Sink) string { return fmt.Sprintf("smtp://relay:pw@mail.bank.example:%d", s.Port) }, remote: true,
				lastErr: `connect to mail.bank.example:%d: STARTTLS mode set to: "TLSMandatory", but target host does not support STARTTLS`},
			{name: "fail/untrusted-certificate", sink: mailtest.Options{StartTLS: remoteCert.Server},
				url: func(s *mailtest.Sink) string { return fmt.Sprintf("smtp://mail.bank.example:%d", s.Port) }, remote: true,
				lastErr: "connect to mail.bank.example:%d: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				d := open(t)
				sink := mailtest.Start(t, tc.sink)
				dialTo := ""
				if tc.remote {
					dialTo = sink.Addr
				}
				id := enqueue(t, d, 1)[0]
				before := row(t, d, id)
				s := sender(t, d, tc.url(sink), nil, dialTo, tc.cert, nil)
				if n := sendDue(t, s); n != 1 {
					t.Fatalf("attempted %d, want 1", n)
				}
				got := row(t, d, id)
				if tc.lastErr != "" {
					want := fmt.Sprintf(tc.lastErr, sink.Port)
					if got.SentAt != nil || got.Attempts != 1 || got.LastError != want || got.NextAttemptAt == nil || got.Body != before.Body {
						t.Fatalf("row after refusal: sent %v attempts %d next %v last_error %q; want last_error %q", got.SentAt, got.Attempts, got.NextAttemptAt, got.LastError, want)
					}
					for _, c := range sink.Commands() {
						if strings.HasPrefix(c, "AUTH") || strings.HasPrefix(c, "MAIL") {
							t.Fatalf("sent %q over an unprotected connection (commands %q)", c, sink.Commands())
						}
					}
					if len(sink.Messages()) != 0 {
						t.Fatal("a message arrived")
					}
					return
				}
				msgs := sink.Messages()
				if len(msgs) != 1 {
					t.Fatalf("%d messages arrived, want 1", len(msgs))
				}
				m := msgs[0]
				if m.TLS != tc.wantTLS || m.AuthUser != tc.user || m.From != "no-reply@bank.example" || len(m.To) != 1 || m.To[0] != "dev0@wallet.example" {
					t.Fatalf("arrived: tls %v auth %q from %q to %q", m.TLS, m.AuthUser, m.From, m.To)
				}
				if m.Subject() != "Verify your Bankbridge email address" || m.Header.Get("Message-Id") != "<"+id+"@bank.example>" ||
					m.Header.Get("From") != `"Bankbridge" <no-reply@bank.example>` {
					t.Fatalf("headers: %v", m.Header)
				}
				// The recipient gets the usable link; the outbox keeps none.
				if m.Text != before.Body {
					t.Fatalf("body arrived as %q, want %q", m.Text, before.Body)
				}
				wantBody := "Confirm your address: https://bank.example/portal/verify-email?token=[sent]\n"
				if got.SentAt == nil || got.Attempts != 1 || got.NextAttemptAt != nil || got.LastError != "" || got.ClaimedBy != "" || got.Body != wantBody {
					t.Fatalf("row after sending: sent %v attempts %d next %v claimed %q last_error %q body %q", got.SentAt, got.Attempts, got.NextAttemptAt, got.ClaimedBy, got.LastError, got.Body)
				}
				if n := sendDue(t, s); n != 0 {
					t.Fatalf("a sent mail was claimed again (%d)", n)
				}
			})
		}
	})
}

// TestSenderRetries: a 4xx answer and a dropped connection are retried with
// exponential backoff until the mail goes out; a 5xx answer, or running out
// of attempts, gives up (and redacts the body).
func TestSenderRetries(t *testing.T) {
	eachEngine(t, func(t *testing.T, open func(testing.TB) *db.DB) {
		t.Run("ok/4xx-then-disconnect-then-sent", func(t *testing.T) {
			d := open(t)
			sink := mailtest.Start(t, mailtest.Options{})
			sink.FailNext(1, "451 4.3.0 try again later")
			sink.FailNext(1, "")
			c := newClock()
			s := sender(t, d, "smtp://"+sink.Addr, c, "", nil, func(cfg *mail.SenderConfig) { cfg.BackoffBase = 30 * time.Second })
			id := enqueue(t, d, 1)[0]
			t0 := c.now()

			sendDue(t, s)
			r := row(t, d, id)
			if r.Attempts != 1 || r.NextAttemptAt == nil || !r.NextAttemptAt.Equal(t0.Add(30*time.Second)) ||
				r.LastError != dataErr("451", "4.3.0 try again later", id) || r.SentAt != nil || r.ClaimedBy != "" {
				t.Fatalf("after a 451: attempts %d next %v (want %v) last_error %q", r.Attempts, r.NextAttemptAt, t0.Add(30*time.Second), r.LastError)
			}
			c.add(29 * time.Second)
			if n := sendDue(t, s); n != 0 {
				t.Fatal("retried before the backoff ended")
			}
			c.add(time.Second)
			sendDue(t, s)
			r = row(t, d, id)
			if want := t0.Add(30*time.Second + 60*time.Second); r.Attempts != 2 || r.NextAttemptAt == nil || !r.NextAttemptAt.Equal(want) ||
				r.LastError != "closing SMTP DATA writer: EOF, affected message ID: <"+id+"@bank.example>" {
				t.Fatalf("after a dropped connection: attempts %d next %v (want %v) last_error %q", r.Attempts, r.NextAttemptAt, want, r.LastError)
			}
			c.add(60 * time.Second)
			sendDue(t, s)
			r = row(t, d, id)
			if r.Attempts != 3 || r.SentAt == nil || r.LastError != "" || strings.Contains(r.Body, "secret") || len(sink.Messages()) != 1 {
				t.Fatalf("after the third attempt: attempts %d sent %v last_error %q body %q, %d arrived", r.Attempts, r.SentAt, r.LastError, r.Body, len(sink.Messages()))
			}
		})
		t.Run("fail/gives-up-after-max-attempts", func(t *testing.T) {
			d := open(t)
			sink := mailtest.Start(t, mailtest.Options{})
			sink.FailNext(3, "421 4.7.0 busy")
			c := newClock()
			s := sender(t, d, "smtp://"+sink.Addr, c, "", nil, func(cfg *mail.SenderConfig) { cfg.MaxAttempts = 3 })
			id := enqueue(t, d, 1)[0]
			for i := 0; i < 3; i++ {
				sendDue(t, s)
				c.add(time.Hour)
			}
			r := row(t, d, id)
			if r.Attempts != 3 || r.FailedAt == nil || r.NextAttemptAt != nil || r.SentAt != nil || r.LastError != dataErr("421", "4.7.0 busy", id) ||
				r.Body != "Confirm your address: https://bank.example/portal/verify-email?token=[sent]\n" {
				t.Fatalf("after giving up: attempts %d failed %v next %v last_error %q body %q", r.Attempts, r.FailedAt, r.NextAttemptAt, r.LastError, r.Body)
			}
			if n := sendDue(t, s); n != 0 || len(sink.Messages()) != 0 {
				t.Fatal("a given-up mail was tried again")
			}
		})
		t.Run("fail/5xx-gives-up-at-once", func(t *testing.T) {
			d := open(t)
			sink := mailtest.Start(t, mailtest.Options{})
			sink.FailNext(1, "550 5.1.1 mailbox unavailable")
			s := sender(t, d, "smtp://"+sink.Addr, newClock(), "", nil, nil)
			id := enqueue(t, d, 1)[0]
			sendDue(t, s)
			r := row(t, d, id)
			if r.Attempts != 1 || r.FailedAt == nil || r.NextAttemptAt != nil || r.LastError != dataErr("550", "5.1.1 mailbox unavailable", id) {
				t.Fatalf("after a 550: attempts %d failed %v next %v last_error %q", r.Attempts, r.FailedAt, r.NextAttemptAt, r.LastError)
			}
		})
	})
}

// TestTwoSendersDeliverOnce: two senders (two nodes) on one database deliver
// every mail exactly once.
// dataErr is go-mail's error for a reply to the end of DATA.
func dataErr(code, text, id string) string {
	return fmt.Sprintf("closing SMTP DATA writer: %s %q, affected message ID: <%s@bank.example>", code, text, id)
}

// eachEngine runs fn per engine with a function that opens a fresh,
// migrated database of that engine (one per subtest, so none sees another's
// mail).
func eachEngine(t *testing.T, fn func(t *testing.T, open func(testing.TB) *db.DB)) {
	for _, e := range dbtest.Engines() {
		t.Run(e.Name, func(t *testing.T) { fn(t, e.Open) })
	}
}

func TestTwoSendersDeliverOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		sink := mailtest.Start(t, mailtest.Options{})
		const n = 40
		ids := enqueue(t, d, n)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			s := sender(t, d, "smtp://"+sink.Addr, nil, "", nil, func(cfg *mail.SenderConfig) {
				cfg.ID, cfg.Batch, cfg.PollInterval = fmt.Sprintf("node-%d", i), 3, 5*time.Millisecond
			})
			wg.Add(1)
			go func() { defer wg.Done(); s.Run(ctx) }()
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			var unsent int64
			if err := d.DB.Model(&mail.Message{}).Where("sent_at IS NULL").Count(&unsent).Error; err != nil {
				t.Fatal(err)
			}
			if unsent == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d mails unsent", unsent)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		seen := map[string]int{}
		for _, m := range sink.Messages() {
			seen[m.Header.Get("Message-Id")]++
		}
		for _, id := range ids {
			if c := seen["<"+id+"@bank.example>"]; c != 1 {
				t.Errorf("mail %s arrived %d times", id, c)
			}
		}
		if got := len(sink.Messages()); got != n {
			t.Errorf("%d messages arrived, want %d", got, n)
		}
	})
}
