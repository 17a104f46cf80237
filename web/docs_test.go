package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDocsPageRendersOperations(t *testing.T) {
	doc, err := NormaliseOpenAPI(map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "Bankbridge APIs", "version": "1.0"},
		"paths": map[string]any{
			"/accounts/{AccountId}": map[string]any{"get": map[string]any{
				"tags": []string{"Accounts"}, "summary": "Read one account",
				"parameters": []any{map[string]any{"name": "AccountId", "in": "path", "required": true}},
				"security":   []any{map[string]any{"dpop": []string{"accounts"}}},
				"responses": map[string]any{"200": map[string]any{"description": "The account",
					"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/OBReadAccount6"}}}}},
			}},
		},
		"webhooks": map[string]any{"payment.created": map[string]any{"post": map[string]any{"summary": "A payment was created"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	MustRenderer().DocsHandler(doc)(rec, httptest.NewRequest("GET", "/docs", nil))
	body := rec.Body.String()
	for _, want := range []string{"Read one account", "/accounts/{AccountId}", "OBReadAccount6", "Scopes: accounts", "payment.created", "urn:bankbridge:problem:consent_expired"} {
		if !strings.Contains(body, want) {
			t.Errorf("docs page lacks %q", want)
		}
	}
}
