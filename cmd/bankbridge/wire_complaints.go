package main

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/complaints"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/web"
)

// complaintService builds the customers' complaints (package complaints):
// payments from apis (with the partners' and apps' names), customers'
// email addresses from the core, staff and partners from partners, events
// into the webhooks outbox. Every collaborator exists by now, so
// complaints.New cannot refuse them.
func (p *Platform) complaintService() *complaints.Service {
	s := &p.Services
	svc, err := complaints.New(complaints.Config{Store: complaints.NewGormStore(p.DB),
		Payments:  complaintPayments{store: apis.NewGormStore(p.DB), partners: s.Partners},
		Customers: complaintCustomers{s.Core}, Staff: s.Partners.Staff(), Partners: s.Partners, Publisher: s.Events,
		PortalURL: p.Issuer + "/portal", Now: func() time.Time { return time.Now().UTC() }})
	if err != nil {
		panic("wire: " + err.Error())
	}
	return svc
}

// mountComplaints registers the complaints' console and portal pages (the
// customer dashboard's Payments page is registered with the dashboard).
func (p *Platform) mountComplaints(r *gin.Engine, console *web.Console, portal *web.Portal) {
	(&web.ConsoleComplaints{Console: console, Complaints: p.Services.Complaints}).Register(r)
	(&web.PortalComplaints{Portal: portal, Complaints: p.Services.Complaints}).Register(r)
}

// complaintPayments is complaints' Payments port on the apis store.
type complaintPayments struct {
	store    *apis.GormStore
	partners *partners.Service
}

func (a complaintPayments) Payment(ctx context.Context, id string) (*complaints.Payment, error) {
	x, err := a.store.Payment(ctx, id)
	if errors.Is(err, apis.ErrNotFound) {
		return nil, complaints.ErrPaymentNotFound
	}
	if err != nil {
		return nil, err
	}
	v := a.view(ctx, x, map[string]string{})
	return &v, nil
}

func (a complaintPayments) CustomerPayments(ctx context.Context, customerID string) ([]complaints.Payment, error) {
	list, err := a.store.CustomerPayments(ctx, customerID, 0)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := make([]complaints.Payment, 0, len(list))
	for i := range list {
		out = append(out, a.view(ctx, &list[i], names))
	}
	return out, nil
}

// view is x as complaints see it; names caches partners' and apps' names.
func (a complaintPayments) view(ctx context.Context, x *apis.Payment, names map[string]string) complaints.Payment {
	v := complaints.Payment{ID: x.ID, ConsentID: x.ConsentID, PartnerID: x.PartnerID, ClientID: x.ClientID,
		Environment: x.Environment, CustomerID: x.CustomerID, Amount: x.Amount, Payee: x.CreditorAccount, Status: x.Status,
		CreatedAt: x.CreatedAt}
	if x.Initiation != nil && x.Initiation.CreditorAccount.Name != "" {
		v.Payee = x.Initiation.CreditorAccount.Name + " (" + x.CreditorAccount + ")"
	}
	name := func(key string, load func() (string, error)) string {
		if n, ok := names[key]; ok {
			return n
		}
		n, err := load()
		if err != nil {
			n = ""
		}
		names[key] = n
		return n
	}
	v.PartnerName = name("p:"+x.PartnerID, func() (string, error) {
		pt, err := a.partners.Partner(ctx, x.PartnerID)
		if err != nil {
			return "", err
		}
		return pt.Name(), nil
	})
	if v.PartnerName == "" {
		v.PartnerName = x.PartnerID
	}
	v.AppName = name("a:"+x.ClientID, func() (string, error) {
		app, err := a.partners.App(ctx, x.ClientID)
		if err != nil {
			return "", err
		}
		return app.Name, nil
	})
	return v
}

// complaintCustomers tells complaints a customer's email address (the
// bank's core).
type complaintCustomers struct{ core *core.Reference }

func (c complaintCustomers) Email(ctx context.Context, customerID string) (string, error) {
	x, err := c.core.Customer(ctx, customerID)
	if err != nil {
		return "", err
	}
	return x.Email, nil
}
