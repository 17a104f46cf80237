package apis

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/apis/core"
	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// Partner payment reconciliation (issue 17 item 1):
// GET BasePath/reconciliation/{date} lists every payment the calling partner
// created in its environment on one UTC day, with its fee, value date and the
// core's booked debit entry, and totals per currency and status, as JSON or
// (Accept: text/csv) CSV. The fee is the payment fee of the partner's active
// contract (FeeTerms, computed by contracts.PaymentFees); the partner's own
// record of the day and the breaks between the two are in reconrecord.go.

// DayLayout is the form of a reconciliation day (a UTC day).
const DayLayout = "2006-01-02"

// MediaTypeCSV is the CSV representation of a reconciliation.
const MediaTypeCSV = "text/csv"

// FeeTerms gives the payment fee of a partner's active contract (package
// contracts through an adapter in cmd/bankbridge).
type FeeTerms interface {
	// PaymentFee is the fee rule of the partner's active contract; ok is
	// false without one (payments then show no fee).
	PaymentFee(ctx context.Context, partnerID string) (rule PaymentFeeRule, ok bool, err error)
}

// PaymentFeeRule prices payments under one contract.
type PaymentFeeRule struct {
	// Currency is the contract currency: only payments in it are billed and
	// carry a fee (settlement counts the others but does not bill them).
	Currency string
	// Fee is the fee, minor units of Currency, of n payments worth value in
	// total (contracts.PaymentFees: fixed plus value fee).
	Fee func(n, value int64) int64
}

// CoreEntry is the core's booked debit entry of a payment (the debtor
// account's statement line).
type CoreEntry struct {
	TransactionID string
	Amount        money.Money
	BookedAt      time.Time
}

// ReconciledPayment is one payment of a reconciliation day.
type ReconciledPayment struct {
	Payment
	// BookedAt is when the core booked the payment (zero: not booked, or not
	// known to the core); the reference core values payments on booking, so
	// the value date is its day.
	BookedAt time.Time
	// Fee is the payment's fee under the partner's contract (zero Money: no
	// fee — no active contract, or another currency than the contract's).
	Fee money.Money
	// Entry is the core's booked debit entry (nil: the core has none).
	Entry *CoreEntry
}

// ValueDate is the day (YYYY-MM-DD) the core booked the payment, "" if not.
func (p *ReconciledPayment) ValueDate() string {
	if p.BookedAt.IsZero() {
		return ""
	}
	return p.BookedAt.UTC().Format(DayLayout)
}

// ReconciliationTotal sums the payments of one currency and status.
type ReconciliationTotal struct {
	Currency string
	Status   string
	Count    int64
	Minor    int64
	// FeeMinor is the fee of these payments (minor units of FeeCurrency,
	// PaymentFeeRule.Fee of Count and Minor); FeeCurrency "" when they carry
	// none.
	FeeMinor    int64
	FeeCurrency string
}

// Reconciliation is one partner's payments of one UTC day in one
// environment.
type Reconciliation struct {
	Day         time.Time // 00:00 UTC of the day
	PartnerID   string
	Environment environment.Environment
	// Final: the day has ended and no payment of it is still Pending, so the
	// list and the totals no longer change.
	Final    bool
	Payments []ReconciledPayment
	Totals   []ReconciliationTotal // by currency, then status
}

// ParseDay parses a reconciliation day (YYYY-MM-DD, a UTC day); the error is
// the exact problem the API answers.
func ParseDay(s string) (time.Time, error) {
	d, err := time.Parse(DayLayout, s)
	if err != nil || len(s) != len(DayLayout) {
		return time.Time{}, problem.New(problem.CodeInvalidRequest, "date %q is not a day in the form YYYY-MM-DD", s)
	}
	return d.UTC(), nil
}

// Reconciliation returns the calling partner's payments of day (YYYY-MM-DD)
// in the token's environment. Errors: CodeInvalidRequest (bad date), or the
// store's and core's.
func (s *Service) Reconciliation(ctx context.Context, ac *oauth.AccessContext, day string) (*Reconciliation, error) {
	return s.ReconciliationOf(ctx, ac.PartnerID, ac.Environment, day)
}

