// Command bankbridge-load is Bankbridge's load tool. It drives a running server
// over real HTTP from a second process, the way a partner does, and reports
// throughput and latency percentiles.
//
//	bankbridge-load token --issuer URL --client-id app_… --key private-jwk.json [--concurrency 16] [--duration 10s]
//	bankbridge-load resource --url URL --token T --dpop-key dpop-jwk.json [--concurrency 16] [--duration 10s]
//	bankbridge-load floor --addr 127.0.0.1:8091 --client-key private-jwk.json [--body FILE] [--dpop-key dpop-jwk.json --token-out FILE]
//
// floor: not a load but a bare server to load, the least any server must
// do per request under the protocol (floor.go): the machine's own limit,
// measured beside Bankbridge with the same tool.
//
// resource: GET one resource URL with a customer's DPoP-bound access token
// (e2e/mint-token.mjs makes one), a fresh DPoP proof with ath per request.
//
// token: the client_credentials grant with a fresh private_key_jwt assertion
// (ES256) and a fresh DPoP proof for every request — the token endpoint's
// full cost, as FAPI 2.0 partners pay it.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bankbridge-load:", err)
		os.Exit(1)
	}
}

// Options configure one load run.
type Options struct {
	Issuer      string
	ClientID    string
	KeyFile     string
	Scope       string
	Concurrency int
	Duration    time.Duration
	MaxRequests int
}

const usage = "usage: bankbridge-load token --issuer URL --client-id ID --key FILE | resource --url URL --token T --dpop-key FILE  [--concurrency N] [--duration D] | floor --addr ADDR --client-key FILE [--body FILE] [--dpop-key FILE --token-out FILE]"

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "resource" {
		return runResource(ctx, args[1:], out)
	}
	if len(args) > 0 && args[0] == "floor" {
		return runFloor(ctx, args[1:], out)
	}
	if len(args) == 0 || args[0] != "token" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	var o Options
	fs.StringVar(&o.Issuer, "issuer", "http://127.0.0.1:8080", "issuer / base URL of the server")
	fs.StringVar(&o.ClientID, "client-id", "", "client_id of a sandbox app")
	fs.StringVar(&o.KeyFile, "key", "", "the app's private signing key as a JWK file")
	fs.StringVar(&o.Scope, "scope", "accounts", "scope to request")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "parallel clients")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to run (bounded)")
	fs.IntVar(&o.MaxRequests, "max-requests", 200000, "stop after this many requests")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if o.Duration > 5*time.Minute {
		return errors.New("--duration is capped at 5m")
	}
	key, err := readJWK(o.KeyFile)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	rep, err := LoadToken(ctx, o, key)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, rep)
	return nil
}

// Report is the outcome of a run.
type Report struct {
	Requests, Errors int
	Elapsed          time.Duration
	P50, P90, P99    time.Duration
	FirstError       string
}

func (r Report) String() string {
	return fmt.Sprintf("requests=%d errors=%d elapsed=%s throughput=%.0f/s p50=%s p90=%s p99=%s%s",
		r.Requests, r.Errors, r.Elapsed.Round(time.Millisecond), float64(r.Requests)/r.Elapsed.Seconds(),
		r.P50.Round(10*time.Microsecond), r.P90.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond),
		map[bool]string{true: " first_error=" + r.FirstError, false: ""}[r.FirstError != ""])
}

func runResource(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("resource", flag.ContinueOnError)
	var (
		target, token, keyFile string
		concurrency            int
		duration               time.Duration
		max                    int
	)
	fs.StringVar(&target, "url", "", "absolute URL to GET")
	fs.StringVar(&token, "token", "", "DPoP-bound access token")
	fs.StringVar(&keyFile, "dpop-key", "", "the DPoP private key (JWK) the token is bound to")
	fs.IntVar(&concurrency, "concurrency", 16, "parallel clients")
	fs.DurationVar(&duration, "duration", 10*time.Second, "how long to run (bounded)")
	fs.IntVar(&max, "max-requests", 200000, "stop after this many requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if duration > 5*time.Minute {
		return errors.New("--duration is capped at 5m")
	}
	key, err := readJWK(keyFile)
	if err != nil {
		return fmt.Errorf("--dpop-key: %w", err)
	}
	ecKey, ok := key.Key.(*ecdsa.PrivateKey)
	if !ok {
		return errors.New("the DPoP key must be an EC P-256 private key")
	}
	signer, err := newES256Signer(ecKey, "dpop+jwt", true)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(token))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	htu := strings.SplitN(target, "?", 2)[0]
	rep := drive(ctx, concurrency, duration, max, func(ctx context.Context, client *http.Client) (int, []byte, error) {
		proof := signer.sign(mustJSON(proofClaims{JTI: uuid.NewString(), HTM: "GET", HTU: htu, IAT: time.Now().Unix(), ATH: ath}))
		req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
		req.Header.Set("Authorization", "DPoP "+token)
		req.Header.Set("DPoP", proof)
		req.Header.Set("Accept", "application/json")
		return do(client, req)
	}, func(status int, body []byte) bool { return status == 200 })
	fmt.Fprintln(out, rep)
	return nil
}

