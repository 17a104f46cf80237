package reviews

import (
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
)

// TestGormStore is the Store's conformance on both engines: a review
// round-trips (scorecard and ratings included), a second review of the same
// partner and quarter is ErrDuplicate, an unknown id ErrNotFound, an update
// from a state the review is not in ErrChanged (and writes nothing), and
// List filters and orders.
func TestGormStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := NewGormStore(d)
		at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
		n := int64(3)
		r := &Review{ID: "prv_1", PartnerID: "ptn_a", Quarter: "2026-Q3", Status: StatusDraft, Ratings: Ratings{"growth": 3},
			Scorecard: Scorecard{Quarter: "2026-Q3", From: at, To: at, Calls: Volume{5, 2}, Complaints: &n, Fees: []money.Money{money.GBP(120)},
				Incidents: []Incident{{At: at, Kind: "app.suspended", Object: "app_1"}}},
			InternalNotes: "internal", CreatedBy: "stf_1", CreatedAt: at, UpdatedAt: at}
		mustOK(t, s.Create(ctx, r))
		got, err := s.Get(ctx, "prv_1")
		mustOK(t, err)
		if got.Scorecard.Calls != (Volume{5, 2}) || *got.Scorecard.Complaints != 3 || got.Scorecard.Fees[0] != money.GBP(120) ||
			got.Ratings["growth"] != 3 || got.InternalNotes != "internal" || !got.CreatedAt.Equal(at) || got.SubmittedAt != nil ||
			len(got.Scorecard.Incidents) != 1 {
			t.Fatalf("round trip %+v", got)
		}
		dup := *r
		dup.ID = "prv_2"
		if err := s.Create(ctx, &dup); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("duplicate: %v", err)
		}
		if _, err := s.Get(ctx, "prv_nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
		got.Status, got.SubmittedBy, got.SubmittedAt = StatusPublished, "stf_2", &at
		if err := s.Update(ctx, got, StatusSubmitted); !errors.Is(err, ErrChanged) {
			t.Fatalf("update from the wrong state: %v", err)
		}
		if again, _ := s.Get(ctx, "prv_1"); again.Status != StatusDraft || again.SubmittedBy != "" {
			t.Fatalf("written anyway: %+v", again)
		}
		got.Status = StatusSubmitted
		mustOK(t, s.Update(ctx, got, StatusDraft))
		other := &Review{ID: "prv_3", PartnerID: "ptn_b", Quarter: "2026-Q4", Status: StatusDraft, CreatedAt: at, UpdatedAt: at}
		mustOK(t, s.Create(ctx, other))
		all, err := s.List(ctx, Filter{})
		mustOK(t, err)
		if len(all) != 2 || all[0].ID != "prv_3" || all[1].ID != "prv_1" || all[0].Ratings == nil {
			t.Fatalf("list %+v", all)
		}
		sub, err := s.List(ctx, Filter{Status: StatusSubmitted, PartnerID: "ptn_a", Quarter: "2026-Q3"})
		mustOK(t, err)
		if len(sub) != 1 || sub[0].SubmittedBy != "stf_2" || sub[0].SubmittedAt == nil || !sub[0].SubmittedAt.Equal(at) {
			t.Fatalf("filtered %+v", sub)
		}
	})
}
