package web

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// APIReference is an OpenAPI 3.1 document reduced to what a reader scans: the
// operations grouped by tag, their parameters and bodies, the webhook events and
// the problem types.
type APIReference struct {
	Title, Version, Description string
	Groups                      []OperationGroup
	Webhooks                    []WebhookDoc
	Problems                    []ProblemDoc
}

// OperationGroup is the operations sharing a tag.
type OperationGroup struct {
	Tag        string
	Operations []OperationDoc
}

// OperationDoc is one method + path.
type OperationDoc struct {
	Anchor      string
	Method      string
	Path        string
	Summary     string
	Description string
	Scopes      []string
	Parameters  []ParamDoc
	RequestBody string // schema name or media type
	Responses   []ResponseDoc
}

// ParamDoc is one parameter.
type ParamDoc struct {
	Name, In, Description string
	Required              bool
}

// ResponseDoc is one response.
type ResponseDoc struct{ Status, Description, Schema string }

// WebhookDoc is one event type.
type WebhookDoc struct{ Type, Summary string }

// ProblemDoc is one problem type.
type ProblemDoc struct {
	Type, Code, Title string
	Status            int
}

// NewAPIReference reduces an OpenAPI document (as decoded JSON) to a reference.
func NewAPIReference(doc map[string]any) APIReference {
	var ref APIReference
	if info, ok := doc["info"].(map[string]any); ok {
		ref.Title, _ = info["title"].(string)
		ref.Version, _ = info["version"].(string)
		ref.Description, _ = info["description"].(string)
	}
	groups := map[string][]OperationDoc{}
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			op, ok := ops[method].(map[string]any)
			if !ok {
				continue
			}
			d := OperationDoc{Method: strings.ToUpper(method), Path: path}
			d.Summary, _ = op["summary"].(string)
			d.Description, _ = op["description"].(string)
			d.Anchor = strings.NewReplacer("/", "-", "{", "", "}", "", ".", "-").Replace(method + path)
			for _, p := range asList(op["parameters"]) {
				pm, _ := p.(map[string]any)
				pd := ParamDoc{}
				pd.Name, _ = pm["name"].(string)
				pd.In, _ = pm["in"].(string)
				pd.Description, _ = pm["description"].(string)
				pd.Required, _ = pm["required"].(bool)
				if pd.Name != "" {
					d.Parameters = append(d.Parameters, pd)
				}
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				d.RequestBody = schemaName(rb)
			}
			for _, sec := range asList(op["security"]) {
				for _, scopes := range asMap(sec) {
					for _, s := range asList(scopes) {
						if str, ok := s.(string); ok {
							d.Scopes = append(d.Scopes, str)
						}
					}
				}
			}
			resps := asMap(op["responses"])
			codes := make([]string, 0, len(resps))
			for code := range resps {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				rm := asMap(resps[code])
				desc, _ := rm["description"].(string)
				d.Responses = append(d.Responses, ResponseDoc{Status: code, Description: desc, Schema: schemaName(rm)})
			}
			tag := "Other"
			if tags := asList(op["tags"]); len(tags) > 0 {
				tag, _ = tags[0].(string)
			}
			groups[tag] = append(groups[tag], d)
		}
	}
	tags := make([]string, 0, len(groups))
	for t := range groups {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	for _, t := range tags {
		ops := groups[t]
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].Path != ops[j].Path {
				return ops[i].Path < ops[j].Path
			}
			return methodOrder(ops[i].Method) < methodOrder(ops[j].Method)
		})
		ref.Groups = append(ref.Groups, OperationGroup{Tag: t, Operations: ops})
	}
	for name, item := range asMap(doc["webhooks"]) {
		w := WebhookDoc{Type: name}
		if post := asMap(asMap(item)["post"]); post != nil {
			w.Summary, _ = post["summary"].(string)
		}
		ref.Webhooks = append(ref.Webhooks, w)
	}
	sort.Slice(ref.Webhooks, func(i, j int) bool { return ref.Webhooks[i].Type < ref.Webhooks[j].Type })
	for _, c := range problem.Codes() {
		ref.Problems = append(ref.Problems, ProblemDoc{Type: problem.TypePrefix + string(c), Code: string(c), Title: c.Title(), Status: c.Status()})
	}
	sort.Slice(ref.Problems, func(i, j int) bool { return ref.Problems[i].Code < ref.Problems[j].Code })
	return ref
}

func methodOrder(m string) int {
	return strings.Index("GET POST PUT PATCH DELETE", m)
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any         { l, _ := v.([]any); return l }

// schemaName finds the $ref schema name (or media type) of a body or response.
func schemaName(body map[string]any) string {
	for mt, c := range asMap(body["content"]) {
		if ref, ok := asMap(asMap(c)["schema"])["$ref"].(string); ok {
			return ref[strings.LastIndex(ref, "/")+1:]
		}
		return mt
	}
	return ""
}

// NormaliseOpenAPI round-trips a document through JSON so that documents
// built from Go maps and structs read like decoded JSON.
func NormaliseOpenAPI(doc any) (map[string]any, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// DocsHandler serves the readable API reference page for doc.
func (r *Renderer) DocsHandler(doc map[string]any) http.HandlerFunc {
	ref := NewAPIReference(doc)
	return func(w http.ResponseWriter, req *http.Request) {
		r.Render(w, http.StatusOK, "docs/reference", Page{Title: "API reference", Area: "docs", Data: ref})
	}
}