func do(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// drive runs one(…) from concurrency goroutines until duration or max requests,
// timing each call; ok decides which answers count as errors.
func drive(ctx context.Context, concurrency int, duration time.Duration, max int,
	one func(ctx context.Context, client *http.Client) (int, []byte, error), ok func(int, []byte) bool) Report {
	transport := &http.Transport{MaxIdleConnsPerHost: concurrency * 2, MaxConnsPerHost: concurrency * 2}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	var (
		n        atomic.Int64
		errs     atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil && n.Add(1) <= int64(max) {
				t0 := time.Now()
				status, body, err := one(ctx, client)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
				if !ok(status, body) {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", status, body))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(p*float64(len(lat)-1))]
	}
	r := Report{Requests: len(lat), Errors: int(errs.Load()), Elapsed: elapsed, P50: pct(.50), P90: pct(.90), P99: pct(.99)}
	if v, ok := firstErr.Load().(string); ok {
		r.FirstError = v
	}
	return r
}

// LoadToken runs the client_credentials load against o.Issuer's token endpoint.
func LoadToken(ctx context.Context, o Options, clientKey jose.JSONWebKey) (Report, error) {
	tokenURL := strings.TrimRight(o.Issuer, "/") + "/token"
	alg := jose.SignatureAlgorithm(clientKey.Algorithm)
	if alg == "" {
		alg = jose.ES256
	}
	// ES256 keys sign through es256Signer (cheaper, so the tool takes less of
	// the CPU it shares with the server); other algorithms through go-jose.
	var signAssertion func([]byte) string
	if ecKey, ok := clientKey.Key.(*ecdsa.PrivateKey); ok && alg == jose.ES256 {
		s, err := newES256Signer(ecKey, "JWT", false)
		if err != nil {
			return Report{}, err
		}
		signAssertion = s.sign
	} else {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: clientKey}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return Report{}, err
		}
		signAssertion = func(b []byte) string { return signJOSE(s, b) }
	}
	dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	proofSigner, err := newES256Signer(dpopKey, "dpop+jwt", true)
	if err != nil {
		return Report{}, err
	}
	return drive(ctx, o.Concurrency, o.Duration, o.MaxRequests, func(ctx context.Context, client *http.Client) (int, []byte, error) {
		now := time.Now()
		assertion := signAssertion(mustJSON(assertionClaims{Iss: o.ClientID, Sub: o.ClientID, Aud: o.Issuer,
			JTI: uuid.NewString(), IAT: now.Unix(), Exp: now.Add(time.Minute).Unix()}))
		proof := proofSigner.sign(mustJSON(proofClaims{JTI: uuid.NewString(), HTM: "POST", HTU: tokenURL, IAT: now.Unix()}))
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {o.Scope},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
		req, _ := http.NewRequestWithContext(ctx, "POST", tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("DPoP", proof)
		return do(client, req)
	}, func(status int, body []byte) bool {
		return status == 200 && strings.Contains(string(body), `"token_type":"DPoP"`)
	}), nil
}

// assertionClaims are a private_key_jwt client assertion's (RFC 7523 §3).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	JTI string `json:"jti"`
	IAT int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// proofClaims are a DPoP proof's (RFC 9449 §4.2).
type proofClaims struct {
	JTI string `json:"jti"`
	HTM string `json:"htm"`
	HTU string `json:"htu"`
	IAT int64  `json:"iat"`
	ATH string `json:"ath,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func signJOSE(s jose.Signer, payload []byte) string {
	jws, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}
