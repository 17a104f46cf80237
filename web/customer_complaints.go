package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/complaints"
)

// The customer dashboard's Payments page (issue 17 item 3): the payments
// the customer made through partners (partner, amount, payee), each with a
// "Report a problem" form that opens a complaint (package complaints). A
// payment of another customer is a 404 page.

func (d *CustomerDashboard) registerComplaints(r gin.IRouter, b string) {
	r.GET(b+"/payments", d.payments)
	r.GET(b+"/payments/:id/report", d.reportForm)
	r.POST(b+"/payments/:id/report", d.report)
}

type paymentsData struct {
	dashboardView
	Payments []complaints.CustomerPayment
}

func (d *CustomerDashboard) payments(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	flash := ""
	if ref := c.Query("reported"); ref != "" {
		flash = "Thank you. We received your complaint (reference " + ref + ") and will reply by email within 15 business days."
	}
	data := paymentsData{dashboardView: d.view()}
	list, err := d.Complaints.CustomerPayments(c.Request.Context(), id)
	errMsg := ""
	if err != nil {
		d.Log.Error("customer payments", "err", err)
		errMsg = "We could not load your payments just now. Please try again."
	}
	data.Payments = list
	d.page(c, http.StatusOK, "customer/payments", Page{Title: "Payments made through apps", User: name, Flash: flash, Error: errMsg,
		Nav: d.nav(d.base() + "/payments"), Data: data})
}

type reportData struct {
	dashboardView
	Payment     *complaints.Payment
	Categories  []complaints.Category
	Category    string
	Description string
}

func (d *CustomerDashboard) reportForm(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	d.renderReport(c, id, name, http.StatusOK, "", "", "")
}

func (d *CustomerDashboard) renderReport(c *gin.Context, customerID, name string, status int, category, description, errMsg string) {
	p, err := d.Complaints.CustomerPayment(c.Request.Context(), customerID, c.Param("id"))
	if err != nil {
		st, msg := refusal(d.Log, "customer payment", err)
		if st == http.StatusNotFound {
			msg = "We could not find that payment among yours."
		}
		d.page(c, st, "problem", Page{Title: titleFor(st), Error: msg, User: name, Nav: d.nav(d.base() + "/payments")})
		return
	}
	d.page(c, status, "customer/report", Page{Title: "Report a problem with a payment", User: name, Error: errMsg,
		Nav: d.nav(d.base() + "/payments"), Data: reportData{dashboardView: d.view(), Payment: p, Categories: complaints.Categories,
			Category: category, Description: description}})
}

func (d *CustomerDashboard) report(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	c.Request.ParseForm()
	category, description := c.PostForm("category"), c.PostForm("description")
	if !d.CSRF.Verify(c.Request) {
		d.renderReport(c, id, name, http.StatusForbidden, category, description, "Your session expired. Please try again.")
		return
	}
	cmp, err := d.Complaints.Open(c.Request.Context(), id, c.Param("id"), complaints.Category(category), description)
	if err != nil {
		status, msg := refusal(d.Log, "open complaint", err)
		if status == http.StatusNotFound {
			d.renderReport(c, id, name, status, "", "", "")
			return
		}
		d.renderReport(c, id, name, status, category, description, msg)
		return
	}
	c.Redirect(http.StatusSeeOther, d.base()+"/payments?reported="+strings.TrimSpace(cmp.ID))
}
