package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/partners"
)

// QuotaUsage is an app's use of one API product this month against its plan.
type QuotaUsage struct {
	Product string
	Used    int64
	Volume  int64 // 0: unlimited
	Percent int
	Rate    int // requests per second
	Burst   int
}

// QuotaUsageSource reads an app's monthly usage and limits (wired in cmd
// from apis.Quota).
type QuotaUsageSource interface {
	AppUsage(ctx context.Context, partnerID, appID string, env environment.Environment) ([]QuotaUsage, error)
}

// PortalBilling serves the partner's billing pages: each app's usage against
// its plan, the statements, a printable statement page and its CSV download.
type PortalBilling struct {
	Portal    *Portal
	Contracts *contracts.Service
	Usage     QuotaUsageSource
}

// Register mounts the pages under /portal/orgs/:pid/billing.
func (b *PortalBilling) Register(r gin.IRouter) {
	o := r.Group("/portal/orgs/:pid/billing")
	o.GET("", b.home)
	o.GET("/statements/:sid", b.statement)
	o.GET("/statements/:sid/csv", b.csv)
	o.GET("/contracts/:cid/agreements/:version", b.agreement)
}

type appUsageView struct {
	App   partners.App
	Usage []QuotaUsage
}

type portalBillingData struct {
	*orgView
	Apps       []appUsageView
	Statements []statementRow
	// Contract is the current contract with its clauses and signed
	// agreements (nil: none agreed yet).
	Contract *portalContract
}

func (b *PortalBilling) home(c *gin.Context) {
	u, o, ok := b.Portal.org(c, "Billing")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	d := portalBillingData{orgView: o}
	apps, err := b.Portal.Partners.PartnerApps(ctx, o.Partner.ID)
	if err == nil {
		for _, a := range apps {
			v := appUsageView{App: a}
			if b.Usage != nil {
				if v.Usage, err = b.Usage.AppUsage(ctx, a.PartnerID, a.ID, a.Environment); err != nil {
					break
				}
			}
			d.Apps = append(d.Apps, v)
		}
	}
	var list []contracts.Statement
	if err == nil {
		list, err = b.Contracts.Statements(ctx, o.Partner.ID)
	}
	if err != nil {
		status, msg := refusal(b.Portal.log(), "billing", err)
		b.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	for _, x := range list {
		d.Statements = append(d.Statements, statementRow{Statement: x, PartnerName: o.Partner.Name()})
	}
	if d.Contract, err = portalContractOf(c, b.Contracts, o.Partner.ID, o.Role); err != nil {
		status, msg := refusal(b.Portal.log(), "billing contract", err)
		b.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	b.Portal.page(c, http.StatusOK, "portal/billing", Page{Title: "Billing", User: u.Email, Data: d})
}

// statement is the printable statement page (layout without navigation).
func (b *PortalBilling) statement(c *gin.Context) {
	u, o, ok := b.Portal.org(c, "Billing")
	if !ok {
		return
	}
	s, err := b.Contracts.Statement(c.Request.Context(), o.Partner.ID, c.Param("sid"))
	if err != nil {
		status, msg := refusal(b.Portal.log(), "statement", err)
		b.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	v := StatementView{Statement: s, PartnerName: o.Partner.Name(), CSVURL: o.Base() + "/billing/statements/" + s.ID + "/csv",
		BackURL: o.Base() + "/billing"}
	b.Portal.Pages.Render(c.Writer, http.StatusOK, "statement", Page{Title: "Statement " + s.Period, Area: "print", User: u.Email, Data: v})
}

func (b *PortalBilling) csv(c *gin.Context) {
	u, o, ok := b.Portal.org(c, "Billing")
	if !ok {
		return
	}
	sendStatementCSV(c, b.Contracts, o.Partner.ID, c.Param("sid"), func(status int, msg string) {
		b.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
	}, b.Portal.log())
}

// sendStatementCSV answers a statement's CSV as a download, scoped to
// partnerID ("" for staff).
func sendStatementCSV(c *gin.Context, cs *contracts.Service, partnerID, sid string, fail func(int, string), log *slog.Logger) {
	ctx := c.Request.Context()
	s, err := cs.Statement(ctx, partnerID, sid)
	var body []byte
	if err == nil {
		body, err = cs.StatementCSV(ctx, partnerID, sid)
	}
	if err != nil {
		status, msg := refusal(log, "statement csv", err)
		fail(status, msg)
		return
	}
	name := "statement-" + s.Period + "-" + strings.TrimPrefix(s.PartnerID, "ptn_") + ".csv"
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Header("Cache-Control", "no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/csv; charset=utf-8", body)
}
