package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		s := &Sessions{DB: d.DB, Now: func() time.Time { return now }}
		rec := httptest.NewRecorder()
		if err := s.Create(ctx, rec, httptest.NewRequest("POST", "/", nil), SessionCustomer, "cus_1"); err != nil {
			t.Fatal(err)
		}
		ck := rec.Result().Cookies()[len(rec.Result().Cookies())-1]
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Name != "bb_customer" {
			t.Fatalf("cookie %+v", ck)
		}
		req := func(c *http.Cookie) *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(c)
			return r
		}
		got, err := s.Get(ctx, req(ck), SessionCustomer)
		if err != nil || got.SubjectID != "cus_1" {
			t.Fatalf("ok/get: %v %v", got, err)
		}
		cases := map[string]func() error{
			"fail/other-kind": func() error { _, err := s.Get(ctx, req(ck), SessionStaff); return err },
			"fail/forged": func() error {
				_, err := s.Get(ctx, req(&http.Cookie{Name: "bb_customer", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}), SessionCustomer)
				return err
			},
			"fail/no-cookie": func() error { _, err := s.Get(ctx, httptest.NewRequest("GET", "/", nil), SessionCustomer); return err },
		}
		for name, f := range cases {
			if err := f(); err != ErrNoSession {
				t.Errorf("%s: err %v, want ErrNoSession", name, err)
			}
		}
		now = now.Add(31 * time.Minute)
		if _, err := s.Get(ctx, req(ck), SessionCustomer); err != ErrNoSession {
			t.Fatalf("fail/idle-timeout: err %v", err)
		}
		// A new session, destroyed explicitly.
		rec = httptest.NewRecorder()
		s.Create(ctx, rec, httptest.NewRequest("POST", "/", nil), SessionStaff, "stf_1")
		ck2 := rec.Result().Cookies()[len(rec.Result().Cookies())-1]
		s.DestroyAll(ctx, SessionStaff, "stf_1")
		if _, err := s.Get(ctx, req(ck2), SessionStaff); err != ErrNoSession {
			t.Fatalf("fail/destroyed: err %v", err)
		}
	})
}

// TestSessionStepUp: a step-up is kept on its own session's row, read back
// by Get, at least as strong as asked, until StepUpTTL has passed; a new
// session (Renew) starts without one.
func TestSessionStepUp(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		s := &Sessions{DB: d.DB, Now: func() time.Time { return now }}
		login := func() *http.Cookie {
			rec := httptest.NewRecorder()
			if err := s.Create(ctx, rec, httptest.NewRequest("POST", "/", nil), SessionCustomer, "cus_1"); err != nil {
				t.Fatal(err)
			}
			cks := rec.Result().Cookies()
			return cks[len(cks)-1]
		}
		get := func(ck *http.Cookie) *Session {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(ck)
			sess, err := s.Get(ctx, r, SessionCustomer)
			if err != nil {
				t.Fatal(err)
			}
			return sess
		}
		one, two := login(), login()
		if err := s.StepUp(ctx, get(one), StepUpPassword); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			ck       *http.Cookie
			strength string
			after    time.Duration
			want     bool
		}{
			{"ok/password", one, StepUpPassword, 0, true},
			{"ok/just-before-expiry", one, StepUpPassword, StepUpTTL - time.Second, true},
			{"fail/weaker-than-asked", one, StepUpStrong, 0, false},
			{"fail/another-session", two, StepUpPassword, 0, false},
			{"fail/expired", one, StepUpPassword, StepUpTTL, false},
			{"fail/unknown-strength", one, "pin", 0, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sess := get(tc.ck)
				defer func(at time.Time) { now = at }(now)
				now = now.Add(tc.after)
				if got := s.SteppedUp(sess, tc.strength); got != tc.want {
					t.Fatalf("SteppedUp(%q) after %s = %v, want %v (%+v)", tc.strength, tc.after, got, tc.want, sess)
				}
			})
		}
		if err := s.StepUp(ctx, get(two), StepUpStrong); err != nil {
			t.Fatal(err)
		}
		if !s.SteppedUp(get(two), StepUpPassword) || !s.SteppedUp(get(two), StepUpStrong) {
			t.Fatal("ok/strong includes password")
		}
		t.Run("fail/session-gone", func(t *testing.T) {
			sess := get(one)
			if err := s.DestroyAll(ctx, SessionCustomer, "cus_1"); err != nil {
				t.Fatal(err)
			}
			if err := s.StepUp(ctx, sess, StepUpStrong); !errors.Is(err, ErrNoSession) {
				t.Fatalf("%v, want ErrNoSession", err)
			}
		})
	})
}
