package contracts

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// Reconcile compares, for one period, metered usage (usage_records), statements
// and ledger postings, and lists every difference: statement lines that disagree
// with a recomputation from usage and the contract version used, a net that is
// not the sum of its lines, statements or adjustments without their posting,
// postings (including reversals) whose effect on the partner's accounts differs
// from the statement, billable usage of partners without a statement, payments in
// a currency other than the contract's, and a ledger that does not balance.
func (s *Service) Reconcile(ctx context.Context, period string) (Report, error) {
	start, end, err := ParsePeriod(period)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Period: period, Differences: []Difference{}}
	diff := func(d Difference) { rep.Differences = append(rep.Differences, d) }
	g := s.db.DB.WithContext(ctx)
	var sts []statementRow
	if err := g.Where("period = ?", period).Order("partner_id").Find(&sts).Error; err != nil {
		return Report{}, err
	}
	usage, err := s.periodUsage(ctx, g, start, end)
	if err != nil {
		return Report{}, err
	}
	settled := map[string]bool{}
	for _, head := range sts {
		rep.Statements++
		settled[head.PartnerID] = true
		st, err := s.Statement(ctx, "", head.ID)
		if err != nil {
			return Report{}, err
		}
		base := Difference{PartnerID: st.PartnerID, StatementID: st.ID}
		vr, err := s.versionRow(ctx, g, st.ContractID, st.ContractVersion)
		if err != nil {
			return Report{}, err
		}
		v, err := vr.version()
		if err != nil {
			return Report{}, err
		}
		u := usageTotals(usage[st.PartnerID], st.Currency)
		if m, ok, err := s.StatementServiceLevel(ctx, "", st.ID); err != nil {
			return Report{}, err
		} else if ok {
			u.Measured = &m
		}
		var adjRows []adjustmentRow
		if err := g.Where("statement_id = ?", st.ID).Order("created_at, id").Find(&adjRows).Error; err != nil {
			return Report{}, err
		}
		adjs := make([]Adjustment, len(adjRows))
		for i, r := range adjRows {
			adjs[i] = r.adjustment()
		}
		compareLines(st, ComputeLines(v.Terms, u, adjs), base, diff)
		var sum int64
		for _, l := range st.Lines {
			sum += l.Amount
		}
		if sum != st.Net {
			d := base
			d.Kind, d.Detail, d.Expected, d.Actual = DiffNetMismatch, "net is not the sum of the lines", sum, st.Net
			diff(d)
		}
		for cur, n := range u.ForeignCounts {
			d := base
			d.Kind, d.Detail, d.Actual = DiffForeignCurrency, fmt.Sprintf("%d payments in %s not billed (contract currency %s)", n, cur, st.Currency), n
			diff(d)
		}
		want := st.Net - st.Adjustments
		if err := s.checkPosting(ctx, StatementKey(st.ID), st.PartnerID, st.Currency, want, base, "statement", diff); err != nil {
			return Report{}, err
		}
		for _, a := range adjs {
			signed := a.Amount.Minor
			if a.Kind == AdjustmentCredit {
				signed = -signed
			}
			if err := s.checkPosting(ctx, AdjustmentKey(a.ID), st.PartnerID, a.Amount.Currency, signed, base, "adjustment "+a.ID, diff); err != nil {
				return Report{}, err
			}
		}
	}
	unsettled := make([]string, 0, len(usage))
	for p := range usage {
		if !settled[p] {
			unsettled = append(unsettled, p)
		}
	}
	sort.Strings(unsettled)
	for _, p := range unsettled {
		var n int64
		for _, g := range usage[p] {
			n += g.N
		}
		diff(Difference{Kind: DiffUnsettledUsage, PartnerID: p, Detail: fmt.Sprintf("%d billable records and no statement for %s", n, period), Actual: n})
	}
	totals, err := s.Ledger.Totals(ctx)
	if err != nil {
		return Report{}, err
	}
	curs := make([]string, 0, len(totals))
	for c := range totals {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	for _, c := range curs {
		if totals[c] != 0 {
			diff(Difference{Kind: DiffLedgerUnbalanced, Detail: "ledger entries in " + c + " do not sum to zero", Actual: totals[c]})
		}
	}
	return rep, nil
}

// checkPosting compares the effect on the partner's receivable and payable of the
// posting with key (and of its reversals) with want.
func (s *Service) checkPosting(ctx context.Context, key, partnerID, currency string, want int64, base Difference, what string, diff func(Difference)) error {
	p, err := s.Ledger.PostingByKey(ctx, key)
	if errors.Is(err, problem.New(problem.CodeNotFound, "")) {
		if want != 0 {
			d := base
			d.Kind, d.Detail, d.Expected = DiffPostingMissing, what+" has no ledger posting ("+key+")", want
			diff(d)
		}
		return nil
	}
	if err != nil {
		return err
	}
	var got int64
	err = s.db.DB.WithContext(ctx).Raw(`SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN ledger_postings p ON p.id = e.posting_id
		WHERE (p.id = ? OR p.reverses_posting_id = ?) AND e.currency = ? AND e.account IN (?, ?)`,
		p.ID, p.ID, currency, PartnerAccount(AccountPartnerReceivable, partnerID), PartnerAccount(AccountPartnerPayable, partnerID)).Scan(&got).Error
	if err != nil {
		return err
	}
	if got != want {
		d := base
		d.Kind, d.Detail, d.Expected, d.Actual = DiffPostingNet, what+" postings do not sum to its amount due", want, got
		diff(d)
	}
	return nil
}

type lineKey struct {
	kind, product string
	tierFrom      int64
	reference     string
}

func compareLines(st Statement, want []Line, base Difference, diff func(Difference)) {
	have := map[lineKey]Line{}
	for _, l := range st.Lines {
		have[lineKey{l.Kind, l.Product, l.TierFrom, l.Reference}] = l
	}
	seen := map[lineKey]bool{}
	for _, w := range want {
		k := lineKey{w.Kind, w.Product, w.TierFrom, w.Reference}
		seen[k] = true
		h, ok := have[k]
		d := base
		switch {
		case !ok:
			d.Kind, d.Detail, d.Expected = DiffLineMissing, "missing line: "+w.Description, w.Amount
			diff(d)
		case h.Amount != w.Amount || h.Quantity != w.Quantity:
			d.Kind, d.Detail, d.Expected, d.Actual = DiffLineMismatch,
				fmt.Sprintf("line %d (%s): quantity %d, recomputed %d", h.Seq, h.Description, h.Quantity, w.Quantity), w.Amount, h.Amount
			diff(d)
		}
	}
	for _, h := range st.Lines {
		if !seen[lineKey{h.Kind, h.Product, h.TierFrom, h.Reference}] {
			d := base
			d.Kind, d.Detail, d.Actual = DiffLineExtra, fmt.Sprintf("line %d (%s) not in recomputation", h.Seq, h.Description), h.Amount
			diff(d)
		}
	}
}
