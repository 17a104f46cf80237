package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/ory/fosite"
)

// Session is the fosite session Bankbridge stores with every authorization
// code, access and refresh token: who the grant is for, which DPoP key it is
// bound to and which consents it carries.
type Session struct {
	Subject     string                  `json:"sub,omitempty"` // the bank's customer id; empty for client_credentials
	ClientID    string                  `json:"client_id,omitempty"`
	PartnerID   string                  `json:"partner_id,omitempty"`
	Environment environment.Environment `json:"env,omitempty"`
	// JKT is the DPoP key thumbprint the tokens are bound to (RFC 9449 §6).
	JKT string `json:"jkt,omitempty"`
	// CodeJKT is the key the authorization code is bound to (dpop_jkt at PAR, §10).
	CodeJKT              string                `json:"code_jkt,omitempty"`
	AuthorizationDetails []AuthorizationDetail `json:"authorization_details,omitempty"`
	Nonce                string                `json:"nonce,omitempty"`
	AuthTime             time.Time             `json:"auth_time,omitempty"`
	// ACR and AMR say how the customer authenticated (ACRPassword or
	// ACRStrong; RFC 8176 methods): the id_token's acr and amr.
	ACR string   `json:"acr,omitempty"`
	AMR []string `json:"amr,omitempty"`
	// RequestedACR is the acr the client asked for at PAR (acr_values or
	// the claims parameter); nil when it asked for none.
	RequestedACR *ACRRequest                    `json:"requested_acr,omitempty"`
	ExpiresAt    map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Extra        map[string]string              `json:"extra,omitempty"`
}

// SetExpiresAt implements fosite.Session.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp.UTC()
}

// GetExpiresAt implements fosite.Session.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time {
	if s.ExpiresAt == nil {
		return time.Time{}
	}
	return s.ExpiresAt[key]
}

// GetUsername implements fosite.Session.
func (s *Session) GetUsername() string { return s.Subject }

// GetSubject implements fosite.Session.
func (s *Session) GetSubject() string { return s.Subject }

// Clone implements fosite.Session (a deep copy).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.ExpiresAt = make(map[fosite.TokenType]time.Time, len(s.ExpiresAt))
	for k, v := range s.ExpiresAt {
		c.ExpiresAt[k] = v
	}
	if s.AuthorizationDetails != nil {
		b, _ := json.Marshal(s.AuthorizationDetails)
		c.AuthorizationDetails = nil
		_ = json.Unmarshal(b, &c.AuthorizationDetails)
	}
	if s.AMR != nil {
		c.AMR = append([]string(nil), s.AMR...)
	}
	if s.RequestedACR != nil {
		r := *s.RequestedACR
		r.Values = append([]string(nil), s.RequestedACR.Values...)
		c.RequestedACR = &r
	}
	if s.Extra != nil {
		c.Extra = make(map[string]string, len(s.Extra))
		for k, v := range s.Extra {
			c.Extra[k] = v
		}
	}
	return &c
}

// setAuthentication records how the customer authenticated: the id_token's
// acr, amr and auth_time.
func (s *Session) setAuthentication(a Authentication) {
	s.ACR = a.ACR
	s.AMR = append([]string(nil), a.AMR...)
	if !a.Time.IsZero() {
		s.AuthTime = a.Time.UTC()
	}
}

// consentIDs lists the consent ids the session's authorization details name.
func (s *Session) consentIDs() []string {
	var out []string
	for _, d := range s.AuthorizationDetails {
		if d.ConsentID != "" {
			out = append(out, d.ConsentID)
		}
	}
	return out
}

// MarshalJSON writes the detail as one JSON object: type, consent_id and
// every Extra member.
func (d AuthorizationDetail) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(d.Extra)+2)
	for k, v := range d.Extra {
		m[k] = v
	}
	m["type"] = d.Type
	if d.ConsentID != "" {
		m["consent_id"] = d.ConsentID
	} else {
		delete(m, "consent_id")
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads one authorization_details object; members other than
// type and consent_id are kept in Extra.
func (d *AuthorizationDetail) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return fmt.Errorf("authorization detail is not a JSON object")
	}
	*d = AuthorizationDetail{}
	t, ok := m["type"].(string)
	if !ok {
		return fmt.Errorf("authorization detail has no string member \"type\"")
	}
	d.Type = t
	delete(m, "type")
	if c, present := m["consent_id"]; present {
		cs, ok := c.(string)
		if !ok {
			return fmt.Errorf("authorization detail member \"consent_id\" is not a string")
		}
		d.ConsentID = cs
		delete(m, "consent_id")
	}
	if len(m) > 0 {
		d.Extra = m
	}
	return nil
}

// fositeClient adapts a Client to fosite.Client.
type fositeClient struct {
	c *Client
}

var _ fosite.Client = (*fositeClient)(nil)

func (f *fositeClient) GetID() string                      { return f.c.ID }
func (f *fositeClient) GetHashedSecret() []byte            { return nil }
func (f *fositeClient) GetRedirectURIs() []string          { return f.c.RedirectURIs }
func (f *fositeClient) GetGrantTypes() fosite.Arguments    { return f.c.grantTypes() }
func (f *fositeClient) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }
func (f *fositeClient) GetScopes() fosite.Arguments        { return f.c.Scopes }
func (f *fositeClient) IsPublic() bool                     { return false }
func (f *fositeClient) GetAudience() fosite.Arguments      { return nil }

// GetResponseModes allows the default and explicit query response modes and
// JARM's jwt and query.jwt.
func (f *fositeClient) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, responseModeJWT, responseModeQueryJWT}
}

// clientOf returns the Bankbridge client behind a fosite client.
func clientOf(c fosite.Client) *Client {
	if fc, ok := c.(*fositeClient); ok {
		return fc.c
	}
	return nil
}

type ctxKey int

const (
	ctxClient   ctxKey = iota // *Client memo for one request
	ctxTx                     // *txHandle: the transaction BeginTX opened
	ctxProof                  // *dpop.Proof verified at the token endpoint
	ctxEndpoint               // the endpoint URL being served (for assertion aud)
	ctxPending                // *pendingWrites of a token request
	ctxDeferred               // *deferredTokens of a request
)

// withClient starts a per-request client memo in ctx, holding c if not nil,
// so one request asks the registry once.
func withClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, ctxClient, &clientMemo{c: c})
}
