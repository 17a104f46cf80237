package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// interaction is the server-side state of one authorization between the
// login and consent pages (oauth_interactions), keyed by the SHA-256 of an
// unguessable public id the pages carry in a hidden field (so the table
// holds no usable id).
type interaction struct {
	ID         string `gorm:"primaryKey"` // hashID of the public id
	ClientID   string
	CustomerID string // empty until the customer has logged in
	AuthTime   *time.Time
	Request    string // encodeRequest of the authorization request
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

func (interaction) TableName() string { return "oauth_interactions" }

// errInteractionGone is the refusal of an interaction that is unknown,
// expired, already used, or (signInInteraction) already logged in.
var errInteractionGone = errors.New("oauth: the interaction is unknown, expired or already used")

// maxInteractionID bounds the public ids looked up (randomID makes 43
// characters).
const maxInteractionID = 100

func hashID(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// createInteraction stores in under publicID (in.ID is set to its hash).
// Errors: the database's only.
func (s *Store) createInteraction(ctx context.Context, publicID string, in *interaction) error {
	in.ID = hashID(publicID)
	return s.db.WithContext(ctx).Create(in).Error
}

// liveInteraction returns the interaction stored under publicID that has
// not expired on the store's clock. Errors: errInteractionGone (no such
// interaction, expired, used, or an empty or overlong id), or the
// database's.
func (s *Store) liveInteraction(ctx context.Context, publicID string) (*interaction, error) {
	if publicID == "" || len(publicID) > maxInteractionID {
		return nil, errInteractionGone
	}
	var rows []interaction
	err := s.db.WithContext(ctx).Where("id = ? AND expires_at > ?", hashID(publicID), s.now().UTC()).Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errInteractionGone
	}
	return &rows[0], nil
}

// signInInteraction records that customerID logged in at at, once: of
// concurrent logins on one interaction only the first is recorded. On
// success in.CustomerID and in.AuthTime are set. Errors: errInteractionGone
// (the interaction is gone or already has a customer), or the database's.
func (s *Store) signInInteraction(ctx context.Context, in *interaction, customerID string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&interaction{}).Where("id = ? AND customer_id = ''", in.ID).
		Updates(map[string]any{"customer_id": customerID, "auth_time": at})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errInteractionGone
	}
	in.CustomerID, in.AuthTime = customerID, &at
	return nil
}

// consumeInteraction deletes in: an interaction is used once, and of
// concurrent consents only the one whose delete removed the row goes on.
// Errors: errInteractionGone (already consumed or deleted), or the
// database's.
func (s *Store) consumeInteraction(ctx context.Context, in *interaction) error {
	res := s.db.WithContext(ctx).Exec(`DELETE FROM oauth_interactions WHERE id = ?`, in.ID)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return errInteractionGone
	}
	return nil
}

// consumeSignedIn deletes and returns, in one statement, the live
// interaction stored under publicID once its customer has logged in: the
// consent form's load and single use at once (of concurrent consents only
// the one whose delete removed the row gets it). Errors: errInteractionGone
// (no such interaction, expired, used, not logged in yet, or an empty or
// overlong id), or the database's.
func (s *Store) consumeSignedIn(ctx context.Context, publicID string) (*interaction, error) {
	if publicID == "" || len(publicID) > maxInteractionID {
		return nil, errInteractionGone
	}
	var rows []interaction
	err := s.db.WithContext(ctx).Raw(`DELETE FROM oauth_interactions WHERE id = ? AND expires_at > ? AND customer_id <> ''
RETURNING id, client_id, customer_id, auth_time, request, created_at, expires_at`, hashID(publicID), s.now().UTC()).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, errInteractionGone
	}
	return &rows[0], nil
}

// restoreInteraction stores a consumed interaction again as it was (the
// customer may correct a refused choice on the consent page). Errors: the
// database's (a duplicate key if it was restored already).
func (s *Store) restoreInteraction(ctx context.Context, in *interaction) error {
	return s.db.WithContext(ctx).Create(in).Error
}
