package oauth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/throttle"
)

// ErrLoginThrottled is returned by AuthenticateCustomer when the login
// throttle refuses the attempt (before any password is checked), or when
// this failure spent the last attempt of a budget.
var ErrLoginThrottled = errors.New("oauth: too many failed logins")

// customerSurface names the customer logins' counters in internal/throttle.
const customerSurface = "customer"

// Customer login throttling. internal/throttle owns the attempt counts (its
// login_throttle table, for every sign-in surface); the authorization server
// keeps no table of its own.
const (
	maxLoginFailures = 5
	loginLockFor     = 15 * time.Minute
)

// customerLoginPolicy is the customer login throttle: maxLoginFailures per
// username and client address in loginLockFor, and throttle.DefaultPolicy's
// per-address budget and per-username ceiling.
var customerLoginPolicy = throttle.Policy{
	Address:        throttle.DefaultPolicy.Address,
	AccountAddress: throttle.Rule{Limit: maxLoginFailures, Window: loginLockFor},
	Account:        throttle.DefaultPolicy.Account,
}

// AuthenticateCustomer checks a bank customer's username and password with
// the login throttle shared by every page that signs customers in (the
// authorization flow and the consent dashboard), on every node
// (internal/throttle): the attempt is counted on (environment, normalised
// username) — whether or not such a customer exists — and on the client
// address in ctx (throttle.WithClient) before the password is checked, and
// refused without checking it over a limit. environment is the signing-in
// app's (environment.Sandbox or environment.Production): only that environment's customers can
// sign in (see CustomerAuthenticator). Errors: ErrLoginThrottled,
// ErrBadCredentials, ErrCustomerLocked, or the authenticator's other errors
// (secrets.ErrBusy, storage), which do not count as attempts.
func (s *Server) AuthenticateCustomer(ctx context.Context, env environment.Environment, username, password string) (string, error) {
	account := string(env) + ":" + strings.ToLower(strings.TrimSpace(username))
	att, err := s.logins.Begin(ctx, account, throttle.Address(ctx))
	if errors.Is(err, throttle.ErrLocked) {
		return "", ErrLoginThrottled
	}
	if err != nil {
		return "", err
	}
	id, err := s.deps.Customers.Authenticate(ctx, env, username, password)
	switch {
	case err == nil:
		if err := att.Succeeded(ctx); err != nil {
			s.log.Warn("oauth: reset login throttle", "err", err)
		}
		return id, nil
	case errors.Is(err, ErrBadCredentials), errors.Is(err, ErrCustomerLocked):
		if att.Failed() != nil {
			return "", ErrLoginThrottled
		}
		return "", err
	default:
		if cerr := att.Cancel(ctx); cerr != nil {
			s.log.Warn("oauth: refund login attempt", "err", cerr)
		}
		return "", err
	}
}

// ThrottledCustomers is the CustomerAuthenticator other sign-in pages use: the
// server's throttled AuthenticateCustomer plus the bank's DisplayName. The
// caller puts the client address in ctx (throttle.WithClient).
func (s *Server) ThrottledCustomers() CustomerAuthenticator { return throttled{s} }

type throttled struct{ s *Server }

func (t throttled) Authenticate(ctx context.Context, env environment.Environment, username, password string) (string, error) {
	return t.s.AuthenticateCustomer(ctx, env, username, password)
}

func (t throttled) DisplayName(ctx context.Context, customerID string) (string, error) {
	return t.s.deps.Customers.DisplayName(ctx, customerID)
}
