package apis

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// The partner's record of a day and the breaks (issue 17 item 1):
// PUT BasePath/reconciliation/{date}/partner-record uploads (or replaces) the
// partner's own list of its payments of the day, as CSV (the columns of the
// reconciliation's CSV, header required) or JSON (the reconciliation's
// Data.Payments); GET BasePath/reconciliation/{date}/breaks lists the breaks
// between the platform, the partner's record and the core. Package recon
// keeps both (Reconciler, given in HandlerConfig).

// MaxRecordBytes bounds an uploaded partner record.
const MaxRecordBytes = 4 << 20

// MaxRecordLines bounds the payments of one partner record.
const MaxRecordLines = 20000

// maxRecordErrors bounds the field errors one refusal lists.
const maxRecordErrors = 50

// RecordedPayment is one payment of a partner's record of a day. Only the
// id, amount and status are compared; the other columns are checked for
// form and kept as the partner sent them.
type RecordedPayment struct {
	// Line is the CSV line (the header is line 1) or, for JSON, the item's
	// position in Data.Payments counted from 1.
	Line      int         `json:"line"`
	PaymentID string      `json:"payment_id"`
	Amount    money.Money `json:"amount"`
	Status    string      `json:"status"`
}

// RecordError is one refused field of a partner record.
type RecordError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Reconciler keeps partners' records and the breaks of their days (package
// recon implements it).
type Reconciler interface {
	// UploadRecord stores the partner's record of day, replacing an earlier
	// one, and recomputes the day's breaks. Errors: CodeConflict once
	// finance has closed the day.
	UploadRecord(ctx context.Context, partnerID string, env environment.Environment, day time.Time, by string, lines []RecordedPayment) (*RecordReceipt, error)
	// PartnerBreaks lists the breaks of the partner's day (open and closed).
	PartnerBreaks(ctx context.Context, partnerID string, env environment.Environment, day time.Time) ([]Break, error)
}

// RecordReceipt answers an upload.
type RecordReceipt struct {
	Payments   int
	UploadedAt time.Time
	Replaced   bool // an earlier record of the day was replaced
	OpenBreaks int
}

// Break kinds (exact definitions in package recon and the README).
const (
	BreakMissingAtPartner = "missing_at_partner"
	BreakMissingAtBank    = "missing_at_bank"
	BreakMissingInCore    = "missing_in_core"
	BreakAmountDiffers    = "amount_differs"
	BreakCurrencyDiffers  = "currency_differs"
	BreakStatusDiffers    = "status_differs"
)

// Break statuses.
const (
	BreakOpen     = "open"
	BreakResolved = "resolved"
)

// Break is one difference of a partner's day, as the partner sees it.
type Break struct {
	ID        string
	Day       string
	PaymentID string
	Kind      string
	// BankValue, PartnerValue and CoreValue are the compared values
	// ("12.34 GBP", a status) on each side; "" where a side has none.
	BankValue, PartnerValue, CoreValue string
	Status                             string // BreakOpen or BreakResolved
	Resolution                         string // resolution code once resolved ("matched": disappeared)
	CreatedAt, UpdatedAt               time.Time
	ResolvedAt                         time.Time
}

// recordColumns maps the CSV columns to the JSON member names (for errors).
var recordJSONField = map[string]string{"Amount": "Amount.Amount", "Currency": "Amount.Currency",
	"Fee": "Fee.Amount", "FeeCurrency": "Fee.Currency"}

// zeroAmount is a fee of nothing ("0", "0.00"), which ParseAmount refuses.
var zeroAmount = regexp.MustCompile(`^0{1,13}(\.0{1,5})?$`)

var paymentStatuses = map[string]bool{PaymentPending: true, PaymentAcceptedSettlementInProcess: true,
	PaymentAcceptedSettlementCompleted: true, PaymentRejected: true}

// recordErrors collects field errors and renders the refusal.
type recordErrors struct {
	list []RecordError
	json bool
}

