package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// ConsoleComplaints serves customers' complaints in the staff console
// (issue 17 item 3): the list (/console/complaints, filters by status and
// overdue, each with its reply deadline in business days), a complaint's
// page (payment, customer masked, partner, the partner's answer, the
// timeline of audit events and notes) and the actions: take the case, add
// a note, reject with reasons. A refund is a correction: the page's
// "Refund" form posts complaint_id, payment_id, amount (major units) and
// currency to /console/corrections (package corrections, which calls
// complaints.Service.CheckRefund and Refunded).
type ConsoleComplaints struct {
	Console    *Console
	Complaints *complaints.Service
}

// Register mounts the pages under /console/complaints.
func (k *ConsoleComplaints) Register(r gin.IRouter) {
	g := r.Group("/console/complaints")
	g.GET("", k.list)
	g.GET("/:id", k.detail)
	g.POST("/:id/assign", k.action("assign"))
	g.POST("/:id/note", k.action("note"))
	g.POST("/:id/reject", k.action("reject"))
}

var complaintFlashes = map[string]string{
	"assign": "You now handle this complaint.",
	"note":   "Note added.",
	"reject": "Complaint rejected. The customer was mailed the outcome and your reasons; the partner was told.",
}

// staff signs the member in and requires complaints.read.
func (k *ConsoleComplaints) staff(c *gin.Context) (*staff.Member, *consoleView, bool) {
	st, v, ok := k.Console.staff(c, "complaints")
	if !ok {
		return nil, nil, false
	}
	if !k.Console.allowed(c, st, staff.ActComplaintsRead) {
		return nil, nil, false
	}
	return st, v, true
}

// complaintRow is a complaint with what the list shows of it.
type complaintRow struct {
	complaints.Complaint
	PartnerName string
	Deadline    string
	Overdue     bool
	AssignedTo  string
}

type complaintListData struct {
	*consoleView
	Complaints []complaintRow
	Status     string
	Overdue    bool
}

func (k *ConsoleComplaints) list(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	ctx, now := c.Request.Context(), k.Complaints.Now()
	d := complaintListData{consoleView: v, Status: c.Query("status"), Overdue: c.Query("overdue") == "1"}
	f := complaints.Filter{Status: complaints.Status(d.Status)}
	if d.Overdue {
		f.OverdueAt = now
	}
	list, err := k.Complaints.List(ctx, f)
	if err != nil {
		status, msg := refusal(k.Console.log(), "list complaints", err)
		k.Console.problemPage(c, status, titleFor(status), msg, who(st))
		return
	}
	names := map[string]string{}
	emails := &staffEmails{k: k.Console, ctx: ctx, cache: map[string]string{}}
	for _, x := range list {
		if _, ok := names[x.PartnerID]; !ok {
			names[x.PartnerID] = x.PartnerID
			if p, err := k.Console.Partners.Partner(ctx, x.PartnerID); err == nil {
				names[x.PartnerID] = p.Name()
			}
		}
		d.Complaints = append(d.Complaints, complaintRow{Complaint: x, PartnerName: names[x.PartnerID], Deadline: x.Deadline(now),
			Overdue: x.Overdue(now), AssignedTo: emails.of(x.AssignedTo)})
	}
	k.Console.page(c, http.StatusOK, "console/complaints", Page{Title: "Complaints", User: who(st), Data: d})
}

// timelineEntry is one line of a complaint's timeline.
type timelineEntry struct {
	audit.Event
	Who  string
	Note string
}

type complaintDetailData struct {
	*consoleView
	Complaint   complaintRow
	Customer    string // masked email
	Timeline    []timelineEntry
	AnsweredBy  string
	DecidedBy   string
	CanHandle   bool
	Reasons     string
	Note        string
	RefundMajor string // the payment's amount in major units, for the refund form
}

