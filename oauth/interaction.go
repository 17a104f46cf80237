package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth/dpop"
)

// interaction is the state of one authorization between the login, SCA and
// consent pages. The server keeps no row of it: it travels sealed
// (AES-256-GCM under a key derived from Config.GlobalSecret, bound to its
// purpose) in the pages' hidden field, so the customer's browser carries it
// but can neither read nor change it. Its single use is claimed under its
// nonce in the replay store (used_jtis) when the customer decides.
type interaction struct {
	// Nonce names the interaction (43 random characters): SCA
	// confirmations and passkey ceremonies are keyed by it, and its single
	// use is claimed under it.
	Nonce    string `json:"n"`
	ClientID string `json:"c"`
	// CustomerID is empty until the customer has logged in; AuthTime is
	// when they did.
	CustomerID string     `json:"u,omitempty"`
	AuthTime   *time.Time `json:"t,omitempty"`
	// Request is encodeRequest of the authorization request.
	Request   string    `json:"r"`
	ExpiresAt time.Time `json:"x"`
	// Token is the sealed interaction: the pages' hidden FieldInteraction.
	Token string `json:"-"`
}

// errInteractionGone is the refusal of an interaction that is unknown (not
// sealed by this platform's key), expired or already used.
var errInteractionGone = errors.New("oauth: the interaction is unknown, expired or already used")

// interactionPurpose binds sealed interactions to their use: no other
// sealed value opens as one.
const interactionPurpose = "oauth-interaction/v1"

// maxInteractionToken bounds the sealed interactions opened (an
// authorization request with a signed request object seals to a few KiB).
const maxInteractionToken = 64 << 10

// interactionKeyFrom derives the interactions' sealing key from the global
// secret, so every node with the same secret opens every node's pages.
func interactionKeyFrom(global []byte) (*secrets.Box, error) {
	m := hmac.New(sha256.New, global)
	m.Write([]byte("bankbridge oauth interaction"))
	return secrets.NewBox(m.Sum(nil))
}

// sealInteraction sets in.Token to in sealed.
func (s *Server) sealInteraction(in *interaction) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("oauth: seal interaction: %w", err)
	}
	in.Token = s.interactions.Seal(b, interactionPurpose)
	return nil
}

// openInteraction is the interaction sealed in token if it has not expired
// on the server's clock. Errors: errInteractionGone (empty, overlong, not
// sealed by this platform as an interaction, or expired).
func (s *Server) openInteraction(token string) (*interaction, error) {
	if token == "" || len(token) > maxInteractionToken {
		return nil, errInteractionGone
	}
	b, err := s.interactions.Open(token, interactionPurpose)
	if err != nil {
		return nil, errInteractionGone
	}
	var in interaction
	if err := json.Unmarshal(b, &in); err != nil || in.Nonce == "" || !s.now().Before(in.ExpiresAt) {
		return nil, errInteractionGone
	}
	in.Token = token
	return &in, nil
}

// consumeInteraction claims in's single use: of every request that decides
// on one interaction (consent given or refused, leaving without a second
// factor), on any node, only the first goes on. Errors: errInteractionGone
// (already used), or the replay store's.
func (s *Server) consumeInteraction(ctx context.Context, in *interaction) error {
	err := s.deps.DPoPReplay.Use(ctx, "interaction:"+in.Nonce, in.ExpiresAt)
	if errors.Is(err, dpop.ErrReplay) {
		return errInteractionGone
	}
	return err
}
