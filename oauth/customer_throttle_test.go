package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
)

// countingCustomers is the bank's customer check with real bcrypt, counting
// every password it compares.
type countingCustomers struct {
	checks atomic.Int64
	hashes map[string]string // username → bcrypt hash
}

func newCountingCustomers(tb testing.TB) *countingCustomers {
	tb.Helper()
	old := secrets.PasswordCost
	secrets.PasswordCost = 4
	defer func() { secrets.PasswordCost = old }()
	c := &countingCustomers{hashes: map[string]string{}}
	for user, pw := range map[string]string{"alice": "correct horse", "bob": "battery staple"} {
		h, err := secrets.HashPassword(pw)
		if err != nil {
			tb.Fatal(err)
		}
		c.hashes[user] = h
	}
	return c
}

func (c *countingCustomers) Authenticate(_ context.Context, env environment.Environment, username, password string) (string, error) {
	c.checks.Add(1)
	h, ok := c.hashes[username]
	if !ok || env != environment.Sandbox {
		if err := secrets.BurnPasswordCheck(password); err != nil {
			return "", err
		}
		return "", oauth.ErrBadCredentials
	}
	switch err := secrets.CheckPassword(h, password); {
	case errors.Is(err, secrets.ErrBusy):
		return "", err
	case err != nil:
		return "", oauth.ErrBadCredentials
	}
	return "cus_" + username, nil
}

func (c *countingCustomers) DisplayName(_ context.Context, id string) (string, error) {
	return strings.TrimPrefix(id, "cus_"), nil
}

