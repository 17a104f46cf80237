package passkeys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Config is what New needs.
type Config struct {
	// Issuer is the platform's public base URL (BANKBRIDGE_ISSUER); the
	// relying party id and origin follow from it.
	Issuer string
	// Store keeps credentials and ceremonies.
	Store Store
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service runs the passkey ceremonies of one relying party.
type Service struct {
	store  Store
	now    func() time.Time
	rpID   string
	origin string
	wa     *webauthn.WebAuthn
}

// New returns the service of the relying party named by cfg.Issuer: RP ID the
// issuer's host without port, origin the issuer's scheme://host[:port],
// display name RPDisplayName. It refuses an issuer that is not an absolute
// http(s) URL (ErrIssuerInvalid), whose host is an IP address
// (ErrIssuerIPAddress), or that is plain http on a host other than localhost
// (ErrIssuerNotSecure); the error wraps the sentinel and names the issuer.
// ErrNoStore when cfg.Store is nil.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, ErrNoStore
	}
	rpID, origin, err := relyingParty(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", err, cfg.Issuer)
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         RPDisplayName,
		RPOrigins:             []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrIssuerInvalid, cfg.Issuer, err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Service{store: cfg.Store, now: now, rpID: rpID, origin: origin, wa: wa}, nil
}

// relyingParty derives the RP ID and origin from the issuer URL.
func relyingParty(issuer string) (rpID, origin string, err error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return "", "", ErrIssuerInvalid
	}
	host := strings.ToLower(u.Hostname())
	if net.ParseIP(host) != nil {
		return "", "", ErrIssuerIPAddress
	}
	if u.Scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost") {
		return "", "", ErrIssuerNotSecure
	}
	hostPort := host
	if p := u.Port(); p != "" && !(u.Scheme == "https" && p == "443") && !(u.Scheme == "http" && p == "80") {
		hostPort = net.JoinHostPort(host, p)
	}
	return host, u.Scheme + "://" + hostPort, nil
}

// RPID is the relying party id (the issuer's host).
func (s *Service) RPID() string { return s.rpID }

// Origin is the one origin responses must come from.
func (s *Service) Origin() string { return s.origin }

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// refusals are the problem code and detail of each refusal sentinel.
var refusals = map[error]struct {
	code   problem.Code
	detail string
}{
	ErrInvalidCustomer:     {problem.CodeValidation, "The customer needs a cus_ id and a username."},
	ErrInvalidName:         {problem.CodeValidation, fmt.Sprintf("A passkey name is 1 to %d characters, without control characters.", MaxNameLength)},
	ErrInvalidLinkHash:     {problem.CodeValidation, fmt.Sprintf("The link hash is at most %d bytes.", maxLinkHash)},
	ErrNoPasskey:           {problem.CodeNotFound, "The customer has no passkey."},
	ErrCeremonyNotFound:    {problem.CodeNotFound, "The passkey ceremony is unknown or was already used; start again."},
	ErrCeremonyExpired:     {problem.CodeInvalidRequest, "The passkey ceremony expired; start again."},
	ErrMalformedResponse:   {problem.CodeInvalidRequest, "The passkey response is not a WebAuthn credential."},
	ErrOriginMismatch:      {problem.CodeForbidden, "The passkey response was made for another website."},
	ErrRPIDMismatch:        {problem.CodeForbidden, "The passkey response was made for another relying party."},
	ErrChallengeMismatch:   {problem.CodeForbidden, "The passkey response answers another request."},
	ErrUserNotPresent:      {problem.CodeForbidden, "The authenticator did not confirm the customer's presence."},
	ErrUserNotVerified:     {problem.CodeForbidden, "The authenticator did not verify the customer (PIN or biometrics)."},
	ErrResponseInvalid:     {problem.CodeForbidden, "The passkey response did not verify."},
	ErrLinkChanged:         {problem.CodeForbidden, "What was confirmed with the passkey has changed since; confirm again."},
	ErrClonedAuthenticator: {problem.CodeForbidden, "The passkey's signature counter did not increase; the authenticator may be cloned."},
	ErrCredentialNotFound:  {problem.CodeNotFound, "The customer has no such passkey."},
	ErrCredentialExists:    {problem.CodeConflict, "This passkey is registered already."},
}

// refuse is the problem for refusal sentinel, keeping cause (if any) behind it.
func refuse(sentinel error, cause error) *problem.Error {
	r := refusals[sentinel]
	err := sentinel
	if cause != nil {
		err = fmt.Errorf("%w: %w", sentinel, cause)
	}
	return &problem.Error{Code: r.code, Detail: r.detail, Err: err}
}

// user is a customer as go-webauthn sees it.
type user struct {
	c     Customer
	creds []webauthn.Credential
}

