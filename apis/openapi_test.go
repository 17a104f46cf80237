package apis_test

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/dbtest"
)

var ginParam = regexp.MustCompile(`:([A-Za-z]+)`)

// TestOpenAPICoversRoutes walks the gin routes Register mounts and checks each
// is in the OpenAPI document, and every documented operation is served.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := gin.New()
	h := apis.NewHandler(apis.HandlerConfig{Service: apis.NewService(apis.Config{DB: dbtest.MustSQLite(t)}), Verifier: &fakeVerifier{}})
	h.Register(e)
	served := map[string]bool{}
	for _, r := range e.Routes() {
		served[r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	doc := apis.OpenAPI("https://bank.example")
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		if !strings.HasPrefix(path, apis.BasePath+"/") {
			continue // the webhook-endpoint and registration APIs: cmd/bankbridge's TestOpenAPIMatchesPlatformRoutes
		}
		for method := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
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
		t.Fatalf("served but undocumented: %v\ndocumented but not served: %v", missing, extra)
	}
	if len(served) != 22 {
		t.Fatalf("%d routes", len(served))
	}
}

// TestOpenAPIDocumentLoads checks the document is valid JSON that an OpenAPI
// loader accepts with every $ref resolved.
func TestOpenAPIDocumentLoads(t *testing.T) {
	b, err := json.Marshal(apis.OpenAPI("https://bank.example"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths.Len() != 28 {
		t.Fatalf("openapi %s, %d paths", doc.OpenAPI, doc.Paths.Len())
	}
	for _, name := range []string{"OBReadTransaction6", "OBWriteDomesticResponse5", "DatasetResponse", "ReconciliationResponse", "Problem", "WebhookEndpointCreated", "ClientInformation"} {
		if s := doc.Components.Schemas[name]; s == nil || s.Value == nil {
			t.Fatalf("schema %s missing", name)
		}
	}
}