// ReconciliationOf is Reconciliation for a partner and environment (the
// breaks' matching and the console read it).
func (s *Service) ReconciliationOf(ctx context.Context, partnerID string, env environment.Environment, day string) (*Reconciliation, error) {
	from, err := ParseDay(day)
	if err != nil {
		return nil, err
	}
	to := from.AddDate(0, 0, 1)
	now := s.now()
	ps, err := s.store.PaymentsCreated(ctx, partnerID, env, from, to)
	if err != nil {
		return nil, err
	}
	var rule PaymentFeeRule
	hasFee := false
	if s.fees != nil {
		if rule, hasFee, err = s.fees.PaymentFee(ctx, partnerID); err != nil {
			return nil, err
		}
	}
	rec := &Reconciliation{Day: from, PartnerID: partnerID, Environment: env, Payments: make([]ReconciledPayment, 0, len(ps))}
	pending := false
	type key struct{ cur, status string }
	totals := map[key]*ReconciliationTotal{}
	for _, p := range ps {
		rp := ReconciledPayment{Payment: p}
		switch p.Status {
		case PaymentPending:
			pending = true
		case PaymentAcceptedSettlementInProcess, PaymentAcceptedSettlementCompleted:
			res, err := s.core.Payment(ctx, p.ID)
			switch {
			case errors.Is(err, core.ErrNotFound):
			case err != nil:
				return nil, err
			case res.Status == core.PaymentAccepted && !res.BookedAt.IsZero():
				rp.BookedAt = res.BookedAt.UTC()
				if rp.Entry, err = s.coreEntry(ctx, p.DebtorAccountID, res); err != nil {
					return nil, err
				}
			}
		}
		fees := hasFee && p.Amount.Currency == rule.Currency
		if fees {
			rp.Fee = money.Money{Minor: rule.Fee(1, p.Amount.Minor), Currency: rule.Currency}
		}
		rec.Payments = append(rec.Payments, rp)
		k := key{p.Amount.Currency, p.Status}
		t := totals[k]
		if t == nil {
			t = &ReconciliationTotal{Currency: k.cur, Status: k.status}
			if fees {
				t.FeeCurrency = rule.Currency
			}
			totals[k] = t
		}
		t.Count++
		t.Minor += p.Amount.Minor
	}
	for _, t := range totals {
		if t.FeeCurrency != "" {
			t.FeeMinor = rule.Fee(t.Count, t.Minor)
		}
		rec.Totals = append(rec.Totals, *t)
	}
	sort.Slice(rec.Totals, func(i, j int) bool {
		a, b := rec.Totals[i], rec.Totals[j]
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return a.Status < b.Status
	})
	rec.Final = !now.Before(to) && !pending
	return rec, nil
}

