// Package passkeystest is a software WebAuthn authenticator and client in
// one, for the tests of passkey ceremonies (oauth/passkeys' own and other
// packages'): an ES256 key, "none" attestation, client
// data and authenticator data built by hand, the attestation object
// CBOR-encoded, signatures DER (as browsers send them). Real crypto: the
// relying party verifies what it answers as it would a browser's.
package passkeystest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator data flags (WebAuthn §6.1), for a Gesture's Flags.
const (
	FlagUP = 0x01
	FlagUV = 0x04
	FlagBE = 0x08
	FlagBS = 0x10
	FlagAT = 0x40
)

var b64 = base64.RawURLEncoding

// Authenticator is one passkey on a software authenticator. Its fields say
// what it answers; a Gesture can override them for one ceremony.
type Authenticator struct {
	key    *ecdsa.PrivateKey
	id     []byte
	aaguid [16]byte
	// Origin is the origin the "browser" reports.
	Origin string
	// Synced makes the key backup-eligible and backed up (a synced
	// passkey: amr swk); otherwise it is device-bound (amr hwk).
	Synced bool
	// Count is the signature counter sent with the last assertion; each
	// assertion adds Step to it first (Step 0: a counter-less
	// authenticator).
	Count, Step uint32
	userHandle  []byte
}

// New returns an authenticator with a fresh key whose browser reports
// origin, counting signatures by 1.
func New(tb testing.TB, origin string) *Authenticator {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		tb.Fatal(err)
	}
	return &Authenticator{key: k, id: id, Origin: origin, Step: 1,
		aaguid: [16]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}}
}

// CredentialID is the credential id, base64url without padding.
func (a *Authenticator) CredentialID() string { return b64.EncodeToString(a.id) }

// AAGUID is the authenticator's AAGUID (the model it claims).
func (a *Authenticator) AAGUID() []byte { return a.aaguid[:] }

// COSEKey is the credential's public key as the attestation carries it
// (COSE_Key, CBOR).
func (a *Authenticator) COSEKey(tb testing.TB) []byte { return a.coseKey(tb) }

// Gesture is what one ceremony answers; tests change it to forge responses.
type Gesture struct {
	Type      string // client data type
	Challenge string // client data challenge (the options' by default)
	Origin    string
	RPID      string // hashed into the authenticator data (the options' rpId by default)
	Flags     byte
	Count     uint32
	BadSig    bool // flip a bit of the signature
}

func (a *Authenticator) baseFlags() byte {
	f := byte(FlagUP | FlagUV)
	if a.Synced {
		f |= FlagBE | FlagBS
	}
	return f
}

// coseKey is the credential public key, COSE_Key EC2 P-256 ES256, CTAP2 canonical CBOR.
func (a *Authenticator) coseKey(tb testing.TB) []byte {
	tb.Helper()
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		tb.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 ‖ X ‖ Y
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func clientData(tb testing.TB, g Gesture) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"type": g.Type, "challenge": g.Challenge, "origin": g.Origin, "crossOrigin": false})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func authData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// Create answers navigator.credentials.create(options) (the
// PublicKeyCredentialCreationOptionsJSON) as a browser would, after edit
// (if any) changed the gesture: the RegistrationResponseJSON.
func (a *Authenticator) Create(tb testing.TB, options []byte, edit func(*Gesture)) []byte {
	tb.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		tb.Fatalf("creation options: %v", err)
	}
	uh, err := b64.DecodeString(o.User.ID)
	if err != nil {
		tb.Fatalf("creation options: user.id: %v", err)
	}
	a.userHandle = uh
	g := Gesture{Type: "webauthn.create", Challenge: o.Challenge, Origin: a.Origin, RPID: o.RP.ID, Flags: a.baseFlags() | FlagAT}
	if edit != nil {
		edit(&g)
	}
	attested := append([]byte{}, a.aaguid[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.id)))
	attested = append(attested, a.id...)
	attested = append(attested, a.coseKey(tb)...)
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		tb.Fatal(err)
	}
	att, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": authData(g.RPID, g.Flags, g.Count, attested)})
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData(tb, g)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"hybrid", "internal"},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}

// Get answers navigator.credentials.get(options) (the
// PublicKeyCredentialRequestOptionsJSON) as a browser would, after edit (if
// any) changed the gesture: the AuthenticationResponseJSON.
func (a *Authenticator) Get(tb testing.TB, options []byte, edit func(*Gesture)) []byte {
	tb.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		tb.Fatalf("request options: %v", err)
	}
	a.Count += a.Step
	g := Gesture{Type: "webauthn.get", Challenge: o.Challenge, Origin: a.Origin, RPID: o.RPID, Flags: a.baseFlags(), Count: a.Count}
	if edit != nil {
		edit(&g)
	}
	ad := authData(g.RPID, g.Flags, g.Count, nil)
	cd := clientData(tb, g)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	if g.BadSig {
		sig[len(sig)-1] ^= 1
	}
	resp, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(a.id), "rawId": b64.EncodeToString(a.id), "type": "public-key",
		"authenticatorAttachment": "platform", "clientExtensionResults": map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(a.userHandle),
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}
