package passkeys

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestGormStore is the Store conformance suite, on both engines.
func TestGormStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) { testStore(t, NewGormStore(d)) })
}

func testStore(t *testing.T, st Store) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 123456000, time.UTC)

	t.Run("ceremonies", func(t *testing.T) {
		c := Ceremony{ID: "cer1", Kind: KindLogin, CustomerID: "cus_a", Session: []byte(`{"challenge":"x"}`),
			CreatedAt: t0, ExpiresAt: t0.Add(CeremonyTTL)}
		if err := st.SaveCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name          string
			id, kind, cus string
			wantErr       error
		}{
			{"fail/another-customer", "cer1", KindLogin, "cus_b", ErrNotFound},
			{"fail/another-kind", "cer1", KindRegistration, "cus_a", ErrNotFound},
			{"fail/unknown", "cer2", KindLogin, "cus_a", ErrNotFound},
			{"ok/taken", "cer1", KindLogin, "cus_a", nil},
			{"fail/taken-twice", "cer1", KindLogin, "cus_a", ErrNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.TakeCeremony(ctx, tc.id, tc.kind, tc.cus)
				if err != tc.wantErr {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if err == nil && (got.ID != c.ID || got.Kind != c.Kind || got.CustomerID != c.CustomerID ||
					!bytes.Equal(got.Session, c.Session) || !got.CreatedAt.Equal(c.CreatedAt) || !got.ExpiresAt.Equal(c.ExpiresAt)) {
					t.Fatalf("ceremony = %+v, want %+v", got, c)
				}
			})
		}
	})

	t.Run("ok/purge-ceremonies", func(t *testing.T) {
		for i, exp := range []time.Time{t0.Add(-time.Second), t0, t0.Add(time.Second)} {
			if err := st.SaveCeremony(ctx, Ceremony{ID: "p" + string(rune('a'+i)), Kind: KindLogin, CustomerID: "cus_p",
				Session: []byte(`{}`), CreatedAt: t0.Add(-CeremonyTTL), ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := st.PurgeCeremonies(ctx, t0); err != nil || n != 2 {
			t.Fatalf("PurgeCeremonies = %d, %v; want 2", n, err)
		}
		if _, err := st.TakeCeremony(ctx, "pc", KindLogin, "cus_p"); err != nil {
			t.Fatalf("live ceremony: %v", err)
		}
	})

	cred := StoredCredential{
		Credential: Credential{ID: "Y3JlZA", Name: "Phone", AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
			Transports: []string{"internal"}, BackupEligible: true, CreatedAt: t0},
		CustomerID: "cus_a", PublicKey: []byte{0xa5, 1, 2}, SignCount: 0,
		RawAAGUID:         []byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4},
		AttestationFormat: "none", Attachment: "platform",
	}

	t.Run("credentials", func(t *testing.T) {
		if err := st.AddCredential(ctx, cred); err != nil {
			t.Fatal(err)
		}
		dup := cred
		dup.CustomerID = "cus_b"
		if err := st.AddCredential(ctx, dup); err != ErrExists {
			t.Fatalf("duplicate: err = %v, want %v", err, ErrExists)
		}
		second := cred
		second.ID, second.Transports, second.RawAAGUID, second.CreatedAt = "c2Vjb25k", nil, nil, t0.Add(time.Second)
		if err := st.AddCredential(ctx, second); err != nil {
			t.Fatal(err)
		}
		list, err := st.Credentials(ctx, "cus_a")
		if err != nil || len(list) != 2 || list[0].ID != cred.ID || list[1].ID != second.ID {
			t.Fatalf("Credentials = %+v, %v", list, err)
		}
		if list[1].AAGUID != "00000000-0000-0000-0000-000000000000" || len(list[1].Transports) != 0 || list[1].Transports == nil {
			t.Fatalf("second = %+v, want nil AAGUID and no transports", list[1])
		}
		got, err := st.Credential(ctx, "cus_a", cred.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != cred.ID || got.Name != cred.Name || got.AAGUID != cred.AAGUID || got.CustomerID != cred.CustomerID ||
			!bytes.Equal(got.PublicKey, cred.PublicKey) || !bytes.Equal(got.RawAAGUID, cred.RawAAGUID) ||
			got.AttestationFormat != "none" || got.Attachment != "platform" || !got.BackupEligible || got.BackupState ||
			!got.CreatedAt.Equal(t0) || !got.LastUsedAt.IsZero() || len(got.Transports) != 1 {
			t.Fatalf("Credential = %+v, want %+v", got, cred)
		}
		if _, err := st.Credential(ctx, "cus_b", cred.ID); err != ErrNotFound {
			t.Fatalf("another customer's: err = %v, want %v", err, ErrNotFound)
		}
		if list, err := st.Credentials(ctx, "cus_b"); err != nil || list == nil || len(list) != 0 {
			t.Fatalf("Credentials(cus_b) = %#v, %v; want empty", list, err)
		}
	})

	t.Run("record-use", func(t *testing.T) {
		cases := []struct {
			name     string
			customer string
			count    uint32
			wantErr  error
			want     uint32
		}{
			{"ok/both-zero", "cus_a", 0, nil, 0},
			{"fail/another-customer", "cus_b", 3, ErrNotFound, 0},
			{"ok/forward", "cus_a", 3, nil, 3},
			{"fail/equal", "cus_a", 3, ErrStale, 3},
			{"fail/backward", "cus_a", 2, ErrStale, 3},
			{"fail/zero-after-non-zero", "cus_a", 0, ErrStale, 3},
			{"ok/forward-again", "cus_a", 10, nil, 10},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				at := t0.Add(time.Duration(i+1) * time.Minute)
				before, _ := st.Credential(ctx, "cus_a", cred.ID)
				err := st.RecordUse(ctx, tc.customer, cred.ID, tc.count, true, at)
				if err != tc.wantErr {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				got, err := st.Credential(ctx, "cus_a", cred.ID)
				if err != nil {
					t.Fatal(err)
				}
				if got.SignCount != tc.want {
					t.Fatalf("sign count = %d, want %d", got.SignCount, tc.want)
				}
				if tc.wantErr == nil && (!got.LastUsedAt.Equal(at) || !got.BackupState) {
					t.Fatalf("after use = %+v, want last used %s and backed up", got, at)
				}
				if tc.wantErr != nil && !got.LastUsedAt.Equal(before.LastUsedAt) {
					t.Fatalf("refused use moved last used to %s", got.LastUsedAt)
				}
			})
		}
	})

	t.Run("ok/tx-rolls-back", func(t *testing.T) {
		boom := errors.New("boom")
		err := st.Tx(ctx, func(ctx context.Context) error {
			if err := st.DeleteCredential(ctx, "cus_a", cred.ID); err != nil {
				return err
			}
			if err := st.Audit(ctx, audit.Entry{ActorType: audit.ActorCustomer, ActorID: "cus_a", Action: "x"}); err != nil {
				return err
			}
			return boom
		})
		if err != boom {
			t.Fatalf("Tx = %v, want %v", err, boom)
		}
		if _, err := st.Credential(ctx, "cus_a", cred.ID); err != nil {
			t.Fatalf("after rollback: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := st.DeleteCredential(ctx, "cus_b", cred.ID); err != ErrNotFound {
			t.Fatalf("another customer's: err = %v, want %v", err, ErrNotFound)
		}
		if err := st.DeleteCredential(ctx, "cus_a", cred.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteCredential(ctx, "cus_a", cred.ID); err != ErrNotFound {
			t.Fatalf("twice: err = %v, want %v", err, ErrNotFound)
		}
		if _, err := st.Credential(ctx, "cus_a", cred.ID); err != ErrNotFound {
			t.Fatalf("deleted: err = %v, want %v", err, ErrNotFound)
		}
	})
}
