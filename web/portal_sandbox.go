package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
)

// SandboxResetResult is what resetting a partner's sandbox data did, for the
// portal's message.
type SandboxResetResult struct {
	ConsentsRevoked  int
	PaymentsReversed int
	// PaymentsNotReversed counts payments the bank would not reverse (to or
	// from an account that is not a sandbox test customer's).
	PaymentsNotReversed int
	// ReversalUnsupported: the bank's core cannot reverse payments; none was.
	ReversalUnsupported    bool
	RequestLogDeleted      int64
	IdempotencyKeysDeleted int64
}

// SandboxResetter resets one partner's own sandbox data: its consents, its
// payments' effect on the shared test customers, its request log and
// idempotency keys (wired to apis.Service.ResetSandbox in cmd). userID is the
// portal user who asked, for the audit trail.
type SandboxResetter interface {
	ResetSandbox(ctx context.Context, partnerID, userID string) (*SandboxResetResult, error)
}

// resetConfirmField is the reset form's required confirmation checkbox.
const resetConfirmField = "confirm"

const (
	msgResetConfirm     = "Tick the box to confirm that you want to reset the sandbox data of your organisation. Nothing was changed."
	msgResetUnavailable = "Resetting sandbox data is not available on this platform."
)

type personasData struct {
	*orgView
	Personas []PersonaView
	// ResetAvailable: the platform can reset sandbox data; CanReset: the
	// member's role may (owner, developer).
	ResetAvailable bool
	CanReset       bool
}

func (p *Portal) personasData(o *orgView) personasData {
	d := personasData{orgView: o, ResetAvailable: p.SandboxReset != nil, CanReset: o.CanWriteSandbox}
	if p.Personas != nil {
		d.Personas = p.Personas.SandboxPersonas()
	}
	return d
}

func (p *Portal) sandboxCustomers(c *gin.Context) {
	u, o, ok := p.org(c, "Sandbox customers")
	if !ok {
		return
	}
	p.page(c, http.StatusOK, "portal/sandbox_customers", Page{Title: "Sandbox test customers", User: u.Email, Data: p.personasData(o)})
}

// resetSandbox (POST, CSRF checked by org) resets the partner's own sandbox
// data once the member ticked the confirmation, and shows what it did.
func (p *Portal) resetSandbox(c *gin.Context) {
	u, o, ok := p.org(c, "Sandbox customers")
	if !ok {
		return
	}
	d := p.personasData(o)
	render := func(status int, flash, msg string) {
		p.page(c, status, "portal/sandbox_customers", Page{Title: "Sandbox test customers", User: u.Email,
			Flash: flash, Error: msg, Data: d})
	}
	switch {
	case !d.CanReset: // worded like every other refusal of a role (partners' forbidden)
		status, msg := refusal(p.log(), "reset sandbox", problem.New(problem.CodeForbidden, "role %s may not %s", o.Role, partners.ActAppsSandbox))
		render(status, "", msg)
		return
	case !d.ResetAvailable:
		render(http.StatusNotFound, "", msgResetUnavailable)
		return
	case c.PostForm(resetConfirmField) != "yes":
		render(http.StatusUnprocessableEntity, "", msgResetConfirm)
		return
	}
	res, err := p.SandboxReset.ResetSandbox(c.Request.Context(), o.Partner.ID, u.ID)
	if err != nil {
		status, msg := refusal(p.log(), "reset sandbox", err)
		render(status, "", msg)
		return
	}
	render(http.StatusOK, resetMessage(res), "")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// resetMessage says what a reset did, in one flash message.
func resetMessage(r *SandboxResetResult) string {
	var b strings.Builder
	b.WriteString("Sandbox data reset: ")
	b.WriteString(plural(int64(r.ConsentsRevoked), "consent", "consents") + " revoked, ")
	if r.ReversalUnsupported {
		b.WriteString("no payments reversed (this bank's core cannot reverse payments), ")
	} else {
		b.WriteString(plural(int64(r.PaymentsReversed), "payment", "payments") + " reversed, ")
	}
	b.WriteString(plural(r.RequestLogDeleted, "request log entry", "request log entries") + " and " +
		plural(r.IdempotencyKeysDeleted, "idempotency key", "idempotency keys") + " deleted.")
	if r.PaymentsNotReversed > 0 {
		b.WriteString(" " + plural(int64(r.PaymentsNotReversed), "payment was", "payments were") +
			" not reversed: an account involved is not a sandbox test customer's.")
	}
	return b.String()
}
