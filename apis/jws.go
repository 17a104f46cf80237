package apis

// UK Open Banking message signing (Read/Write API v3.1.11, "Message
// Signing"): the x-jws-signature header on the payment-initiation
// operations.
//
// Responses of every /pisp operation (domestic payment consents, their
// funds confirmation, domestic payments and their payment details: the
// operations whose responses declare x-jws-signature in the v3.1.11
// payment-initiation document, errors included) carry a detached JWS in
// compact form with an empty payload part, "header..signature", signed with
// the bank's active key (HandlerConfig.JWS.Keys, published at jwks_uri). The
// payload is not base64url-detached: b64 is absent (UK OB 3.1.4 and later),
// so the signature is over base64url(header) "." base64url(body bytes as
// sent). The protected header holds alg, kid, typ "JOSE", cty
// "application/json", http://openbanking.org.uk/iat (a number),
// http://openbanking.org.uk/iss (the authorization server's issuer URL: the
// one identifier of the bank a partner already trusts, from discovery),
// http://openbanking.org.uk/tan (the issuer's host, the trust anchor whose
// jwks_uri publishes the key) and crit listing exactly those three.
//
// Requests to POST /domestic-payment-consents and POST /domestic-payments may
// carry the same kind of signature from the partner; when present it is
// verified against the app's registered keys (jwks or jwks_uri): alg PS256
// or ES256, a kid naming a registered key, crit exactly the three claims, b64
// absent, iss equal to the app's client_id, tan present, iat not in the
// future and not older than JWSMaxAge. An app registered with "require
// signed requests" is refused without one.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// JWSHeader is the UK OB detached-signature header.
const JWSHeader = "x-jws-signature"

// The UK OB protected-header claims, all listed in crit.
const (
	JWSClaimIat = "http://openbanking.org.uk/iat"
	JWSClaimIss = "http://openbanking.org.uk/iss"
	JWSClaimTan = "http://openbanking.org.uk/tan"
)

// The UK OB error codes carried in a refusal's "ob_error_code" member.
const (
	OBSignatureInvalid      = "UK.OBIE.Signature.Invalid"
	OBSignatureMissing      = "UK.OBIE.Signature.Missing"
	OBSignatureInvalidClaim = "UK.OBIE.Signature.InvalidClaim"
)

// JWSMaxAge is how old a request signature's iat may be; JWSFutureLeeway how
// far in the future (clock skew).
const (
	JWSMaxAge       = 5 * time.Minute
	JWSFutureLeeway = 10 * time.Second
)

// JWSSigner gives the bank's active signing key for alg (PS256 or ES256) and
// its kid. Implemented by *keys.Manager (oauth/keys).
type JWSSigner interface {
	Signing(ctx context.Context, alg string) (kid string, key crypto.Signer, err error)
}

// ErrNoClientKey (oauth.ErrNoClientKey) is returned (wrapped) by a ClientKeys when the app has no
// registered key that fits the signature's kid and alg.
var ErrNoClientKey = oauth.ErrNoClientKey

// ClientKeys resolves partner apps' registered signing keys. Implemented by
// *oauth.Server (oauth/jwsclientkeys.go).
type ClientKeys interface {
	// ClientJWSKey returns the public key of clientID with that kid for alg,
	// or an error wrapping ErrNoClientKey.
	ClientJWSKey(ctx context.Context, clientID, alg, kid string) (crypto.PublicKey, error)
	// ClientRequiresSignedRequests reports whether the app must sign its
	// payment requests.
	ClientRequiresSignedRequests(ctx context.Context, clientID string) (bool, error)
}

// JWSConfig turns UK OB message signing on (HandlerConfig.JWS).
type JWSConfig struct {
	Signer JWSSigner
	// Alg signs responses: "PS256" (default, the UK OB algorithm) or "ES256".
	Alg string
	// Issuer is the authorization server's issuer URL: the iss of response
	// signatures; its host is their tan.
	Issuer  string
	Clients ClientKeys
	Now     func() time.Time
	Logger  *slog.Logger
}

type jwsEngine struct {
	cfg JWSConfig
	tan string
}

