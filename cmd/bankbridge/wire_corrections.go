package main

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/corrections"
	"github.com/bankbridge/bankbridge/web"
)

// Corrections (issue 17 item 2): refunds and reversals of accepted
// payments, requested by partners through the payments API or raised by
// staff, approved by a second member of staff, posted in the core (the
// reference core's Corrector, for every account) and in the contracts'
// ledger, announced by webhook and mailed to the customer. A refund raised
// from a complaint's page names the complaint: corrections checks it with
// complaints.Service.CheckRefund and resolves it in the posting's
// transaction (Refunded).

// wireCorrections builds the corrections service (after billing: it posts
// in the contracts' ledger).
func (p *Platform) wireCorrections(context.Context) error {
	s := &p.Services
	s.Corrections = corrections.New(corrections.Config{Store: corrections.NewGormStore(p.DB),
		Payments: corrections.APIPayments{Store: apis.NewGormStore(p.DB)}, Core: s.Core, Customers: s.Core,
		Ledger: corrections.ContractsLedger{Ledger: p.billing.Contracts.Ledger}, Publisher: s.Events, Complaints: s.Complaints,
		Now: func() time.Time { return time.Now().UTC() }, Logger: p.Log})
	return nil
}

// partnerCorrections is apis' Corrections port (the partner API).
func (p *Platform) partnerCorrections() apis.Corrections {
	return corrections.PartnerAPI{Service: p.Services.Corrections}
}

// mountCorrections registers the console's Corrections pages.
func (p *Platform) mountCorrections(r gin.IRouter, console *web.Console) {
	(&web.ConsoleCorrections{Console: console, Corrections: p.Services.Corrections}).Register(r)
}

// resumeCorrections posts the corrections a crash (or an unreachable core)
// left approved; housekeeping runs it on every node (the core and the
// ledger are idempotent per correction id, the record a conditional update).
func (p *Platform) resumeCorrections(ctx context.Context) error {
	_, err := p.Services.Corrections.ResumeApproved(ctx)
	return err
}