func (u user) WebAuthnID() []byte                         { return []byte(u.c.ID) }
func (u user) WebAuthnName() string                       { return u.c.Username }
func (u user) WebAuthnDisplayName() string                { return u.c.DisplayName }
func (u user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// libCredential is the stored credential as go-webauthn takes it.
func libCredential(c StoredCredential) (webauthn.Credential, error) {
	id, err := base64.RawURLEncoding.DecodeString(c.ID)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkeys: stored credential id %q: %w", c.ID, err)
	}
	transports := make([]protocol.AuthenticatorTransport, len(c.Transports))
	for i, t := range c.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: id, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFormat, Transport: transports,
		Flags: webauthn.CredentialFlags{UserPresent: true, UserVerified: true,
			BackupEligible: c.BackupEligible, BackupState: c.BackupState},
		Authenticator: webauthn.Authenticator{AAGUID: c.RawAAGUID, SignCount: c.SignCount,
			Attachment: protocol.AuthenticatorAttachment(c.Attachment)},
	}, nil
}

func (s *Service) libUser(ctx context.Context, c Customer) (user, error) {
	stored, err := s.store.Credentials(ctx, c.ID)
	if err != nil {
		return user{}, err
	}
	u := user{c: c}
	for _, sc := range stored {
		lc, err := libCredential(sc)
		if err != nil {
			return user{}, err
		}
		u.creds = append(u.creds, lc)
	}
	return u, nil
}

// saveCeremony stores the session of a begun ceremony under a fresh id.
func (s *Service) saveCeremony(ctx context.Context, kind, customerID string, session *webauthn.SessionData, options any) (Begun, error) {
	sj, err := json.Marshal(session)
	if err != nil {
		return Begun{}, err
	}
	oj, err := json.Marshal(options)
	if err != nil {
		return Begun{}, err
	}
	now := s.clock()
	c := Ceremony{ID: ids.Random(32), Kind: kind, CustomerID: customerID, Session: sj,
		CreatedAt: now, ExpiresAt: now.Add(CeremonyTTL)}
	if err := s.store.SaveCeremony(ctx, c); err != nil {
		return Begun{}, err
	}
	return Begun{CeremonyID: c.ID, Options: oj}, nil
}

// takeCeremony takes the ceremony (used once, whatever happens next) and
// decodes its session.
func (s *Service) takeCeremony(ctx context.Context, id, kind, customerID string) (webauthn.SessionData, error) {
	c, err := s.store.TakeCeremony(ctx, id, kind, customerID)
	if errors.Is(err, ErrNotFound) {
		return webauthn.SessionData{}, refuse(ErrCeremonyNotFound, nil)
	}
	if err != nil {
		return webauthn.SessionData{}, err
	}
	if !s.clock().Before(c.ExpiresAt) {
		return webauthn.SessionData{}, refuse(ErrCeremonyExpired, nil)
	}
	var session webauthn.SessionData
	if err := json.Unmarshal(c.Session, &session); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("passkeys: ceremony %s: session: %w", id, err)
	}
	return session, nil
}

// BeginRegistration starts registering a passkey for the customer: it
// returns the creation options (resident key preferred, user verification
// required, the customer's passkeys excluded, no attestation asked) and the
// ceremony id. Refusals: ErrInvalidCustomer.
func (s *Service) BeginRegistration(ctx context.Context, c Customer) (Begun, error) {
	c.Username = strings.TrimSpace(c.Username)
	c.DisplayName = strings.TrimSpace(c.DisplayName)
	if err := c.Validate(); err != nil {
		return Begun{}, refuse(ErrInvalidCustomer, nil)
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Username
	}
	u, err := s.libUser(ctx, c)
	if err != nil {
		return Begun{}, err
	}
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i, lc := range u.creds {
		exclude[i] = lc.Descriptor()
	}
	creation, session, err := s.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return Begun{}, fmt.Errorf("passkeys: begin registration: %w", err)
	}
	return s.saveCeremony(ctx, KindRegistration, c.ID, session, creation.Response)
}

