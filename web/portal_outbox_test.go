package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/mail"
)

// TestDevOutboxLoopbackOnly: the development outbox (verification and
// invitation links in clear) answers only clients whose TCP peer address is
// loopback; a forwarded-for header does not make a remote client local, and
// without DevOutbox (production) the route does not exist. A refusal looks
// exactly like an unknown path.
func TestDevOutboxLoopbackOnly(t *testing.T) {
	d := dbtest.MustSQLite(t)
	if _, err := mail.Enqueue(context.Background(), d.DB, mail.Message{Recipient: "dev@wallet.example", Template: "verify_email",
		Subject: "Verify your Bankbridge email address", Body: "https://bank.example/portal/verify-email?token=secret-token"}); err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	router := func(dev bool) *gin.Engine {
		r := gin.New()
		r.NoRoute(NotFoundPage(MustRenderer())) // as the platform's router does
		(&Portal{Pages: MustRenderer(), DB: d.DB, DevOutbox: dev, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
		return r
	}
	get := func(r *gin.Engine, path, remote string, hdr map[string]string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	dev := router(true)
	unknownStatus, unknownBody := get(dev, "/portal/no-such-page", "192.0.2.7:40000", nil)
	if unknownStatus != http.StatusNotFound {
		t.Fatalf("unknown path answered %d", unknownStatus)
	}
	cases := []struct {
		name   string
		dev    bool
		remote string
		hdr    map[string]string
		ok     bool
	}{
		{"ok/ipv4-loopback", true, "127.0.0.1:53000", nil, true},
		{"ok/other-127-address", true, "127.0.0.2:53000", nil, true},
		{"ok/ipv6-loopback", true, "[::1]:53000", nil, true},
		{"fail/remote", true, "192.0.2.7:40000", nil, false},
		{"fail/remote-claiming-loopback-by-header", true, "192.0.2.7:40000",
			map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1", "Forwarded": "for=127.0.0.1"}, false},
		{"fail/ipv4-mapped-remote", true, "[::ffff:192.0.2.7]:40000", nil, false},
		{"fail/unspecified", true, "0.0.0.0:40000", nil, false},
		{"fail/no-peer-address", true, "", nil, false},
		{"fail/production-loopback", false, "127.0.0.1:53000", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dev
			if !tc.dev {
				r = router(false)
			}
			status, body := get(r, "/portal/dev/outbox", tc.remote, tc.hdr)
			if tc.ok {
				if status != http.StatusOK || !strings.Contains(body, "secret-token") {
					t.Fatalf("status %d, body lacks the mail:\n%s", status, body)
				}
				return
			}
			if status != unknownStatus || body != unknownBody {
				t.Fatalf("status %d body %q; want the unknown-path answer %d %q", status, body, unknownStatus, unknownBody)
			}
		})
	}
}

// TestCheckEmailPointsOnlyLocalClientsAtOutbox: the "check your email" page
// mentions the development outbox only to the clients that may open it.
func TestCheckEmailPointsOnlyLocalClientsAtOutbox(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		name   string
		dev    bool
		remote string
		link   bool
	}{
		{"ok/development-loopback", true, "127.0.0.1:53000", true},
		{"fail/development-remote", true, "192.0.2.7:40000", false},
		{"fail/production-loopback", false, "127.0.0.1:53000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			(&Portal{Pages: MustRenderer(), DevOutbox: tc.dev, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}).Register(r)
			req := httptest.NewRequest(http.MethodGet, "/portal/check-email", nil)
			req.RemoteAddr = tc.remote
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Check your email") {
				t.Fatalf("status %d:\n%s", w.Code, w.Body)
			}
			if got := strings.Contains(w.Body.String(), `href="/portal/dev/outbox"`); got != tc.link {
				t.Fatalf("outbox link shown = %v, want %v", got, tc.link)
			}
		})
	}
}
