package oauth

import (
	"context"
	"errors"
	"strings"
)

// ErrLoginThrottled is returned by AuthenticateCustomer while a username is
// locked after too many wrong passwords (maxLoginFailures in a row, for
// loginLockFor).
var ErrLoginThrottled = errors.New("oauth: too many failed logins for this username")

// AuthenticateCustomer checks a bank customer's username and password with
// login throttling shared by every page that signs customers in (the
// authorization flow and the consent dashboard), on every node: after
// maxLoginFailures wrong passwords the username is locked for loginLockFor.
// Errors: ErrLoginThrottled, ErrBadCredentials, ErrCustomerLocked, or a
// storage error.
func (s *Server) AuthenticateCustomer(ctx context.Context, username, password string) (string, error) {
	key := strings.ToLower(strings.TrimSpace(username))
	var att loginAttempt
	g := s.store.db.WithContext(ctx)
	if err := g.Where("username = ?", key).Take(&att).Error; err == nil && att.LockedUntil != nil && att.LockedUntil.After(s.now()) {
		return "", ErrLoginThrottled
	}
	id, err := s.deps.Customers.Authenticate(ctx, username, password)
	if errors.Is(err, ErrBadCredentials) {
		locked, ferr := s.recordFailure(ctx, key)
		if ferr != nil {
			s.log.Error("oauth: record login failure", "err", ferr)
		}
		if locked {
			return "", ErrLoginThrottled
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	g.Exec(`DELETE FROM oauth_login_attempts WHERE username = ?`, key)
	return id, nil
}

// ThrottledCustomers is the CustomerAuthenticator other sign-in pages use: the
// server's throttled AuthenticateCustomer plus the bank's DisplayName.
func (s *Server) ThrottledCustomers() CustomerAuthenticator { return throttled{s} }

type throttled struct{ s *Server }

func (t throttled) Authenticate(ctx context.Context, username, password string) (string, error) {
	return t.s.AuthenticateCustomer(ctx, username, password)
}

func (t throttled) DisplayName(ctx context.Context, customerID string) (string, error) {
	return t.s.deps.Customers.DisplayName(ctx, customerID)
}
