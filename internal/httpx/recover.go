package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// Recover turns a panic in a later handler into a logged failure and a 500
// answered by answer (each surface answers in its own form: problem+json,
// RFC 6749 JSON, an HTML page); the server keeps serving. err describes the
// panic (for the log, never for the caller). When the handler had already
// started its response nothing more is written. http.ErrAbortHandler is
// re-raised, as net/http expects.
func Recover(log *slog.Logger, answer func(c *gin.Context, err error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if e, ok := v.(error); ok && errors.Is(e, http.ErrAbortHandler) {
				panic(v)
			}
			log.ErrorContext(c.Request.Context(), "panic serving request", "method", c.Request.Method,
				"path", c.Request.URL.Path, "interaction_id", InteractionIDOf(c), "panic", v, "stack", string(debug.Stack()))
			c.Abort()
			if c.Writer.Written() {
				return
			}
			answer(c, fmt.Errorf("panic: %v", v))
		}()
		c.Next()
	}
}

// OAuthServerError answers an OAuth endpoint's own failure the RFC 6749
// §5.2 way: 500 with {"error":"server_error"}, never cached.
func OAuthServerError(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "server_error"})
}
