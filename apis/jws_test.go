package apis_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth/keys"
)

const jwsIssuer = "https://bank.example"

// fakeClientKeys is the apps' registered JWK Sets (the oauth client registry
// is not under test here: oauth/jwsclientkeys_test.go covers it).
type fakeClientKeys struct {
	sets    map[string]jose.JSONWebKeySet
	require map[string]bool
}

func (f *fakeClientKeys) ClientJWSKey(_ context.Context, clientID, alg, kid string) (crypto.PublicKey, error) {
	set := f.sets[clientID]
	for _, k := range set.Key(kid) {
		switch pk := k.Key.(type) {
		case *ecdsa.PublicKey:
			if alg == "ES256" {
				return pk, nil
			}
		case *rsa.PublicKey:
			if alg == "PS256" {
				return pk, nil
			}
		}
	}
	return nil, fmt.Errorf("%w: kid %s", apis.ErrNoClientKey, kid)
}

func (f *fakeClientKeys) ClientRequiresSignedRequests(_ context.Context, clientID string) (bool, error) {
	return f.require[clientID], nil
}

type jwsEnv struct {
	*env
	km      *keys.Manager
	clients *fakeClientKeys
}

// newJWSEnv is newEnv with UK OB message signing on (responses signed with alg).
func newJWSEnv(tb testing.TB, d *db.DB, alg string) *jwsEnv {
	tb.Helper()
	e := newEnv(tb, d)
	box, err := secrets.NewBox(make([]byte, 32))
	if err != nil {
		tb.Fatal(err)
	}
	km := keys.NewManager(d.DB, box, e.clock.now)
	if err := km.EnsureKeys(ctx, "ES256", "PS256"); err != nil {
		tb.Fatal(err)
	}
	ck := &fakeClientKeys{sets: map[string]jose.JSONWebKeySet{}, require: map[string]bool{}}
	h := apis.NewHandler(apis.HandlerConfig{Service: e.svc, Verifier: e.verifier, Usage: e.usage, BaseURL: baseURL,
		JWS: &apis.JWSConfig{Signer: km, Alg: alg, Issuer: jwsIssuer, Clients: ck, Now: e.clock.now}})
	e.engine = gin.New()
	h.Register(e.engine)
	e.srv = httptest.NewServer(e.engine)
	tb.Cleanup(e.srv.Close)
	return &jwsEnv{env: e, km: km, clients: ck}
}

// verifyResponseJWS checks r's x-jws-signature against the JWK Set the
// server publishes: go-jose parses the set and the detached JWS (go-jose
// itself refuses to verify a JWS whose crit names headers it does not know,
// so the signature is checked with the standard library on go-jose's key).
func verifyResponseJWS(tb testing.TB, km *keys.Manager, r *response, wantAlg string, now time.Time) {
	tb.Helper()
	sig := r.header.Get("x-jws-signature")
	if sig == "" {
		tb.Fatalf("no x-jws-signature on %d %s", r.status, r.body)
	}
	set, err := km.PublicJWKS(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	raw, _ := json.Marshal(set) // as published at jwks_uri
	var pub jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &pub); err != nil {
		tb.Fatal(err)
	}
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		tb.Fatalf("x-jws-signature %q is not header..signature", sig)
	}
	obj, err := jose.ParseDetached(sig, r.body, []jose.SignatureAlgorithm{jose.PS256, jose.ES256})
	if err != nil {
		tb.Fatalf("go-jose ParseDetached: %v", err)
	}
	h := obj.Signatures[0].Protected
	if h.Algorithm != wantAlg || h.KeyID == "" {
		tb.Fatalf("alg/kid = %s/%s, want %s", h.Algorithm, h.KeyID, wantAlg)
	}
	var hdr map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &hdr); err != nil {
		tb.Fatal(err)
	}
	if _, ok := hdr["b64"]; ok {
		tb.Fatal("b64 present")
	}
	want := map[string]any{"typ": "JOSE", "cty": "application/json", apis.JWSClaimIss: jwsIssuer,
		apis.JWSClaimTan: "bank.example", apis.JWSClaimIat: float64(now.Unix()),
		"crit": []any{apis.JWSClaimIat, apis.JWSClaimIss, apis.JWSClaimTan}}
	for k, v := range want {
		if fmt.Sprint(hdr[k]) != fmt.Sprint(v) {
			tb.Fatalf("header %s = %v, want %v", k, hdr[k], v)
		}
	}
	keys := pub.Key(h.KeyID)
	if len(keys) != 1 {
		tb.Fatalf("kid %s not published at jwks_uri", h.KeyID)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(r.body)))
	s, _ := base64.RawURLEncoding.DecodeString(parts[2])
	ok := false
	switch k := keys[0].Key.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPSS(k, crypto.SHA256, digest[:], s, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	case *ecdsa.PublicKey:
		ok = len(s) == 64 && ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(s[:32]), new(big.Int).SetBytes(s[32:]))
	}
	if !ok {
		tb.Fatal("x-jws-signature does not verify over the response body")
	}
	// and it does not verify over another body
	digest = sha256.Sum256([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(append(r.body, ' '))))
	if k, isRSA := keys[0].Key.(*rsa.PublicKey); isRSA && rsa.VerifyPSS(k, crypto.SHA256, digest[:], s, nil) == nil {
		tb.Fatal("signature verifies over a changed body")
	}
}

