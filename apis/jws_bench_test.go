package apis_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/apis"
)

// BenchmarkSignDetached measures what x-jws-signature adds to one /pisp
// response (a payment body of about 1.5 KB) with each algorithm the bank
// signs with.
func BenchmarkSignDetached(b *testing.B) {
	body := []byte(`{"Data":{"DomesticPaymentId":"pay_x","Status":"AcceptedSettlementInProcess","Initiation":{"InstructionIdentification":"` +
		strings.Repeat("x", 1400) + `"}},"Links":{"Self":"https://bank.example/p"},"Meta":{}}`)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ec}, {"PS256", rs}} {
		b.Run(tc.alg, func(b *testing.B) {
			for b.Loop() {
				sig, err := apis.SignDetached(tc.alg, "k1", tc.key, time.Now(), "https://bank.example", "bank.example", body)
				if err != nil || !strings.Contains(sig, "..") {
					b.Fatal(sig, err)
				}
			}
		})
	}
}