// coreEntry finds the payment's debit entry on the debtor account's
// statement: the debit with the core's DebitTransactionID booked from the
// payment's booking time on (an account's booking times never go backwards,
// so the entry may be booked a little later). nil: the core has none.
func (s *Service) coreEntry(ctx context.Context, accountID string, res *core.PaymentResult) (*CoreEntry, error) {
	if res.DebitTransactionID == "" || accountID == "" {
		return nil, nil
	}
	q := core.TransactionQuery{From: res.BookedAt.Add(-time.Second), To: res.BookedAt.Add(time.Hour), CreditDebit: core.Debit, Limit: core.MaxPageSize}
	for {
		page, err := s.core.Transactions(ctx, accountID, q)
		if errors.Is(err, core.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		for _, t := range page.Transactions {
			if t.ID == res.DebitTransactionID && t.Status == core.StatusBooked {
				return &CoreEntry{TransactionID: t.ID, Amount: t.Amount, BookedAt: t.BookedAt.UTC()}, nil
			}
		}
		if page.NextCursor == "" {
			return nil, nil
		}
		q.Cursor = page.NextCursor
	}
}

// ---- HTTP ----

type reconciledPaymentBody struct {
	DomesticPaymentId         string   `json:"DomesticPaymentId"` //nolint:revive // OB member
	ConsentId                 string   `json:"ConsentId"`         //nolint:revive // OB member
	InstructionIdentification string   `json:"InstructionIdentification"`
	EndToEndIdentification    string   `json:"EndToEndIdentification"`
	Amount                    OBAmount `json:"Amount"`
	Status                    string   `json:"Status"`
	CreationDateTime          string   `json:"CreationDateTime"`
	StatusUpdateDateTime      string   `json:"StatusUpdateDateTime"`
	BookingDateTime           string   `json:"BookingDateTime,omitempty"`
	// Fee is the payment's fee under the partner's contract (absent: none).
	Fee *OBAmount `json:"Fee,omitempty"`
	// ValueDate is the core's booking day (absent: not booked).
	ValueDate string `json:"ValueDate,omitempty"`
}

type reconciliationTotalBody struct {
	Currency string    `json:"Currency"`
	Status   string    `json:"Status"`
	Count    int64     `json:"Count"`
	Amount   string    `json:"Amount"`
	Fee      *OBAmount `json:"Fee,omitempty"`
}

type reconciliationBody struct {
	Data struct {
		Date        string                    `json:"Date"`
		Environment string                    `json:"Environment"`
		Final       bool                      `json:"Final"`
		Payments    []reconciledPaymentBody   `json:"Payments"`
		Totals      []reconciliationTotalBody `json:"Totals"`
	} `json:"Data"`
	Links obLinks `json:"Links"`
	Meta  obMeta  `json:"Meta"`
}

// ReconciliationCSVHeader is the header row of the CSV representation.
var ReconciliationCSVHeader = []string{"DomesticPaymentId", "ConsentId", "InstructionIdentification", "EndToEndIdentification",
	"Amount", "Currency", "Status", "CreationDateTime", "StatusUpdateDateTime", "BookingDateTime", "Fee", "FeeCurrency", "ValueDate"}

func reconciledBody(p *ReconciledPayment) reconciledPaymentBody {
	b := reconciledPaymentBody{DomesticPaymentId: p.ID, ConsentId: p.ConsentID,
		Amount: OBAmount{Amount: money.FormatAmount(p.Amount.Minor, p.Amount.Currency), Currency: p.Amount.Currency},
		Status: p.Status, CreationDateTime: ts(p.CreatedAt), StatusUpdateDateTime: ts(p.StatusUpdatedAt), BookingDateTime: tsOpt(p.BookedAt),
		ValueDate: p.ValueDate()}
	if p.Fee.Currency != "" {
		b.Fee = &OBAmount{Amount: money.FormatAmount(p.Fee.Minor, p.Fee.Currency), Currency: p.Fee.Currency}
	}
	if p.Initiation != nil {
		b.InstructionIdentification, b.EndToEndIdentification = p.Initiation.InstructionIdentification, p.Initiation.EndToEndIdentification
	}
	return b
}

func (h *Handler) reconciliation(c *gin.Context) {
	format := c.NegotiateFormat(gin.MIMEJSON, MediaTypeCSV)
	if format == "" {
		abort(c, problem.New(problem.CodeNotAcceptable, "Accept %q: this resource is application/json or text/csv", c.GetHeader("Accept")))
		return
	}
	rec, err := h.svc.Reconciliation(c.Request.Context(), accessOf(c), c.Param("date"))
	if err != nil {
		abort(c, err)
		return
	}
	if format == MediaTypeCSV {
		c.Header("Content-Type", MediaTypeCSV+"; charset=utf-8; header=present")
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		w.UseCRLF = true // RFC 4180
		_ = w.Write(ReconciliationCSVHeader)
		for i := range rec.Payments {
			b := reconciledBody(&rec.Payments[i])
			var fee, feeCur string
			if b.Fee != nil {
				fee, feeCur = b.Fee.Amount, b.Fee.Currency
			}
			_ = w.Write([]string{b.DomesticPaymentId, b.ConsentId, b.InstructionIdentification, b.EndToEndIdentification,
				b.Amount.Amount, b.Amount.Currency, b.Status, b.CreationDateTime, b.StatusUpdateDateTime, b.BookingDateTime,
				fee, feeCur, b.ValueDate})
		}
		w.Flush()
		return
	}
	var body reconciliationBody
	body.Data.Date = rec.Day.Format(DayLayout)
	body.Data.Environment = string(rec.Environment)
	body.Data.Final = rec.Final
	body.Data.Payments = make([]reconciledPaymentBody, 0, len(rec.Payments))
	for i := range rec.Payments {
		body.Data.Payments = append(body.Data.Payments, reconciledBody(&rec.Payments[i]))
	}
	body.Data.Totals = make([]reconciliationTotalBody, 0, len(rec.Totals))
	for _, t := range rec.Totals {
		tb := reconciliationTotalBody{Currency: t.Currency, Status: t.Status, Count: t.Count,
			Amount: money.FormatAmount(t.Minor, t.Currency)}
		if t.FeeCurrency != "" {
			tb.Fee = &OBAmount{Amount: money.FormatAmount(t.FeeMinor, t.FeeCurrency), Currency: t.FeeCurrency}
		}
		body.Data.Totals = append(body.Data.Totals, tb)
	}
	body.Links = h.self(c)
	c.JSON(http.StatusOK, body)
}
