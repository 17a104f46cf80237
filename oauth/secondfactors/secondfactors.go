// Package secondfactors adapts the customers' second factors (oauth/sca) to
// the authorization server's SecondFactors interface. It is its own package
// because oauth imports oauth/sca (for the dynamic-linking hash), so sca
// cannot import oauth; the platform and oauth's own flow tests use the same
// adapter.
package secondfactors

import (
	"context"
	"errors"
	"fmt"

	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// Factors is oauth's view (oauth.SecondFactors) of the customers' second
// factors in oauth/sca: sca's refusals become oauth's, the client address of
// the code throttle is the one throttle.WithClient put in ctx.
type Factors struct{ sca *sca.Service }

var _ oauth.SecondFactors = Factors{}

// New returns the authorization server's second factors over svc.
func New(svc *sca.Service) Factors { return Factors{sca: svc} }

// HasAuthenticatorApp implements oauth.SecondFactors.
func (f Factors) HasAuthenticatorApp(ctx context.Context, customerID string) (bool, error) {
	return f.sca.HasSecondFactor(ctx, customerID)
}

// ConfirmTOTP implements oauth.SecondFactors.
func (f Factors) ConfirmTOTP(ctx context.Context, interactionID, customerID, code, link string) error {
	return codeRefusal(f.sca.ConfirmWithTOTP(ctx, interactionID, customerID, link, code, throttle.Address(ctx)))
}

// ConfirmRecoveryCode implements oauth.SecondFactors.
func (f Factors) ConfirmRecoveryCode(ctx context.Context, interactionID, customerID, code, link string) error {
	_, err := f.sca.ConfirmWithRecoveryCode(ctx, interactionID, customerID, link, code, throttle.Address(ctx))
	return codeRefusal(err)
}

// CheckConfirmation implements oauth.SecondFactors.
func (f Factors) CheckConfirmation(ctx context.Context, interactionID, customerID, link string) (string, error) {
	c, err := f.sca.CheckConfirmation(ctx, interactionID, customerID, link)
	switch {
	case errors.Is(err, sca.ErrConfirmationVoided):
		return "", fmt.Errorf("%w: %w", oauth.ErrConfirmationChanged, err)
	case errors.Is(err, sca.ErrNoConfirmation), errors.Is(err, sca.ErrConfirmationUsed), errors.Is(err, sca.ErrConfirmationExpired):
		return "", fmt.Errorf("%w: %w", oauth.ErrNotConfirmed, err)
	case err != nil:
		return "", err
	}
	switch c.Method {
	case sca.MethodTOTP:
		return sca.AMRTOTP, nil
	case sca.MethodRecovery:
		return sca.AMRRecovery, nil
	}
	return "", fmt.Errorf("%w: confirmed by %q, which this flow does not offer", oauth.ErrNotConfirmed, c.Method)
}

// codeRefusal maps sca's refusals of a code to oauth's (the lock first: a
// wrong code that spent the budget is both).
func codeRefusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, throttle.ErrLocked):
		return fmt.Errorf("%w: %w", oauth.ErrSecondFactorLocked, err)
	case errors.Is(err, sca.ErrCodeUsed), errors.Is(err, sca.ErrRecoveryCodeUsed):
		return fmt.Errorf("%w: %w", oauth.ErrSecondFactorUsed, err)
	case errors.Is(err, sca.ErrInvalidCode), errors.Is(err, sca.ErrInvalidRecoveryCode):
		return fmt.Errorf("%w: %w", oauth.ErrSecondFactorWrong, err)
	case errors.Is(err, sca.ErrNoTOTP):
		return fmt.Errorf("%w: %w", oauth.ErrNoSecondFactor, err)
	}
	return err
}
