// Package secondfactors adapts the customers' second factors (oauth/sca:
// authenticator app, recovery codes, confirmations and their throttle;
// oauth/passkeys: passkeys) to the authorization server's SecondFactors
// interface. It is its own package because oauth imports oauth/sca (for the
// dynamic-linking hash), so sca cannot import oauth; the platform and
// oauth's own flow tests use the same adapter.
package secondfactors

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/internal/throttle"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/oauth/passkeys"
	"github.com/bankbridge/bankbridge/oauth/sca"
)

// Factors is oauth's view (oauth.SecondFactors) of the customers' second
// factors in oauth/sca and oauth/passkeys: their refusals become oauth's,
// the client address of the code throttle is the one throttle.WithClient
// put in ctx. Passkey assertions are counted by sca's code throttle.
type Factors struct {
	sca      *sca.Service
	passkeys *passkeys.Service
}

var _ oauth.SecondFactors = Factors{}

// New returns the authorization server's second factors over svc and pk;
// pk is nil when passkeys are off (the issuer cannot be a WebAuthn relying
// party): then no customer has a usable passkey.
func New(svc *sca.Service, pk *passkeys.Service) Factors { return Factors{sca: svc, passkeys: pk} }

// Enrolled implements oauth.SecondFactors.
func (f Factors) Enrolled(ctx context.Context, customerID string) (oauth.EnrolledFactors, error) {
	en, err := f.sca.Enrolment(ctx, customerID)
	if err != nil {
		return oauth.EnrolledFactors{}, err
	}
	e := oauth.EnrolledFactors{AuthenticatorApp: en.TOTPActive, RecoveryCodes: en.RecoveryRemaining > 0}
	if f.passkeys != nil {
		creds, err := f.passkeys.Credentials(ctx, customerID)
		if err != nil {
			return oauth.EnrolledFactors{}, err
		}
		e.Passkey = len(creds) > 0
	}
	return e, nil
}

// BeginPasskey implements oauth.SecondFactors: the challenge is bound to
// the link hash's 32 bytes.
func (f Factors) BeginPasskey(ctx context.Context, interactionID, customerID, link string) (oauth.PasskeyRequest, error) {
	if f.passkeys == nil {
		return oauth.PasskeyRequest{}, fmt.Errorf("%w: passkeys are off", oauth.ErrNoSecondFactor)
	}
	raw, err := linkBytes(interactionID, link)
	if err != nil {
		return oauth.PasskeyRequest{}, err
	}
	begun, err := f.passkeys.BeginLogin(ctx, customerID, raw)
	if errors.Is(err, passkeys.ErrNoPasskey) {
		return oauth.PasskeyRequest{}, fmt.Errorf("%w: %w", oauth.ErrNoSecondFactor, err)
	}
	if err != nil {
		return oauth.PasskeyRequest{}, err
	}
	return oauth.PasskeyRequest{CeremonyID: begun.CeremonyID, Options: begun.Options}, nil
}

// ConfirmPasskey implements oauth.SecondFactors: sca counts the attempt,
// passkeys checks the assertion against the link hash now, and sca records
// the confirmation with the assertion's amr.
func (f Factors) ConfirmPasskey(ctx context.Context, interactionID, customerID, ceremonyID string, response []byte, link string) error {
	if f.passkeys == nil {
		return fmt.Errorf("%w: passkeys are off", oauth.ErrNoSecondFactor)
	}
	raw, err := linkBytes(interactionID, link)
	if err != nil {
		return err
	}
	err = f.sca.ConfirmWithWebAuthn(ctx, interactionID, customerID, link, throttle.Address(ctx), func(ctx context.Context) (string, error) {
		a, err := f.passkeys.FinishLogin(ctx, ceremonyID, customerID, response, raw)
		var refusal *problem.Error
		if errors.As(err, &refusal) {
			return "", fmt.Errorf("%w: %w", sca.ErrInvalidAssertion, err)
		}
		return a.AMR, err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, throttle.ErrLocked):
		return fmt.Errorf("%w: %w", oauth.ErrSecondFactorLocked, err)
	case errors.Is(err, passkeys.ErrLinkChanged):
		return fmt.Errorf("%w: %w: %w", oauth.ErrPasskeyRefused, oauth.ErrConfirmationChanged, err)
	case errors.Is(err, sca.ErrInvalidAssertion):
		return fmt.Errorf("%w: %w", oauth.ErrPasskeyRefused, err)
	}
	return err
}

// passkeyLinkDomain separates the passkey challenge's binding from every
// other SHA-256 of the platform.
const passkeyLinkDomain = "bankbridge/sca/passkey-interaction/v1"

// linkBytes is what passkeys binds a ceremony's challenge to: the SHA-256 of
// a domain tag, the interaction id (length-prefixed) and the link hash, so
// an answer is good for this interaction and what it authorises only (two
// interactions of one customer without authorization details share a link
// hash). Errors: sca.ErrInvalid for a link that is not a hex SHA-256.
func linkBytes(interactionID, link string) ([]byte, error) {
	raw, err := hex.DecodeString(link)
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("%w: link hash is not a hex SHA-256", sca.ErrInvalid)
	}
	h := sha256.New()
	h.Write([]byte(passkeyLinkDomain))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(interactionID)))
	h.Write(n[:])
	h.Write([]byte(interactionID))
	h.Write(raw)
	return h.Sum(nil), nil
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
	if c.AMR != "" {
		return c.AMR, nil
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
