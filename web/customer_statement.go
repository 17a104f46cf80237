package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/money"
)

// CustomerAccounts reads the signed-in customer's accounts and their latest
// entries for the dashboard's Accounts page (the core implements it).
type CustomerAccounts interface {
	Accounts(ctx context.Context, customerID string) ([]core.Account, error)
	Transactions(ctx context.Context, accountID string, q core.TransactionQuery) (*core.TransactionPage, error)
}

// StatementEntries is how many of each account's latest entries the
// Accounts page shows.
const StatementEntries = 20

type statementEntry struct {
	core.Transaction
	AmountText, BalanceText string
}

type statementAccount struct {
	core.Account
	BalanceText string
	Entries     []statementEntry
}

type statementData struct {
	dashboardView
	Accounts []statementAccount
}

// accounts is the Accounts page: each account's balance and latest entries
// (refunds and reversals of payments among them, "Refund of payment …").
func (d *CustomerDashboard) accounts(c *gin.Context) {
	id, name, ok := d.signedIn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	data := statementData{dashboardView: d.view()}
	errMsg := ""
	accs, err := d.Accounts.Accounts(ctx, id)
	for _, a := range accs {
		if err != nil {
			break
		}
		var page *core.TransactionPage
		page, err = d.Accounts.Transactions(ctx, a.ID, core.TransactionQuery{Limit: StatementEntries})
		if err != nil {
			break
		}
		sa := statementAccount{Account: a, BalanceText: money.Money{Minor: a.Balance.Minor, Currency: a.Currency}.String()}
		for _, t := range page.Transactions {
			sign := ""
			if t.CreditDebit == core.Debit {
				sign = "-"
			}
			sa.Entries = append(sa.Entries, statementEntry{Transaction: t,
				AmountText:  sign + money.FormatMinor(t.Amount.Minor, t.Amount.Currency),
				BalanceText: money.FormatMinor(t.BalanceAfter.Minor, t.BalanceAfter.Currency)})
		}
		data.Accounts = append(data.Accounts, sa)
	}
	if err != nil {
		d.Log.Error("customer accounts", "err", err)
		errMsg = "We could not load your accounts just now. Please try again."
	}
	d.page(c, http.StatusOK, "customer/accounts", Page{Title: "Your accounts", User: name, Error: errMsg,
		Nav: d.nav(d.base() + "/accounts"), Data: data})
}