func (k *ConsoleComplaints) detail(c *gin.Context) {
	st, v, ok := k.staff(c)
	if !ok {
		return
	}
	k.renderDetail(c, st, v, http.StatusOK, complaintFlashes[c.Query("done")], "", "", "")
}

func (k *ConsoleComplaints) renderDetail(c *gin.Context, st *staff.Member, v *consoleView, status int, flash, errMsg, reasons, note string) {
	ctx, now, id := c.Request.Context(), k.Complaints.Now(), c.Param("id")
	x, err := k.Complaints.Get(ctx, id)
	if err != nil {
		s2, msg := refusal(k.Console.log(), "load complaint", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	emails := &staffEmails{k: k.Console, ctx: ctx, cache: map[string]string{}}
	d := complaintDetailData{consoleView: v, Complaint: complaintRow{Complaint: *x, PartnerName: x.PartnerID, Deadline: x.Deadline(now),
		Overdue: x.Overdue(now), AssignedTo: emails.of(x.AssignedTo)}, Customer: k.Complaints.MaskedCustomer(ctx, x.CustomerID),
		DecidedBy: emails.of(x.DecidedBy), CanHandle: x.Open() && staff.Can(st.Role, staff.ActComplaintsHandle),
		Reasons: reasons, Note: note, RefundMajor: money.FormatMinor(x.Amount.Minor, x.Amount.Currency), AnsweredBy: x.PartnerAnsweredBy}
	if p, err := k.Console.Partners.Partner(ctx, x.PartnerID); err == nil {
		d.Complaint.PartnerName = p.Name()
	}
	if x.Answered() {
		if u, err := k.Console.Partners.User(ctx, x.PartnerAnsweredBy); err == nil {
			d.AnsweredBy = u.Email
		}
	}
	trail, err := k.Complaints.Timeline(ctx, id)
	if err == nil {
		var notes []complaints.Note
		notes, err = k.Complaints.Notes(ctx, id)
		ni := 0
		for _, e := range trail {
			t := timelineEntry{Event: e, Who: e.ActorType + " " + e.ActorID}
			switch e.ActorType {
			case audit.ActorStaff:
				t.Who = emails.of(e.ActorID)
			case audit.ActorCustomer:
				t.Who = "the customer"
			case audit.ActorPartner:
				t.Who = "the partner"
				if e.ActorID == x.PartnerAnsweredBy && d.AnsweredBy != "" {
					t.Who += " (" + d.AnsweredBy + ")"
				}
			case audit.ActorSystem:
				t.Who = e.ActorID
			}
			if e.Action == "complaint.noted" && ni < len(notes) {
				t.Note = notes[ni].Body
				ni++
			}
			d.Timeline = append(d.Timeline, t)
		}
	}
	if err != nil {
		s2, msg := refusal(k.Console.log(), "complaint timeline", err)
		k.Console.problemPage(c, s2, titleFor(s2), msg, who(st))
		return
	}
	k.Console.page(c, status, "console/complaint", Page{Title: "Complaint " + x.ID, User: who(st), Flash: flash, Error: errMsg, Data: d})
}

// action handles assign, note and reject.
func (k *ConsoleComplaints) action(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, v, ok := k.staff(c)
		if !ok {
			return
		}
		ctx, id := c.Request.Context(), c.Param("id")
		var err error
		switch name {
		case "assign":
			_, err = k.Complaints.Assign(ctx, st.ID, id)
		case "note":
			_, err = k.Complaints.AddNote(ctx, st.ID, id, c.PostForm("note"))
		case "reject":
			_, err = k.Complaints.Reject(ctx, st.ID, id, c.PostForm("reasons"))
		}
		if err != nil {
			status, msg := refusal(k.Console.log(), name+" complaint", err)
			k.renderDetail(c, st, v, status, "", msg, c.PostForm("reasons"), c.PostForm("note"))
			return
		}
		c.Redirect(http.StatusSeeOther, "/console/complaints/"+id+"?done="+name)
	}
}
