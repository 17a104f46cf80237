// Command bankbridge-load is Bankbridge's load tool. It drives a running server
// over real HTTP from a second process, the way a partner does, and reports
// throughput and latency percentiles.
//
//	bankbridge-load token --issuer URL --client-id app_… --key private-jwk.json [--concurrency 16] [--duration 10s]
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

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "token" {
		return errors.New("usage: bankbridge-load token --issuer URL --client-id ID --key FILE [--concurrency N] [--duration D]")
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
	raw, err := os.ReadFile(o.KeyFile)
	if err != nil {
		return err
	}
	var key jose.JSONWebKey
	if err := json.Unmarshal(raw, &key); err != nil {
		return fmt.Errorf("parse key: %w", err)
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

// LoadToken runs the client_credentials load against o.Issuer's token endpoint.
func LoadToken(ctx context.Context, o Options, clientKey jose.JSONWebKey) (Report, error) {
	tokenURL := strings.TrimRight(o.Issuer, "/") + "/token"
	alg := jose.SignatureAlgorithm(clientKey.Algorithm)
	if alg == "" {
		alg = jose.ES256
	}
	assertSigner, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: clientKey}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return Report{}, err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2, MaxConnsPerHost: o.Concurrency * 2}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
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
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dpopKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			proofSigner, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: dpopKey},
				(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
			var mine []time.Duration
			for ctx.Err() == nil && n.Add(1) <= int64(o.MaxRequests) {
				now := time.Now()
				assertion := sign(assertSigner, map[string]any{"iss": o.ClientID, "sub": o.ClientID, "aud": o.Issuer,
					"jti": uuid.NewString(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
				proof := sign(proofSigner, map[string]any{"jti": uuid.NewString(), "htm": "POST", "htu": tokenURL, "iat": now.Unix()})
				form := url.Values{"grant_type": {"client_credentials"}, "scope": {o.Scope},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
				req, _ := http.NewRequestWithContext(ctx, "POST", tokenURL, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("DPoP", proof)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				if resp.StatusCode != 200 || !strings.Contains(string(body), `"token_type":"DPoP"`) {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
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
	return r, nil
}

func sign(s jose.Signer, claims map[string]any) string {
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}
