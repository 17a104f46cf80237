package oauth

import (
	"context"

	"gorm.io/gorm"
)

// Tokens is the authorization server's token rows as the other domains use
// them: revocation (partners when an app or partner is suspended, apis when a
// consent is revoked) and the evidence of a DPoP-bound code flow
// (certification). It needs only the database, so the platform builds it
// before the services the Server itself depends on (the client registry in
// partners, the consent broker in apis): construction follows dependency
// order with no late binding. It shares the Store's SQL.
type Tokens struct{ store *Store }

var _ TokenRevoker = (*Tokens)(nil)

// NewTokens returns the token rows of a migrated database.
func NewTokens(db *gorm.DB) *Tokens {
	// The store's client registry is used only by fosite's GetClient, which
	// Tokens never calls.
	return &Tokens{store: NewStore(db, nil, nil)}
}

// RevokeConsent makes every access and refresh token granted for consentID
// inactive (TokenRevoker).
func (t *Tokens) RevokeConsent(ctx context.Context, consentID string) error {
	return t.store.RevokeConsent(ctx, consentID)
}

// RevokeClient makes every token issued to clientID inactive (TokenRevoker).
func (t *Tokens) RevokeClient(ctx context.Context, clientID string) error {
	return t.store.RevokeClient(ctx, clientID)
}

// DPoPCodeFlow is Store.DPoPCodeFlow: the latest DPoP-bound access token
// issued to one of clientIDs for a pushed authorization-code grant, or nil.
func (t *Tokens) DPoPCodeFlow(ctx context.Context, clientIDs []string) (*CodeFlowEvidence, error) {
	return t.store.DPoPCodeFlow(ctx, clientIDs)
}
