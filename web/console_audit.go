package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/partners/staff"
)

// auditFilterForm is the audit page's filter form as typed.
type auditFilterForm struct {
	ActorType, ActorID, Action, ObjectType, ObjectID, PartnerID, From, To string
}

type auditData struct {
	*consoleView
	Form       auditFilterForm
	ActorTypes []string
	Events     []audit.Event
	Limit      int
}

const auditPageLimit = 200

func (k *Console) auditTrail(c *gin.Context) {
	st, v, ok := k.staff(c, "audit")
	if !ok {
		return
	}
	if !k.allowed(c, st, staff.ActAuditRead) {
		return
	}
	q := func(n string) string { return strings.TrimSpace(c.Query(n)) }
	f := auditFilterForm{ActorType: q("actor_type"), ActorID: q("actor_id"), Action: q("action"), ObjectType: q("object_type"),
		ObjectID: q("object_id"), PartnerID: q("partner_id"), From: q("from"), To: q("to")}
	d := auditData{consoleView: v, Form: f, Limit: auditPageLimit,
		ActorTypes: []string{audit.ActorStaff, audit.ActorPartner, audit.ActorCustomer, audit.ActorSystem}}
	filter := audit.Filter{ActorType: f.ActorType, ActorID: f.ActorID, Action: f.Action, ObjectType: f.ObjectType,
		ObjectID: f.ObjectID, PartnerID: f.PartnerID, Limit: auditPageLimit}
	status, errMsg := http.StatusOK, ""
	if f.From != "" {
		t, err := time.Parse("2006-01-02", f.From)
		if err != nil {
			status, errMsg = http.StatusBadRequest, "The start date must be a date such as 2026-11-23."
		}
		filter.From = t
	}
	if f.To != "" {
		t, err := time.Parse("2006-01-02", f.To)
		if err != nil {
			status, errMsg = http.StatusBadRequest, "The end date must be a date such as 2026-11-23."
		}
		filter.To = t.AddDate(0, 0, 1) // the whole end day
	}
	if errMsg == "" && k.DB == nil {
		status, errMsg = http.StatusInternalServerError, "The audit trail is not configured."
	}
	if errMsg == "" {
		var err error
		if d.Events, err = audit.List(c.Request.Context(), k.DB, filter); err != nil {
			status, errMsg = refusal(k.log(), "audit list", err)
		}
	}
	k.page(c, status, "console/audit", Page{Title: "Audit trail", User: who(st), Error: errMsg, Data: d})
}
