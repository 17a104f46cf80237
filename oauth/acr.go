package oauth

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
)

// Requested authentication context (OpenID Connect Core §3.1.2.1
// acr_values, §5.5.1.1 the acr member of the claims parameter): what a
// client asks for at PAR, kept in the Session and checked when the customer
// approves.

// ACRRequest is the acr a client asked for.
type ACRRequest struct {
	// Values are the acceptable acr values, in the client's order of
	// preference; empty when the client named none (any acr will do).
	Values []string `json:"values,omitempty"`
	// Essential is true when the claims parameter marked acr essential: the
	// authorization then fails unless the authentication achieved meets one
	// of Values. acr_values alone is voluntary and never blocks.
	Essential bool `json:"essential,omitempty"`
}

// maxClaimsParameter bounds the claims parameter's size.
const maxClaimsParameter = 16 << 10

// maxACRValues bounds how many acr values a request may name.
const maxACRValues = 16

// errClaims is invalid_request with a hint about the claims parameter.
func errClaims(hint string) *fosite.RFC6749Error {
	return fosite.ErrInvalidRequest.WithHint(hint)
}

// parseACRRequest reads the acr_values and claims parameters of a pushed
// request. It returns nil when neither asks for an acr. acr_values is
// voluntary; the claims parameter's {"id_token":{"acr":{...}}} may mark acr
// essential and name the acceptable values ("value" or "values"); when it
// names none, acr_values' values are used. Unknown acr values are accepted
// here (an essential request for one then fails at approval). Errors are
// invalid_request with a hint naming what is wrong.
func parseACRRequest(form url.Values) (*ACRRequest, error) {
	var req ACRRequest
	if v, ok := form["acr_values"]; ok {
		if len(v) > 1 {
			return nil, fosite.ErrInvalidRequest.WithHint("The acr_values parameter may appear only once.")
		}
		req.Values = strings.Fields(v[0])
		if len(req.Values) > maxACRValues {
			return nil, fosite.ErrInvalidRequest.WithHintf("The acr_values parameter may name at most %d values.", maxACRValues)
		}
	}
	claimed, err := parseClaimsACR(form["claims"])
	if err != nil {
		return nil, err
	}
	if claimed != nil {
		req.Essential = claimed.Essential
		if len(claimed.Values) > 0 {
			req.Values = claimed.Values
		}
	}
	if len(req.Values) == 0 && !req.Essential {
		return nil, nil
	}
	return &req, nil
}

// claimRequest is one member of a claims parameter's id_token or userinfo
// object (OpenID Connect Core §5.5.1).
type claimRequest struct {
	Essential *bool           `json:"essential"`
	Value     json.RawMessage `json:"value"`
	Values    json.RawMessage `json:"values"`
}

// parseClaimsACR reads the claims parameter (OpenID Connect Core §5.5): a
// JSON object whose optional id_token and userinfo members are objects of
// claim requests, each null or an object. It returns the id_token's acr
// request, or nil when there is none. Other claims are read for their shape
// and otherwise ignored (§5.5: claims the server does not understand are
// ignored).
func parseClaimsACR(values []string) (*ACRRequest, error) {
	if len(values) == 0 {
		return nil, nil
	}
	if len(values) > 1 {
		return nil, errClaims("The claims parameter may appear only once.")
	}
	raw := bytes.TrimSpace([]byte(values[0]))
	if len(raw) > maxClaimsParameter {
		return nil, errClaims("The claims parameter is too large.")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil || top == nil {
		return nil, errClaims("The claims parameter must be a JSON object (OpenID Connect Core §5.5).")
	}
	var acr *ACRRequest
	for _, member := range []string{"id_token", "userinfo"} {
		m, ok := top[member]
		if !ok || isJSONNull(m) {
			continue
		}
		var reqs map[string]json.RawMessage
		if err := json.Unmarshal(m, &reqs); err != nil || reqs == nil {
			return nil, errClaims("The claims parameter's member '" + member + "' must be a JSON object.")
		}
		names := make([]string, 0, len(reqs))
		for name := range reqs {
			names = append(names, name)
		}
		slices.Sort(names) // the first malformed one is named, the same every time
		for _, name := range names {
			r := reqs[name]
			if isJSONNull(r) {
				continue
			}
			var cr claimRequest
			if err := json.Unmarshal(r, &cr); err != nil {
				return nil, errClaims("The claims parameter's " + member + "." + name + " must be null or a JSON object (with a boolean 'essential').")
			}
			if member != "id_token" || name != "acr" {
				continue
			}
			a, err := readACRClaim(cr)
			if err != nil {
				return nil, err
			}
			acr = a
		}
	}
	return acr, nil
}

// readACRClaim checks the id_token.acr claim request: essential a boolean,
// value a string or values an array of strings, not both.
func readACRClaim(cr claimRequest) (*ACRRequest, error) {
	var out ACRRequest
	if cr.Essential != nil {
		out.Essential = *cr.Essential
	}
	hasValue, hasValues := cr.Value != nil && !isJSONNull(cr.Value), cr.Values != nil && !isJSONNull(cr.Values)
	switch {
	case hasValue && hasValues:
		return nil, errClaims("The claims parameter's id_token.acr may carry 'value' or 'values', not both.")
	case hasValue:
		var v string
		if err := json.Unmarshal(cr.Value, &v); err != nil || v == "" {
			return nil, errClaims("The claims parameter's id_token.acr 'value' must be a non-empty string.")
		}
		out.Values = []string{v}
	case hasValues:
		var vs []string
		if err := json.Unmarshal(cr.Values, &vs); err != nil || len(vs) == 0 || slices.Contains(vs, "") {
			return nil, errClaims("The claims parameter's id_token.acr 'values' must be a non-empty array of non-empty strings.")
		}
		if len(vs) > maxACRValues {
			return nil, errClaims("The claims parameter's id_token.acr 'values' may name at most 16 values.")
		}
		out.Values = vs
	}
	return &out, nil
}

// isJSONNull reports whether raw is the JSON literal null.
func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// acrSatisfies reports whether an authentication with acr achieved meets a
// request for acr wanted: the same value, or ACRStrong for ACRPassword
// (strong customer authentication includes customer authentication).
func acrSatisfies(achieved, wanted string) bool {
	return achieved == wanted || (achieved == ACRStrong && wanted == ACRPassword)
}

// meetsEssentialACR reports whether the authentication achieved (its acr)
// meets the client's request: always for no request or a voluntary one;
// for an essential one, when it meets one of the requested values (any acr
// when none was named).
func meetsEssentialACR(requested *ACRRequest, achieved string) bool {
	if requested == nil || !requested.Essential || len(requested.Values) == 0 {
		return true
	}
	for _, v := range requested.Values {
		if acrSatisfies(achieved, v) {
			return true
		}
	}
	return false
}

// errEssentialACR is access_denied for an essential acr request the
// customer's authentication does not meet.
func errEssentialACR(requested *ACRRequest) *fosite.RFC6749Error {
	return fosite.ErrAccessDenied.WithHintf("The customer's authentication does not meet the essential acr %s.", strings.Join(requested.Values, " or "))
}

// passwordAuthentication is a sign-in with username and password alone.
func passwordAuthentication(at time.Time) Authentication {
	return Authentication{ACR: ACRPassword, AMR: []string{AMRPassword}, Time: at}
}