// loginForm opens the login page of a fresh authorization and returns its
// interaction id and CSRF token.
func loginForm(h *harness, c *testClient) (string, string) {
	h.tb.Helper()
	verifier, challenge := pkcePair()
	_ = verifier
	requestURI := h.mustPAR(c, parForm(challenge))
	resp, body := c.get("/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {requestURI}}.Encode())
	if resp.StatusCode != http.StatusOK {
		h.tb.Fatalf("authorize: %d %s", resp.StatusCode, body)
	}
	return formFields(h.tb, body)
}

// fromAddress is c's HTTP client, dialling from local address ip (any
// 127.0.0.0/8 address is this machine), sharing c's cookies.
func fromAddress(c *testClient, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Jar: c.http.Jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// postLogin posts the login step; it returns the status and the page's error
// line.
func postLogin(tb testing.TB, hc *http.Client, base, interaction, csrf, username, password string) (int, string) {
	tb.Helper()
	resp, err := hc.PostForm(base+"/authorize", url.Values{"interaction": {interaction}, "csrf_token": {csrf}, "step": {"login"},
		"username": {username}, "password": {password}})
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if i := strings.Index(body, `<p class="error">`); i >= 0 {
		body = body[i+len(`<p class="error">`):]
		if j := strings.Index(body, "</p>"); j >= 0 {
			body = body[:j]
		}
	}
	return resp.StatusCode, body
}

const (
	msgBadLogin = "The username or password is not right. Please check them and try again."
	msgThrottle = "Too many wrong attempts. For your safety, logging in is blocked for 15 minutes at most. Please try again later."
)

// TestCustomerLoginParallel: 50 parallel wrong passwords for one customer at
// the real login page check at most 5 passwords, and the right password is
// refused while locked.
func TestCustomerLoginParallel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cust := newCountingCustomers(t)
		h := newHarness(t, d, func(_ *oauth.Config, deps *oauth.Deps) { deps.Customers = cust })
		in, csrf := loginForm(h, h.client)
		var wg sync.WaitGroup
		var mu sync.Mutex
		answers := map[int]int{}
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, _ := postLogin(t, h.client.http, h.ts.URL, in, csrf, "alice", "wrong horse")
				mu.Lock()
				answers[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if n := cust.checks.Load(); n > 5 {
			t.Fatalf("fail/parallel: %d passwords checked for 50 parallel attempts, want at most 5 (answers %v)", n, answers)
		}
		before := cust.checks.Load()
		st, msg := postLogin(t, h.client.http, h.ts.URL, in, csrf, "alice", "correct horse")
		if st != http.StatusTooManyRequests || msg != msgThrottle {
			t.Fatalf("fail/right-password-while-locked: %d %q", st, msg)
		}
		if n := cust.checks.Load() - before; n != 0 {
			t.Fatalf("fail/right-password-while-locked: %d passwords checked while locked", n)
		}

		// A burst with the right password among 49 wrong ones: it signs in
		// only if it was among the 5 admitted attempts; its success resets
		// bob's count (at most 5 more wrong ones are checked after it).
		in, csrf = loginForm(h, h.client)
		before = cust.checks.Load()
		var ok atomic.Int64
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw := "wrong staple"
				if i == 25 {
					pw = "battery staple"
				}
				if st, _ := postLogin(t, h.client.http, h.ts.URL, in, csrf, "bob", pw); st == http.StatusOK {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := cust.checks.Load() - before; n > 5*(1+ok.Load()) || ok.Load() > 1 {
			t.Fatalf("fail/burst-with-right-password: %d checks, %d sign-ins", n, ok.Load())
		}
	})
}

// TestCustomerLoginAddressPolicy: a lockout from one address does not refuse
// the customer at another; one address spraying a password across usernames
// is refused once its budget is spent; an unknown username gets the known
// one's answers, into the lockout.
func TestCustomerLoginAddressPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cust := newCountingCustomers(t)
		h := newHarness(t, d, func(_ *oauth.Config, deps *oauth.Deps) { deps.Customers = cust })
		in, csrf := loginForm(h, h.client)
		here, there := h.client.http, fromAddress(h.client, "127.0.0.2")
		for i := 1; i <= 6; i++ {
			s1, m1 := postLogin(t, here, h.ts.URL, in, csrf, "alice", "wrong horse")
			s2, m2 := postLogin(t, there, h.ts.URL, in, csrf, "nobody", "wrong horse")
			if s1 != s2 || m1 != m2 {
				t.Fatalf("fail/attempt-%d: known %d %q, unknown %d %q", i, s1, m1, s2, m2)
			}
			want, wantMsg := http.StatusUnauthorized, msgBadLogin
			if i >= 5 {
				want, wantMsg = http.StatusTooManyRequests, msgThrottle
			}
			if s1 != want || m1 != wantMsg {
				t.Fatalf("fail/attempt-%d: %d %q, want %d %q", i, s1, m1, want, wantMsg)
			}
		}
		// 127.0.0.1 is locked out of alice; alice signs in from 127.0.0.3.
		if st, msg := postLogin(t, here, h.ts.URL, in, csrf, "alice", "correct horse"); st != http.StatusTooManyRequests || msg != msgThrottle {
			t.Fatalf("fail/locked-address: %d %q", st, msg)
		}
		if st, msg := postLogin(t, fromAddress(h.client, "127.0.0.3"), h.ts.URL, in, csrf, "alice", "correct horse"); st != http.StatusOK {
			t.Fatalf("ok/other-address: %d %q", st, msg)
		}

		// Spraying from 127.0.0.4: its budget of failures across usernames,
		// then every username is refused from there, unchecked.
		sprayer := fromAddress(h.client, "127.0.0.4")
		in, csrf = loginForm(h, h.client)
		for i := range throttle.DefaultPolicy.Address.Limit - 1 {
			if st, msg := postLogin(t, sprayer, h.ts.URL, in, csrf, fmt.Sprintf("user%d", i), "Summer2026"); st != http.StatusUnauthorized {
				t.Fatalf("fail/spray-%d: %d %q", i, st, msg)
			}
		}
		postLogin(t, sprayer, h.ts.URL, in, csrf, "last", "Summer2026")
		before := cust.checks.Load()
		if st, msg := postLogin(t, sprayer, h.ts.URL, in, csrf, "bob", "battery staple"); st != http.StatusTooManyRequests || msg != msgThrottle {
			t.Fatalf("fail/spray-budget-spent: %d %q", st, msg)
		}
		if n := cust.checks.Load() - before; n != 0 {
			t.Fatalf("fail/spray-budget-spent: %d passwords checked", n)
		}
		if st, msg := postLogin(t, fromAddress(h.client, "127.0.0.5"), h.ts.URL, in, csrf, "bob", "battery staple"); st != http.StatusOK {
			t.Fatalf("ok/bob-elsewhere: %d %q", st, msg)
		}
	})
}

// TestCustomerLoginBusy: with every bcrypt slot taken the login page answers
// 503 without checking, and those answers do not count towards a lockout.
func TestCustomerLoginBusy(t *testing.T) {
	cust := newCountingCustomers(t)
	h := newHarness(t, dbtest.MustSQLite(t), func(_ *oauth.Config, deps *oauth.Deps) { deps.Customers = cust })
	in, csrf := loginForm(h, h.client)
	secrets.SetPasswordConcurrency(1, 0)
	defer secrets.SetPasswordConcurrency(0, secrets.DefaultPasswordWait)
	release := secrets.OccupyPasswordSlots(1)
	for i := range 6 {
		st, msg := postLogin(t, h.client.http, h.ts.URL, in, csrf, "alice", "wrong horse")
		if st != http.StatusServiceUnavailable || msg != "We could not check your details just now. Please try again in a moment." {
			t.Fatalf("fail/busy-%d: %d %q", i, st, msg)
		}
	}
	release()
	if st, msg := postLogin(t, h.client.http, h.ts.URL, in, csrf, "alice", "correct horse"); st != http.StatusOK {
		t.Fatalf("ok/not-locked-by-busy-answers: %d %q", st, msg)
	}
}
