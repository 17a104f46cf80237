package sca_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

var (
	consentA = "pcn_A"
	amountA  = money.Money{Minor: 12345, Currency: "GBP"}
	payeeA   = sca.Payee{Name: "ACME Ltd", Scheme: "UK.OBIE.SortCodeAccountNumber", Identification: "08080021325698"}
)

// TestLinkHashEncoding recomputes the documented encoding independently.
func TestLinkHashEncoding(t *testing.T) {
	var buf []byte
	put := func(b []byte) {
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	put([]byte("bankbridge/sca/dynamic-link/v1"))
	put([]byte(consentA))
	put(binary.BigEndian.AppendUint64(nil, 12345))
	put([]byte("GBP"))
	put([]byte("ACME Ltd"))
	put([]byte("UK.OBIE.SortCodeAccountNumber"))
	put([]byte("08080021325698"))
	sum := sha256.Sum256(buf)
	if got, want := sca.LinkHash(consentA, amountA, payeeA), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("LinkHash = %s, want %s", got, want)
	}
}

// changes are payments B that differ from payment A in one respect each.
var changes = []struct {
	name    string
	consent string
	amount  money.Money
	payee   sca.Payee
}{
	{"fail/other consent", "pcn_B", amountA, payeeA},
	{"fail/other amount", consentA, money.Money{Minor: 12346, Currency: "GBP"}, payeeA},
	{"fail/negated amount", consentA, money.Money{Minor: -12345, Currency: "GBP"}, payeeA},
	{"fail/other currency", consentA, money.Money{Minor: 12345, Currency: "EUR"}, payeeA},
	{"fail/other payee name", consentA, amountA, sca.Payee{Name: "ACME Ltd.", Scheme: payeeA.Scheme, Identification: payeeA.Identification}},
	{"fail/other payee scheme", consentA, amountA, sca.Payee{Name: payeeA.Name, Scheme: "UK.OBIE.IBAN", Identification: payeeA.Identification}},
	{"fail/other payee account", consentA, amountA, sca.Payee{Name: payeeA.Name, Scheme: payeeA.Scheme, Identification: "08080021325699"}},
	{"fail/name and scheme boundary moved", consentA, amountA, sca.Payee{Name: "ACME LtdU", Scheme: "K.OBIE.SortCodeAccountNumber", Identification: payeeA.Identification}},
	{"fail/scheme and identification boundary moved", consentA, amountA, sca.Payee{Name: payeeA.Name, Scheme: "UK.OBIE.SortCodeAccountNumber0", Identification: "8080021325698"}},
	{"fail/consent and currency", "pcn_AG", money.Money{Minor: 12345, Currency: "BP"}, payeeA},
}

func TestLinkHashDiffers(t *testing.T) {
	a := sca.LinkHash(consentA, amountA, payeeA)
	seen := map[string]string{a: "A"}
	for _, c := range changes {
		h := sca.LinkHash(c.consent, c.amount, c.payee)
		if prev, dup := seen[h]; dup {
			t.Fatalf("%s hashes like %s", c.name, prev)
		}
		seen[h] = c.name
	}
	if sca.LinkHash(consentA, amountA, payeeA) != a {
		t.Fatal("LinkHash is not deterministic")
	}
}

// TestConfirmationNeverAuthorisesAnotherPayment: a confirmation made for
// payment A is voided by any B, for good.
func TestConfirmationNeverAuthorisesAnotherPayment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		hashA := sca.LinkHash(consentA, amountA, payeeA)
		for i, c := range changes {
			t.Run(c.name, func(t *testing.T) {
				ia := "int_" + string(rune('a'+i))
				wantErr(t, f.svc.RecordConfirmation(ctx, ia, "cus_1", hashA, sca.MethodTOTP, f.clock.now()))
				_, err := f.svc.CheckConfirmation(ctx, ia, "cus_1", sca.LinkHash(c.consent, c.amount, c.payee))
				wantErr(t, err, sca.ErrConfirmationVoided)
				// Voided for good: payment A again does not revive it.
				_, err = f.svc.CheckConfirmation(ctx, ia, "cus_1", hashA)
				wantErr(t, err, sca.ErrConfirmationVoided)
			})
		}
	})
}

