package dpop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkVerifyES256 measures Verify of a valid ES256 proof with ath and an
// expected jkt, with the in-memory replay store (each proof has its own jti).
func BenchmarkVerifyES256(b *testing.B) {
	ctx := context.Background()
	const token = "bench-access-token"
	const pool = 2048
	proofs := make([]string, pool)
	for i := range proofs {
		c := defaultClaims()
		c["jti"] = fmt.Sprintf("bench-%d", i)
		c["ath"] = AccessTokenHash(token)
		proofs[i] = proofSpec{claims: c}.build(b)
	}
	opts := VerifyOptions{AccessToken: token, ExpectedJKT: mustThumbprint(b, &ecKey.PublicKey)}
	v := newVerifier()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%pool == 0 && i > 0 {
			b.StopTimer()
			v = newVerifier()
			b.StartTimer()
		}
		if _, err := v.Verify(ctx, proofs[i%pool], "POST", testURL, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// fuzzVerifier is the verifier FuzzVerify drives: nonces optional, clock at
// testNow so the committed seed proofs are within their acceptance window.
func fuzzVerifier() *Verifier {
	v := newVerifier()
	v.Algs = []string{"ES256", "PS256", "EdDSA", "ES384"}
	v.Nonces = NewNonceSource(nonceKey, nonceWindow, clockAt(testNow))
	return v
}

// FuzzVerify feeds arbitrary strings to Verify as the proof: it must never
// panic and must refuse with *Error (or succeed with a complete Proof).
func FuzzVerify(f *testing.F) {
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add(proofSpec{}.build(f))
	v := fuzzVerifier()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, proof string) {
		for _, opts := range []VerifyOptions{{}, {AccessToken: "tok", ExpectedJKT: "x"}} {
			p, err := v.Verify(ctx, proof, "POST", testURL, opts)
			if err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("non-*Error refusal %T: %v", err, err)
				}
				if p != nil {
					t.Fatal("proof returned with an error")
				}
				continue
			}
			if p.JKT == "" || p.Key == nil || p.ID == "" {
				t.Fatalf("incomplete proof %+v", p)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzVerify when
// DPOP_WRITE_FUZZ_SEEDS=1 (go test -run TestWriteFuzzSeeds ./oauth/dpop).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("DPOP_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set DPOP_WRITE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	nonce := NewNonceSource(nonceKey, nonceWindow, clockAt(testNow)).Nonce()
	seeds := map[string]string{
		"valid_es256":       proofSpec{}.build(t),
		"valid_es256_jose":  joseProof(t, jose.ES256, ecKey, defaultClaims()),
		"valid_ps256":       proofSpec{alg: "PS256", key: rsaKey, header: map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": publicJWK(t, rsaKey)}}.build(t),
		"valid_eddsa":       proofSpec{alg: "EdDSA", key: edKey, header: map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": publicJWK(t, edKey)}}.build(t),
		"valid_ath_nonce":   proofSpec{claims: withClaims(func(c map[string]any) { c["ath"] = AccessTokenHash("tok"); c["nonce"] = nonce })}.build(t),
		"alg_none":          proofSpec{alg: "none"}.build(t),
		"alg_hs256":         proofSpec{alg: "HS256", key: []byte("k")}.build(t),
		"private_jwk":       proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = jwkMap(t, jose.JSONWebKey{Key: ecKey}) })}.build(t),
		"oct_jwk":           proofSpec{header: withHeader(t, func(h map[string]any) { h["jwk"] = map[string]any{"kty": "oct", "k": "AAAA"} })}.build(t),
		"wrong_htu":         proofSpec{claims: withClaims(func(c map[string]any) { c["htu"] = "HTTPS://AS.example.com:443/%7etoken?q#f" })}.build(t),
		"iat_huge":          proofSpec{claims: withClaims(func(c map[string]any) { c["iat"] = 1e308 })}.build(t),
		"jti_number":        proofSpec{claims: withClaims(func(c map[string]any) { c["jti"] = 1 })}.build(t),
		"bad_signature":     proofSpec{key: ecKey2}.build(t),
		"crit":              proofSpec{header: withHeader(t, func(h map[string]any) { h["crit"] = []string{"x"} })}.build(t),
		"garbage_three_dot": "eyJ.eyJ.AAAA",
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, s := range seeds {
		body := "go test fuzz v1\nstring(" + quoteGo(s) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func quoteGo(s string) string { return fmt.Sprintf("%q", s) }

// TestFuzzSeedsReachSuccess checks the committed valid_* seeds still verify,
// so the fuzzer starts from proofs that pass every check.
func TestFuzzSeedsReachSuccess(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzVerify", "valid_*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid seeds: %v", err)
	}
	for _, f := range files {
		t.Run("ok/"+filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(b), "\n")
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fuzzVerifier().Verify(context.Background(), s, "POST", testURL, VerifyOptions{}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}
