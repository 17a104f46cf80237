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

// Partner payment reconciliation (issue 17 item 1, first part):
// GET BasePath/reconciliation/{date} lists every payment the calling partner
// created in its environment on one UTC day, with totals per currency and
// status, as JSON or (Accept: text/csv) CSV. Fees are not listed: apis has no
// read of the contracts' fee terms (a port for them comes with the partner
// upload and breaks workflow).

// DayLayout is the form of a reconciliation day (a UTC day).
const DayLayout = "2006-01-02"

// MediaTypeCSV is the CSV representation of a reconciliation.
const MediaTypeCSV = "text/csv"

// ReconciledPayment is one payment of a reconciliation day.
type ReconciledPayment struct {
	Payment
	// BookedAt is when the core booked the payment (zero: not booked, or not
	// known to the core); the reference core values payments on booking.
	BookedAt time.Time
}

// ReconciliationTotal sums the payments of one currency and status.
type ReconciliationTotal struct {
	Currency string
	Status   string
	Count    int64
	Minor    int64
}

// Reconciliation is one partner's payments of one UTC day in one
// environment.
type Reconciliation struct {
	Day         time.Time // 00:00 UTC of the day
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
	from, err := ParseDay(day)
	if err != nil {
		return nil, err
	}
	to := from.AddDate(0, 0, 1)
	now := s.now()
	ps, err := s.store.PaymentsCreated(ctx, ac.PartnerID, ac.Environment, from, to)
	if err != nil {
		return nil, err
	}
	rec := &Reconciliation{Day: from, Environment: ac.Environment, Payments: make([]ReconciledPayment, 0, len(ps))}
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
			}
		}
		rec.Payments = append(rec.Payments, rp)
		k := key{p.Amount.Currency, p.Status}
		t := totals[k]
		if t == nil {
			t = &ReconciliationTotal{Currency: k.cur, Status: k.status}
			totals[k] = t
		}
		t.Count++
		t.Minor += p.Amount.Minor
	}
	for _, t := range totals {
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
}

type reconciliationTotalBody struct {
	Currency string `json:"Currency"`
	Status   string `json:"Status"`
	Count    int64  `json:"Count"`
	Amount   string `json:"Amount"`
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
	"Amount", "Currency", "Status", "CreationDateTime", "StatusUpdateDateTime", "BookingDateTime"}

func reconciledBody(p *ReconciledPayment) reconciledPaymentBody {
	b := reconciledPaymentBody{DomesticPaymentId: p.ID, ConsentId: p.ConsentID,
		Amount: OBAmount{Amount: money.FormatAmount(p.Amount.Minor, p.Amount.Currency), Currency: p.Amount.Currency},
		Status: p.Status, CreationDateTime: ts(p.CreatedAt), StatusUpdateDateTime: ts(p.StatusUpdatedAt), BookingDateTime: tsOpt(p.BookedAt)}
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
			_ = w.Write([]string{b.DomesticPaymentId, b.ConsentId, b.InstructionIdentification, b.EndToEndIdentification,
				b.Amount.Amount, b.Amount.Currency, b.Status, b.CreationDateTime, b.StatusUpdateDateTime, b.BookingDateTime})
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
		body.Data.Totals = append(body.Data.Totals, reconciliationTotalBody{Currency: t.Currency, Status: t.Status, Count: t.Count,
			Amount: money.FormatAmount(t.Minor, t.Currency)})
	}
	body.Links = h.self(c)
	c.JSON(http.StatusOK, body)
}
