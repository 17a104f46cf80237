package main

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/contracts"
	"github.com/bankbridge/bankbridge/partners"
	"github.com/bankbridge/bankbridge/recon"
	"github.com/bankbridge/bankbridge/web"
)

// Partner payment reconciliation (issue 17 item 1): apis prices payments
// with the contracts' payment fee (contractFees), recon keeps the partners'
// records and the breaks (on apis' reconciliation days), and the console
// shows finance the breaks.

// contractFees is apis' FeeTerms port on contracts: the payment fee of the
// partner's active contract, computed by contracts.PaymentFees (the one
// computation settlement bills with).
type contractFees struct{ scope *contracts.Scope }

func (f contractFees) PaymentFee(ctx context.Context, partnerID string) (apis.PaymentFeeRule, bool, error) {
	pf, cur, ok, err := f.scope.PaymentFeeTerms(ctx, partnerID)
	if err != nil || !ok {
		return apis.PaymentFeeRule{}, false, err
	}
	return apis.PaymentFeeRule{Currency: cur, Fee: func(n, value int64) int64 {
		fixed, byValue := contracts.PaymentFees(pf, n, value)
		return fixed + byValue
	}}, true, nil
}

// wireRecon builds the reconciliation service on apis (after apis).
func (p *Platform) wireRecon() {
	s := &p.Services
	s.Recon = recon.New(recon.Config{Store: recon.NewGormStore(p.DB), Days: s.APIs, Partners: knownPartners{s.Partners}, Logger: p.Log})
}

// knownPartners is recon's Partners port on the partner registry.
type knownPartners struct{ partners *partners.Service }

func (k knownPartners) Known(ctx context.Context, partnerID string) error {
	_, err := k.partners.Partner(ctx, partnerID)
	return err
}

// mountRecon registers the console's Reconciliation breaks pages.
func (p *Platform) mountRecon(r gin.IRouter, console *web.Console) {
	(&web.ConsoleRecon{Console: console, Recon: p.Services.Recon}).Register(r)
}
