package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/partners"
)

// PortalComplaints shows a partner's members the customers' complaints about
// its payments (issue 17 item 3): the list with the deadlines, a
// complaint's page (payment and consent ids, category, the customer's
// words; never the customer's identity) and the answer form (once: text
// and "we agree to refund"). Another partner's complaint is a 404 page.
type PortalComplaints struct {
	Portal     *Portal
	Complaints *complaints.Service
}

// Register mounts the pages under /portal/orgs/:pid/complaints.
func (p *PortalComplaints) Register(r gin.IRouter) {
	o := r.Group("/portal/orgs/:pid/complaints")
	o.GET("", p.list)
	o.GET("/:cid", p.detail)
	o.POST("/:cid/answer", p.answer)
}

type portalComplaintsData struct {
	*orgView
	Complaints []complaintRow
}

func (p *PortalComplaints) list(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Complaints")
	if !ok {
		return
	}
	list, err := p.Complaints.PartnerComplaints(c.Request.Context(), o.Partner.ID)
	if err != nil {
		status, msg := refusal(p.Portal.log(), "complaints", err)
		p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
		return
	}
	now := p.Complaints.Now()
	d := portalComplaintsData{orgView: o}
	for _, x := range list {
		d.Complaints = append(d.Complaints, complaintRow{Complaint: x, Deadline: x.Deadline(now), Overdue: x.Overdue(now)})
	}
	p.Portal.page(c, http.StatusOK, "portal/complaints", Page{Title: "Complaints", User: u.Email, Data: d})
}

type portalComplaintData struct {
	*orgView
	Complaint *complaints.Complaint
	CanAnswer bool
	Answer    string
	Agree     bool
}

func (p *PortalComplaints) detail(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Complaints")
	if !ok {
		return
	}
	flash := ""
	if c.Query("done") == "answered" {
		flash = "Answer sent. The bank's staff see it on the case."
	}
	p.render(c, u, o, http.StatusOK, flash, "", "", false)
}

func (p *PortalComplaints) render(c *gin.Context, u *portalUser, o *orgView, status int, flash, errMsg, answer string, agree bool) {
	x, err := p.Complaints.PartnerComplaint(c.Request.Context(), o.Partner.ID, c.Param("cid"))
	if err != nil {
		s2, msg := refusal(p.Portal.log(), "complaint", err)
		p.Portal.problemPage(c, s2, titleFor(s2), msg, u.Email)
		return
	}
	p.Portal.page(c, status, "portal/complaint", Page{Title: "Complaint " + x.ID, User: u.Email, Flash: flash, Error: errMsg,
		Data: portalComplaintData{orgView: o, Complaint: x, Answer: answer, Agree: agree,
			CanAnswer: x.Open() && !x.Answered() && partners.Can(o.Role, partners.ActComplaintsAnswer)}})
}

func (p *PortalComplaints) answer(c *gin.Context) {
	u, o, ok := p.Portal.org(c, "Complaints")
	if !ok {
		return
	}
	answer, agree := c.PostForm("answer"), c.PostForm("agree_refund") == "1"
	if _, err := p.Complaints.Answer(c.Request.Context(), u.ID, o.Partner.ID, c.Param("cid"), answer, agree); err != nil {
		status, msg := refusal(p.Portal.log(), "answer complaint", err)
		if status == http.StatusNotFound {
			p.Portal.problemPage(c, status, titleFor(status), msg, u.Email)
			return
		}
		p.render(c, u, o, status, "", msg, answer, agree)
		return
	}
	c.Redirect(http.StatusSeeOther, o.Base()+"/complaints/"+c.Param("cid")+"?done=answered")
}
