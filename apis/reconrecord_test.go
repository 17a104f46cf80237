package apis_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/bankbridge/bankbridge/apis"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
)

var recordHeader = strings.Join(apis.ReconciliationCSVHeader, ",")

// recordRow is a CSV row of a partner record with the compared columns set.
func recordRow(id, amount, cur, status string) string {
	return id + ",pcn_1,instr,e2e," + amount + "," + cur + "," + status + ",2026-06-15T13:00:00Z,2026-06-15T13:00:00Z,,,,"
}

// TestParsePartnerRecord: the strict parser of a partner's record accepts
// exactly the reconciliation's CSV columns (or JSON members) and names the
// line and field of every refusal.
func TestParsePartnerRecord(t *testing.T) {
	const ok1 = "pay_1"
	for _, tc := range []struct {
		name, ct, body string
		want           []apis.RecordedPayment
		code           problem.Code
		detail         string
	}{
		{name: "ok/csv", ct: "text/csv", body: recordHeader + "\r\n" + recordRow(ok1, "12.34", "GBP", "AcceptedSettlementCompleted") + "\r\n" +
			"pay_2,,,,0.5,EUR,Rejected,,,,0.10,GBP,2026-06-15\n",
			want: []apis.RecordedPayment{{Line: 2, PaymentID: ok1, Amount: money.Money{Minor: 1234, Currency: "GBP"}, Status: "AcceptedSettlementCompleted"},
				{Line: 3, PaymentID: "pay_2", Amount: money.Money{Minor: 50, Currency: "EUR"}, Status: "Rejected"}}},
		{name: "ok/csv with charset and a byte order mark", ct: "text/csv; charset=utf-8", body: "\ufeff" + recordHeader + "\n" + recordRow(ok1, "1", "GBP", "Pending"),
			want: []apis.RecordedPayment{{Line: 2, PaymentID: ok1, Amount: money.Money{Minor: 100, Currency: "GBP"}, Status: "Pending"}}},
		{name: "ok/csv header only: an empty day", ct: "text/csv", body: recordHeader + "\n", want: []apis.RecordedPayment{}},
		{name: "ok/csv zero fee", ct: "text/csv", body: recordHeader + "\n" + "pay_1,,,,1.00,GBP,Pending,,,,0.00,GBP,\n",
			want: []apis.RecordedPayment{{Line: 2, PaymentID: ok1, Amount: money.Money{Minor: 100, Currency: "GBP"}, Status: "Pending"}}},
		{name: "ok/json", ct: "application/json", body: `{"Data":{"Payments":[{"DomesticPaymentId":"pay_1","Amount":{"Amount":"12.34","Currency":"GBP"},"Status":"Rejected","Fee":{"Amount":"0.20","Currency":"GBP"},"ValueDate":"2026-06-15"}]}}`,
			want: []apis.RecordedPayment{{Line: 1, PaymentID: ok1, Amount: money.Money{Minor: 1234, Currency: "GBP"}, Status: "Rejected"}}},
		{name: "fail/csv empty body", ct: "text/csv", body: "",
			code: problem.CodeValidation, detail: "partner record: line 1: the header row is required: " + recordHeader},
		{name: "fail/csv header missing", ct: "text/csv", body: recordRow(ok1, "1", "GBP", "Pending") + "\n",
			code: problem.CodeValidation, detail: "partner record: line 1: the header row must be " + recordHeader},
		{name: "fail/csv header reordered", ct: "text/csv", body: strings.Replace(recordHeader, "Amount,Currency", "Currency,Amount", 1) + "\n",
			code: problem.CodeValidation, detail: "partner record: line 1: the header row must be " + recordHeader},
		{name: "fail/csv bad amount", ct: "text/csv", body: recordHeader + "\n" + recordRow(ok1, "1", "GBP", "Pending") + "\n" + recordRow("pay_2", "12.3x", "GBP", "Pending") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 3, field Amount: amount "12.3x" is not a decimal of up to 13 digits and 5 decimals`},
		{name: "fail/csv too many decimals", ct: "text/csv", body: recordHeader + "\n" + recordRow(ok1, "1.234", "GBP", "Pending") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field Amount: amount "1.234" has more decimals than GBP allows (2)`},
		{name: "fail/csv unknown currency", ct: "text/csv", body: recordHeader + "\n" + recordRow(ok1, "1", "XXX", "Pending") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field Currency: "XXX" is not a supported ISO 4217 currency`},
		{name: "fail/csv unknown status", ct: "text/csv", body: recordHeader + "\n" + recordRow(ok1, "1", "GBP", "Done") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field Status: "Done" is not one of Pending, AcceptedSettlementInProcess, AcceptedSettlementCompleted, Rejected`},
		{name: "fail/csv missing id", ct: "text/csv", body: recordHeader + "\n" + recordRow("", "1", "GBP", "Pending") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field DomesticPaymentId: required`},
		{name: "fail/csv duplicate id", ct: "text/csv", body: recordHeader + "\n" + recordRow(ok1, "1", "GBP", "Pending") + "\n" + recordRow(ok1, "2", "GBP", "Pending") + "\n",
			code: problem.CodeValidation, detail: `partner record: line 3, field DomesticPaymentId: payment "pay_1" is listed twice (first on line 2)`},
		{name: "fail/csv bad date-time", ct: "text/csv", body: recordHeader + "\n" + "pay_1,,,,1,GBP,Pending,yesterday,,,,,\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field CreationDateTime: "yesterday" is not an RFC 3339 date-time`},
		{name: "fail/csv bad value date", ct: "text/csv", body: recordHeader + "\n" + "pay_1,,,,1,GBP,Pending,,,,,,2026-6-1\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field ValueDate: "2026-6-1" is not a day in the form YYYY-MM-DD`},
		{name: "fail/csv fee without currency", ct: "text/csv", body: recordHeader + "\n" + "pay_1,,,,1,GBP,Pending,,,,0.10,,\n",
			code: problem.CodeValidation, detail: `partner record: line 2, field FeeCurrency: required with Fee`},
		{name: "fail/csv short row", ct: "text/csv", body: recordHeader + "\n" + "pay_1,,,,1,GBP,Pending\n",
			code: problem.CodeValidation, detail: `partner record: line 2: has 7 fields, the header 13`},
		{name: "fail/csv bare quote", ct: "text/csv", body: recordHeader + "\n" + `pay_1,"x"y,,,1,GBP,Pending,,,,,,` + "\n",
			code: problem.CodeValidation, detail: `partner record: line 2: not valid CSV: extraneous or missing " in quoted-field`},
		{name: "fail/json unknown member", ct: "application/json", body: `{"Data":{"Payments":[{"PaymentId":"pay_1"}]}}`,
			code: problem.CodeMalformedJSON, detail: `partner record: json: unknown field "PaymentId"`},
		{name: "fail/json no payments", ct: "application/json", body: `{"Data":{}}`,
			code: problem.CodeValidation, detail: `partner record: Data.Payments: required`},
		{name: "fail/json bad amount", ct: "application/json", body: `{"Data":{"Payments":[{"DomesticPaymentId":"pay_1","Amount":{"Amount":"1","Currency":"GBP"},"Status":"Pending"},{"DomesticPaymentId":"pay_2","Amount":{"Amount":"-1","Currency":"GBP"},"Status":"Pending"}]}}`,
			code: problem.CodeValidation, detail: `partner record: Data.Payments[1].Amount.Amount: amount "-1" is not a decimal of up to 13 digits and 5 decimals`},
		{name: "fail/json trailing data", ct: "application/json", body: `{"Data":{"Payments":[]}} {}`,
			code: problem.CodeMalformedJSON, detail: `partner record: data after the JSON document`},
		{name: "fail/other media type", ct: "application/xml", body: "<x/>",
			code: problem.CodeUnsupportedMedia, detail: `Content-Type "application/xml": a partner record is text/csv or application/json`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apis.ParsePartnerRecord(tc.ct, []byte(tc.body))
			if tc.code != "" {
				var pe *problem.Error
				if !errors.As(err, &pe) || pe.Code != tc.code || pe.Detail != tc.detail {
					t.Fatalf("err = %v, want %s %q", err, tc.code, tc.detail)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %+v, want %+v", got[i], tc.want[i])
				}
			}
		})
	}
	t.Run("fail/every field error is listed with its line", func(t *testing.T) {
		_, err := apis.ParsePartnerRecord("text/csv", []byte(recordHeader+"\n"+recordRow("", "x", "GBP", "")+"\n"))
		var pe *problem.Error
		if !errors.As(err, &pe) {
			t.Fatal(err)
		}
		list, _ := pe.Extra["errors"].([]apis.RecordError)
		want := []apis.RecordError{{Line: 2, Field: "DomesticPaymentId", Reason: "required"},
			{Line: 2, Field: "Amount", Reason: `amount "x" is not a decimal of up to 13 digits and 5 decimals`},
			{Line: 2, Field: "Status", Reason: "required"}}
		if len(list) != len(want) {
			t.Fatalf("errors %+v", pe.Extra)
		}
		for i := range want {
			if list[i] != want[i] {
				t.Fatalf("errors[%d] = %+v, want %+v", i, list[i], want[i])
			}
		}
	})
}