// clientSigner signs partner requests the UK OB way, with any header.
type clientSigner struct {
	kid string
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

func newClientSigner(tb testing.TB, kid string) *clientSigner {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return &clientSigner{kid: kid, ec: ec, rsa: rk}
}

func (c *clientSigner) jwks() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: c.ec.Public(), KeyID: c.kid, Use: "sig", Algorithm: "ES256"},
		{Key: c.rsa.Public(), KeyID: c.kid + "-rsa", Use: "sig", Algorithm: "PS256"},
	}}
}

func (c *clientSigner) header(alg, iss string, iat time.Time) map[string]any {
	kid := c.kid
	if alg == "PS256" {
		kid += "-rsa"
	}
	return map[string]any{"alg": alg, "kid": kid, "typ": "JOSE", "cty": "application/json",
		apis.JWSClaimIat: iat.Unix(), apis.JWSClaimIss: iss, apis.JWSClaimTan: "openbanking.org.uk",
		"crit": []string{apis.JWSClaimIat, apis.JWSClaimIss, apis.JWSClaimTan}}
}

// sign makes header..signature over body (b64 as the header says).
func (c *clientSigner) sign(tb testing.TB, hdr map[string]any, body []byte) string {
	tb.Helper()
	hb, _ := json.Marshal(hdr)
	h := base64.RawURLEncoding.EncodeToString(hb)
	payload := base64.RawURLEncoding.EncodeToString(body)
	if hdr["b64"] == false {
		payload = string(body)
	}
	input := []byte(h + "." + payload)
	digest := sha256.Sum256(input)
	var sig []byte
	switch hdr["alg"] {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, c.ec, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "PS256":
		var err error
		if sig, err = rsa.SignPSS(rand.Reader, c.rsa, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			tb.Fatal(err)
		}
	case "HS256":
		m := hmac.New(sha256.New, []byte("shared-secret"))
		m.Write(input)
		sig = m.Sum(nil)
	case "none":
		return h + ".."
	}
	return h + ".." + base64.RawURLEncoding.EncodeToString(sig)
}

// goJoseSign signs with go-jose (an independent implementation).
func (c *clientSigner) goJoseSign(tb testing.TB, iss string, iat time.Time, body []byte) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("JOSE").WithContentType("application/json").
		WithHeader(apis.JWSClaimIat, iat.Unix()).WithHeader(apis.JWSClaimIss, iss).
		WithHeader(apis.JWSClaimTan, "openbanking.org.uk").WithHeader("kid", c.kid).
		WithCritical(apis.JWSClaimIat, apis.JWSClaimIss, apis.JWSClaimTan)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.ec}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	obj, err := s.Sign(body)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := obj.DetachedCompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func consentReq() []byte {
	b, _ := json.Marshal(map[string]any{"Data": map[string]any{"Initiation": initiation("5.00", externalCreditor, "Acme Ltd", "INV-1")},
		"Risk": map[string]any{"PaymentContextCode": "PartyToParty"}})
	return b
}

func wantJWSProblem(tb testing.TB, r *response, ob, detail string) {
	tb.Helper()
	wantProblem(tb, r, 400, "invalid_jws_signature", detail)
	if got := r.json(tb)["ob_error_code"]; got != ob {
		tb.Fatalf("ob_error_code = %v, want %s", got, ob)
	}
}

