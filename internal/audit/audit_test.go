package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

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

// TestHistoryCannotBeRewritten: the database itself refuses to update or delete
// audit records (migration 0005), on both engines, whoever runs the SQL.
func TestHistoryCannotBeRewritten(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := audit.Record(ctx, d.DB, audit.Entry{ActorType: audit.ActorStaff, ActorID: "stf_1", Action: "partner.suspended",
			ObjectType: "partner", ObjectID: "ptn_b", PartnerID: "ptn_b"}); err != nil {
			t.Fatal(err)
		}
		const upd = "history cannot be rewritten: UPDATE on audit_events is refused"
		const del = "history cannot be rewritten: DELETE on audit_events is refused"
		for _, tc := range []struct {
			name, want string
			run        func(g *gorm.DB) error
		}{
			{"fail/update-raw", upd, func(g *gorm.DB) error {
				return g.Exec(`UPDATE audit_events SET actor_id = 'stf_someone_else'`).Error
			}},
			{"fail/update-one-column", upd, func(g *gorm.DB) error {
				return g.Exec(`UPDATE audit_events SET details = '{}' WHERE object_id = 'ptn_b'`).Error
			}},
			{"fail/update-gorm", upd, func(g *gorm.DB) error {
				return g.Model(&audit.Event{}).Where("object_id = ?", "ptn_b").Update("action", "partner.praised").Error
			}},
			{"fail/delete-raw", del, func(g *gorm.DB) error { return g.Exec(`DELETE FROM audit_events`).Error }},
			{"fail/delete-gorm", del, func(g *gorm.DB) error {
				return g.Where("object_id = ?", "ptn_b").Delete(&audit.Event{}).Error
			}},
			{"fail/delete-in-tx", del, func(g *gorm.DB) error {
				return d.Tx(ctx, func(tx *gorm.DB) error { return tx.Exec(`DELETE FROM audit_events WHERE actor_id = 'stf_1'`).Error })
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.run(d.DB.WithContext(ctx))
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want the trigger's %q", err, tc.want)
				}
				got, err := audit.List(ctx, d.DB, audit.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0].ActorID != "stf_1" || got[0].Action != "partner.suspended" || got[0].Details != "{}" {
					t.Fatalf("audit trail changed: %+v", got)
				}
			})
		}
		// Appending still works.
		if err := audit.Record(ctx, d.DB, audit.Entry{ActorType: audit.ActorSystem, ActorID: "system", Action: "x.y", ObjectType: "x", ObjectID: "1"}); err != nil {
			t.Fatal(err)
		}
	})
}
