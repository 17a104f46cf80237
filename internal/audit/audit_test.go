package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

func TestRecordAndList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		must := func(e audit.Entry) {
			if err := audit.Record(ctx, d.DB, e); err != nil {
				t.Fatal(err)
			}
		}
		must(audit.Entry{ActorType: audit.ActorCustomer, ActorID: "cus_1", Action: "consent.authorised", ObjectType: "consent", ObjectID: "cns_1", PartnerID: "ptn_a", Details: map[string]any{"accounts": 2}})
		must(audit.Entry{ActorType: audit.ActorStaff, ActorID: "stf_1", Action: "partner.suspended", ObjectType: "partner", ObjectID: "ptn_b", PartnerID: "ptn_b"})
		must(audit.Entry{ActorType: audit.ActorCustomer, ActorID: "cus_1", Action: "consent.revoked", ObjectType: "consent", ObjectID: "cns_1", PartnerID: "ptn_a"})

		for name, tc := range map[string]struct {
			f    audit.Filter
			want int
		}{
			"ok/all":           {audit.Filter{}, 3},
			"ok/action-prefix": {audit.Filter{Action: "consent."}, 2},
			"ok/action-exact":  {audit.Filter{Action: "consent.revoked"}, 1},
			"ok/partner":       {audit.Filter{PartnerID: "ptn_b"}, 1},
			"ok/object":        {audit.Filter{ObjectType: "consent", ObjectID: "cns_1"}, 2},
			"ok/future":        {audit.Filter{From: time.Now().Add(time.Hour)}, 0},
		} {
			got, err := audit.List(ctx, d.DB, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("%s: %d events, want %d", name, len(got), tc.want)
			}
		}
		got, _ := audit.List(ctx, d.DB, audit.Filter{Action: "consent.authorised"})
		if got[0].Details != `{"accounts":2}` || time.Since(got[0].At) > time.Minute || time.Since(got[0].At) < 0 {
			t.Fatalf("event %+v", got[0])
		}
	})
}
