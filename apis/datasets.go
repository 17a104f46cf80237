package apis

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Dataset windows.
const (
	insightsMonths    = 12 // transaction_insights covers the last 12 calendar months (this one included)
	incomeMonths      = 3  // risk_signals' income band averages the last 3 full months
	overdraftLookback = 90 // risk_signals counts overdraft days in the last 90 days
)

// CategoryTotal is the spending of one category in one month and currency.
type CategoryTotal struct {
	Category string `json:"Category"`
	Currency string `json:"Currency"`
	Amount   string `json:"Amount"`
	Count    int    `json:"TransactionCount"`
}

// MonthInsights is one calendar month of categorised spending.
type MonthInsights struct {
	Month      string          `json:"Month"` // YYYY-MM
	Categories []CategoryTotal `json:"Categories"`
}

// AccountRiskSignals are the risk signals of one account.
type AccountRiskSignals struct {
	AccountId            string `json:"AccountId"` //nolint:revive // OB member name
	AccountAgeDays       int    `json:"AccountAgeDays"`
	ReturnedPaymentCount int64  `json:"ReturnedPaymentCount"`
	MonthlyIncomeBand    string `json:"MonthlyIncomeBand"`
	OverdraftUsageDays   int    `json:"OverdraftUsageDays"`
}

// DatasetResult is a computed dataset: exactly one of Months or Accounts' signals.
type DatasetResult struct {
	Dataset    string               `json:"Dataset"`
	AccountIds []string             `json:"AccountIds"` //nolint:revive // OB style
	From       time.Time            `json:"FromDateTime"`
	To         time.Time            `json:"ToDateTime"`
	Months     []MonthInsights      `json:"Months,omitempty"`
	Signals    []AccountRiskSignals `json:"RiskSignals,omitempty"`
}

// Dataset computes a dataset over consent c's accounts from the core's data.
// Refusals: CodePermissionMissing (dataset not in the consent),
// CodeDatasetNotAllowed (no longer in the partner's scope), CodeNotFound.
func (s *Service) Dataset(ctx context.Context, c *Consent, dataset string) (*DatasetResult, error) {
	if _, ok := datasetText[dataset]; !ok {
		return nil, errNotFound("dataset", dataset)
	}
	if !slices.Contains(c.Datasets, dataset) {
		return nil, problem.New(problem.CodePermissionMissing, "consent %s does not cover dataset %s", c.ID, dataset)
	}
	if err := s.datasetAllowed(ctx, c.PartnerID, dataset); err != nil {
		return nil, err
	}
	now := s.now()
	if dataset == DatasetTransactionInsights {
		return s.insights(ctx, c, now)
	}
	return s.riskSignals(ctx, c, now)
}

