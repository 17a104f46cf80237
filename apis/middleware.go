package apis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// The chain every partner call passes, in order (see Register):
//
//	interaction id → metering + request log (acts after the chain below and
//	holds its response until both rows are committed, so it sees every
//	refusal below) → token + DPoP → scope → consent (status,
//	permission, account) → idempotency (POST) → handler; with
//	HandlerConfig.Quota the quota step (rate limit, monthly volume) runs
//	right after scope.

// Header names.
const (
	IdempotencyHeader = "x-idempotency-key"
	ReplayHeader      = "x-idempotent-replay"
)

// Products metered.
const (
	ProductAccounts    = "accounts"
	ProductPayments    = "payments"
	ProductConsents    = "consents"
	ProductDataSharing = "data_sharing"
)

// Usage kinds.
const (
	KindCall    = "call"
	KindPayment = "payment"
)

const (
	keyAccess  = "apis.access"
	keyConsent = "apis.consent"
	keyProduct = "apis.product"
	keyAmount  = "apis.payment_amount"
	keyReplay  = "apis.replay"
	keyProblem = "apis.problem"
	keyClaim   = "apis.proof_claim"
)

func accessOf(c *gin.Context) *oauth.AccessContext {
	if v, ok := c.Get(keyAccess); ok {
		return v.(*oauth.AccessContext)
	}
	return nil
}

func consentOf(c *gin.Context) *Consent {
	v, _ := c.Get(keyConsent)
	return v.(*Consent)
}

// actorOf is the calling client (partner app), for the audit trail.
func actorOf(c *gin.Context) Actor {
	return Actor{Type: audit.ActorPartner, ID: accessOf(c).ClientID, InteractionID: httpx.InteractionIDOf(c)}
}

// abort renders err as problem+json, remembering its code for the request log.
func abort(c *gin.Context, err error) {
	c.Set(keyProblem, string(problem.CodeOf(err)))
	httpx.Abort(c, err)
}

func (h *Handler) product(p string) gin.HandlerFunc {
	return func(c *gin.Context) { c.Set(keyProduct, p) }
}

// meter writes the request log entry and the UsageRecord of every request,
// then answers it: the response the chain below writes is held until both
// rows are committed (see meter.go), so a call answered 2xx keeps its usage
// record through a crash right after. Only requests whose token was
// verified are logged, attributed to its partner and app: a request without
// a valid token has no partner to show it to, and logging it would let
// anyone write rows. What is stored is bounded: the path (escaped, without
// the query string) is cut to MaxLoggedPath bytes, and nothing else comes
// from the request unbounded (the method is the matched route's, the
// interaction id a UUID, the problem type a code).
//
// When the rows cannot be written a 2xx is answered 503 (CodeBusy, with
// Retry-After) instead, and any other answer goes out as it is (the
// failure is logged). A panic below drops the held response; the
// platform's recovery answers it, unmetered as before.
func (h *Handler) meter() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		out := c.Writer
		w := newHeldWriter(out)
		c.Writer = w
		defer func() { c.Writer = out }() // also after a panic (w is then not reused)
		c.Next()
		c.Writer = out
		ac := accessOf(c)
		if ac == nil {
			w.release()
			w.free()
			return
		}
		status := w.Status()
		ctx := context.WithoutCancel(c.Request.Context())
		j := &callJob{}
		j.log = RequestLogEntry{At: start.UTC(), Method: c.Request.Method, Path: boundPath(c.Request.URL.EscapedPath()), Status: status,
			LatencyUS: time.Since(start).Microseconds(), InteractionID: httpx.InteractionIDOf(c),
			ProblemType: c.GetString(keyProblem),
			ClientID:    ac.ClientID, PartnerID: ac.PartnerID, Environment: ac.Environment}
		j.usage = UsageRecord{Key: ids.New("use"), PartnerID: ac.PartnerID, AppID: ac.ClientID, Environment: ac.Environment,
			Product: c.GetString(keyProduct), Kind: KindCall, Status: status, At: start.UTC(),
			Billable: status >= 200 && status < 300 && !c.GetBool(keyReplay)}
		if v, ok := c.Get(keyAmount); ok {
			j.usage.Kind, j.usage.Amount = KindPayment, v.(money.Money)
		}
		if v, ok := c.Get(keyClaim); ok {
			j.claim = v.(*oauth.ProofClaim)
		}
		if h.quota != nil && j.claim == nil {
			h.quota.count(ctx, j.usage)
		}
		err := h.meters.Submit(ctx, j)
		if j.err != nil {
			err = j.err
		}
		switch {
		case err == nil && j.refused != nil:
			// The proof was replayed: the call is answered as VerifyRequest
			// answers a replay, and recorded nowhere (as then).
			w.free()
			answerReplayed(c, j.refused)
			return
		case err == nil:
			if h.quota != nil && j.claim != nil {
				h.quota.count(ctx, j.usage)
			}
		case status >= 200 && status < 300:
			h.svc.log.ErrorContext(ctx, "apis: metering failed; answered 503 instead of the call's success", "err", err, "status", status)
			w.free()
			answerUnrecorded(c)
			return
		default:
			h.svc.log.ErrorContext(ctx, "apis: metering failed", "err", err, "status", status)
		}
		w.release()
		w.free()
	}
}

