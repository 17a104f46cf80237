package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

func init() {
	operatorCommands["settle run"] = (*Main).cmdSettle
}

// cmdSettle settles a month into partner statements:
//
//	bankbridge settle --period 2026-10 [--json]
//
// Running it again for a settled month changes nothing (already_settled).
func (m *Main) cmdSettle(ctx context.Context, args []string) error {
	var period string
	var asJSON bool
	c, err := m.parseCommon("settle", args, func(fs *flag.FlagSet) {
		fs.StringVar(&period, "period", "", "the month to settle, YYYY-MM (UTC)")
		fs.BoolVar(&asJSON, "json", false, "print the settlement run as JSON")
	})
	if err != nil {
		return err
	}
	if err := m.required("settle", "period", period); err != nil {
		return err
	}
	p, err := m.openOperatorPlatform(ctx, c)
	if err != nil {
		return err
	}
	run, err := p.billing.Contracts.Settle(ctx, period, time.Now().UTC())
	if err != nil {
		return explain(err)
	}
	if asJSON {
		return m.printJSON(run)
	}
	if run.AlreadySettled {
		fmt.Fprintf(m.Stdout, "%s was already settled (run %s, %d statements); nothing changed\n", run.Period, run.ID, len(run.StatementIDs))
		return nil
	}
	fmt.Fprintf(m.Stdout, "settled %s: run %s, %d statements\n", run.Period, run.ID, len(run.StatementIDs))
	return nil
}
