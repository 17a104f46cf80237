package core

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/reqmemo"
	"github.com/bankbridge/bankbridge/internal/secrets"
	"github.com/bankbridge/bankbridge/oauth"
	"gorm.io/gorm"
	"net/mail"
)

// Authenticate implements oauth.CustomerAuthenticator: the reference core is the
// bank's identity store. Usernames are case-insensitive and looked up only
// among the customers of environment (the signing-in app's), so a username
// that exists only in the other environment is not found at all. An unknown
// username costs the same bcrypt time as a wrong password and both answer
// oauth.ErrBadCredentials; oauth.ErrCustomerLocked is only answered after the
// right password, so it does not reveal which usernames exist. Throttling
// repeated failures is the authorization server's job. An environment other
// than environment.Sandbox or environment.Production is ErrInvalid (a wiring bug).
// When the process's password-hashing slots are all taken the answer is
// secrets.ErrBusy (nothing was checked; not a wrong password).
func (r *Reference) Authenticate(ctx context.Context, env environment.Environment, username, password string) (string, error) {
	if err := checkEnvironment(env); err != nil {
		return "", err
	}
	var row customerRow
	err := r.db.WithContext(ctx).Where("environment = ? AND username = ?", env, normaliseUsername(username)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := secrets.BurnPasswordCheck(password); err != nil {
			return "", err // secrets.ErrBusy: nothing was checked
		}
		return "", oauth.ErrBadCredentials
	}
	if err != nil {
		return "", err
	}
	switch err := secrets.CheckPassword(row.PasswordHash, password); {
	case errors.Is(err, secrets.ErrBusy):
		return "", err
	case err != nil:
		return "", oauth.ErrBadCredentials
	}
	if row.Status == CustomerLocked {
		return "", oauth.ErrCustomerLocked
	}
	// The page after the password shows the customer: read once.
	reqmemo.Put(ctx, memoCustomer(row.ID), *row.toCustomer())
	return row.ID, nil
}

// DisplayName implements oauth.CustomerAuthenticator.
func (r *Reference) DisplayName(ctx context.Context, customerID string) (string, error) {
	c, err := r.Customer(ctx, customerID)
	if errors.Is(err, ErrNotFound) {
		return "", oauth.ErrCustomerUnknown
	}
	if err != nil {
		return "", err
	}
	return c.DisplayName, nil
}

var usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,63}$`)

// checkEnvironment accepts environment.Sandbox and environment.Production.
func checkEnvironment(env environment.Environment) error {
	if env != environment.Sandbox && env != environment.Production {
		return fmt.Errorf("%w: environment must be %q or %q, not %q", ErrInvalid, environment.Sandbox, environment.Production, env)
	}
	return nil
}

func normaliseUsername(u string) string { return strings.ToLower(strings.TrimSpace(u)) }

// CreateCustomer adds a (non-synthetic) customer of environment
// (environment.Sandbox or environment.Production) with a current account of that
// environment holding a starting balance and ninety days of history, for
// `bankbridge customers create`. The username is lower-cased; it must be 3–64
// of a-z 0-9 . _ - and free in that environment (the other environment may
// use it too). Errors: ErrInvalid (unknown environment, bad username,
// password of fewer than 8 or more than 72 bytes, empty or over-long display
// name), ErrUsernameTaken.
func (r *Reference) CreateCustomer(ctx context.Context, env environment.Environment, username, password, displayName string) (*Customer, error) {
	username, displayName = normaliseUsername(username), strings.TrimSpace(displayName)
	if err := checkEnvironment(env); err != nil {
		return nil, err
	}
	switch {
	case !usernamePattern.MatchString(username):
		return nil, fmt.Errorf("%w: username must be 3 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", ErrInvalid)
	case len(password) < 8 || len(password) > 72:
		return nil, fmt.Errorf("%w: password must be 8 to 72 bytes", ErrInvalid)
	case displayName == "" || utf8.RuneCountInString(displayName) > 70:
		return nil, fmt.Errorf("%w: display name must be 1 to 70 characters", ErrInvalid)
	}
	hash, err := secrets.HashPassword(password)
	if err != nil {
		return nil, err
	}
	var seed [16]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	now := r.now().Truncate(time.Second)
	start := dayOf(now).AddDate(0, 0, -90)
	c := customerRow{ID: ids.New("cus"), Environment: env, Username: username, PasswordHash: hash,
		DisplayName: displayName, Status: CustomerActive, CreatedAt: now}
	for attempt := 0; ; attempt++ {
		acc := &simAccount{row: newAccountRow(ids.New("acc"), c.ID, env, displayName, AccountCurrent, "Current account", start.Add(-24*time.Hour))}
		acc.row.BalanceMinor = 100000 + rng.Int64N(150000)
		// Numbers 2xxxxxxx–9xxxxxxx: seeded personas use 1xxxxxxx.
		acc.row.setSortCodeAccountNumber(fmt.Sprintf("%d%07d", 2+rng.IntN(8), rng.IntN(10000000)))
		sim := &simulator{rng: rng, until: now}
		// The ninety days may spend more than they earn: the account ends at
		// a healthy balance (one transfer in or out on the last day), so a
		// new customer can make payments at once.
		target := 100000 + rng.Int64N(150000)
		sim.live(profile{salary: 180000 + rng.Int64N(200000), employer: "Sandbox Employer Ltd", payday: 1 + rng.IntN(28),
			rent: 70000 + rng.Int64N(60000), landlord: "Sandbox Lettings", spendBps: 8000 + rng.Int64N(4000),
			targetCurrent: &target}, acc, nil, nil, start)
		for i := range acc.txns {
			acc.txns[i].ID = ids.New("txn")
		}
		err = r.writeTx(ctx, func(tx *gorm.DB) error {
			var n int64
			if err := tx.Model(&customerRow{}).Where("environment = ? AND username = ?", env, username).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return ErrUsernameTaken
			}
			if err := tx.Create(&c).Error; err != nil {
				return err
			}
			if err := tx.Create(&acc.row).Error; err != nil {
				return err
			}
			return tx.CreateInBatches(acc.txns, r.batchSize()).Error
		})
		if errors.Is(err, gorm.ErrDuplicatedKey) && attempt < 3 {
			continue // account number (or, in a race, username) taken: retry, re-checking the username
		}
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, ErrUsernameTaken
		}
		if err != nil {
			return nil, err
		}
		return c.toCustomer(), nil
	}
}

// CustomerByUsername returns the customer of environment with that login
// name (any case), or ErrNotFound. For the CLI, tests and the sandbox
// portal's persona list.
func (r *Reference) CustomerByUsername(ctx context.Context, env environment.Environment, username string) (*Customer, error) {
	var row customerRow
	err := r.db.WithContext(ctx).Where("environment = ? AND username = ?", env, normaliseUsername(username)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return row.toCustomer(), nil
}

// SetCustomerEmail sets (or, with "", clears) the customer's email address,
// where the platform mails the customer, and invalidates every node's cached
// copy of the customer. For `bankbridge customers`, tests and the sandbox.
// Errors: ErrInvalid (not a plain address such as name@bank.example),
// ErrNotFound.
func (r *Reference) SetCustomerEmail(ctx context.Context, customerID, email string) error {
	email = strings.TrimSpace(email)
	if err := CheckEmail(email); err != nil {
		return err
	}
	res := r.db.WithContext(ctx).Model(&customerRow{}).Where("id = ?", customerID).Update("email", email)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	r.customers.Invalidate(customerID)
	return r.customersChanged(ctx, customerID)
}

// CheckEmail accepts "" (no address) and one plain address such as
// name@bank.example (no display name, at most 254 bytes); anything else is
// ErrInvalid.
func CheckEmail(email string) error {
	if email == "" {
		return nil
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
		return fmt.Errorf("%w: email must be a plain address such as name@bank.example", ErrInvalid)
	}
	return nil
}