func TestConfirmations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		hashA := sca.LinkHash(consentA, amountA, payeeA)
		at := f.clock.now().Add(-time.Minute)

		wantErr(t, f.svc.RecordConfirmation(ctx, "int_1", "cus_1", hashA, sca.MethodWebAuthn, at))
		got, err := f.svc.CheckConfirmation(ctx, "int_1", "cus_1", hashA)
		wantErr(t, err)
		want := sca.Confirmation{InteractionID: "int_1", CustomerID: "cus_1", LinkHash: hashA, Method: sca.MethodWebAuthn,
			ConfirmedAt: at, ExpiresAt: at.Add(sca.DefaultConfirmationTTL)}
		if got != want {
			t.Fatalf("confirmation = %+v, want %+v", got, want)
		}

		// Sequential steps: each case sees what the previous ones left.
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_2", "cus_1", hashA, sca.MethodRecovery, at))
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_3", "cus_1", hashA, sca.MethodTOTP, f.clock.now().Add(-sca.DefaultConfirmationTTL)))
		for _, tc := range []struct {
			name, interaction, customer, hash string
			want                              error
		}{
			{"fail/consumed", "int_1", "cus_1", hashA, sca.ErrConfirmationUsed},
			{"fail/another customer", "int_2", "cus_2", hashA, sca.ErrNoConfirmation},
			{"fail/no confirmation", "int_9", "cus_1", hashA, sca.ErrNoConfirmation},
			{"fail/expired", "int_3", "cus_1", hashA, sca.ErrConfirmationExpired},
			{"ok/after another customer tried", "int_2", "cus_1", hashA, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.CheckConfirmation(ctx, tc.interaction, tc.customer, tc.hash)
				if tc.want == nil {
					wantErr(t, err)
				} else {
					wantErr(t, err, tc.want)
				}
			})
		}

		// Recording again replaces an unconsumed confirmation (the customer
		// confirmed the changed payment), never a consumed one or another
		// customer's.
		hashB := sca.LinkHash("pcn_B", amountA, payeeA)
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_4", "cus_1", hashA, sca.MethodTOTP, f.clock.now()))
		_, err = f.svc.CheckConfirmation(ctx, "int_4", "cus_1", hashB)
		wantErr(t, err, sca.ErrConfirmationVoided)
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_4", "cus_1", hashB, sca.MethodTOTP, f.clock.now()))
		_, err = f.svc.CheckConfirmation(ctx, "int_4", "cus_1", hashB)
		wantErr(t, err)
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_4", "cus_1", hashB, sca.MethodTOTP, f.clock.now()), sca.ErrConfirmationUsed)
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_5", "cus_1", hashA, sca.MethodTOTP, f.clock.now()))
		wantErr(t, f.svc.RecordConfirmation(ctx, "int_5", "cus_2", hashA, sca.MethodTOTP, f.clock.now()), sca.ErrConfirmationUsed)

		for name, tc := range map[string]struct{ interaction, customer, hash, method string }{
			"fail/no interaction":  {"", "cus_1", hashA, sca.MethodTOTP},
			"fail/no customer":     {"int_6", "", hashA, sca.MethodTOTP},
			"fail/unknown method":  {"int_6", "cus_1", hashA, "sms"},
			"fail/short hash":      {"int_6", "cus_1", hashA[:63], sca.MethodTOTP},
			"fail/upper-case hash": {"int_6", "cus_1", "A" + hashA[1:], sca.MethodTOTP},
		} {
			t.Run(name, func(t *testing.T) {
				if err := f.svc.RecordConfirmation(ctx, tc.interaction, tc.customer, tc.hash, tc.method, f.clock.now()); !errors.Is(err, sca.ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
			})
		}
		if _, err := f.svc.CheckConfirmation(ctx, "", "cus_1", hashA); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("CheckConfirmation without interaction: %v, want ErrInvalid", err)
		}

		// Purge drops expired confirmations.
		n, err := sca.NewGormStore(d).PurgeConfirmations(ctx, f.clock.now().Add(time.Second))
		if err != nil || n != 1 { // int_3
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
	})
}

func TestConfirmWithFactor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := mustService(t, d, sca.Config{})
		secret := f.mustTOTP(t, "cus_1")
		codes, err := f.svc.GenerateRecoveryCodes(ctx, "cus_1")
		wantErr(t, err)
		f.clock.advance(30 * time.Second)
		hashA := sca.LinkHash(consentA, amountA, payeeA)
		good := code(t, secret, f.clock.now())

		// Invalid arguments are refused before the code is spent.
		if err := f.svc.ConfirmWithTOTP(ctx, "int_1", "cus_1", "nothex", good, "192.0.2.1"); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("bad link hash: %v, want ErrInvalid", err)
		}
		if _, err := f.svc.ConfirmWithRecoveryCode(ctx, "", "cus_1", hashA, codes[0], "192.0.2.1"); !errors.Is(err, sca.ErrInvalid) {
			t.Fatalf("no interaction: %v, want ErrInvalid", err)
		}
		// A wrong code records nothing.
		wantErr(t, f.svc.ConfirmWithTOTP(ctx, "int_1", "cus_1", hashA, wrongCode(t, secret, f.clock.now()), "192.0.2.1"), sca.ErrInvalidCode)
		_, err = f.svc.CheckConfirmation(ctx, "int_1", "cus_1", hashA)
		wantErr(t, err, sca.ErrNoConfirmation)

		wantErr(t, f.svc.ConfirmWithTOTP(ctx, "int_1", "cus_1", hashA, good, "192.0.2.1"))
		wantErr(t, f.svc.ConfirmWithTOTP(ctx, "int_2", "cus_1", hashA, good, "192.0.2.1"), sca.ErrCodeUsed)
		c, err := f.svc.CheckConfirmation(ctx, "int_1", "cus_1", hashA)
		if err != nil || c.Method != sca.MethodTOTP || !c.ConfirmedAt.Equal(f.clock.now()) {
			t.Fatalf("TOTP confirmation = %+v, %v", c, err)
		}

		n, err := f.svc.ConfirmWithRecoveryCode(ctx, "int_3", "cus_1", hashA, codes[0], "192.0.2.1")
		if err != nil || n != 9 {
			t.Fatalf("recovery confirmation: %d, %v", n, err)
		}
		_, err = f.svc.ConfirmWithRecoveryCode(ctx, "int_4", "cus_1", hashA, codes[0], "192.0.2.1")
		wantErr(t, err, sca.ErrRecoveryCodeUsed)
		c, err = f.svc.CheckConfirmation(ctx, "int_3", "cus_1", hashA)
		if err != nil || c.Method != sca.MethodRecovery {
			t.Fatalf("recovery confirmation = %+v, %v", c, err)
		}
	})
}
