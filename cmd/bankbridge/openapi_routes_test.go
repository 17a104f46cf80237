package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// nonAPIPrefixes are the platform's paths that /openapi.json does not
// document: pages (portal, console, customer dashboards, docs), static files,
// probes, the document itself, and the OAuth/OIDC endpoints, which the
// discovery document (/.well-known/openid-configuration) describes as RFC 8414
// and OpenID Connect Discovery require. Every other route is partner-facing
// and must be in /openapi.json.
var nonAPIPrefixes = []string{"/portal", "/console", "/customer", "/sandbox/customer", "/static", "/docs",
	"/healthz", "/readyz", "/openapi.json", "/.well-known/", "/jwks.json", "/par", "/authorize", "/token",
	"/introspect", "/revoke"}

var ginParamRE = regexp.MustCompile(`:([A-Za-z_]+)|\*([A-Za-z_]+)`)

func nonAPI(path string) bool {
	if path == "/" {
		return true
	}
	for _, p := range nonAPIPrefixes {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
			return true
		}
	}
	return false
}

// TestOpenAPIMatchesPlatformRoutes: every partner-facing route of the fully
// wired platform is in the served /openapi.json, and every documented
// operation is served.
func TestOpenAPIMatchesPlatformRoutes(t *testing.T) {
	s := MustStart(t, "")
	served := map[string]bool{}
	for _, r := range s.Main.Platform.Routes() {
		if nonAPI(r.Path) || r.Method == http.MethodHead {
			continue
		}
		served[r.Method+" "+ginParamRE.ReplaceAllString(r.Path, "{$1$2}")] = true
	}
	res, err := http.Get(s.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("served but not in /openapi.json: %v\nin /openapi.json but not served: %v", missing, extra)
	}
	for _, k := range []string{"POST /webhook-endpoints", "GET /webhook-endpoints/{id}/attempts", "POST /register", "DELETE /register/{client_id}"} {
		if !documented[k] {
			t.Fatalf("%s not documented", k)
		}
	}
}

// TestUnknownRoutesAnswerProblems: under the partner APIs an unknown route is
// a problem+json 404 and a wrong method a problem+json 405 with Allow; other
// paths answer the HTML not-found page.
func TestUnknownRoutesAnswerProblems(t *testing.T) {
	s := MustStart(t, "")
	for _, tc := range []struct {
		name, method, path string
		status             int
		ctype, code, allow string
		detail             string
	}{
		{"fail/unknown-ob-route", "GET", "/open-banking/v3.1/aisp/nope", 404, "application/problem+json", "not_found", "",
			"no operation at /open-banking/v3.1/aisp/nope"},
		{"fail/unknown-ob-version", "GET", "/open-banking/v9/aisp/accounts", 404, "application/problem+json", "not_found", "",
			"no operation at /open-banking/v9/aisp/accounts"},
		{"fail/wrong-method-ob", "PUT", "/open-banking/v3.1/aisp/account-access-consents/cns_x", 405, "application/problem+json", "method_not_allowed", "GET, DELETE",
			"PUT is not allowed on /open-banking/v3.1/aisp/account-access-consents/cns_x; allowed: GET, DELETE"},
		{"fail/wrong-method-webhooks", "PUT", "/webhook-endpoints", 405, "application/problem+json", "method_not_allowed", "GET, POST",
			"PUT is not allowed on /webhook-endpoints; allowed: GET, POST"},
		{"fail/unknown-webhooks-route", "GET", "/webhook-endpoints/x/nope", 404, "application/problem+json", "not_found", "",
			"no operation at /webhook-endpoints/x/nope"},
		{"fail/wrong-method-register", "GET", "/register", 405, "application/problem+json", "method_not_allowed", "POST",
			"GET is not allowed on /register; allowed: POST"},
		{"fail/unknown-public-keys-route", "GET", "/webhooks/nope", 404, "application/problem+json", "not_found", "",
			"no operation at /webhooks/nope"},
		{"fail/unknown-page", "GET", "/no-such-page", 404, "text/html; charset=utf-8", "", "", "There is no page at this address."},
		{"fail/unknown-portal-page", "GET", "/portal/no-such-page", 404, "text/html; charset=utf-8", "", "", "There is no page at this address."},
		{"fail/not-a-partner-prefix", "GET", "/registered", 404, "text/html; charset=utf-8", "", "", "There is no page at this address."},
		{"fail/wrong-method-page", "PUT", "/healthz", 405, "text/html; charset=utf-8", "", "GET", "This page does not accept PUT requests."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || res.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("%d %q, want %d %q; body %s", res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.ctype, body)
			}
			if got := sortedAllow(res.Header.Get("Allow")); got != sortedAllow(tc.allow) {
				t.Fatalf("Allow %q, want %q", res.Header.Get("Allow"), tc.allow)
			}
			if tc.code == "" {
				if !strings.Contains(string(body), tc.detail) {
					t.Fatalf("not the page saying %q: %s", tc.detail, body)
				}
				return
			}
			var p map[string]any
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatal(err)
			}
			detail := tc.detail
			if tc.allow != "" { // gin lists Allow in its tree order
				detail = strings.TrimSuffix(detail, tc.allow) + res.Header.Get("Allow")
			}
			if p["type"] != "urn:bankbridge:problem:"+tc.code || p["code"] != tc.code || p["status"] != float64(tc.status) || p["detail"] != detail {
				t.Fatalf("problem %v", p)
			}
		})
	}
}

func sortedAllow(s string) string {
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ", ")
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