// FuzzParsePartnerRecord: the parser never panics, refuses only with its
// problems, and what it accepts written back as CSV parses to the same
// payments.
func FuzzParsePartnerRecord(f *testing.F) {
	for _, s := range []string{
		recordHeader + "\n" + recordRow("pay_1", "12.34", "GBP", "Pending") + "\n",
		recordHeader + "\r\n" + recordRow("pay_1", "1", "JPY", "Rejected") + "\r\n" + recordRow("pay_2", "0.001", "BHD", "AcceptedSettlementCompleted"),
		"\ufeff" + recordHeader + "\n\"pay,1\",,,,1,GBP,Pending,,,,0,GBP,2026-01-01\n",
		recordHeader, "", "a,b\n1,2\n", recordHeader + "\n\"unterminated\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := apis.ParsePartnerRecord("text/csv", []byte(s))
		if err != nil {
			switch problem.CodeOf(err) {
			case problem.CodeValidation:
			default:
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write(apis.ReconciliationCSVHeader)
		for _, p := range got {
			if p.PaymentID == "" || p.Amount.Minor <= 0 {
				t.Fatalf("%q: accepted %+v", s, p)
			}
			_ = w.Write([]string{p.PaymentID, "", "", "", money.FormatAmount(p.Amount.Minor, p.Amount.Currency), p.Amount.Currency, p.Status,
				"", "", "", "", "", ""})
		}
		w.Flush()
		again, err := apis.ParsePartnerRecord("text/csv", buf.Bytes())
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: round trip %v %+v", s, err, again)
		}
		for i := range got {
			if again[i].PaymentID != got[i].PaymentID || again[i].Amount != got[i].Amount || again[i].Status != got[i].Status {
				t.Fatalf("%q: round trip %+v != %+v", s, again[i], got[i])
			}
		}
	})
}
