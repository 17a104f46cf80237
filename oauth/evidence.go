package oauth

import (
	"context"
	"encoding/json"
	"time"
)

// CodeFlowEvidence proves that a client completed the FAPI 2.0 code flow: an
// access token issued at the token endpoint for an authorization_code grant
// (the authorization server enforces PAR for every authorization request, so
// the grant's request was pushed) and bound to a DPoP key.
type CodeFlowEvidence struct {
	ClientID string    `json:"client_id"`
	GrantID  string    `json:"grant_id"` // fosite request id shared by the grant's code and tokens
	JKT      string    `json:"jkt"`      // RFC 7638 thumbprint of the DPoP key the token is bound to
	IssuedAt time.Time `json:"issued_at"`
	// PARJKT is the key the authorization code was bound to at the PAR
	// endpoint (a DPoP proof or dpop_jkt there, RFC 9449 §10); empty when the
	// request was pushed without one.
	PARJKT string `json:"par_jkt,omitempty"`
}

// DPoPCodeFlow returns the newest DPoP-bound access token issued for an
// authorization_code grant to one of clientIDs, with its evidence, or nil
// (and no error) when there is none. Revoked and expired tokens count (until
// housekeeping deletes expired rows): the flow was completed.
func (s *Store) DPoPCodeFlow(ctx context.Context, clientIDs []string) (*CodeFlowEvidence, error) {
	if len(clientIDs) == 0 {
		return nil, nil
	}
	var rows []tokenRow
	// The LIKE narrows the rows (its _ wildcards only loosen it); each
	// candidate's grant type is then checked on the decoded request.
	err := s.tx(ctx).Where("kind = ? AND jkt <> '' AND client_id IN ?", kindAccess, clientIDs).
		Where("request LIKE ?", `%"grant_type":["authorization_code"]%`).
		Order("requested_at DESC").Limit(20).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		var sr storedRequest
		if err := json.Unmarshal([]byte(r.Request), &sr); err != nil {
			continue
		}
		if sr.Form.Get("grant_type") != "authorization_code" {
			continue
		}
		ev := &CodeFlowEvidence{ClientID: r.ClientID, GrantID: r.RequestID, JKT: r.JKT, IssuedAt: r.RequestedAt.UTC()}
		var sess Session
		if len(sr.Session) > 0 && json.Unmarshal(sr.Session, &sess) == nil {
			ev.PARJKT = sess.CodeJKT
		}
		return ev, nil
	}
	return nil, nil
}