func TestJWSResponseSigning(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, alg := range []string{"PS256", "ES256"} {
			t.Run("ok/"+alg, func(t *testing.T) {
				e := newJWSEnv(t, d, alg)
				p := e.partner("ptn_jws_"+alg, environment.Sandbox)
				alice := e.customer("alice")
				cur := alice.account(core.AccountCurrent)
				in := initiation("5.00", externalCreditor, "Acme Ltd", "INV-1")
				r := e.do("POST", pisp+"/domestic-payment-consents", p.token,
					map[string]any{"Data": map[string]any{"Initiation": in}, "Risk": map[string]any{"PaymentContextCode": "PartyToParty"}})
				wantStatus(t, r, 201)
				verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				cid := r.data(t)["ConsentId"].(string)
				r = e.do("GET", pisp+"/domestic-payment-consents/"+cid, p.token, nil)
				wantStatus(t, r, 200)
				verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				tok := p.authorise(apis.TypePaymentInitiation, cid, alice, cur.ID)
				r = e.do("GET", pisp+"/domestic-payment-consents/"+cid+"/funds-confirmation", tok, nil)
				wantStatus(t, r, 200)
				verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				r = e.do("POST", pisp+"/domestic-payments", tok, paymentBody(cid, in))
				wantStatus(t, r, 201)
				verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				pid := r.data(t)["DomesticPaymentId"].(string)
				for _, path := range []string{"/domestic-payments/" + pid, "/domestic-payments/" + pid + "/payment-details"} {
					r = e.do("GET", pisp+path, tok, nil)
					wantStatus(t, r, 200)
					verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				}
				// error responses are signed too (the v3.1.11 document declares
				// the header on 400/403/500), and only pisp responses are signed
				r = e.do("GET", pisp+"/domestic-payments/pay_unknown", tok, nil)
				verifyResponseJWS(t, e.km, r, alg, e.clock.now())
				r = e.do("GET", aisp+"/account-access-consents/cns_unknown", p.token, nil)
				if r.header.Get("x-jws-signature") != "" {
					t.Fatal("an account-information response carries x-jws-signature")
				}
			})
		}
	})
}

