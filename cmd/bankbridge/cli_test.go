package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// mustVerifyTOTP checks that the current code of secret verifies as the
// customer's second factor on the server (sca.VerifyTOTP), once.
func mustVerifyTOTP(t *testing.T, s *Server, customerID, secret string) {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc := s.Main.Platform.Services.SCA
	if err := svc.VerifyTOTP(context.Background(), customerID, code, "192.0.2.10"); err != nil {
		t.Fatalf("VerifyTOTP(%s) with a code of the printed secret: %v", customerID, err)
	}
	if err := svc.VerifyTOTP(context.Background(), customerID, code, "192.0.2.10"); err != sca.ErrCodeUsed {
		t.Fatalf("VerifyTOTP(%s) with the same code again: %v, want %v", customerID, err, sca.ErrCodeUsed)
	}
}

// runCLIErr runs a command expected to fail and returns its output and error.
func runCLIErr(t *testing.T, s *Server, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	m := NewMain(&out, &out)
	err := m.Run(context.Background(), append(args, "--data-dir", s.DataDir, "--log-level", "warn"))
	m.Close()
	return out.String(), err
}

func TestOperatorCommands(t *testing.T) {
	s := MustStart(t, "")

	var sandboxJo string
	t.Run("ok/customers-create", func(t *testing.T) {
		c := runCLI(t, s, "customers", "create", "--username", "jo.tester", "--password", "a-long-password-1", "--json")
		if id, _ := c["id"].(string); !strings.HasPrefix(id, "cus_") || c["username"] != "jo.tester" || c["environment"] != "sandbox" {
			t.Fatalf("customer %v (the default environment is sandbox)", c)
		}
		if _, ok := c["totp_secret"]; ok {
			t.Fatalf("customer %v: a TOTP secret without --totp", c)
		}
		if has, err := s.Main.Platform.Services.SCA.HasSecondFactor(context.Background(), c["id"].(string)); err != nil || has {
			t.Fatalf("customer without --totp: HasSecondFactor = %v, %v", has, err)
		}
		sandboxJo = c["id"].(string)
	})
	t.Run("ok/customers-create-production-same-username", func(t *testing.T) {
		c := runCLI(t, s, "customers", "create", "--env", "production", "--username", "Jo.Tester", "--password", "a-long-password-2",
			"--name", "Jo Real", "--json")
		if id, _ := c["id"].(string); !strings.HasPrefix(id, "cus_") || id == sandboxJo || c["username"] != "jo.tester" ||
			c["environment"] != "production" || c["name"] != "Jo Real" {
			t.Fatalf("customer %v", c)
		}
	})
	t.Run("ok/customers-create-text", func(t *testing.T) {
		var out bytes.Buffer
		m := NewMain(&out, &out)
		err := m.Run(context.Background(), []string{"customers", "create", "--env", "production", "--username", "kim.real",
			"--password", "a-long-password-3", "--data-dir", s.DataDir, "--log-level", "warn"})
		m.Close()
		if err != nil || !strings.HasPrefix(out.String(), "created production customer kim.real (cus_") {
			t.Fatalf("err %v\n%s", err, out.String())
		}
	})
	for _, env := range []string{"sandbox", "production"} {
		t.Run("ok/customers-create-totp-json-"+env, func(t *testing.T) {
			c := runCLI(t, s, "customers", "create", "--env", env, "--username", "tia.totp", "--password", "a-long-password-4", "--totp", "--json")
			id, _ := c["id"].(string)
			secret, _ := c["totp_secret"].(string)
			uri, _ := c["otpauth_uri"].(string)
			if !strings.HasPrefix(id, "cus_") || c["environment"] != env || len(secret) != 32 {
				t.Fatalf("customer %v: want a 160-bit base32 totp_secret", c)
			}
			key, err := otp.NewKeyFromURL(uri)
			if err != nil || key.Secret() != secret || key.Issuer() != "Bankbridge" || key.AccountName() != "tia.totp" {
				t.Fatalf("otpauth_uri %q: %v", uri, err)
			}
			mustVerifyTOTP(t, s, id, secret)
		})
	}
	t.Run("ok/customers-create-totp-text", func(t *testing.T) {
		var out bytes.Buffer
		m := NewMain(&out, &out)
		err := m.Run(context.Background(), []string{"customers", "create", "--username", "uma.totp", "--password", "a-long-password-5",
			"--totp", "--data-dir", s.DataDir, "--log-level", "warn"})
		m.Close()
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if err != nil || len(lines) != 3 || !strings.HasPrefix(lines[0], "created sandbox customer uma.totp (cus_") ||
			!strings.HasPrefix(lines[1], "authenticator app (TOTP) secret: ") ||
			!strings.HasPrefix(lines[2], "enrol: otpauth://totp/Bankbridge:uma.totp?") {
			t.Fatalf("err %v\n%s", err, out.String())
		}
		secret := strings.TrimPrefix(lines[1], "authenticator app (TOTP) secret: ")
		if !strings.Contains(lines[2], "secret="+secret) {
			t.Fatalf("URI %s does not carry the secret %s", lines[2], secret)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(lines[0], "created sandbox customer uma.totp ("), ")")
		mustVerifyTOTP(t, s, id, secret)
	})
	for _, tc := range []struct{ name, env, want string }{
		{"fail/customers-create-duplicate", "sandbox", `username "jo.tester" is already taken in sandbox`},
		{"fail/customers-create-duplicate-production", "production", `username "jo.tester" is already taken in production`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCLIErr(t, s, "customers", "create", "--env", tc.env, "--username", "jo.tester", "--password", "a-long-password-1")
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err %v, want %s\n%s", err, tc.want, out)
			}
		})
	}
	t.Run("fail/customers-create-unknown-env", func(t *testing.T) {
		out, err := runCLIErr(t, s, "customers", "create", "--env", "staging", "--username", "jo.other", "--password", "a-long-password-1")
		if err != errUsage || !strings.Contains(out, `bankbridge customers create: --env must be sandbox or production, got "staging"`) {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
	t.Run("ok/customers-create-email", func(t *testing.T) {
		c := runCLI(t, s, "customers", "create", "--username", "em.mail", "--password", "a-long-password-6",
			"--email", "em@customer.example", "--json")
		if c["email"] != "em@customer.example" {
			t.Fatalf("customer %v", c)
		}
		cus, err := s.Main.Platform.Services.Core.Customer(context.Background(), c["id"].(string))
		if err != nil || cus.Email != "em@customer.example" {
			t.Fatalf("stored customer %+v %v", cus, err)
		}
	})
	t.Run("fail/customers-create-bad-email", func(t *testing.T) {
		out, err := runCLIErr(t, s, "customers", "create", "--username", "em.bad", "--password", "a-long-password-7", "--email", "Em <em@x.example>")
		if err != errUsage || !strings.Contains(out, `bankbridge customers create: --email must be a plain address such as name@bank.example, got "Em <em@x.example>"`) {
			t.Fatalf("err %v\n%s", err, out)
		}
		if _, err := s.Main.Platform.Services.Core.CustomerByUsername(context.Background(), environment.Sandbox, "em.bad"); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("refused customer was created: %v", err)
		}
	})
	t.Run("fail/apps-create-missing-partner", func(t *testing.T) {
		out, err := runCLIErr(t, s, "apps", "create", "--name", "x")
		if err != errUsage || !strings.Contains(out, "--partner is required") {
			t.Fatalf("err %v\n%s", err, out)
		}
	})
	t.Run("fail/apps-create-unknown-partner", func(t *testing.T) {
		key := MustClientKey(t)
		_, err := runCLIErr(t, s, "apps", "create", "--partner", "ptn_nope", "--name", "x", "--env", "sandbox",
			"--redirect-uri", "https://x.example/cb", "--jwks", key.WriteJWKS(t))
		if err == nil || !strings.HasPrefix(err.Error(), "Not found:") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ok/staff-create", func(t *testing.T) {
		st := runCLI(t, s, "staff", "create", "--email", "ops@bank.example", "--role", "admin", "--json")
		if st["one_time_password"] == "" || st["totp_secret"] == "" || !strings.HasPrefix(st["otpauth_uri"].(string), "otpauth://totp/") {
			t.Fatalf("staff %v", st)
		}
	})
	t.Run("fail/staff-create-bad-role", func(t *testing.T) {
		_, err := runCLIErr(t, s, "staff", "create", "--email", "x@bank.example", "--role", "king")
		if err == nil || !strings.Contains(err.Error(), `got "king"`) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("ok/keys-rotate-keeps-old-key-published", func(t *testing.T) {
		kids := func() map[string]string {
			resp, err := http.Get(s.URL + "/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var set struct {
				Keys []struct{ Kid, Alg, D string }
			}
			json.NewDecoder(resp.Body).Decode(&set)
			out := map[string]string{}
			for _, k := range set.Keys {
				if k.D != "" {
					t.Fatal("JWKS publishes a private key")
				}
				out[k.Kid] = k.Alg
			}
			return out
		}
		before := kids()
		var out bytes.Buffer
		m := NewMain(&out, &out)
		if err := m.Run(context.Background(), []string{"keys", "rotate", "--alg", "ES256", "--data-dir", s.DataDir}); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		m.Close()
		// The server reloads keys from the database periodically; the JWKS is
		// read from the database on each request.
		after := kids()
		if len(after) != len(before)+1 {
			t.Fatalf("JWKS before %v after %v: want the new key added and the old kept", before, after)
		}
		for kid := range before {
			if _, ok := after[kid]; !ok {
				t.Fatalf("old key %s dropped at rotation", kid)
			}
		}
	})
}
