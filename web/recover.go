package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// ServerErrorPage answers a page request that failed inside the server (a
// panic, say): the "problem" page with status 500. Nothing of the failure is
// shown.
func ServerErrorPage(pages *Renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Abort()
		pages.Render(c.Writer, http.StatusInternalServerError, "problem", Page{Title: "Something went wrong", Area: "error",
			Error: "The page could not be shown. Please try again in a moment."})
	}
}
