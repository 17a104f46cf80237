package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/bankbridge/bankbridge/internal/db"
	"github.com/bankbridge/bankbridge/internal/dbtest"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }
func newClock(t time.Time) *clock    { return &clock{t: t} }
func keyBytes(b byte) []byte         { k := make([]byte, 32); k[0] = b; return k }
func mustBox(tb testing.TB, key []byte) *secrets.Box {
	tb.Helper()
	b, err := secrets.NewBox(key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// newManager makes a Manager with small RSA keys to keep tests fast.
func newManager(t *testing.T, d *db.DB, c *clock) *Manager {
	m := NewManager(d.DB, mustBox(t, keyBytes(1)), c.Now)
	m.RSABits = 2048
	return m
}

func rows(t *testing.T, d *db.DB) []signingKey {
	t.Helper()
	var out []signingKey
	if err := d.DB.Order("created_at, kid").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func countStatus(rs []signingKey, alg, status string) int {
	n := 0
	for _, r := range rs {
		if r.Alg == alg && r.Status == status {
			n++
		}
	}
	return n
}

func TestEnsureKeys(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		m := newManager(t, d, c)
		t.Run("ok/first start creates one active key per alg", func(t *testing.T) {
			if err := m.EnsureKeys(ctx, ES256, PS256); err != nil {
				t.Fatal(err)
			}
			rs := rows(t, d)
			if len(rs) != 2 || countStatus(rs, ES256, StatusActive) != 1 || countStatus(rs, PS256, StatusActive) != 1 {
				t.Fatalf("rows = %+v", rs)
			}
			for _, r := range rs {
				if !r.CreatedAt.Equal(t0) || !r.ActivatedAt.Equal(t0) || r.RetireAfter != nil {
					t.Errorf("row %s times = %v %v %v", r.KID, r.CreatedAt, r.ActivatedAt, r.RetireAfter)
				}
			}
		})
		t.Run("ok/second start creates none", func(t *testing.T) {
			before := rows(t, d)
			if err := NewManager(d.DB, mustBox(t, keyBytes(1)), c.Now).EnsureKeys(ctx, ES256, PS256); err != nil {
				t.Fatal(err)
			}
			if after := rows(t, d); len(after) != len(before) {
				t.Fatalf("%d rows after second EnsureKeys, want %d", len(after), len(before))
			}
		})
		t.Run("fail/unsupported alg", func(t *testing.T) {
			err := m.EnsureKeys(ctx, "HS256")
			if !errors.Is(err, ErrUnsupportedAlg) || err.Error() != `keys: unsupported signing algorithm: "HS256"` {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

func TestEnsureKeysConcurrent(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		const nodes = 2
		var wg sync.WaitGroup
		errs := make([]error, nodes)
		for i := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = newManager(t, d, c).EnsureKeys(ctx, ES256, PS256)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
		}
		rs := rows(t, d)
		if countStatus(rs, ES256, StatusActive) != 1 || countStatus(rs, PS256, StatusActive) != 1 {
			t.Fatalf("active keys: %+v", rs)
		}
	})
}

func TestUniqueActiveKeyPerAlg(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		m := newManager(t, d, newClock(t0))
		a, _, err := m.generate(ES256, t0)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := m.generate(ES256, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.DB.Create(a).Error; err != nil {
			t.Fatal(err)
		}
		if err := d.DB.Create(b).Error; err == nil {
			t.Fatal("fail: a second active ES256 key was stored")
		}
	})
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		m := newManager(t, d, c)
		if err := m.EnsureKeys(ctx, ES256, PS256); err != nil {
			t.Fatal(err)
		}
		oldKID, _, err := m.Signing(ctx, ES256)
		if err != nil {
			t.Fatal(err)
		}
		psKID, _, err := m.Signing(ctx, PS256)
		if err != nil {
			t.Fatal(err)
		}
		c.Add(time.Minute)
		newKID, err := m.Rotate(ctx, ES256, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if newKID == oldKID {
			t.Fatal("rotation kept the kid")
		}
		t.Run("ok/new key signs at once on this node", func(t *testing.T) {
			if kid, _, err := m.Signing(ctx, ES256); err != nil || kid != newKID {
				t.Fatalf("Signing = %s, %v; want %s", kid, err, newKID)
			}
		})
		t.Run("ok/old key retiring with retire_after = now + keepFor", func(t *testing.T) {
			var old signingKey
			if err := d.DB.Where("kid = ?", oldKID).First(&old).Error; err != nil {
				t.Fatal(err)
			}
			if old.Status != StatusRetiring || old.RetireAfter == nil || !old.RetireAfter.Equal(t0.Add(time.Minute+time.Hour)) {
				t.Fatalf("old key = %s %v", old.Status, old.RetireAfter)
			}
		})
		t.Run("ok/old key still published before retire_after", func(t *testing.T) {
			c.Set(t0.Add(time.Minute + time.Hour - time.Second))
			set, err := m.PublicJWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(kids(set), ","); got != newKID+","+psKID+","+oldKID && got != newKID+","+oldKID+","+psKID {
				t.Fatalf("JWKS kids = %s; want %s, %s, %s", got, newKID, psKID, oldKID)
			}
			if n, err := m.PruneRetired(ctx); err != nil || n != 0 {
				t.Fatalf("PruneRetired = %d, %v; want 0", n, err)
			}
		})
		t.Run("ok/old key dropped after retire_after", func(t *testing.T) {
			c.Set(t0.Add(time.Minute + time.Hour))
			set, err := m.PublicJWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kids(set) {
				if k == oldKID {
					t.Fatalf("old key %s still published at retire_after", oldKID)
				}
			}
			if len(set.Keys) != 2 {
				t.Fatalf("JWKS = %v", kids(set))
			}
			if n, err := m.PruneRetired(ctx); err != nil || n != 1 {
				t.Fatalf("PruneRetired = %d, %v; want 1", n, err)
			}
			var old signingKey
			if err := d.DB.Where("kid = ?", oldKID).First(&old).Error; err != nil || old.Status != StatusRetired {
				t.Fatalf("old key status = %s, %v", old.Status, err)
			}
			if n, err := m.PruneRetired(ctx); err != nil || n != 0 {
				t.Fatalf("second PruneRetired = %d, %v; want 0", n, err)
			}
		})
		t.Run("fail/unsupported alg", func(t *testing.T) {
			if _, err := m.Rotate(ctx, "RS256", time.Hour); !errors.Is(err, ErrUnsupportedAlg) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("fail/negative keepFor", func(t *testing.T) {
			if _, err := m.Rotate(ctx, ES256, -time.Second); err == nil || err.Error() != "keys: keepFor must not be negative" {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

func TestSigningCacheAndRotationOnAnotherNode(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		node1, node2 := newManager(t, d, c), newManager(t, d, c)
		if err := node1.EnsureKeys(ctx, ES256); err != nil {
			t.Fatal(err)
		}
		kid1, key1, err := node1.Signing(ctx, ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := key1.(*ecdsa.PrivateKey); !ok {
			t.Fatalf("ES256 key is %T", key1)
		}
		for range 5 {
			if kid, _, err := node1.Signing(ctx, ES256); err != nil || kid != kid1 {
				t.Fatalf("Signing = %s, %v", kid, err)
			}
		}
		if n := node1.unseals.Load(); n != 1 {
			t.Fatalf("unsealed %d times for 6 calls, want 1", n)
		}
		kid2, err := node2.Rotate(ctx, ES256, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("ok/cached key used until RefreshEvery", func(t *testing.T) {
			c.Add(DefaultRefreshEvery - time.Second)
			if kid, _, err := node1.Signing(ctx, ES256); err != nil || kid != kid1 {
				t.Fatalf("Signing = %s, %v; want cached %s", kid, err, kid1)
			}
		})
		t.Run("ok/rotation picked up after RefreshEvery", func(t *testing.T) {
			c.Add(time.Second)
			if kid, _, err := node1.Signing(ctx, ES256); err != nil || kid != kid2 {
				t.Fatalf("Signing = %s, %v; want %s", kid, err, kid2)
			}
			if n := node1.unseals.Load(); n != 2 {
				t.Fatalf("unseals = %d, want 2", n)
			}
		})
		t.Run("ok/refresh without rotation does not unseal", func(t *testing.T) {
			c.Add(DefaultRefreshEvery)
			if kid, _, err := node1.Signing(ctx, ES256); err != nil || kid != kid2 {
				t.Fatalf("Signing = %s, %v", kid, err)
			}
			if n := node1.unseals.Load(); n != 2 {
				t.Fatalf("unseals = %d, want 2", n)
			}
		})
		t.Run("fail/no active key", func(t *testing.T) {
			_, _, err := node1.Signing(ctx, PS256)
			if !errors.Is(err, ErrNoActiveKey) || err.Error() != "keys: no active signing key for PS256" {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("fail/unsupported alg", func(t *testing.T) {
			if _, _, err := node1.Signing(ctx, "none"); !errors.Is(err, ErrUnsupportedAlg) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("fail/box with another master key cannot open the key", func(t *testing.T) {
			other := NewManager(d.DB, mustBox(t, keyBytes(2)), c.Now)
			_, _, err := other.Signing(ctx, ES256)
			if !errors.Is(err, secrets.ErrDecrypt) || err.Error() != "keys: open private key "+kid2+": secrets: decryption failed" {
				t.Fatalf("err = %v", err)
			}
		})
	})
}

func TestPrivateKeySealedAtRest(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		m := newManager(t, d, c)
		if err := m.EnsureKeys(ctx, ES256, PS256); err != nil {
			t.Fatal(err)
		}
		for _, alg := range []string{ES256, PS256} {
			t.Run("ok/"+alg, func(t *testing.T) {
				kid, key, err := m.Signing(ctx, alg)
				if err != nil {
					t.Fatal(err)
				}
				var dParam []byte
				switch k := key.(type) {
				case *ecdsa.PrivateKey:
					var err error
					if dParam, err = k.Bytes(); err != nil {
						t.Fatal(err)
					}
				case *rsa.PrivateKey:
					dParam = k.D.Bytes()
				default:
					t.Fatalf("key %T", key)
				}
				var r signingKey
				if err := d.DB.Where("kid = ?", kid).First(&r).Error; err != nil {
					t.Fatal(err)
				}
				stored := r.PrivateSealed + r.PublicJWK
				for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
					if strings.Contains(stored, enc.EncodeToString(dParam)) {
						t.Fatal("stored row contains the private D parameter")
					}
				}
				if strings.Contains(stored, `"d"`) {
					t.Fatal("stored row contains a JWK d member")
				}
				if !strings.HasPrefix(r.PrivateSealed, "v1.") {
					t.Fatalf("private_sealed is not a sealed value: %.10s…", r.PrivateSealed)
				}
				if _, err := mustBox(t, keyBytes(2)).Open(r.PrivateSealed, "signing-key:"+kid); !errors.Is(err, secrets.ErrDecrypt) {
					t.Fatalf("Open with a wrong master key: %v", err)
				}
				if _, err := mustBox(t, keyBytes(1)).Open(r.PrivateSealed, "signing-key:other"); !errors.Is(err, secrets.ErrDecrypt) {
					t.Fatalf("Open under another purpose: %v", err)
				}
				if _, err := mustBox(t, keyBytes(1)).Open(r.PrivateSealed, "signing-key:"+kid); err != nil {
					t.Fatalf("Open with the right box: %v", err)
				}
			})
		}
	})
}

func TestSignedJWSVerifiesWithPublicJWKS(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		m := newManager(t, d, c)
		if err := m.EnsureKeys(ctx, ES256, PS256); err != nil {
			t.Fatal(err)
		}
		sign := func(t *testing.T, alg string) (string, string) {
			jwk, err := m.SigningKey(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jwk}, nil)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := signer.Sign([]byte(`{"sub":"cus_1"}`))
			if err != nil {
				t.Fatal(err)
			}
			s, err := jws.CompactSerialize()
			if err != nil {
				t.Fatal(err)
			}
			return s, jwk.KeyID
		}
		verify := func(t *testing.T, token string) error {
			set, err := m.PublicJWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.PS256})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Header
			ks := set.Key(h.KeyID)
			if len(ks) != 1 {
				return errors.New("kid " + h.KeyID + " not in JWKS")
			}
			if ks[0].Use != "sig" || ks[0].Algorithm != h.Algorithm || !ks[0].IsPublic() {
				t.Fatalf("published key = use %q alg %q public %v", ks[0].Use, ks[0].Algorithm, ks[0].IsPublic())
			}
			_, err = jws.Verify(ks[0])
			return err
		}
		for _, alg := range []string{ES256, PS256} {
			t.Run("ok/"+alg, func(t *testing.T) {
				tok, kid := sign(t, alg)
				if !strings.Contains(tok, ".") || kid == "" {
					t.Fatal("no token")
				}
				if err := verify(t, tok); err != nil {
					t.Fatal(err)
				}
			})
		}
		t.Run("ok/token of a rotated key verifies until retire_after", func(t *testing.T) {
			tok, _ := sign(t, ES256)
			if _, err := m.Rotate(ctx, ES256, 10*time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := verify(t, tok); err != nil {
				t.Fatal(err)
			}
			c.Add(10 * time.Minute)
			if err := verify(t, tok); err == nil || !strings.HasSuffix(err.Error(), "not in JWKS") {
				t.Fatalf("after retire_after: %v, want kid not in JWKS", err)
			}
		})
	})
}

func TestSigningServesCachedKeyWhenDatabaseFails(t *testing.T) {
	ctx := context.Background()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		c := newClock(t0)
		m := newManager(t, d, c)
		if err := m.EnsureKeys(ctx, ES256); err != nil {
			t.Fatal(err)
		}
		kid, _, err := m.Signing(ctx, ES256)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
		t.Run("ok/cached key", func(t *testing.T) {
			if got, _, err := m.Signing(ctx, ES256); err != nil || got != kid {
				t.Fatalf("Signing = %s, %v; want cached %s", got, err, kid)
			}
		})
		t.Run("fail/nothing cached", func(t *testing.T) {
			_, _, err := newManager(t, d, c).Signing(ctx, ES256)
			if err == nil || !strings.HasPrefix(err.Error(), "keys: load active ES256 key: ") {
				t.Fatalf("err = %v", err)
			}
		})
	})
}
