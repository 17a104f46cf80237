package web

import (
	"context"
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