func newJWSEngine(cfg *JWSConfig) *jwsEngine {
	if cfg == nil {
		return nil
	}
	c := *cfg
	if c.Alg == "" {
		c.Alg = "PS256"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	tan := c.Issuer
	if u, err := url.Parse(c.Issuer); err == nil && u.Hostname() != "" {
		tan = u.Hostname()
	}
	return &jwsEngine{cfg: c, tan: tan}
}

var b64 = base64.RawURLEncoding

// SignDetached makes the UK OB detached JWS of body with key (PS256 or
// ES256): "header..signature".
func SignDetached(alg, kid string, key crypto.Signer, iat time.Time, iss, tan string, body []byte) (string, error) {
	hdr, err := json.Marshal(map[string]any{
		"alg": alg, "kid": kid, "typ": "JOSE", "cty": "application/json",
		JWSClaimIat: iat.Unix(), JWSClaimIss: iss, JWSClaimTan: tan,
		"crit": []string{JWSClaimIat, JWSClaimIss, JWSClaimTan},
	})
	if err != nil {
		return "", err
	}
	h := b64.EncodeToString(hdr)
	digest := sha256.Sum256([]byte(h + "." + b64.EncodeToString(body)))
	var sig []byte
	switch alg {
	case "PS256":
		sig, err = key.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case "ES256":
		var der []byte
		if der, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil {
			var rs struct{ R, S *big.Int }
			if _, err = asn1.Unmarshal(der, &rs); err == nil {
				sig = make([]byte, 64)
				rs.R.FillBytes(sig[:32])
				rs.S.FillBytes(sig[32:])
			}
		}
	default:
		return "", errors.New("apis: unsupported JWS alg " + alg)
	}
	if err != nil {
		return "", err
	}
	return h + ".." + b64.EncodeToString(sig), nil
}

// jwsWriter holds the whole response so that it can be signed before any
// byte is sent.
type jwsWriter struct {
	gin.ResponseWriter
	status  int
	written bool
	buf     bytes.Buffer
}

func (w *jwsWriter) WriteHeader(code int) {
	if code > 0 {
		w.status = code
	}
}
func (w *jwsWriter) WriteHeaderNow() { w.written = true }
func (w *jwsWriter) Status() int     { return w.status }
func (w *jwsWriter) Written() bool   { return w.written || w.buf.Len() > 0 }
func (w *jwsWriter) Size() int       { return w.buf.Len() }
func (w *jwsWriter) Flush()          {}
func (w *jwsWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.buf.Write(b)
}
func (w *jwsWriter) WriteString(s string) (int, error) {
	w.written = true
	return w.buf.WriteString(s)
}

// signResponses adds x-jws-signature to every response below it. A signing
// failure is logged and the response goes out unsigned: the operation has
// happened (a payment may have been made) and must still be reported.
func (h *Handler) signResponses() gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.jws == nil {
			c.Next()
			return
		}
		w := &jwsWriter{ResponseWriter: c.Writer, status: http.StatusOK}
		c.Writer = w
		c.Next()
		c.Writer = w.ResponseWriter
		if !w.Written() {
			return
		}
		e := h.jws
		ctx := c.Request.Context()
		body := w.buf.Bytes()
		kid, key, err := e.cfg.Signer.Signing(ctx, e.cfg.Alg)
		if err == nil {
			var sig string
			if sig, err = SignDetached(e.cfg.Alg, kid, key, e.cfg.Now(), e.cfg.Issuer, e.tan, body); err == nil {
				c.Writer.Header().Set(JWSHeader, sig)
			}
		}
		if err != nil {
			e.cfg.Logger.ErrorContext(ctx, "apis: sign response", "err", err)
		}
		c.Writer.WriteHeader(w.status)
		if len(body) > 0 {
			_, _ = c.Writer.Write(body)
		} else {
			c.Writer.WriteHeaderNow()
		}
	}
}

func jwsRefusal(ob string, format string, args ...any) *problem.Error {
	return problem.New(problem.CodeInvalidJWSSignature, format, args...).With("ob_error_code", ob)
}