// allTransactions pages through an account's transactions in [from, to).
func (s *Service) allTransactions(ctx context.Context, accountID string, q core.TransactionQuery) ([]core.Transaction, error) {
	var out []core.Transaction
	q.Limit = core.MaxPageSize
	for {
		page, err := s.core.Transactions(ctx, accountID, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Transactions...)
		if page.NextCursor == "" {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
}

func monthStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func (s *Service) insights(ctx context.Context, c *Consent, now time.Time) (*DatasetResult, error) {
	from := monthStart(now).AddDate(0, -(insightsMonths - 1), 0)
	res := &DatasetResult{Dataset: DatasetTransactionInsights, AccountIds: c.AccountIDs, From: from, To: now}
	type key struct{ month, cat, cur string }
	sums, counts := map[key]int64{}, map[key]int{}
	for _, id := range c.AccountIDs {
		txns, err := s.allTransactions(ctx, id, core.TransactionQuery{From: from, To: now.Add(time.Microsecond), CreditDebit: core.Debit})
		if err != nil {
			return nil, err
		}
		for _, t := range txns {
			if t.Category == core.CategoryTransfers {
				continue // moving money between accounts is not spending
			}
			k := key{t.BookedAt.UTC().Format("2006-01"), t.Category, t.Amount.Currency}
			sums[k] += t.Amount.Minor
			counts[k]++
		}
	}
	byMonth := map[string][]CategoryTotal{}
	for k, v := range sums {
		byMonth[k.month] = append(byMonth[k.month], CategoryTotal{Category: k.cat, Currency: k.cur, Amount: money.FormatAmount(v, k.cur), Count: counts[k]})
	}
	for m := from; !m.After(now); m = m.AddDate(0, 1, 0) {
		cats := byMonth[m.Format("2006-01")]
		sort.Slice(cats, func(i, j int) bool {
			if cats[i].Category != cats[j].Category {
				return cats[i].Category < cats[j].Category
			}
			return cats[i].Currency < cats[j].Currency
		})
		if cats == nil {
			cats = []CategoryTotal{}
		}
		res.Months = append(res.Months, MonthInsights{Month: m.Format("2006-01"), Categories: cats})
	}
	return res, nil
}

// incomeBand puts an average monthly income (major units) in a band.
func incomeBand(minor int64, currency string) string {
	major := minor / 100
	if exp, _ := money.Exponent(currency); exp == 0 {
		major = minor
	}
	switch {
	case major < 1000:
		return "under_1000"
	case major < 2000:
		return "1000_2000"
	case major < 3500:
		return "2000_3500"
	case major < 5000:
		return "3500_5000"
	}
	return "over_5000"
}

func (s *Service) riskSignals(ctx context.Context, c *Consent, now time.Time) (*DatasetResult, error) {
	from := now.AddDate(0, 0, -overdraftLookback)
	incomeFrom := monthStart(now).AddDate(0, -incomeMonths, 0)
	if incomeFrom.Before(from) {
		from = incomeFrom
	}
	res := &DatasetResult{Dataset: DatasetRiskSignals, AccountIds: c.AccountIDs, From: from, To: now}
	returned, err := s.store.RejectedCount(ctx, c.AccountIDs)
	if err != nil {
		return nil, err
	}
	for _, id := range c.AccountIDs {
		a, err := s.core.Account(ctx, id)
		if err != nil {
			return nil, err
		}
		txns, err := s.allTransactions(ctx, id, core.TransactionQuery{From: from, To: now.Add(time.Microsecond)})
		if err != nil {
			return nil, err
		}
		sig := AccountRiskSignals{AccountId: id, AccountAgeDays: int(now.Sub(a.OpenedAt).Hours() / 24),
			ReturnedPaymentCount: returned[id]}
		// Income: credits other than transfers and refunds, last full months.
		var income int64
		for _, t := range txns {
			if t.CreditDebit == core.Credit && !t.BookedAt.Before(incomeFrom) && t.BookedAt.Before(monthStart(now)) &&
				t.Category != core.CategoryTransfers && t.Category != core.CategoryRefund {
				income += t.Amount.Minor
			}
		}
		sig.MonthlyIncomeBand = incomeBand(income/incomeMonths, a.Currency)
		sig.OverdraftUsageDays = overdraftDays(a.Balance.Minor, txns, now, overdraftLookback)
		res.Signals = append(res.Signals, sig)
	}
	return res, nil
}

// overdraftDays counts the days among the last n (today included) that ended
// (or, today, stand) with a negative booked balance. txns are newest first;
// balance is the current booked balance.
func overdraftDays(balance int64, txns []core.Transaction, now time.Time, n int) int {
	days := 0
	i := 0
	day := now.Truncate(24 * time.Hour)
	for k := 0; k < n; k++ {
		// balance is the end-of-day balance of day; step back over its entries.
		if balance < 0 {
			days++
		}
		for i < len(txns) && !txns[i].BookedAt.Before(day) {
			balance -= txns[i].Signed()
			i++
		}
		day = day.AddDate(0, 0, -1)
	}
	return days
}
