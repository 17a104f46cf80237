// Package keys keeps the authorization server's signing keys: an active ES256
// key (the default, for id_tokens and anything else the server signs) and an
// active PS256 key, their rotation, and the public JWK Set.
//
// Implemented:
//   - RFC 7517 §4, §5 (JWK and JWK Set): PublicJWKS publishes every active key
//     and every retiring key until its retire_after, each with "kty", "use":
//     "sig", "alg" and "kid" (RFC 7517 §4.2, §4.4, §4.5), so tokens signed by
//     a key just rotated out still verify (OpenID Connect Core §10.1.1 rollover);
//   - RFC 7518 §3.4 (ES256, P-256) and §3.5 (PS256, RSA 3072) keys;
//   - RFC 7638 thumbprints as kid values;
//   - RFC 8414 §2 jwks_uri content (the handler serving it lives in oauth).
//
// Private keys are PKCS #8, sealed at rest with internal/secrets Box under the
// purpose "signing-key:"+kid, in table signing_keys (migration
// 0010_signing_keys.sql). A partial unique index keeps at most one active key
// per alg, so nodes starting or rotating at once cannot both win.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/secrets"
)

// The supported signing algorithms.
const (
	ES256 = "ES256" // ECDSA P-256 SHA-256: the default
	PS256 = "PS256" // RSASSA-PSS SHA-256
)

// Key statuses in signing_keys.status.
const (
	StatusActive   = "active"   // signs, published
	StatusRetiring = "retiring" // no longer signs, published until retire_after
	StatusRetired  = "retired"  // neither
)

// DefaultRefreshEvery is how long Signing trusts its cached active key
// before asking the database whether another node rotated it.
const DefaultRefreshEvery = 30 * time.Second

// DefaultRSABits is the modulus size of new PS256 keys.
const DefaultRSABits = 3072

// Errors returned by the Manager.
var (
	// ErrUnsupportedAlg is returned for an alg other than ES256 and PS256.
	ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm")
	// ErrNoActiveKey is returned by Signing when alg has no active key
	// (EnsureKeys was not called for it).
	ErrNoActiveKey = errors.New("keys: no active signing key")
)