// verifyRequestSignature checks a request's x-jws-signature (see the file
// comment); without one it refuses only apps that must sign.
func (h *Handler) verifyRequestSignature() gin.HandlerFunc {
	return func(c *gin.Context) {
		if h.jws == nil {
			c.Next()
			return
		}
		clientID := accessOf(c).ClientID
		ctx := c.Request.Context()
		sig := c.GetHeader(JWSHeader)
		if sig == "" {
			must, err := h.jws.cfg.Clients.ClientRequiresSignedRequests(ctx, clientID)
			if err != nil {
				abort(c, err)
				return
			}
			if must {
				abort(c, jwsRefusal(OBSignatureMissing, "this app must sign its requests: the %s header is required", JWSHeader))
				return
			}
			c.Next()
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, httpx.MaxBody+1))
		if err != nil {
			abort(c, problem.New(problem.CodeMalformedJSON, "cannot read the request body"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		if err := h.jws.verify(ctx, clientID, sig, body); err != nil {
			abort(c, err)
			return
		}
		c.Next()
	}
}

func (e *jwsEngine) verify(ctx context.Context, clientID, sig string, body []byte) error {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" || parts[0] == "" || parts[2] == "" {
		return jwsRefusal(OBSignatureInvalid, "%s must be a detached JWS in compact form (header..signature)", JWSHeader)
	}
	raw, err := b64.DecodeString(parts[0])
	var hdr map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &hdr)
	}
	if err != nil || hdr == nil {
		return jwsRefusal(OBSignatureInvalid, "the %s protected header is not base64url-encoded JSON", JWSHeader)
	}
	str := func(name string) (string, bool) {
		var s string
		v, ok := hdr[name]
		return s, ok && json.Unmarshal(v, &s) == nil
	}
	alg, _ := str("alg")
	if alg != "PS256" && alg != "ES256" {
		return jwsRefusal(OBSignatureInvalidClaim, "alg %q is not allowed: sign with PS256 or ES256", alg)
	}
	if _, ok := hdr["b64"]; ok {
		return jwsRefusal(OBSignatureInvalidClaim, "b64 must be absent: the payload is signed as is (UK OB 3.1.4 and later)")
	}
	kid, ok := str("kid")
	if !ok || kid == "" {
		return jwsRefusal(OBSignatureInvalidClaim, "kid is required and must name a key of the app's registered JWK Set")
	}
	if v, ok := hdr["typ"]; ok {
		if s, _ := str("typ"); s != "JOSE" || v == nil {
			return jwsRefusal(OBSignatureInvalidClaim, "typ must be \"JOSE\"")
		}
	}
	if _, ok := hdr["cty"]; ok {
		if s, _ := str("cty"); s != "application/json" && s != "json" {
			return jwsRefusal(OBSignatureInvalidClaim, "cty must be \"application/json\"")
		}
	}
	var crit []string
	want := []string{JWSClaimIat, JWSClaimIss, JWSClaimTan}
	if v, ok := hdr["crit"]; !ok || json.Unmarshal(v, &crit) != nil || !sameSet(crit, want) {
		return jwsRefusal(OBSignatureInvalidClaim, "crit must list exactly %s, %s and %s", JWSClaimIat, JWSClaimIss, JWSClaimTan)
	}
	var iatNum json.Number
	dec := json.NewDecoder(bytes.NewReader(hdr[JWSClaimIat]))
	dec.UseNumber()
	iatF, errIat := float64(0), dec.Decode(&iatNum)
	if errIat == nil {
		iatF, errIat = iatNum.Float64()
	}
	if errIat != nil {
		return jwsRefusal(OBSignatureInvalidClaim, "%s must be a number (seconds since the epoch)", JWSClaimIat)
	}
	iat := time.Unix(int64(iatF), 0)
	now := e.cfg.Now()
	if iat.After(now.Add(JWSFutureLeeway)) {
		return jwsRefusal(OBSignatureInvalidClaim, "%s is in the future", JWSClaimIat)
	}
	if iat.Before(now.Add(-JWSMaxAge)) {
		return jwsRefusal(OBSignatureInvalidClaim, "%s is more than %s old", JWSClaimIat, JWSMaxAge)
	}
	if iss, _ := str(JWSClaimIss); iss != clientID {
		return jwsRefusal(OBSignatureInvalidClaim, "%s must be the app's client_id %q", JWSClaimIss, clientID)
	}
	if tan, _ := str(JWSClaimTan); tan == "" {
		return jwsRefusal(OBSignatureInvalidClaim, "%s must name the trust anchor", JWSClaimTan)
	}
	pub, err := e.cfg.Clients.ClientJWSKey(ctx, clientID, alg, kid)
	if errors.Is(err, ErrNoClientKey) {
		return jwsRefusal(OBSignatureInvalid, "no registered key of the app has kid %q for %s", kid, alg)
	}
	if err != nil {
		return err
	}
	s, err := b64.DecodeString(parts[2])
	if err != nil || !verifySig(alg, pub, parts[0]+"."+b64.EncodeToString(body), s) {
		return jwsRefusal(OBSignatureInvalid, "the signature does not verify over the request body with key %q", kid)
	}
	return nil
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

func verifySig(alg string, pub crypto.PublicKey, input string, sig []byte) bool {
	digest := sha256.Sum256([]byte(input))
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return alg == "PS256" && rsa.VerifyPSS(k, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	case *ecdsa.PublicKey:
		if alg != "ES256" || len(sig) != 64 {
			return false
		}
		return ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	return false
}