// MaxLoggedPath is the most bytes of a request path the request log keeps;
// a longer path is cut (on a character boundary) and ends with "…".
const MaxLoggedPath = 512

// boundPath cuts p to at most MaxLoggedPath bytes of valid UTF-8.
func boundPath(p string) string {
	if len(p) <= MaxLoggedPath && utf8.ValidString(p) {
		return p
	}
	const ellipsis = "…"
	p = strings.ToValidUTF8(p, "\uFFFD")
	if len(p) <= MaxLoggedPath {
		return p
	}
	cut := MaxLoggedPath - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + ellipsis
}

// renderResourceError answers a token/DPoP refusal as every partner API
// does (oauth.AbortResource), remembering its code for the request log.
func renderResourceError(c *gin.Context, re *oauth.ResourceError) {
	c.Set(keyProblem, string(oauth.AbortResource(c, re)))
}

// authenticate verifies the DPoP-bound access token and its proof. A GET
// (no side effects) whose response is not signed leaves the recording of
// its proof's id to meter, which records it in the transaction that records
// the call (see meter.go); every other request records it here.
func (h *Handler) authenticate() gin.HandlerFunc {
	return func(c *gin.Context) {
		var (
			ac    *oauth.AccessContext
			claim *oauth.ProofClaim
			err   error
		)
		if h.deferring != nil && c.Request.Method == http.MethodGet && !strings.HasPrefix(c.FullPath(), BasePath+"/pisp/") {
			ac, claim, err = h.deferring.VerifyRequestDeferred(c.Request.Context(), c.Request)
		} else {
			ac, err = h.verifier.VerifyRequest(c.Request.Context(), c.Request)
		}
		if err != nil {
			var re *oauth.ResourceError
			if errors.As(err, &re) {
				renderResourceError(c, re)
				return
			}
			abort(c, err)
			return
		}
		c.Set(keyAccess, ac)
		if claim != nil {
			c.Set(keyClaim, claim)
		}
	}
}

// scope requires the token to carry scope s.
func (h *Handler) scope(s string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !accessOf(c).HasScope(s) {
			renderResourceError(c, oauth.InsufficientScope(s))
		}
	}
}

// clientOnly requires a client_credentials token (no customer).
func (h *Handler) clientOnly() gin.HandlerFunc {
	return func(c *gin.Context) {
		if accessOf(c).CustomerID != "" {
			abort(c, problem.New(problem.CodeForbidden, "this endpoint needs a client_credentials access token"))
		}
	}
}

// consent loads the token's consent of type typ (customer tokens only) and
// requires one of perms (none: no permission check).
func (h *Handler) consent(typ string, allowConsumed bool, perms ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ac := accessOf(c)
		if ac.CustomerID == "" {
			abort(c, problem.New(problem.CodeForbidden, "this endpoint needs an access token the customer authorised"))
			return
		}
		cons, err := h.svc.UsableConsent(c.Request.Context(), ac, typ, allowConsumed)
		if err != nil {
			abort(c, err)
			return
		}
		if len(perms) > 0 {
			ok := false
			for _, p := range perms {
				ok = ok || cons.HasPermission(p)
			}
			if !ok {
				abort(c, problem.New(problem.CodePermissionMissing, "consent %s lacks permission %s", cons.ID, strings.Join(perms, " or ")))
				return
			}
		}
		c.Set(keyConsent, cons)
	}
}

// accountInConsent requires the :AccountId to be bound to the consent. The
// customer's other accounts answer CodeAccountNotInConsent; anything else is
// not found.
func (h *Handler) accountInConsent() gin.HandlerFunc {
	return func(c *gin.Context) {
		cons, id := consentOf(c), c.Param("AccountId")
		if cons.HasAccount(id) {
			return
		}
		if _, err := h.svc.customerAccount(c.Request.Context(), cons.Environment, cons.CustomerID, id); err != nil {
			abort(c, err)
			return
		}
		abort(c, problem.New(problem.CodeAccountNotInConsent, "account %s is not covered by consent %s", id, cons.ID))
	}
}

// captureWriter keeps a copy of the response body.
type captureWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}

// IdempotencyTTL is how long a key's response is replayed.
const IdempotencyTTL = 24 * time.Hour

