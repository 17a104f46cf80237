package webhooks

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// ScopeWebhooks is the OAuth scope the partner webhook API requires.
const ScopeWebhooks = "webhooks"

// Authenticator verifies a resource request's DPoP-bound access token
// (oauth.ResourceVerifier satisfies it). Its refusals are *oauth.ResourceError.
type Authenticator interface {
	VerifyRequest(ctx context.Context, r *http.Request) (*oauth.AccessContext, error)
}

// Handler serves the partner webhook API.
type Handler struct {
	s    *Service
	auth Authenticator
}

// NewHandler makes the partner API handler.
func NewHandler(s *Service, auth Authenticator) *Handler { return &Handler{s: s, auth: auth} }

// Register mounts the routes on r:
//
//	GET    /webhooks/public-keys                       (no auth) Ed25519 public keys
//	POST   /webhook-endpoints                          create (secret shown once)
//	GET    /webhook-endpoints                          list
//	GET    /webhook-endpoints/{id}                     get
//	PATCH  /webhook-endpoints/{id}                     update
//	DELETE /webhook-endpoints/{id}                     delete
//	POST   /webhook-endpoints/{id}/rotate-secret       rotate (new secret shown once)
//	POST   /webhook-endpoints/{id}/test                send a webhook.test event
//	POST   /webhook-endpoints/{id}/replay              replay a time range
//	GET    /webhook-endpoints/{id}/attempts            delivery log
//
// The /webhook-endpoints routes need a client_credentials DPoP token with
// scope "webhooks"; endpoints belong to the calling app.
func (h *Handler) Register(r gin.IRouter) {
	r.GET("/webhooks/public-keys", h.publicKeys)
	g := r.Group("/webhook-endpoints", h.authenticate)
	g.POST("", h.create)
	g.GET("", h.list)
	g.GET("/:id", h.get)
	g.PATCH("/:id", h.update)
	g.DELETE("/:id", h.delete)
	g.POST("/:id/rotate-secret", h.rotate)
	g.POST("/:id/test", h.test)
	g.POST("/:id/replay", h.replay)
	g.GET("/:id/attempts", h.attempts)
}

const accessKey = "bankbridge.webhooks.access"

func (h *Handler) authenticate(c *gin.Context) {
	ac, err := h.auth.VerifyRequest(c.Request.Context(), c.Request)
	if err != nil {
		var re *oauth.ResourceError
		if errors.As(err, &re) {
			oauth.AbortResource(c, re)
			return
		}
		httpx.Abort(c, err)
		return
	}
	if !ac.HasScope(ScopeWebhooks) {
		oauth.AbortResource(c, oauth.InsufficientScope(ScopeWebhooks))
		return
	}
	if ac.CustomerID != "" {
		httpx.Abort(c, problem.New(problem.CodeForbidden, "webhook endpoints are managed with a client_credentials token, not a customer's token"))
		return
	}
	c.Set(accessKey, ac)
	c.Next()
}

func (h *Handler) scope(c *gin.Context) (Scope, environment.Environment) {
	ac := c.MustGet(accessKey).(*oauth.AccessContext)
	return Scope{PartnerID: ac.PartnerID, AppID: ac.ClientID, Actor: ac.ClientID, InteractionID: httpx.InteractionIDOf(c)}, ac.Environment
}

// endpointResponse is an endpoint, plus its new secret right after a create or
// a rotation (never otherwise).
type endpointResponse struct {
	Endpoint
	Secret string `json:"secret,omitempty"`
}

func (h *Handler) create(c *gin.Context) {
	sc, env := h.scope(c)
	var in EndpointInput
	if err := httpx.DecodeJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	e, creds, err := h.s.CreateEndpoint(c.Request.Context(), sc, env, in)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Location", "webhook-endpoints/"+e.ID)
	c.JSON(http.StatusCreated, endpointResponse{Endpoint: *e, Secret: creds.Secret})
}

func (h *Handler) list(c *gin.Context) {
	sc, _ := h.scope(c)
	es, err := h.s.ListEndpoints(c.Request.Context(), sc)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"data": es})
}