// signingKey is one row of signing_keys.
type signingKey struct {
	KID           string     `gorm:"column:kid;primaryKey"`
	Alg           string     `gorm:"column:alg"`
	Status        string     `gorm:"column:status"`
	PrivateSealed string     `gorm:"column:private_sealed"`
	PublicJWK     string     `gorm:"column:public_jwk"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
	ActivatedAt   time.Time  `gorm:"column:activated_at"`
	RetireAfter   *time.Time `gorm:"column:retire_after"`
}

func (signingKey) TableName() string { return "signing_keys" }

// activeKey is the cached active key of one alg.
type activeKey struct {
	kid     string
	key     crypto.Signer
	checked time.Time // when the database last confirmed kid is active
}

// Manager creates, rotates, caches and publishes signing keys. It is safe
// for concurrent use and across nodes sharing the database.
type Manager struct {
	// RefreshEvery is how often Signing re-reads which key is active; default 30s.
	RefreshEvery time.Duration
	// RSABits is the size of new PS256 keys; default 3072 (at least 2048).
	RSABits int

	g   *gorm.DB
	box *secrets.Box
	now func() time.Time

	mu       sync.RWMutex
	active   map[string]*activeKey    // by alg
	unsealed map[string]crypto.Signer // by kid
	unseals  atomic.Int64             // how many times a private key was opened
}

// NewManager makes a Manager on the signing_keys table; now nil means time.Now.
func NewManager(g *gorm.DB, box *secrets.Box, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{g: g, box: box, now: now, active: map[string]*activeKey{}, unsealed: map[string]crypto.Signer{}}
}

func (m *Manager) clock() time.Time { return m.now().UTC() }

func (m *Manager) refreshEvery() time.Duration {
	if m.RefreshEvery > 0 {
		return m.RefreshEvery
	}
	return DefaultRefreshEvery
}

func sealPurpose(kid string) string { return "signing-key:" + kid }

// generate makes a new key row for alg (not yet stored) and its private key.
func (m *Manager) generate(alg string, now time.Time) (*signingKey, crypto.Signer, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case PS256:
		bits := m.RSABits
		if bits < 2048 {
			bits = DefaultRSABits
		}
		priv, err = rsa.GenerateKey(rand.Reader, bits)
	default:
		return nil, nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := json.Marshal(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: marshal public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: marshal private key: %w", err)
	}
	return &signingKey{
		KID:           pub.KeyID,
		Alg:           alg,
		Status:        StatusActive,
		PrivateSealed: m.box.Seal(der, sealPurpose(pub.KeyID)),
		PublicJWK:     string(pubJSON),
		CreatedAt:     now,
		ActivatedAt:   now,
	}, priv, nil
}

func checkAlg(alg string) error {
	if alg != ES256 && alg != PS256 {
		return fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
	}
	return nil
}

// hasActive reports whether alg has an active key.
func hasActive(tx *gorm.DB, alg string) (bool, error) {
	var n int64
	err := tx.Model(&signingKey{}).Where("alg = ? AND status = ?", alg, StatusActive).Count(&n).Error
	return n > 0, err
}

// EnsureKeys creates an active key for each of algs that has none (first
// start). When several nodes start at once, the partial unique index
// signing_keys_one_active lets one insert win; the others see its key and
// succeed without creating one.
func (m *Manager) EnsureKeys(ctx context.Context, algs ...string) error {
	g := m.g.WithContext(ctx)
	for _, alg := range algs {
		if err := checkAlg(alg); err != nil {
			return err
		}
		ok, err := hasActive(g, alg)
		if err != nil {
			return fmt.Errorf("keys: look up active %s key: %w", alg, err)
		}
		if ok {
			continue
		}
		row, _, err := m.generate(alg, m.clock())
		if err != nil {
			return err
		}
		if err := g.Create(row).Error; err != nil {
			// Lost a race with another node? Then its key is the active one.
			if ok, err2 := hasActive(g, alg); err2 == nil && ok {
				continue
			}
			return fmt.Errorf("keys: store %s key: %w", alg, err)
		}
	}
	return nil
}

// Rotate makes a new active key for alg. The previous active key becomes
// 'retiring' with retire_after = now + keepFor (the longest lifetime of
// anything it signed) and stays in PublicJWKS until then. Other nodes pick the
// new key up within RefreshEvery; this one at once. Two nodes rotating the same
// alg at the same moment: one fails (the unique index refuses a second
// active key) and may retry.
func (m *Manager) Rotate(ctx context.Context, alg string, keepFor time.Duration) (newKID string, err error) {
	if err := checkAlg(alg); err != nil {
		return "", err
	}
	if keepFor < 0 {
		return "", errors.New("keys: keepFor must not be negative")
	}
	now := m.clock()
	row, priv, err := m.generate(alg, now)
	if err != nil {
		return "", err
	}
	retireAfter := now.Add(keepFor)
	err = m.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&signingKey{}).
			Where("alg = ? AND status = ?", alg, StatusActive).
			Updates(map[string]any{"status": StatusRetiring, "retire_after": retireAfter}).Error; err != nil {
			return err
		}
		return tx.Create(row).Error
	})
	if err != nil {
		return "", fmt.Errorf("keys: rotate %s: %w", alg, err)
	}
	m.mu.Lock()
	m.unsealed[row.KID] = priv
	m.active[alg] = &activeKey{kid: row.KID, key: priv, checked: now}
	m.mu.Unlock()
	return row.KID, nil
}

// Signing returns the active key for alg: its kid and private key
// (*ecdsa.PrivateKey for ES256, *rsa.PrivateKey for PS256). The key is cached
// in memory and the database is asked which key is active at most every
// RefreshEvery, so a rotation on another node is picked up; a private key is
// unsealed once per process. If that check fails while a key is cached, the
// cached key is returned.
func (m *Manager) Signing(ctx context.Context, alg string) (kid string, key crypto.Signer, err error) {
	if err := checkAlg(alg); err != nil {
		return "", nil, err
	}
	now := m.clock()
	m.mu.RLock()
	cur := m.active[alg]
	if cur != nil && now.Sub(cur.checked) < m.refreshEvery() && !now.Before(cur.checked) {
		kid, key = cur.kid, cur.key
	}
	m.mu.RUnlock()
	if key != nil {
		return kid, key, nil
	}

	var rows []signingKey
	err = m.g.WithContext(ctx).Select("kid", "private_sealed").
		Where("alg = ? AND status = ?", alg, StatusActive).Limit(1).Find(&rows).Error
	switch {
	case err != nil && cur != nil:
		return cur.kid, cur.key, nil
	case err != nil:
		return "", nil, fmt.Errorf("keys: load active %s key: %w", alg, err)
	case len(rows) == 0:
		return "", nil, fmt.Errorf("%w for %s", ErrNoActiveKey, alg)
	}
	row := rows[0]

	m.mu.RLock()
	priv := m.unsealed[row.KID]
	m.mu.RUnlock()
	if priv == nil {
		priv, err = m.open(row.KID, row.PrivateSealed)
		if err != nil {
			return "", nil, err
		}
	}
	m.mu.Lock()
	m.unsealed[row.KID] = priv
	m.active[alg] = &activeKey{kid: row.KID, key: priv, checked: now}
	m.mu.Unlock()
	return row.KID, priv, nil
}

// SigningKey is Signing as a private JWK carrying kid, alg and use, the form
// go-jose signers (and fosite's GetPrivateKey) take.
func (m *Manager) SigningKey(ctx context.Context, alg string) (*jose.JSONWebKey, error) {
	kid, key, err := m.Signing(ctx, alg)
	if err != nil {
		return nil, err
	}
	return &jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}, nil
}

// open unseals and parses a stored private key.
func (m *Manager) open(kid, sealed string) (crypto.Signer, error) {
	m.unseals.Add(1)
	der, err := m.box.Open(sealed, sealPurpose(kid))
	if err != nil {
		return nil, fmt.Errorf("keys: open private key %s: %w", kid, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse private key %s: %w", kid, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: private key %s is a %T", kid, k)
	}
	return s, nil
}

// PublicJWKS returns the public keys to publish at jwks_uri: every active
// key and every retiring key whose retire_after is still in the future, each
// with kid, alg and use "sig". Newest first.
func (m *Manager) PublicJWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	var rows []signingKey
	err := m.g.WithContext(ctx).Select("kid", "public_jwk").
		Where("status = ? OR (status = ? AND retire_after > ?)", StatusActive, StatusRetiring, m.clock()).
		Order("created_at DESC, kid").Find(&rows).Error
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("keys: load public keys: %w", err)
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(rows))}
	for _, r := range rows {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON([]byte(r.PublicJWK)); err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("keys: public key %s: %w", r.KID, err)
		}
		if !k.IsPublic() {
			return jose.JSONWebKeySet{}, fmt.Errorf("keys: public key %s holds private material", r.KID)
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// PruneRetired marks retiring keys whose retire_after has passed as
// 'retired' (no longer published) and returns how many it marked.
func (m *Manager) PruneRetired(ctx context.Context) (int, error) {
	res := m.g.WithContext(ctx).Model(&signingKey{}).
		Where("status = ? AND retire_after <= ?", StatusRetiring, m.clock()).
		Update("status", StatusRetired)
	if res.Error != nil {
		return 0, fmt.Errorf("keys: prune retired keys: %w", res.Error)
	}
	return int(res.RowsAffected), nil
}
