package partners

import (
	"net/url"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/internal/environment"
)

// Fuzz targets for every parser of partner input. Seed corpora live in
// testdata/fuzz/<target>; run e.g. go test -fuzz FuzzParseJWKS -fuzztime 20s ./partners/.

func FuzzParseJWKS(f *testing.F) {
	_, pub, _ := GenerateES256Key("seed")
	priv, _, _ := GenerateES256Key("seed")
	f.Add([]byte(pub))
	f.Add([]byte(`{"keys":[` + string(priv) + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		set, err := ParseJWKS(raw)
		if err != nil {
			return
		}
		if len(set.Keys) == 0 || len(set.Keys) > MaxJWKSKeys {
			t.Fatalf("accepted %d keys", len(set.Keys))
		}
		for _, k := range set.Keys {
			if !k.IsPublic() {
				t.Fatalf("accepted a non-public key from %q", raw)
			}
		}
	})
}

func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://wallet.example/cb", "http://localhost:3000/callback", "http://127.0.0.1/cb",
		"http://[::1]/cb", "https://u:p@x.example/", "javascript:alert(1)", "https://x.example/#f", "HTTP://LOCALHOST/"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, sandbox bool) {
		env := environment.Production
		if sandbox {
			env = environment.Sandbox
		}
		if ValidateRedirectURIs(env, []string{raw}) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.User != nil || strings.Contains(raw, "#") {
			t.Fatalf("accepted %q", raw)
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !sandbox || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1") {
				t.Fatalf("accepted http %q (sandbox=%v)", raw, sandbox)
			}
		default:
			t.Fatalf("accepted scheme %q", u.Scheme)
		}
	})
}

func FuzzClientMetadata(f *testing.F) {
	_, pub, _ := GenerateES256Key("seed")
	f.Add([]byte(`{"redirect_uris":["https://w.example/cb"],"jwks":` + string(pub) + `}`))
	f.Add([]byte(`{"redirect_uris":["http://localhost/cb"],"jwks_uri":"https://w.example/jwks","scope":"openid payments","grant_types":["client_credentials"]}`))
	f.Add([]byte(`{"redirect_uris":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, env := range []environment.Environment{environment.Sandbox, environment.Production} {
			md, in, err := parseMetadata(body, env)
			if err != nil {
				if _, ok := err.(*RegistrationError); !ok {
					t.Fatalf("error %T %v", err, err)
				}
				continue
			}
			if md == nil || in == nil || in.Environment != env {
				t.Fatal("accepted without app input")
			}
			if a := in.app("ptn_x", clockZero); a.Validate() != nil {
				t.Fatalf("accepted metadata yields an invalid app: %v", a.Validate())
			}
		}
	})
}