// FinishRegistration verifies the authenticator's response (the
// PublicKeyCredential JSON of navigator.credentials.create) to ceremony
// ceremonyID of customerID and stores the passkey under name, recording
// "customer.passkey_registered" in the audit trail. The ceremony is used
// whatever the outcome. Refusals: ErrInvalidName (the ceremony is left
// unused), ErrCeremonyNotFound, ErrCeremonyExpired, ErrMalformedResponse,
// ErrChallengeMismatch, ErrOriginMismatch, ErrRPIDMismatch,
// ErrUserNotPresent, ErrUserNotVerified, ErrResponseInvalid,
// ErrCredentialExists.
func (s *Service) FinishRegistration(ctx context.Context, ceremonyID, customerID string, response []byte, name string) (Credential, error) {
	name = strings.TrimSpace(name)
	if !validName(name) {
		return Credential{}, refuse(ErrInvalidName, nil)
	}
	session, err := s.takeCeremony(ctx, ceremonyID, KindRegistration, customerID)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, refuse(ErrMalformedResponse, err)
	}
	if err := s.check(session, protocol.CreateCeremony, parsed.Response.CollectedClientData,
		parsed.Response.AttestationObject.AuthData); err != nil {
		return Credential{}, err
	}
	u := user{c: Customer{ID: customerID}}
	lc, err := s.wa.CreateCredential(u, session, parsed)
	if err != nil {
		return Credential{}, refuse(ErrResponseInvalid, err)
	}
	transports := make([]string, len(lc.Transport))
	for i, t := range lc.Transport {
		transports[i] = string(t)
	}
	sc := StoredCredential{
		Credential: Credential{ID: base64.RawURLEncoding.EncodeToString(lc.ID), Name: name,
			Transports: transports, BackupEligible: lc.Flags.BackupEligible, BackupState: lc.Flags.BackupState,
			CreatedAt: s.clock()},
		CustomerID: customerID, PublicKey: lc.PublicKey, RawAAGUID: lc.Authenticator.AAGUID,
		SignCount: lc.Authenticator.SignCount, AttestationFormat: lc.AttestationFormat,
		Attachment: string(lc.Authenticator.Attachment),
	}
	err = s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.AddCredential(ctx, sc); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorCustomer, ActorID: customerID,
			Action: "customer.passkey_registered", ObjectType: "passkey", ObjectID: sc.ID,
			Details: map[string]any{"name": name, "backup_eligible": sc.BackupEligible}})
	})
	if errors.Is(err, ErrExists) {
		return Credential{}, refuse(ErrCredentialExists, nil)
	}
	if err != nil {
		return Credential{}, err
	}
	stored, err := s.store.Credential(ctx, customerID, sc.ID)
	if err != nil {
		return Credential{}, err
	}
	return stored.Credential, nil
}

// linkLabel separates the link-hash derivation from any other use of SHA-256.
const linkLabel = "bankbridge/passkeys/link/v1"

// linkedChallenge is r ‖ SHA-256(linkLabel ‖ r ‖ linkHash).
func linkedChallenge(r, linkHash []byte) []byte {
	h := sha256.New()
	h.Write([]byte(linkLabel))
	h.Write(r)
	h.Write(linkHash)
	return h.Sum(append([]byte{}, r...))
}

// BeginLogin starts an assertion by one of the customer's passkeys (user
// verification required), bound to linkHash: the dynamic-linking hash of what
// the customer confirms (for a payment: consent, amount, currency, payee), or
// empty when nothing is to be linked. It returns the request options and the
// ceremony id. Refusals: ErrInvalidLinkHash (over 64 bytes), ErrNoPasskey.
func (s *Service) BeginLogin(ctx context.Context, customerID string, linkHash []byte) (Begun, error) {
	if len(linkHash) > maxLinkHash {
		return Begun{}, refuse(ErrInvalidLinkHash, nil)
	}
	u, err := s.libUser(ctx, Customer{ID: customerID})
	if err != nil {
		return Begun{}, err
	}
	if len(u.creds) == 0 {
		return Begun{}, refuse(ErrNoPasskey, nil)
	}
	r := make([]byte, 32)
	if _, err := rand.Read(r); err != nil {
		return Begun{}, err
	}
	assertion, session, err := s.wa.BeginLogin(u, webauthn.WithChallenge(linkedChallenge(r, linkHash)),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Begun{}, fmt.Errorf("passkeys: begin login: %w", err)
	}
	return s.saveCeremony(ctx, KindLogin, customerID, session, assertion.Response)
}

