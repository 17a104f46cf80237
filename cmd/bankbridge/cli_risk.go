package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/partners/staff"
	"github.com/bankbridge/bankbridge/risk"
)

func init() {
	operatorCommands["risk cases"] = (*Main).cmdRiskCases
	operatorCommands["risk sar"] = (*Main).cmdRiskSAR
}

// cmdRiskSAR exports a suspicious activity report with its case and audit
// trail as JSON (format risk.SARFormat):
//
//	bankbridge risk sar export ID
func (m *Main) cmdRiskSAR(ctx context.Context, args []string) error {
	if len(args) < 2 || args[0] != "export" || strings.HasPrefix(args[1], "-") {
		fmt.Fprintln(m.Stderr, "usage: bankbridge risk sar export ID")
		return errUsage
	}
	id := args[1]
	c, err := m.parseCommon("risk sar export", args[2:], nil)
	if err != nil {
		return err
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	x, err := p.Services.Risk.ExportSAR(ctx, risk.Actor{ID: "cli", Role: staff.RoleSystem}, id)
	if err != nil {
		return explain(err)
	}
	return m.printJSON(x)
}

// riskCaseJSON is one open case as `bankbridge risk cases --json` prints it.
type riskCaseJSON struct {
	ID          string        `json:"id"`
	PaymentID   string        `json:"payment_id"`
	PartnerID   string        `json:"partner_id"`
	CustomerID  string        `json:"customer_id"`
	Environment string        `json:"environment"`
	Amount      money.Money   `json:"amount"`
	Payee       string        `json:"payee"`
	Score       int           `json:"score"`
	Reasons     []risk.Reason `json:"reasons"`
	Status      string        `json:"status"`
	Proposed    string        `json:"proposed_decision,omitempty"`
	ProposedBy  string        `json:"proposed_by,omitempty"`
	DualControl bool          `json:"dual_control"`
	CreatedAt   time.Time     `json:"created_at"`
	AgeSeconds  int64         `json:"age_seconds"`
	Overdue     bool          `json:"overdue"`
}

// cmdRiskCases lists the open risk cases, oldest first:
//
//	bankbridge risk cases [--json]
func (m *Main) cmdRiskCases(ctx context.Context, args []string) error {
	var asJSON bool
	c, err := m.parseCommon("risk cases", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print the cases as JSON")
	})
	if err != nil {
		return err
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	svc := p.Services.Risk
	cases, err := svc.OpenCases(ctx, risk.Actor{ID: "cli", Role: staff.RoleSystem})
	if err != nil {
		return explain(err)
	}
	now := time.Now().UTC()
	out := make([]riskCaseJSON, 0, len(cases))
	for i := range cases {
		k := &cases[i]
		out = append(out, riskCaseJSON{ID: k.ID, PaymentID: k.PaymentID, PartnerID: k.PartnerID, CustomerID: k.CustomerID,
			Environment: string(k.Environment), Amount: k.Amount, Payee: k.CreditorName, Score: k.Score, Reasons: k.Reasons,
			Status: k.Status, Proposed: k.ProposedDecision, ProposedBy: k.ProposedBy, DualControl: svc.NeedsTwo(k),
			CreatedAt: k.CreatedAt, AgeSeconds: int64(k.Age(now).Seconds()), Overdue: svc.Overdue(k, now)})
	}
	if asJSON {
		return m.printJSON(map[string]any{"cases": out, "sla_seconds": int64(svc.SLA().Seconds())})
	}
	if len(out) == 0 {
		fmt.Fprintln(m.Stdout, "no open risk cases")
		return nil
	}
	for _, k := range out {
		flag := ""
		if k.Overdue {
			flag = " OVERDUE"
		}
		fmt.Fprintf(m.Stdout, "%s  %s  %s %s  score %d  %s  payee %q  partner %s  age %s%s\n", k.ID, k.CreatedAt.Format(time.RFC3339),
			money.FormatMinor(k.Amount.Minor, k.Amount.Currency), k.Amount.Currency, k.Score, k.Status, k.Payee, k.PartnerID,
			(time.Duration(k.AgeSeconds) * time.Second).String(), flag)
	}
	return nil
}
