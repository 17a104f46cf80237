package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// NotFoundPage is the answer to an unknown page path: the "problem" page with
// status 404. The platform's router uses it for every path outside the
// partner APIs, and loopbackOnly refuses with it, so a refused route looks
// exactly like one that does not exist.
func NotFoundPage(pages *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Abort()
		pages.Render(c.Writer, http.StatusNotFound, "problem", Page{Title: "Not found", Area: "error",
			Error: "There is no page at this address."})
	}
}

// MethodNotAllowedPage answers a page path that exists for other methods
// (the router has set the Allow header): the "problem" page with status 405.
func MethodNotAllowedPage(pages *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Abort()
		pages.Render(c.Writer, http.StatusMethodNotAllowed, "problem", Page{Title: "Method not allowed", Area: "error",
			Error: "This page does not accept " + c.Request.Method + " requests."})
	}
}
