package oauth

import (
	"testing"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

func TestLinkHash(t *testing.T) {
	pay := &PaymentSummary{Amount: money.GBP(1250), PayeeName: "Corner Shop", PayeeScheme: "UK.OBIE.SortCodeAccountNumber", PayeeIdentification: "20000012345678"}
	payment := ConsentDescription{ConsentID: "pcn_1", Payment: pay}
	access := ConsentDescription{ConsentID: "cns_1"}
	paymentHash := sca.LinkHash("pcn_1", pay.Amount, sca.Payee{Name: pay.PayeeName, Scheme: pay.PayeeScheme, Identification: pay.PayeeIdentification})
	accessHash := sca.LinkHash("cns_1", money.Money{}, sca.Payee{})
	for _, tc := range []struct {
		name  string
		descs []ConsentDescription
		want  string
	}{
		{"ok/payment is its sca.LinkHash", []ConsentDescription{payment}, paymentHash},
		{"ok/account access has a zero amount and no payee", []ConsentDescription{access}, accessHash},
		{"ok/no consent binds the interaction alone", nil, sca.LinkHash("", money.Money{}, sca.Payee{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := linkHash(tc.descs); got != tc.want {
				t.Fatalf("linkHash = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("ok/several consents: one hash, in order", func(t *testing.T) {
		ab, ba := linkHash([]ConsentDescription{payment, access}), linkHash([]ConsentDescription{access, payment})
		if len(ab) != 64 || ab == ba || ab == paymentHash || ab == accessHash {
			t.Fatalf("several: %s %s", ab, ba)
		}
		if linkHash([]ConsentDescription{payment, access}) != ab {
			t.Fatal("not deterministic")
		}
	})
	t.Run("fail/changed payment changes the hash", func(t *testing.T) {
		for _, change := range []func(p *PaymentSummary){
			func(p *PaymentSummary) { p.Amount.Minor++ },
			func(p *PaymentSummary) { p.Amount.Currency = "EUR" },
			func(p *PaymentSummary) { p.PayeeName += "." },
			func(p *PaymentSummary) { p.PayeeIdentification = "20000012345679" },
		} {
			p := *pay
			change(&p)
			if linkHash([]ConsentDescription{{ConsentID: "pcn_1", Payment: &p}}) == paymentHash {
				t.Fatalf("%+v hashes like %+v", p, *pay)
			}
		}
	})
}