func TestJWSRequestVerification(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newJWSEnv(t, d, "PS256")
		p := e.partner("ptn_jws_req", environment.Sandbox)
		strict := e.partner("ptn_jws_strict", environment.Sandbox)
		cs := newClientSigner(t, "partner-key-1")
		e.clients.sets[p.app] = cs.jwks()
		e.clients.sets[strict.app] = cs.jwks()
		e.clients.require[strict.app] = true
		other := newClientSigner(t, "partner-key-1") // same kid, unregistered keys
		now := e.clock.now()
		body := consentReq()
		hdr := func(mut func(map[string]any)) map[string]any {
			h := cs.header("ES256", p.app, now)
			if mut != nil {
				mut(h)
			}
			return h
		}
		crit := "crit must list exactly http://openbanking.org.uk/iat, http://openbanking.org.uk/iss and http://openbanking.org.uk/tan"
		noVerify := `the signature does not verify over the request body with key "partner-key-1"`
		cases := []struct {
			name    string
			partner *partner
			sig     string // "" sends none
			body    []byte
			ob      string // "" expects 201
			detail  string
		}{
			{"ok/es256", p, cs.sign(t, hdr(nil), body), body, "", ""},
			{"ok/ps256", p, cs.sign(t, cs.header("PS256", p.app, now), body), body, "", ""},
			{"ok/go-jose-signed", p, cs.goJoseSign(t, p.app, now, body), body, "", ""},
			{"ok/unsigned-when-not-required", p, "", body, "", ""},
			{"ok/crit-in-another-order", p, cs.sign(t, hdr(func(h map[string]any) {
				h["crit"] = []string{apis.JWSClaimTan, apis.JWSClaimIat, apis.JWSClaimIss}
			}), body), body, "", ""},
			{"fail/tampered-body", p, cs.sign(t, hdr(nil), body), bytes.Replace(body, []byte("5.00"), []byte("9.00"), 1),
				apis.OBSignatureInvalid, noVerify},
			{"fail/wrong-key", p, other.sign(t, hdr(nil), body), body, apis.OBSignatureInvalid, noVerify},
			{"fail/unknown-kid", p, cs.sign(t, hdr(func(h map[string]any) { h["kid"] = "nope" }), body), body,
				apis.OBSignatureInvalid, `no registered key of the app has kid "nope" for ES256`},
			{"fail/missing-crit", p, cs.sign(t, hdr(func(h map[string]any) { delete(h, "crit") }), body), body,
				apis.OBSignatureInvalidClaim, crit},
			{"fail/crit-missing-tan", p, cs.sign(t, hdr(func(h map[string]any) {
				h["crit"] = []string{apis.JWSClaimIat, apis.JWSClaimIss}
			}), body), body, apis.OBSignatureInvalidClaim, crit},
			{"fail/extra-crit", p, cs.sign(t, hdr(func(h map[string]any) {
				h["crit"] = []string{apis.JWSClaimIat, apis.JWSClaimIss, apis.JWSClaimTan, "b64"}
			}), body), body, apis.OBSignatureInvalidClaim, crit},
			{"fail/b64-false", p, cs.sign(t, hdr(func(h map[string]any) {
				h["b64"] = false
				h["crit"] = []string{"b64", apis.JWSClaimIat, apis.JWSClaimIss, apis.JWSClaimTan}
			}), body), body, apis.OBSignatureInvalidClaim, "b64 must be absent: the payload is signed as is (UK OB 3.1.4 and later)"},
			{"fail/alg-none", p, cs.sign(t, hdr(func(h map[string]any) { h["alg"] = "none" }), body), body,
				apis.OBSignatureInvalid, "x-jws-signature must be a detached JWS in compact form (header..signature)"},
			{"fail/alg-none-with-signature", p, cs.sign(t, hdr(func(h map[string]any) { h["alg"] = "none" }), body) + "AA", body,
				apis.OBSignatureInvalidClaim, `alg "none" is not allowed: sign with PS256 or ES256`},
			{"fail/alg-hs256", p, cs.sign(t, hdr(func(h map[string]any) { h["alg"] = "HS256" }), body), body,
				apis.OBSignatureInvalidClaim, `alg "HS256" is not allowed: sign with PS256 or ES256`},
			{"fail/stale-iat", p, cs.sign(t, hdr(func(h map[string]any) { h[apis.JWSClaimIat] = now.Add(-6 * time.Minute).Unix() }), body), body,
				apis.OBSignatureInvalidClaim, "http://openbanking.org.uk/iat is more than 5m0s old"},
			{"fail/future-iat", p, cs.sign(t, hdr(func(h map[string]any) { h[apis.JWSClaimIat] = now.Add(time.Minute).Unix() }), body), body,
				apis.OBSignatureInvalidClaim, "http://openbanking.org.uk/iat is in the future"},
			{"fail/iat-string", p, cs.sign(t, hdr(func(h map[string]any) { h[apis.JWSClaimIat] = "now" }), body), body,
				apis.OBSignatureInvalidClaim, "http://openbanking.org.uk/iat must be a number (seconds since the epoch)"},
			{"fail/wrong-iss", p, cs.sign(t, hdr(func(h map[string]any) { h[apis.JWSClaimIss] = "someone-else" }), body), body,
				apis.OBSignatureInvalidClaim, fmt.Sprintf("http://openbanking.org.uk/iss must be the app's client_id %q", p.app)},
			{"fail/no-tan", p, cs.sign(t, hdr(func(h map[string]any) { h[apis.JWSClaimTan] = "" }), body), body,
				apis.OBSignatureInvalidClaim, "http://openbanking.org.uk/tan must name the trust anchor"},
			{"fail/attached-payload", p, strings.Replace(cs.sign(t, hdr(nil), body), "..", "."+base64.RawURLEncoding.EncodeToString(body)+".", 1), body,
				apis.OBSignatureInvalid, "x-jws-signature must be a detached JWS in compact form (header..signature)"},
			{"fail/missing-when-required", strict, "", body, apis.OBSignatureMissing,
				"this app must sign its requests: the x-jws-signature header is required"},
			{"ok/signed-when-required", strict, cs.sign(t, cs.header("ES256", strict.app, now), body), body, "", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var opts []reqOpt
				if tc.sig != "" {
					opts = append(opts, withHeader("x-jws-signature", tc.sig))
				}
				r := e.do("POST", pisp+"/domestic-payment-consents", tc.partner.token, tc.body, opts...)
				if tc.ob == "" {
					wantStatus(t, r, 201)
				} else {
					wantJWSProblem(t, r, tc.ob, tc.detail)
				}
				verifyResponseJWS(t, e.km, r, "PS256", now) // refusals are signed too
			})
		}

		// POST /domestic-payments verifies the same way
		alice := e.customer("alice")
		in := initiation("5.00", externalCreditor, "Acme Ltd", "INV-1")
		cid, tok := p.paymentConsent(alice, alice.account(core.AccountCurrent).ID, in)
		pay, _ := json.Marshal(paymentBody(cid, in))
		good := cs.sign(t, hdr(nil), pay)
		t.Run("fail/payment-tampered", func(t *testing.T) {
			r := e.do("POST", pisp+"/domestic-payments", tok, bytes.Replace(pay, []byte("INV-1"), []byte("INV-2"), 1), withHeader("x-jws-signature", good))
			wantJWSProblem(t, r, apis.OBSignatureInvalid, noVerify)
		})
		t.Run("ok/payment-signed", func(t *testing.T) {
			r := e.do("POST", pisp+"/domestic-payments", tok, pay, withHeader("x-jws-signature", good))
			wantStatus(t, r, 201)
		})
	})
}
