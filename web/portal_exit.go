package web

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/partners/exit"
)

// PortalExit is the portal's Wind-down page (partners/exit): once the bank
// has given notice ending the partnership, the timeline (notice given,
// effective date, last API access, final settlement, data export, personal
// data deletion) and, from the effective date until the personal data is
// erased, the organisation's data export for its owners. Another
// partner's page and export are 404, as for anyone not a member.
type PortalExit struct {
	Portal *Portal
	Exit   *exit.Service
}

// Register mounts the pages under /portal/orgs/:pid/wind-down.
func (p *PortalExit) Register(r gin.IRouter) {
	o := r.Group("/portal/orgs/:pid/wind-down")
	o.GET("", p.show)
	o.GET("/export", p.export)
}

type portalExitData struct {
	*orgView
	Exit      *exit.Exit
	Timeline  exit.Timeline
	IsOwner   bool
	HasExport bool
}

func (p *PortalExit) show(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Wind-down")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := portalExitData{orgView: o, IsOwner: o.Role == partners.RoleOwner}
	e, err := p.Exit.ForPartner(ctx, o.Partner.ID)
	var pe *problem.Error
	switch {
	case errors.As(err, &pe) && pe.Code == problem.CodeNotFound:
	case err != nil:
		status, msg := refusal(p.Portal.log(), "wind-down", err)
		p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	default:
		d.Exit, d.Timeline = e, e.Timeline()
		if d.IsOwner {
			if _, err := p.Exit.ExportForOwner(ctx, u.ID, o.Partner.ID); err == nil {
				d.HasExport = true
			}
		}
	}
	p.Portal.page(c, http.StatusOK, "portal/wind_down", Page{Title: "Wind-down", User: u.Email, Data: d})
}

func (p *PortalExit) export(c *gin.Context) {
	u, ok := p.Portal.signedIn(c)
	if !ok {
		return
	}
	x, err := p.Exit.ExportForOwner(c.Request.Context(), u.ID, c.Param("pid"))
	if err != nil {
		status, msg := refusal(p.Portal.log(), "data export", err)
		p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	serveExport(c, x)
}