// FinishLogin verifies the authenticator's response (the PublicKeyCredential
// JSON of navigator.credentials.get) to ceremony ceremonyID of customerID:
// signature, RP ID hash, origin, user presence and verification, challenge,
// that the link hash is still currentLinkHash, and that the signature counter
// moved forward (see the package doc); then stores the new counter by a
// conditional UPDATE. The ceremony is used whatever the outcome. Refusals:
// ErrInvalidLinkHash, ErrCeremonyNotFound, ErrCeremonyExpired,
// ErrMalformedResponse, ErrCredentialNotFound (not one of the customer's
// passkeys), ErrChallengeMismatch, ErrOriginMismatch, ErrRPIDMismatch,
// ErrUserNotPresent, ErrUserNotVerified, ErrResponseInvalid, ErrLinkChanged,
// ErrClonedAuthenticator.
func (s *Service) FinishLogin(ctx context.Context, ceremonyID, customerID string, response, currentLinkHash []byte) (Assertion, error) {
	if len(currentLinkHash) > maxLinkHash {
		return Assertion{}, refuse(ErrInvalidLinkHash, nil)
	}
	session, err := s.takeCeremony(ctx, ceremonyID, KindLogin, customerID)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Assertion{}, refuse(ErrMalformedResponse, err)
	}
	credID := base64.RawURLEncoding.EncodeToString(parsed.RawID)
	stored, err := s.store.Credential(ctx, customerID, credID)
	if errors.Is(err, ErrNotFound) {
		return Assertion{}, refuse(ErrCredentialNotFound, nil)
	}
	if err != nil {
		return Assertion{}, err
	}
	if err := s.check(session, protocol.AssertCeremony, parsed.Response.CollectedClientData,
		parsed.Response.AuthenticatorData); err != nil {
		return Assertion{}, err
	}
	u, err := s.libUser(ctx, Customer{ID: customerID})
	if err != nil {
		return Assertion{}, err
	}
	lc, err := s.wa.ValidateLogin(u, session, parsed)
	if err != nil {
		return Assertion{}, refuse(ErrResponseInvalid, err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(session.Challenge)
	if err != nil || len(challenge) != 32+sha256.Size {
		return Assertion{}, fmt.Errorf("passkeys: ceremony %s: not a linked challenge", ceremonyID)
	}
	if subtle.ConstantTimeCompare(challenge, linkedChallenge(challenge[:32], currentLinkHash)) != 1 {
		return Assertion{}, refuse(ErrLinkChanged, nil)
	}
	count := parsed.Response.AuthenticatorData.Counter
	if lc.Authenticator.CloneWarning || (count <= stored.SignCount && (count != 0 || stored.SignCount != 0)) {
		return Assertion{}, refuse(ErrClonedAuthenticator, nil)
	}
	err = s.store.RecordUse(ctx, customerID, credID, count,
		parsed.Response.AuthenticatorData.Flags.HasBackupState(), s.clock())
	switch {
	case errors.Is(err, ErrStale):
		return Assertion{}, refuse(ErrClonedAuthenticator, nil)
	case errors.Is(err, ErrNotFound):
		return Assertion{}, refuse(ErrCredentialNotFound, nil)
	case err != nil:
		return Assertion{}, err
	}
	amr := AMRHardwareKey
	if stored.BackupEligible {
		amr = AMRSoftwareKey
	}
	return Assertion{CredentialID: credID, AMR: amr, SignCount: count}, nil
}

// check makes the checks whose refusals callers tell apart, before
// go-webauthn verifies everything (again) and the signature.
func (s *Service) check(session webauthn.SessionData, ceremony protocol.CeremonyType, cd protocol.CollectedClientData, ad protocol.AuthenticatorData) error {
	if cd.Type != ceremony || subtle.ConstantTimeCompare([]byte(cd.Challenge), []byte(session.Challenge)) != 1 {
		return refuse(ErrChallengeMismatch, nil)
	}
	if !protocol.IsOriginInHaystack(cd.Origin, []string{s.origin}) || cd.CrossOrigin || cd.TopOrigin != "" {
		return refuse(ErrOriginMismatch, nil)
	}
	rpIDHash := sha256.Sum256([]byte(s.rpID))
	if !bytes.Equal(ad.RPIDHash, rpIDHash[:]) {
		return refuse(ErrRPIDMismatch, nil)
	}
	if !ad.Flags.HasUserPresent() {
		return refuse(ErrUserNotPresent, nil)
	}
	if !ad.Flags.HasUserVerified() {
		return refuse(ErrUserNotVerified, nil)
	}
	return nil
}

// Credentials lists the customer's passkeys, oldest first, without key material.
func (s *Service) Credentials(ctx context.Context, customerID string) ([]Credential, error) {
	stored, err := s.store.Credentials(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]Credential, len(stored))
	for i, c := range stored {
		out[i] = c.Credential
	}
	return out, nil
}

// Remove deletes the customer's passkey credentialID, recording
// "customer.passkey_removed" in the audit trail. (Asking for a fresh
// authentication first is the caller's part.) Refusals: ErrCredentialNotFound,
// also for another customer's passkey.
func (s *Service) Remove(ctx context.Context, customerID, credentialID string) error {
	err := s.store.Tx(ctx, func(ctx context.Context) error {
		if err := s.store.DeleteCredential(ctx, customerID, credentialID); err != nil {
			return err
		}
		return s.store.Audit(ctx, audit.Entry{ActorType: audit.ActorCustomer, ActorID: customerID,
			Action: "customer.passkey_removed", ObjectType: "passkey", ObjectID: credentialID})
	})
	if errors.Is(err, ErrNotFound) {
		return refuse(ErrCredentialNotFound, nil)
	}
	return err
}

// Purge deletes expired ceremonies (call it now and then) and returns how many.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	return s.store.PurgeCeremonies(ctx, s.clock())
}
