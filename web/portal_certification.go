package web

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners"
)

// certificationData is the portal's certification page: the sandbox apps a
// run can target, whether the user may launch one now, and the kept runs
// with their evidence.
type certificationData struct {
	*orgView
	SandboxApps []partners.App
	CanRun      bool
	Runs        []certRunView
}

// certRunViews turns kept runs into rows; runBy names who launched each.
func certRunViews(runs []partners.CertificationRun, runBy func(id string) string) []certRunView {
	var out []certRunView
	for _, r := range runs {
		rv := certRunView{CertificationRun: r, RunByEmail: runBy(r.RunBy)}
		for _, ch := range r.Checks {
			cv := checkView{Name: ch.Name, Passed: ch.Passed, Detail: ch.Detail}
			if skipped, _ := ch.Evidence["skipped"].(bool); skipped {
				cv.Skipped = true
			}
			if len(ch.Evidence) > 0 {
				b, _ := json.Marshal(ch.Evidence)
				cv.Evidence = string(b)
			}
			rv.Checks = append(rv.Checks, cv)
		}
		out = append(out, rv)
	}
	return out
}

func (p *Portal) renderCertification(c *gin.Context, u *portalUser, o *orgView, status int, flash, errMsg string) {
	ctx := c.Request.Context()
	d := certificationData{orgView: o}
	list, err := p.Partners.ListApps(ctx, u.ID, o.Partner.ID)
	if err != nil {
		st, msg := refusal(p.log(), "list apps", err)
		p.problemPage(c, st, titleFor(st), msg, u.Email)
		return
	}
	for _, a := range list {
		if a.Environment == environment.Sandbox && a.Status != partners.AppRevoked {
			d.SandboxApps = append(d.SandboxApps, a)
		}
	}
	s := o.Partner.Status
	d.CanRun = (s == partners.StatusContracted || s == partners.StatusCertified) && o.CanWriteSandbox && len(d.SandboxApps) > 0
	runs, err := p.Partners.CertificationRuns(ctx, o.Partner.ID)
	if err != nil {
		p.log().Error("web: certification runs", "err", err)
	}
	d.Runs = certRunViews(runs, func(id string) string {
		if id == u.ID {
			return u.Email
		}
		if pu, err := p.Partners.User(ctx, id); err == nil {
			return pu.Email
		}
		return "the bank"
	})
	p.page(c, status, "portal/certification", Page{Title: "Certification", User: u.Email, Flash: flash, Error: errMsg, Data: d})
}

func (p *Portal) certification(c *gin.Context) {
	u, o, ok := p.org(c, "Overview")
	if !ok {
		return
	}
	flash := ""
	if c.Query("done") == "certification" {
		flash = "Certification run finished. The result and its evidence are below."
	}
	p.renderCertification(c, u, o, http.StatusOK, flash, "")
}

// runCertification launches the checks for a sandbox app (POST, CSRF-checked
// by org) and shows the refusal on the page when the service refuses.
func (p *Portal) runCertification(c *gin.Context) {
	u, o, ok := p.org(c, "Overview")
	if !ok {
		return
	}
	if _, err := p.Partners.RunCertification(c.Request.Context(), u.ID, o.Partner.ID, c.PostForm("app_id")); err != nil {
		st, msg := refusal(p.log(), "run certification", err)
		p.renderCertification(c, u, o, st, "", msg)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/certification?done=certification")
}