// idempotent makes a POST execute at most once per (partner, environment,
// key): the INSERT of the key row is the lock; whoever loses it replays the
// stored response (waiting while the first is in flight) or is refused when
// the body differs. A sandbox key never answers a production request.
//
// required is true exactly where UK OB v3.1.11 lists x-idempotency-key as a
// required parameter (payment consents and payments); elsewhere the header is
// optional, and honoured the same way when sent (a POST without it simply
// runs). The Bankbridge data-sharing consent follows the account-access
// consent it resembles: optional.
func (h *Handler) idempotent(required bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(IdempotencyHeader)
		if key == "" && !required {
			c.Next()
			return
		}
		if key == "" {
			abort(c, problem.New(problem.CodeIdempotencyKeyMissing, "the %s header is required on %s %s", IdempotencyHeader, c.Request.Method, c.FullPath()))
			return
		}
		if len(key) > 40 || strings.TrimSpace(key) != key {
			abort(c, problem.New(problem.CodeInvalidRequest, "%s must be 1 to 40 characters without surrounding spaces", IdempotencyHeader))
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, httpx.MaxBody+1))
		if err != nil {
			abort(c, problem.New(problem.CodeMalformedJSON, "cannot read the request body"))
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.New()
		sum.Write([]byte(c.Request.Method + "\n" + c.Request.URL.Path + "\n"))
		sum.Write(body)
		ac := accessOf(c)
		ctx := c.Request.Context()
		rec := &IdempotencyRecord{PartnerID: ac.PartnerID, Environment: ac.Environment, Key: key,
			RequestHash: hex.EncodeToString(sum.Sum(nil)), CreatedAt: h.svc.now()}
		err = h.svc.store.ClaimKey(ctx, rec, rec.CreatedAt.Add(-IdempotencyTTL))
		if errors.Is(err, ErrKeyTaken) {
			h.replay(c, rec)
			return
		}
		if err != nil {
			abort(c, err)
			return
		}
		w := &captureWriter{ResponseWriter: c.Writer}
		c.Writer = w
		bg := context.WithoutCancel(ctx)
		defer func() {
			if v := recover(); v != nil {
				// The handler panicked (the platform's recovery answers 500):
				// free the key as after any 5xx, so a retry runs.
				c.Writer = w.ResponseWriter
				if err := h.svc.store.ReleaseKey(bg, rec.PartnerID, rec.Environment, rec.Key); err != nil {
					h.svc.log.ErrorContext(bg, "apis: release idempotency key", "err", err)
				}
				panic(v)
			}
		}()
		c.Next()
		c.Writer = w.ResponseWriter
		if w.Status() >= 500 {
			if err := h.svc.store.ReleaseKey(bg, rec.PartnerID, rec.Environment, rec.Key); err != nil {
				h.svc.log.ErrorContext(bg, "apis: release idempotency key", "err", err)
			}
			return
		}
		rec.ResponseStatus, rec.ResponseType, rec.ResponseBody = w.Status(), w.Header().Get("Content-Type"), w.buf.Bytes()
		if err := h.svc.store.FinishKey(bg, rec); err != nil {
			h.svc.log.ErrorContext(bg, "apis: finish idempotency key", "err", err)
		}
	}
}

func (h *Handler) replay(c *gin.Context, want *IdempotencyRecord) {
	ctx := c.Request.Context()
	deadline := time.Now().Add(h.wait)
	for {
		got, err := h.svc.store.Key(ctx, want.PartnerID, want.Environment, want.Key)
		if errors.Is(err, ErrNotFound) { // the first attempt failed and released it
			abort(c, problem.New(problem.CodeIdempotencyInFlight, "a request with %s %q failed; retry it", IdempotencyHeader, want.Key))
			return
		}
		if err != nil {
			abort(c, err)
			return
		}
		if got.RequestHash != want.RequestHash {
			abort(c, problem.New(problem.CodeIdempotencyKeyReused, "%s %q was used with a different request", IdempotencyHeader, want.Key))
			return
		}
		if got.Status == KeyDone {
			c.Set(keyReplay, true)
			if strings.HasPrefix(got.ResponseType, problem.MediaType) {
				var b struct{ Code string }
				if json.Unmarshal(got.ResponseBody, &b) == nil {
					c.Set(keyProblem, b.Code)
				}
			}
			c.Header(ReplayHeader, "true")
			c.Data(got.ResponseStatus, got.ResponseType, got.ResponseBody)
			c.Abort()
			return
		}
		if time.Now().After(deadline) {
			abort(c, problem.New(problem.CodeIdempotencyInFlight, "a request with %s %q is still in progress; retry later", IdempotencyHeader, want.Key))
			return
		}
		select {
		case <-ctx.Done():
			abort(c, ctx.Err())
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
