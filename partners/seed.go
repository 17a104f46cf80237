package partners

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/secrets"
)

// Demo sandbox data created by SeedSandbox.
const (
	SeedPartnerName = "Demo Wallet Ltd"
	SeedEmail       = "demo@wallet.example"
	// SeedPassword is the demo owner's documented password (sandbox demo only).
	SeedPassword    = "demo-wallet-sandbox"
	SeedAppName     = "Demo Wallet (sandbox)"
	SeedRedirectURI = "http://localhost:3000/callback"
)

// SeedResult describes the demo data. PrivateJWK (the demo app's ES256
// private key) is only set when the app was created by this call: the
// platform never stores private client keys, so a later call cannot return it.
type SeedResult struct {
	PartnerID  string
	UserID     string
	Email      string
	Password   string
	AppID      string // the client_id
	PrivateJWK json.RawMessage
	Created    bool
}

// SeedSandbox creates (idempotently) the demo partner "Demo Wallet Ltd"
// (sandbox), its owner demo@wallet.example with SeedPassword (email verified),
// and the sandbox app "Demo Wallet (sandbox)" with a fresh ES256 key and
// redirect URI http://localhost:3000/callback.
func (s *Service) SeedSandbox(ctx context.Context) (*SeedResult, error) {
	res := &SeedResult{Email: SeedEmail, Password: SeedPassword}
	hash, err := secrets.HashPassword(SeedPassword)
	if err != nil {
		return nil, internal(err, "hash password")
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		now := s.clock()
		var u userRow
		err := tx.Where("email = ?", SeedEmail).Take(&u).Error
		switch {
		case isNotFound(err):
			u = userRow{ID: ids.New("usr"), Email: SeedEmail, PasswordHash: hash, EmailVerifiedAt: &now, CreatedAt: now, UpdatedAt: now}
			if err := s.createUser(tx, &u); err != nil {
				return err
			}
		case err != nil:
			return internal(err, "load demo user")
		}
		res.UserID = u.ID
		var m Membership
		err = tx.Where("user_id = ? AND role = ?", u.ID, RoleOwner).Order("created_at").Take(&m).Error
		switch {
		case isNotFound(err):
			p := &Partner{ID: ids.New("ptn"), LegalName: SeedPartnerName, Country: "GB", Website: "https://wallet.example",
				Status: StatusSandbox, CreatedAt: now, UpdatedAt: now}
			if err := s.createPartner(ctx, tx, p, systemActor("seed")); err != nil {
				return err
			}
			m = Membership{PartnerID: p.ID, UserID: u.ID, Role: RoleOwner, CreatedAt: now}
			if err := tx.Create(&m).Error; err != nil {
				return internal(err, "create membership")
			}
		case err != nil:
			return internal(err, "load demo membership")
		}
		res.PartnerID = m.PartnerID
		var a App
		err = tx.Where("partner_id = ? AND name = ? AND environment = ?", m.PartnerID, SeedAppName, environment.Sandbox).Take(&a).Error
		switch {
		case isNotFound(err):
			id := ids.New("app")
			priv, pub, err := GenerateES256Key("demo-" + time.Now().UTC().Format("20060102"))
			if err != nil {
				return internal(err, "generate demo key")
			}
			a = App{ID: id, PartnerID: m.PartnerID, Name: SeedAppName, Environment: environment.Sandbox,
				RedirectURIs: []string{SeedRedirectURI}, Scopes: append([]string(nil), KnownScopes...), JWKS: string(pub),
				Status: AppActive, CreatedAt: now, UpdatedAt: now}
			if err := s.insertApp(ctx, tx, &a, systemActor("seed")); err != nil {
				return err
			}
			res.PrivateJWK, res.Created = priv, true
		case err != nil:
			return internal(err, "load demo app")
		}
		res.AppID = a.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
