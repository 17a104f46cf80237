package passkeys

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

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

var b64 = base64.RawURLEncoding

// softAuthenticator is a software WebAuthn authenticator and client in one:
// an ES256 key, "none" attestation, client data and authenticator data built
// by hand, the attestation object CBOR-encoded, signatures DER (as browsers
// send them). Its fields say what it answers; a gesture can override them.
type softAuthenticator struct {
	key    *ecdsa.PrivateKey
	id     []byte
	aaguid [16]byte
	// origin is the origin the "browser" reports; synced makes the key
	// backup-eligible and backed up (a synced passkey).
	origin string
	synced bool
	// count is the signature counter sent with the next assertion; each
	// assertion adds step to it first (step 0: a counter-less authenticator).
	count, step uint32
	// userHandle is the user.id of the registration options, sent back with
	// every assertion (as a discoverable credential does).
	userHandle []byte
}

func newSoftAuthenticator(tb testing.TB, origin string) *softAuthenticator {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		tb.Fatal(err)
	}
	return &softAuthenticator{key: k, id: id, origin: origin, step: 1,
		aaguid: [16]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}}
}

// credentialID is the authenticator's credential id as the service names it.
func (a *softAuthenticator) credentialID() string { return b64.EncodeToString(a.id) }

// gesture is what one ceremony answers; tests change it to forge responses.
type gesture struct {
	typ       string // client data type
	challenge string // client data challenge (the options' by default)
	origin    string
	rpID      string // hashed into the authenticator data (the options' rpId by default)
	flags     byte
	count     uint32
	badSig    bool // flip a bit of the signature
}

func (a *softAuthenticator) baseFlags() byte {
	f := byte(flagUP | flagUV)
	if a.synced {
		f |= flagBE | flagBS
	}
	return f
}

// coseKey is the credential public key, COSE_Key EC2 P-256 ES256, CTAP2 canonical CBOR.
func (a *softAuthenticator) coseKey(tb testing.TB) []byte {
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

func clientData(tb testing.TB, g gesture) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{"type": g.typ, "challenge": g.challenge, "origin": g.origin, "crossOrigin": false})
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

// create answers navigator.credentials.create(options) as a browser would,
// after edit (if any) changed the gesture.
func (a *softAuthenticator) create(tb testing.TB, options []byte, edit func(*gesture)) []byte {
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
	g := gesture{typ: "webauthn.create", challenge: o.Challenge, origin: a.origin, rpID: o.RP.ID, flags: a.baseFlags() | flagAT}
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
		"authData": authData(g.rpID, g.flags, g.count, attested)})
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

// get answers navigator.credentials.get(options) as a browser would, after
// edit (if any) changed the gesture.
func (a *softAuthenticator) get(tb testing.TB, options []byte, edit func(*gesture)) []byte {
	tb.Helper()
	var o struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		tb.Fatalf("request options: %v", err)
	}
	a.count += a.step
	g := gesture{typ: "webauthn.get", challenge: o.Challenge, origin: a.origin, rpID: o.RPID, flags: a.baseFlags(), count: a.count}
	if edit != nil {
		edit(&g)
	}
	ad := authData(g.rpID, g.flags, g.count, nil)
	cd := clientData(tb, g)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	if g.badSig {
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