func (e *recordErrors) add(line int, field, format string, args ...any) {
	if len(e.list) < maxRecordErrors {
		e.list = append(e.list, RecordError{Line: line, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
}

func (e *recordErrors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	f := e.list[0]
	where := fmt.Sprintf("line %d, field %s", f.Line, f.Field)
	if e.json {
		where = f.Field
		if f.Line > 0 {
			where = fmt.Sprintf("Data.Payments[%d].%s", f.Line-1, f.Field)
		}
	} else if f.Field == "" {
		where = fmt.Sprintf("line %d", f.Line)
	}
	return problem.New(problem.CodeValidation, "partner record: %s: %s", where, f.Reason).With("errors", e.list)
}

// checkRow checks one payment's columns (in ReconciliationCSVHeader order)
// and returns it; errors go to errs.
func checkRow(line int, row []string, errs *recordErrors) RecordedPayment {
	n := len(errs.list)
	field := func(col string) string {
		if errs.json {
			if f, ok := recordJSONField[col]; ok {
				return f
			}
		}
		return col
	}
	get := func(i int) string { return row[i] }
	id, consent, instr, e2e := get(0), get(1), get(2), get(3)
	amount, cur, status := get(4), get(5), get(6)
	switch {
	case id == "":
		errs.add(line, field("DomesticPaymentId"), "required")
	case len(id) > 128:
		errs.add(line, field("DomesticPaymentId"), "longer than 128 characters")
	}
	for i, v := range map[string]string{"ConsentId": consent, "InstructionIdentification": instr, "EndToEndIdentification": e2e} {
		if len(v) > 256 {
			errs.add(line, field(i), "longer than 256 characters")
		}
	}
	var minor int64
	if _, ok := money.Exponent(cur); !ok {
		if cur == "" {
			errs.add(line, field("Currency"), "required")
		} else {
			errs.add(line, field("Currency"), "%q is not a supported ISO 4217 currency", cur)
		}
	} else if amount == "" {
		errs.add(line, field("Amount"), "required")
	} else {
		var err error
		if minor, err = money.ParseAmount(amount, cur); err != nil {
			errs.add(line, field("Amount"), "%s", err.Error())
		}
	}
	switch {
	case status == "":
		errs.add(line, field("Status"), "required")
	case !paymentStatuses[status]:
		errs.add(line, field("Status"), "%q is not one of Pending, AcceptedSettlementInProcess, AcceptedSettlementCompleted, Rejected", status)
	}
	for i, col := range []string{"CreationDateTime", "StatusUpdateDateTime", "BookingDateTime"} {
		if v := get(7 + i); v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				errs.add(line, field(col), "%q is not an RFC 3339 date-time", v)
			}
		}
	}
	fee, feeCur := get(10), get(11)
	switch {
	case fee == "" && feeCur != "":
		errs.add(line, field("Fee"), "required with FeeCurrency")
	case fee != "" && feeCur == "":
		errs.add(line, field("FeeCurrency"), "required with Fee")
	case fee != "":
		if _, ok := money.Exponent(feeCur); !ok {
			errs.add(line, field("FeeCurrency"), "%q is not a supported ISO 4217 currency", feeCur)
		} else if !zeroAmount.MatchString(fee) {
			if _, err := money.ParseAmount(fee, feeCur); err != nil {
				errs.add(line, field("Fee"), "%s", err.Error())
			}
		}
	}
	if v := get(12); v != "" {
		if _, err := time.Parse(DayLayout, v); err != nil || len(v) != len(DayLayout) {
			errs.add(line, field("ValueDate"), "%q is not a day in the form YYYY-MM-DD", v)
		}
	}
	if len(errs.list) > n {
		return RecordedPayment{}
	}
	return RecordedPayment{Line: line, PaymentID: id, Amount: money.Money{Minor: minor, Currency: cur}, Status: status}
}

// ParsePartnerRecord parses a partner's record of a day: mediaType is
// text/csv (RFC 4180, the header row of the reconciliation's CSV exactly,
// then one payment per line; a UTF-8 byte order mark is skipped) or
// application/json ({"Data":{"Payments":[…]}} with the members of the
// reconciliation's payments; unknown members are refused). A payment id may
// appear once. Refusals: CodeValidation "partner record: line 3, field
// Amount: …" (JSON: "partner record: Data.Payments[1].Amount.Amount: …")
// with every field error (up to 50) in "errors" as {line, field, reason};
// CodeMalformedJSON for JSON that does not parse; CodeUnsupportedMedia for
// another media type.
func ParsePartnerRecord(mediaType string, body []byte) ([]RecordedPayment, error) {
	mt, _, err := mime.ParseMediaType(mediaType)
	switch {
	case err == nil && mt == MediaTypeCSV:
		return parseRecordCSV(body)
	case err == nil && mt == gin.MIMEJSON:
		return parseRecordJSON(body)
	}
	return nil, problem.New(problem.CodeUnsupportedMedia, "Content-Type %q: a partner record is text/csv or application/json", mediaType)
}

func parseRecordCSV(body []byte) ([]RecordedPayment, error) {
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	errs := &recordErrors{}
	csvErr := func(err error) error {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			errs.add(pe.Line, "", "not valid CSV: %s", pe.Err.Error())
		} else {
			errs.add(0, "", "not valid CSV: %s", err.Error())
		}
		return errs.err()
	}
	head, err := r.Read()
	if err == io.EOF {
		errs.add(1, "", "the header row is required: %s", strings.Join(ReconciliationCSVHeader, ","))
		return nil, errs.err()
	}
	if err != nil {
		return nil, csvErr(err)
	}
	if strings.Join(head, ",") != strings.Join(ReconciliationCSVHeader, ",") {
		errs.add(1, "", "the header row must be %s", strings.Join(ReconciliationCSVHeader, ","))
		return nil, errs.err()
	}
	out := []RecordedPayment{}
	first := map[string]int{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(err)
		}
		line, _ := r.FieldPos(0)
		if len(row) != len(ReconciliationCSVHeader) {
			errs.add(line, "", "has %d fields, the header %d", len(row), len(ReconciliationCSVHeader))
			continue
		}
		if len(out) >= MaxRecordLines {
			errs.add(line, "", "a record lists at most %d payments", MaxRecordLines)
			break
		}
		p := checkRow(line, row, errs)
		if p.PaymentID == "" {
			continue
		}
		if l, dup := first[p.PaymentID]; dup {
			errs.add(line, "DomesticPaymentId", "payment %q is listed twice (first on line %d)", p.PaymentID, l)
			continue
		}
		first[p.PaymentID] = line
		out = append(out, p)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

type recordJSON struct {
	Data *struct {
		Payments []*reconciledPaymentBody `json:"Payments"`
	} `json:"Data"`
}

func parseRecordJSON(body []byte) ([]RecordedPayment, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var doc recordJSON
	if err := dec.Decode(&doc); err != nil {
		return nil, problem.New(problem.CodeMalformedJSON, "partner record: %s", err.Error())
	}
	if dec.More() {
		return nil, problem.New(problem.CodeMalformedJSON, "partner record: data after the JSON document")
	}
	errs := &recordErrors{json: true}
	if doc.Data == nil || doc.Data.Payments == nil {
		errs.add(0, "Data.Payments", "required")
		return nil, errs.err()
	}
	if len(doc.Data.Payments) > MaxRecordLines {
		errs.add(0, "Data.Payments", "a record lists at most %d payments", MaxRecordLines)
		return nil, errs.err()
	}
	out := []RecordedPayment{}
	first := map[string]int{}
	for i, b := range doc.Data.Payments {
		item := i + 1
		if b == nil {
			errs.add(item, "", "a payment object is required")
			continue
		}
		var fee, feeCur string
		if b.Fee != nil {
			fee, feeCur = b.Fee.Amount, b.Fee.Currency
		}
		p := checkRow(item, []string{b.DomesticPaymentId, b.ConsentId, b.InstructionIdentification, b.EndToEndIdentification,
			b.Amount.Amount, b.Amount.Currency, b.Status, b.CreationDateTime, b.StatusUpdateDateTime, b.BookingDateTime,
			fee, feeCur, b.ValueDate}, errs)
		if p.PaymentID == "" {
			continue
		}
		if l, dup := first[p.PaymentID]; dup {
			errs.add(item, "DomesticPaymentId", "payment %q is listed twice (first at Data.Payments[%d])", p.PaymentID, l-1)
			continue
		}
		first[p.PaymentID] = item
		out = append(out, p)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ---- HTTP ----

type recordReceiptBody struct {
	Data struct {
		Date       string `json:"Date"`
		Payments   int    `json:"Payments"`
		UploadedAt string `json:"UploadedDateTime"`
		Replaced   bool   `json:"Replaced"`
		OpenBreaks int    `json:"OpenBreaks"`
	} `json:"Data"`
	Links obLinks `json:"Links"`
	Meta  obMeta  `json:"Meta"`
}

type breakBody struct {
	BreakId      string `json:"BreakId"`           //nolint:revive // OB member style
	PaymentId    string `json:"DomesticPaymentId"` //nolint:revive // OB member
	Kind         string `json:"Kind"`
	BankValue    string `json:"BankValue,omitempty"`
	PartnerValue string `json:"PartnerValue,omitempty"`
	CoreValue    string `json:"CoreValue,omitempty"`
	Status       string `json:"Status"`
	Resolution   string `json:"Resolution,omitempty"`
	Created      string `json:"CreationDateTime"`
	Updated      string `json:"StatusUpdateDateTime"`
}

type breaksBody struct {
	Data struct {
		Date   string      `json:"Date"`
		Breaks []breakBody `json:"Breaks"`
	} `json:"Data"`
	Links obLinks `json:"Links"`
	Meta  obMeta  `json:"Meta"`
}

func (h *Handler) reconciler(c *gin.Context) (Reconciler, time.Time, bool) {
	if h.recon == nil {
		abort(c, problem.New(problem.CodeNotFound, "partner records are not enabled"))
		return nil, time.Time{}, false
	}
	day, err := ParseDay(c.Param("date"))
	if err != nil {
		abort(c, err)
		return nil, time.Time{}, false
	}
	return h.recon, day, true
}

func (h *Handler) uploadRecord(c *gin.Context) {
	rc, day, ok := h.reconciler(c)
	if !ok {
		return
	}
	ct := c.GetHeader("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != MediaTypeCSV && mt != gin.MIMEJSON) {
		abort(c, problem.New(problem.CodeUnsupportedMedia, "Content-Type %q: a partner record is text/csv or application/json", ct))
		return
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, MaxRecordBytes+1))
	if err != nil {
		abort(c, problem.New(problem.CodeMalformedJSON, "cannot read the request body"))
		return
	}
	if len(body) > MaxRecordBytes {
		abort(c, problem.New(problem.CodeInvalidRequest, "a partner record is at most %d bytes", MaxRecordBytes))
		return
	}
	lines, err := ParsePartnerRecord(ct, body)
	if err != nil {
		abort(c, err)
		return
	}
	ac := accessOf(c)
	rcpt, err := rc.UploadRecord(c.Request.Context(), ac.PartnerID, ac.Environment, day, ac.ClientID, lines)
	if err != nil {
		abort(c, err)
		return
	}
	var b recordReceiptBody
	b.Data.Date = day.Format(DayLayout)
	b.Data.Payments, b.Data.UploadedAt, b.Data.Replaced, b.Data.OpenBreaks = rcpt.Payments, ts(rcpt.UploadedAt), rcpt.Replaced, rcpt.OpenBreaks
	b.Links = h.self(c)
	c.JSON(http.StatusOK, b)
}

func (h *Handler) breaks(c *gin.Context) {
	rc, day, ok := h.reconciler(c)
	if !ok {
		return
	}
	ac := accessOf(c)
	bs, err := rc.PartnerBreaks(c.Request.Context(), ac.PartnerID, ac.Environment, day)
	if err != nil {
		abort(c, err)
		return
	}
	var b breaksBody
	b.Data.Date = day.Format(DayLayout)
	b.Data.Breaks = make([]breakBody, 0, len(bs))
	for _, x := range bs {
		b.Data.Breaks = append(b.Data.Breaks, breakBody{BreakId: x.ID, PaymentId: x.PaymentID, Kind: x.Kind, BankValue: x.BankValue,
			PartnerValue: x.PartnerValue, CoreValue: x.CoreValue, Status: x.Status, Resolution: x.Resolution,
			Created: ts(x.CreatedAt), Updated: ts(x.UpdatedAt)})
	}
	b.Links = h.self(c)
	c.JSON(http.StatusOK, b)
}