func (h *Handler) get(c *gin.Context) {
	sc, _ := h.scope(c)
	e, err := h.s.GetEndpoint(c.Request.Context(), sc, c.Param("id"))
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (h *Handler) update(c *gin.Context) {
	sc, _ := h.scope(c)
	var p EndpointPatch
	if err := httpx.DecodeJSON(c, &p); err != nil {
		httpx.Abort(c, err)
		return
	}
	e, err := h.s.UpdateEndpoint(c.Request.Context(), sc, c.Param("id"), p)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

func (h *Handler) delete(c *gin.Context) {
	sc, _ := h.scope(c)
	if err := h.s.DeleteEndpoint(c.Request.Context(), sc, c.Param("id")); err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// rotateRequest is the optional body of rotate-secret.
type rotateRequest struct {
	// OverlapSeconds is how long the previous secret keeps signing (default
	// 86400; 0 stops it at once).
	OverlapSeconds *int64 `json:"overlap_seconds"`
}

func (h *Handler) rotate(c *gin.Context) {
	sc, _ := h.scope(c)
	var in rotateRequest
	if c.Request.ContentLength != 0 {
		if err := httpx.DecodeJSON(c, &in); err != nil {
			httpx.Abort(c, err)
			return
		}
	}
	overlap := time.Duration(-1)
	if in.OverlapSeconds != nil {
		if *in.OverlapSeconds < 0 || *in.OverlapSeconds > int64(MaxRotationOverlap/time.Second) {
			httpx.Abort(c, problem.New(problem.CodeValidation, "overlap_seconds must be between 0 and %d", int64(MaxRotationOverlap/time.Second)))
			return
		}
		overlap = time.Duration(*in.OverlapSeconds) * time.Second
	}
	e, creds, err := h.s.RotateSecret(c.Request.Context(), sc, c.Param("id"), overlap)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, endpointResponse{Endpoint: *e, Secret: creds.Secret})
}

func (h *Handler) test(c *gin.Context) {
	sc, _ := h.scope(c)
	id, err := h.s.SendTest(c.Request.Context(), sc, c.Param("id"))
	if err != nil {
		abortLimited(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"event_id": id})
}

// abortLimited renders err, with Retry-After when it is a replay limit's
// rate_limited refusal (429).
func abortLimited(c *gin.Context, err error) {
	if d, ok := RetryAfter(err); ok {
		c.Header("Retry-After", strconv.FormatInt(int64(d/time.Second), 10))
	}
	httpx.Abort(c, err)
}

// replayRequest is the body of replay.
type replayRequest struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	FailedOnly bool      `json:"failed_only"`
}

func (h *Handler) replay(c *gin.Context) {
	sc, _ := h.scope(c)
	var in replayRequest
	if err := httpx.DecodeJSON(c, &in); err != nil {
		httpx.Abort(c, err)
		return
	}
	n, err := h.s.ReplayRange(c.Request.Context(), sc, c.Param("id"), in.From, in.To, in.FailedOnly)
	if err != nil {
		abortLimited(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"queued": n})
}

func (h *Handler) attempts(c *gin.Context) {
	sc, _ := h.scope(c)
	f := AttemptFilter{AppID: sc.AppID, EventID: c.Query("event_id")}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			httpx.Abort(c, problem.New(problem.CodeInvalidRequest, "limit must be an integer between 1 and 500"))
			return
		}
		f.Limit = n
	}
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			httpx.Abort(c, problem.New(problem.CodeInvalidRequest, "before must be a positive attempt id"))
			return
		}
		f.Before = n
	}
	switch c.Query("failed") {
	case "", "false":
	case "true":
		f.FailedOnly = true
	default:
		httpx.Abort(c, problem.New(problem.CodeInvalidRequest, "failed must be true or false"))
		return
	}
	as, err := h.s.Attempts(c.Request.Context(), sc.PartnerID, c.Param("id"), f)
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	out := gin.H{"data": as}
	if len(as) > 0 && (f.Limit == 0 && len(as) == 50 || len(as) == f.Limit) {
		out["next_before"] = as[len(as)-1].ID
	}
	c.JSON(http.StatusOK, out)
}

func (h *Handler) publicKeys(c *gin.Context) {
	keys, err := h.s.PublicKeys(c.Request.Context())
	if err != nil {
		httpx.Abort(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, gin.H{"keys": keys})
}
