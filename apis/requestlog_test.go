package apis_test

import (
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
)

// TestRequestLogBounded: the request log keeps only requests with a verified
// token, attributed to its partner and app, and never more than
// apis.MaxLoggedPath bytes of path: a 500 KB path refused 401 stores
// nothing, the same path with a valid token stores a bounded row.
func TestRequestLogBounded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		p := e.partner("ptn_bounded", environment.Sandbox)
		alice := e.customer("alice")
		cur := alice.account(core.AccountCurrent)
		_, tok := p.accountConsent(alice, allPerms, cur.ID)
		huge := aisp + "/accounts/acc_" + strings.Repeat("x", 500<<10) + "/balances"
		all := func() int64 { return e.rows("request_log", "1 = 1") }

		t.Run("fail/no token stores nothing", func(t *testing.T) {
			before := all()
			wantStatus(t, e.do("GET", huge, "", nil), 401)
			wantStatus(t, e.do("GET", aisp+"/accounts", "", nil), 401)
			if n := all(); n != before {
				t.Fatalf("%d rows stored for unauthenticated requests", n-before)
			}
		})
		t.Run("fail/invalid token stores nothing", func(t *testing.T) {
			before := all()
			wantStatus(t, e.do("GET", huge, "not-a-token", nil), 401)
			if n := all(); n != before {
				t.Fatalf("%d rows stored for a request with an invalid token", n-before)
			}
		})
		t.Run("ok/authenticated huge path stores a bounded row", func(t *testing.T) {
			r := e.do("GET", huge+"?q="+strings.Repeat("y", 1000), tok, nil)
			if r.status < 400 {
				t.Fatalf("status %d", r.status)
			}
			entries, err := e.svc.RequestLog(ctx, p.id, p.app, apis.RequestLogFilter{Query: "acc_xxx"})
			if err != nil || len(entries) != 1 {
				t.Fatalf("RequestLog: %d entries, %v", len(entries), err)
			}
			got := entries[0]
			if len(got.Path) != apis.MaxLoggedPath || !strings.HasPrefix(huge, strings.TrimSuffix(got.Path, "…")) ||
				!strings.HasSuffix(got.Path, "…") || strings.Contains(got.Path, "?") {
				t.Fatalf("path of %d bytes: %.80q…", len(got.Path), got.Path)
			}
			if got.ClientID != p.app || got.PartnerID != p.id || got.Environment != environment.Sandbox || got.Status != r.status {
				t.Fatalf("entry %+v", got)
			}
		})
		t.Run("ok/short path stored as sent", func(t *testing.T) {
			wantStatus(t, e.do("GET", aisp+"/accounts/"+cur.ID+"/balances", tok, nil), 200)
			entries, _ := e.svc.RequestLog(ctx, p.id, p.app, apis.RequestLogFilter{Query: cur.ID + "/balances"})
			if len(entries) != 1 || entries[0].Path != aisp+"/accounts/"+cur.ID+"/balances" {
				t.Fatalf("entries %+v", entries)
			}
		})
	})
}

// TestLogRequestBoundsPath: the store bounds what it is given too.
func TestLogRequestBoundsPath(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := &apis.RequestLogEntry{At: seedNow, PartnerID: "ptn_store", ClientID: "app_store", Method: "GET",
			Path: "/" + strings.Repeat("é", 2000), Status: 404}
		if err := apis.NewGormStore(d).LogRequest(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := apis.NewGormStore(d).RequestLog(ctx, "ptn_store", "", apis.RequestLogFilter{})
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		if p := got[0].Path; len(p) > apis.MaxLoggedPath || !strings.HasSuffix(p, "…") || !strings.HasPrefix(p, "/éé") {
			t.Fatalf("path of %d bytes: %.40q", len(p), p)
		}
	})
}
