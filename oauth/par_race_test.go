package oauth_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

// TestPARRequestURIConcurrentUse: a request_uri is single use even when
// many /authorize calls present it at once: exactly one reaches the login
// page, every other gets invalid_request_uri (RFC 9126 §4, RFC 6749 §4.1.2.1).
// Run on both engines; each call is a real HTTP request to the server.
func TestPARRequestURIConcurrentUse(t *testing.T) {
	const n = 16
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, nil)
		c := h.client
		for round := range 3 {
			_, ch := pkcePair()
			ru := h.mustPAR(c, parForm(ch))
			target := h.ts.URL + "/authorize?" + url.Values{"client_id": {c.id}, "request_uri": {ru}}.Encode()
			type answer struct {
				status int
				body   string
				err    error
			}
			answers := make([]answer, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := c.http.Get(target)
					if err != nil {
						answers[i].err = err
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					answers[i] = answer{status: resp.StatusCode, body: html.UnescapeString(string(b))}
				}()
			}
			close(start)
			wg.Wait()
			logins, refused := 0, 0
			for _, a := range answers {
				switch {
				case a.err != nil:
					t.Fatalf("round %d: %v", round, a.err)
				case a.status == http.StatusOK && strings.Contains(a.body, `name="interaction"`):
					logins++
				case a.status == http.StatusBadRequest && strings.Contains(a.body, `<p id="code">invalid_request_uri</p>`) &&
					strings.Contains(a.body, "Invalid PAR session"):
					refused++
				default:
					t.Fatalf("round %d: unexpected answer %d %s", round, a.status, a.body)
				}
			}
			if logins != 1 || refused != n-1 {
				t.Fatalf("round %d: %d login pages and %d invalid_request_uri refusals, want 1 and %d", round, logins, refused, n-1)
			}
		}
	})
}
