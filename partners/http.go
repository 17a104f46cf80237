package partners

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxRegistrationBody bounds a registration request body.
const maxRegistrationBody = 64 << 10

// MountRegistration mounts the RFC 7591 registration endpoint and the RFC 7592
// client configuration endpoint on r:
//
//	POST   /register              (Authorization: Bearer <initial access token>)
//	GET    /register/:client_id   (Authorization: Bearer <registration access token>)
//	PUT    /register/:client_id
//	DELETE /register/:client_id
//
// Errors are RFC 7591 JSON: {"error": …, "error_description": …}.
func (s *Service) MountRegistration(r gin.IRouter) {
	r.POST("/register", s.handleRegister)
	r.GET("/register/:client_id", s.handleReadClient)
	r.PUT("/register/:client_id", s.handleUpdateClient)
	r.DELETE("/register/:client_id", s.handleDeleteClient)
}

func writeRegistrationError(c *gin.Context, err error) {
	re := asRegistrationError(err)
	if re.Status >= 500 {
		c.Error(err)
	}
	if re.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+strings.ReplaceAll(re.Description, `"`, `'`)+`"`)
	}
	noStore(c)
	c.AbortWithStatusJSON(re.Status, gin.H{"error": re.Code, "error_description": re.Description})
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

func bearer(c *gin.Context) (string, error) {
	h := c.GetHeader("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", regErr(http.StatusUnauthorized, ErrInvalidToken, "a Bearer token is required in the Authorization header")
	}
	return strings.TrimSpace(tok), nil
}

func readMetadata(c *gin.Context) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxRegistrationBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "the body is larger than %d bytes", maxRegistrationBody)
		}
		return nil, regErr(http.StatusBadRequest, ErrInvalidClientMetadata, "the body could not be read")
	}
	return body, nil
}

func (s *Service) handleRegister(c *gin.Context) {
	tok, err := bearer(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	body, err := readMetadata(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	ci, err := s.RegisterClient(c.Request.Context(), tok, body)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusCreated, ci)
}

func (s *Service) handleReadClient(c *gin.Context) {
	tok, err := bearer(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	ci, err := s.ReadClient(c.Request.Context(), tok, c.Param("client_id"))
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, ci)
}

func (s *Service) handleUpdateClient(c *gin.Context) {
	tok, err := bearer(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	body, err := readMetadata(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	ci, err := s.UpdateClient(c.Request.Context(), tok, c.Param("client_id"), body)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	noStore(c)
	c.JSON(http.StatusOK, ci)
}

func (s *Service) handleDeleteClient(c *gin.Context) {
	tok, err := bearer(c)
	if err != nil {
		writeRegistrationError(c, err)
		return
	}
	if err := s.DeleteClient(c.Request.Context(), tok, c.Param("client_id")); err != nil {
		writeRegistrationError(c, err)
		return
	}
	noStore(c)
	c.Status(http.StatusNoContent)
}
