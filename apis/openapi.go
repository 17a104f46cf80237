package apis

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/bankbridge/bankbridge/internal/problem"
)

// operation describes one partner-facing endpoint for the OpenAPI document.
type operation struct {
	method, path, id, summary, tag string
	scope                          string
	customer                       bool   // needs a customer (authorization code) token
	request                        string // request body schema ("" none)
	status                         int
	response                       string // response schema ("" none)
	query                          []string
}

// operations lists every endpoint Register mounts (a test checks both ways).
var operations = []operation{
	{"POST", "/aisp/account-access-consents", "CreateAccountAccessConsents", "Create an account-access consent", "Account access", ScopeAccounts, false, "OBReadConsent1", 201, "OBReadConsentResponse1", nil},
	{"GET", "/aisp/account-access-consents/{ConsentId}", "GetAccountAccessConsentsConsentId", "Get an account-access consent", "Account access", ScopeAccounts, false, "", 200, "OBReadConsentResponse1", nil},
	{"DELETE", "/aisp/account-access-consents/{ConsentId}", "DeleteAccountAccessConsentsConsentId", "Revoke an account-access consent", "Account access", ScopeAccounts, false, "", 204, "", nil},
	{"GET", "/aisp/accounts", "GetAccounts", "List the consented accounts", "Accounts", ScopeAccounts, true, "", 200, "OBReadAccount6", nil},
	{"GET", "/aisp/accounts/{AccountId}", "GetAccountsAccountId", "Get one consented account", "Accounts", ScopeAccounts, true, "", 200, "OBReadAccount6", nil},
	{"GET", "/aisp/accounts/{AccountId}/balances", "GetAccountsAccountIdBalances", "Get an account's balances", "Balances", ScopeAccounts, true, "", 200, "OBReadBalance1", nil},
	{"GET", "/aisp/accounts/{AccountId}/transactions", "GetAccountsAccountIdTransactions", "Get an account's transactions, newest first, paged through Links.Next", "Transactions", ScopeAccounts, true, "", 200, "OBReadTransaction6", []string{"fromBookingDateTime", "toBookingDateTime", "cursor"}},
	{"POST", "/pisp/domestic-payment-consents", "CreateDomesticPaymentConsents", "Create a domestic payment consent", "Domestic payments", ScopePayments, false, "OBWriteDomesticConsent4", 201, "OBWriteDomesticConsentResponse5", nil},
	{"GET", "/pisp/domestic-payment-consents/{ConsentId}", "GetDomesticPaymentConsentsConsentId", "Get a domestic payment consent", "Domestic payments", ScopePayments, false, "", 200, "OBWriteDomesticConsentResponse5", nil},
	{"GET", "/pisp/domestic-payment-consents/{ConsentId}/funds-confirmation", "GetDomesticPaymentConsentsConsentIdFundsConfirmation", "Confirm the debtor account can pay the consent's amount now", "Domestic payments", ScopePayments, true, "", 200, "OBWriteFundsConfirmationResponse1", nil},
	{"POST", "/pisp/domestic-payments", "CreateDomesticPayments", "Initiate the domestic payment of an authorised consent (once)", "Domestic payments", ScopePayments, true, "OBWriteDomestic2", 201, "OBWriteDomesticResponse5", nil},
	{"GET", "/pisp/domestic-payments/{DomesticPaymentId}", "GetDomesticPaymentsDomesticPaymentId", "Get a domestic payment", "Domestic payments", ScopePayments, false, "", 200, "OBWriteDomesticResponse5", nil},
	{"GET", "/pisp/domestic-payments/{DomesticPaymentId}/payment-details", "GetDomesticPaymentsDomesticPaymentIdPaymentDetails", "Get a domestic payment's status detail (the rejection reason)", "Domestic payments", ScopePayments, false, "", 200, "OBWritePaymentDetailsResponse1", nil},
	{"POST", "/pisp/domestic-payments/{DomesticPaymentId}/corrections", "CreateDomesticPaymentsDomesticPaymentIdCorrections", "Ask for a refund (part or all; the refunds never exceed the payment) or a reversal (the whole amount, once) of an accepted payment; the bank approves or rejects it, then credits the customer and sends payment.refunded or payment.reversed", "Corrections", ScopePayments, false, "CorrectionRequest", 201, "CorrectionResponse", nil},
	{"GET", "/pisp/domestic-payments/{DomesticPaymentId}/corrections", "GetDomesticPaymentsDomesticPaymentIdCorrections", "List a payment's corrections with their status, newest first", "Corrections", ScopePayments, false, "", 200, "CorrectionsResponse", nil},
	{"GET", "/reconciliation/{date}", "GetReconciliationDate", "List the partner's payments of one UTC day (YYYY-MM-DD) in the token's environment, with totals per currency and status; JSON, or CSV with Accept: text/csv", "Reconciliation", ScopePayments, false, "", 200, "ReconciliationResponse", nil},
	{"PUT", "/reconciliation/{date}/partner-record", "PutReconciliationDatePartnerRecord", "Upload (or replace, until finance closes the day) the partner's own record of one UTC day as CSV (text/csv: the reconciliation's columns, header required) or JSON; the day's breaks are recomputed", "Reconciliation", ScopePayments, false, "PartnerRecord", 200, "PartnerRecordReceipt", nil},
	{"GET", "/reconciliation/{date}/breaks", "GetReconciliationDateBreaks", "List the breaks of one UTC day between the platform's payments, the partner's record and the core's booked entries (open and resolved)", "Reconciliation", ScopePayments, false, "", 200, "ReconciliationBreaksResponse", nil},
	{"POST", "/data/data-sharing-consents", "CreateDataSharingConsents", "Create a data-sharing consent (Bankbridge API)", "Data sharing", ScopeDataSharing, false, "DataSharingConsentRequest", 201, "DataSharingConsentResponse", nil},
	{"GET", "/data/data-sharing-consents/{ConsentId}", "GetDataSharingConsentsConsentId", "Get a data-sharing consent", "Data sharing", ScopeDataSharing, false, "", 200, "DataSharingConsentResponse", nil},
	{"DELETE", "/data/data-sharing-consents/{ConsentId}", "DeleteDataSharingConsentsConsentId", "Revoke a data-sharing consent", "Data sharing", ScopeDataSharing, false, "", 204, "", nil},
	{"GET", "/data/datasets/{dataset}", "GetDatasetsDataset", "Compute a consented dataset (transaction_insights or risk_signals)", "Data sharing", ScopeDataSharing, true, "", 200, "DatasetResponse", nil},
}

// idempotencyRequired lists the operations (paths under BasePath) where UK OB
// v3.1.11 makes x-idempotency-key a required parameter: the payment consents
// and payments (Register uses the same rule).
var idempotencyRequired = map[string]bool{
	"/pisp/domestic-payment-consents": true,
	"/pisp/domestic-payments":         true,
}

var pathParam = regexp.MustCompile(`\{([A-Za-z]+)\}`)

func str(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }

func ref(name string) map[string]any { return map[string]any{"$ref": "#/components/schemas/" + name} }

func dateTimeSchema() map[string]any { return map[string]any{"type": "string", "format": "date-time"} }

func links() map[string]any {
	return map[string]any{"type": "object", "required": []string{"Self"}, "properties": map[string]any{
		"Self": map[string]any{"type": "string", "format": "uri"}, "Next": map[string]any{"type": "string", "format": "uri"}}}
}

// bankbridgeSchemas are the schemas of the Bankbridge-only data-sharing API
// and of problem+json.
func bankbridgeSchemas() map[string]any {
	datasetEnum := map[string]any{"type": "string", "enum": []string{DatasetTransactionInsights, DatasetRiskSignals}}
	obj := func(required []string, props map[string]any) map[string]any {
		return map[string]any{"type": "object", "required": required, "properties": props}
	}
	feeSchema := obj([]string{"Amount", "Currency"}, map[string]any{
		"Amount":   str("the payment's fee under the partner's active contract (fixed fee plus basis points of the amount, rounded half-even); absent without a contract or in another currency than the contract's"),
		"Currency": str("the contract currency")})
	return map[string]any{
		"DataSharingConsentRequest": obj([]string{"Data", "Risk"}, map[string]any{
			"Data": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"Datasets"}, "properties": map[string]any{
				"Datasets":           map[string]any{"type": "array", "minItems": 1, "items": datasetEnum},
				"ExpirationDateTime": dateTimeSchema()}},
			"Risk": map[string]any{"type": "object"}}),
		"ReconciliationResponse": obj([]string{"Data", "Links", "Meta"}, map[string]any{
			"Data": obj([]string{"Date", "Environment", "Final", "Payments", "Totals"}, map[string]any{
				"Date":        map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}-\d{2}$`, "description": "the UTC day (YYYY-MM-DD)"},
				"Environment": map[string]any{"type": "string", "enum": []string{"sandbox", "production"}},
				"Final":       map[string]any{"type": "boolean", "description": "true once the UTC day has ended and no payment of it is still Pending: the list and totals no longer change"},
				"Payments": map[string]any{"type": "array", "description": "every payment the partner created that day in this environment, oldest first with its fee and value date",
					"items": obj([]string{"DomesticPaymentId", "ConsentId", "InstructionIdentification", "EndToEndIdentification", "Amount", "Status", "CreationDateTime", "StatusUpdateDateTime"}, map[string]any{
						"DomesticPaymentId":         str("pay_… payment id"),
						"ConsentId":                 str("pcn_… consent id"),
						"InstructionIdentification": map[string]any{"type": "string"},
						"EndToEndIdentification":    map[string]any{"type": "string"},
						"Amount": obj([]string{"Amount", "Currency"}, map[string]any{
							"Amount": str("Open Banking decimal amount"), "Currency": str("ISO 4217 code")}),
						"Status":               map[string]any{"type": "string", "enum": []string{PaymentPending, PaymentAcceptedSettlementInProcess, PaymentAcceptedSettlementCompleted, PaymentRejected}},
						"CreationDateTime":     dateTimeSchema(),
						"StatusUpdateDateTime": dateTimeSchema(),
						"BookingDateTime":      map[string]any{"type": "string", "format": "date-time", "description": "when the core booked (and valued) the payment; absent until booked"},
						"Fee":                  feeSchema,
						"ValueDate":            map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}-\d{2}$`, "description": "the core's booking day; absent until booked"}})},
				"Totals": map[string]any{"type": "array", "description": "per currency and status, by currency then status",
					"items": obj([]string{"Currency", "Status", "Count", "Amount"}, map[string]any{
						"Currency": map[string]any{"type": "string"}, "Status": map[string]any{"type": "string"},
						"Count": map[string]any{"type": "integer"}, "Amount": str("Open Banking decimal amount"),
						"Fee": obj([]string{"Amount", "Currency"}, map[string]any{
							"Amount":   str("the contract's payment fee of these payments together (fixed fee times Count plus the basis points of Amount, rounded half-even once, as the monthly statement bills it); may differ from the sum of the payments' fees by rounding"),
							"Currency": str("the contract currency")})})}}),
			"Links": links(), "Meta": map[string]any{"type": "object"}}),
		"PartnerRecord": obj([]string{"Data"}, map[string]any{
			"Data": obj([]string{"Payments"}, map[string]any{
				"Payments": map[string]any{"type": "array", "maxItems": MaxRecordLines, "description": "the partner's payments of the day; the members of the reconciliation's payments (unknown members are refused); DomesticPaymentId, Amount and Status are compared",
					"items": obj([]string{"DomesticPaymentId", "Amount", "Status"}, map[string]any{
						"DomesticPaymentId":         str("pay_… payment id"),
						"ConsentId":                 map[string]any{"type": "string"},
						"InstructionIdentification": map[string]any{"type": "string"},
						"EndToEndIdentification":    map[string]any{"type": "string"},
						"Amount": obj([]string{"Amount", "Currency"}, map[string]any{
							"Amount": str("Open Banking decimal amount"), "Currency": str("ISO 4217 code")}),
						"Status":               map[string]any{"type": "string", "enum": []string{PaymentPending, PaymentAcceptedSettlementInProcess, PaymentAcceptedSettlementCompleted, PaymentRejected}},
						"CreationDateTime":     dateTimeSchema(),
						"StatusUpdateDateTime": dateTimeSchema(),
						"BookingDateTime":      dateTimeSchema(),
						"Fee":                  feeSchema,
						"ValueDate":            map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}-\d{2}$`}})}})}),
		"PartnerRecordReceipt": obj([]string{"Data", "Links", "Meta"}, map[string]any{
			"Data": obj([]string{"Date", "Payments", "UploadedDateTime", "Replaced", "OpenBreaks"}, map[string]any{
				"Date":             map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}-\d{2}$`},
				"Payments":         map[string]any{"type": "integer", "description": "payments in the record"},
				"UploadedDateTime": dateTimeSchema(),
				"Replaced":         map[string]any{"type": "boolean", "description": "an earlier record of the day was replaced"},
				"OpenBreaks":       map[string]any{"type": "integer", "description": "open breaks of the day after matching"}}),
			"Links": links(), "Meta": map[string]any{"type": "object"}}),
		"ReconciliationBreaksResponse": obj([]string{"Data", "Links", "Meta"}, map[string]any{
			"Data": obj([]string{"Date", "Breaks"}, map[string]any{
				"Date": map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}-\d{2}$`},
				"Breaks": map[string]any{"type": "array", "description": "by payment id, then kind",
					"items": obj([]string{"BreakId", "DomesticPaymentId", "Kind", "Status", "CreationDateTime", "StatusUpdateDateTime"}, map[string]any{
						"BreakId":           str("rcb_… break id"),
						"DomesticPaymentId": str("the payment id (missing_at_bank: as the partner's record names it)"),
						"Kind": map[string]any{"type": "string", "enum": []string{BreakMissingAtPartner, BreakMissingAtBank, BreakMissingInCore,
							BreakAmountDiffers, BreakCurrencyDiffers, BreakStatusDiffers},
							"description": "missing_at_partner: our payment is not in the partner's record; missing_at_bank: the record names a payment we do not have for this partner, environment and day; missing_in_core: an accepted payment without a booked debit entry in the core; currency_differs / amount_differs: the record's (or the core entry's) currency / amount is not ours; status_differs: the record's Status is not ours"},
						"BankValue":            str("our amount (\"12.34 GBP\") or status"),
						"PartnerValue":         str("the partner record's amount or status"),
						"CoreValue":            str("the core's booked debit entry's amount"),
						"Status":               map[string]any{"type": "string", "enum": []string{BreakOpen, BreakResolved}},
						"Resolution":           map[string]any{"type": "string", "description": "once resolved: matched (the break disappeared), partner_corrected, bank_corrected, write_off, duplicate"},
						"CreationDateTime":     dateTimeSchema(),
						"StatusUpdateDateTime": dateTimeSchema()})}}),
			"Links": links(), "Meta": map[string]any{"type": "object"}}),
		"DataSharingConsentResponse": obj([]string{"Data", "Risk", "Links", "Meta"}, map[string]any{
			"Data": obj([]string{"ConsentId", "CreationDateTime", "Status", "StatusUpdateDateTime", "Datasets"}, map[string]any{
				"ConsentId":        str("dsc_… consent id"),
				"CreationDateTime": dateTimeSchema(),
				"Status": map[string]any{"type": "string", "enum": []string{StatusAwaitingAuthorisation, StatusAuthorised,
					StatusRejected, StatusRevoked, StatusExpired}},
				"StatusUpdateDateTime": dateTimeSchema(),
				"Datasets":             map[string]any{"type": "array", "items": datasetEnum},
				"ExpirationDateTime":   dateTimeSchema()}),
			"Risk": map[string]any{"type": "object"}, "Links": links(), "Meta": map[string]any{"type": "object"}}),
		"DatasetResponse": obj([]string{"Data", "Links", "Meta"}, map[string]any{
			"Data": obj([]string{"Dataset", "AccountIds", "FromDateTime", "ToDateTime"}, map[string]any{
				"Dataset":      datasetEnum,
				"AccountIds":   map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				"FromDateTime": dateTimeSchema(),
				"ToDateTime":   dateTimeSchema(),
				"Months": map[string]any{"type": "array", "description": "transaction_insights: spending (debits, transfers between own accounts excluded) per calendar month and category",
					"items": obj([]string{"Month", "Categories"}, map[string]any{
						"Month": map[string]any{"type": "string", "pattern": `^\d{4}-\d{2}$`},
						"Categories": map[string]any{"type": "array", "items": obj([]string{"Category", "Currency", "Amount", "TransactionCount"}, map[string]any{
							"Category": str("spending category"), "Currency": map[string]any{"type": "string", "pattern": "^[A-Z]{3}$"},
							"Amount":           map[string]any{"type": "string", "pattern": `^\d{1,13}$|^\d{1,13}\.\d{1,5}$`},
							"TransactionCount": map[string]any{"type": "integer"}})}})},
				"RiskSignals": map[string]any{"type": "array", "description": "risk_signals: one entry per consented account",
					"items": obj([]string{"AccountId", "AccountAgeDays", "ReturnedPaymentCount", "MonthlyIncomeBand", "OverdraftUsageDays"}, map[string]any{
						"AccountId":            str("acc_… account id"),
						"AccountAgeDays":       map[string]any{"type": "integer", "description": "days since the account was opened"},
						"ReturnedPaymentCount": map[string]any{"type": "integer", "description": "payments initiated through Bankbridge from the account that the bank rejected"},
						"MonthlyIncomeBand": map[string]any{"type": "string", "description": "average monthly income (credits other than own transfers and refunds) over the last 3 full months, in major units",
							"enum": []string{"under_1000", "1000_2000", "2000_3500", "3500_5000", "over_5000"}},
						"OverdraftUsageDays": map[string]any{"type": "integer", "description": "days of the last 90 that ended with a negative booked balance"}})}}),
			"Links": links(), "Meta": map[string]any{"type": "object"}}),
		"Problem": obj([]string{"type", "title", "status", "code"}, map[string]any{
			"type":   str("urn:bankbridge:problem:<code>"),
			"title":  map[string]any{"type": "string"},
			"status": map[string]any{"type": "integer"},
			"detail": map[string]any{"type": "string"}, "instance": map[string]any{"type": "string"},
			"code": map[string]any{"type": "string", "enum": problemCodes()}}),
	}
}

func problemCodes() []string {
	var out []string
	for _, c := range problem.Codes() {
		out = append(out, string(c))
	}
	sort.Strings(out)
	return out
}

// OpenAPI returns the OpenAPI 3.1 document of every partner-facing endpoint:
// those Register serves (paths under BasePath), the webhook-endpoint API and
// dynamic client registration (/register), with the Open Banking v3.1.11
// schemas they use and the Bankbridge data-sharing schemas. issuer is the
// authorization server's issuer URL (its discovery document describes the
// token endpoint). The lead merges it with the webhooks section.
func OpenAPI(issuer string) map[string]any {
	var schemas map[string]any
	if err := json.Unmarshal([]byte(obSchemas), &schemas); err != nil {
		panic("apis: embedded OB schemas: " + err.Error())
	}
	for k, v := range bankbridgeSchemas() {
		schemas[k] = v
	}
	for k, v := range correctionSchemas() {
		schemas[k] = v
	}
	problemResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{problem.MediaType: map[string]any{"schema": ref("Problem")}}}
	}
	interaction := map[string]any{"name": "x-fapi-interaction-id", "in": "header", "schema": map[string]any{"type": "string"},
		"description": "RFC 4122 UUID correlation id; echoed (or generated) on every response"}
	respHeaders := map[string]any{"x-fapi-interaction-id": map[string]any{"schema": map[string]any{"type": "string"}, "required": true}}
	paths := map[string]any{}
	for _, op := range operations {
		full := BasePath + op.path
		params := []any{interaction}
		for _, m := range pathParam.FindAllStringSubmatch(op.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.query {
			s := map[string]any{"type": "string"}
			if q != "cursor" {
				s["format"] = "date-time"
			}
			params = append(params, map[string]any{"name": q, "in": "query", "schema": s})
		}
		o := map[string]any{"operationId": op.id, "summary": op.summary, "tags": []string{op.tag},
			"security": []any{map[string]any{"bankbridge": []string{op.scope}}}}
		token := "a client_credentials access token"
		if op.customer {
			token = "an access token the customer authorised (authorization code flow with authorization_details)"
		}
		o["description"] = "Needs " + token + " with scope " + op.scope + ", DPoP-bound (RFC 9449)."
		if op.method == "PUT" {
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": ref(op.request)},
				MediaTypeCSV: map[string]any{"schema": map[string]any{"type": "string",
					"description": "RFC 4180 CSV: the header row " + strings.Join(ReconciliationCSVHeader, ",") + " exactly, then one row per payment; DomesticPaymentId, Amount, Currency and Status are required, the other columns empty or well-formed"}}}}
		}
		if op.method == "POST" {
			req := idempotencyRequired[op.path]
			desc := "same key and body within 24 h replays the first response (x-idempotent-replay: true)"
			if !req {
				desc = "optional (UK OB v3.1.11 does not define it on this operation); when sent, " + desc
			}
			params = append(params, map[string]any{"name": IdempotencyHeader, "in": "header", "required": req,
				"schema": map[string]any{"type": "string", "maxLength": 40}, "description": desc})
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref(op.request)}}}
		}
		jws := strings.HasPrefix(op.path, "/pisp/") // UK OB v3.1.11 message signing (jws.go)
		if jws && op.method == "POST" {
			params = append(params, map[string]any{"name": JWSHeader, "in": "header", "required": false, "schema": map[string]any{"type": "string"},
				"description": "Detached JWS (header..signature, b64 absent) of the body, signed PS256 or ES256 with a key of the app's JWK Set; crit http://openbanking.org.uk/iat, /iss (the client_id), /tan. Verified when sent; required for apps registered with require-signed-requests."})
		}
		o["parameters"] = params
		ok := map[string]any{"description": "Success", "headers": respHeaders}
		if op.response != "" {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": ref(op.response)}}
		}
		responses := map[string]any{itoa(op.status): ok,
			"400": problemResp("Malformed request"), "401": problemResp("Token or DPoP proof refused (WWW-Authenticate says why)"),
			"403": problemResp("Scope, consent, permission or account refused"), "404": problemResp("Unknown id (or another partner's)"),
			"422": problemResp("Validation failed")}
		if op.path == "/reconciliation/{date}" {
			ok["content"].(map[string]any)[MediaTypeCSV] = map[string]any{"schema": map[string]any{"type": "string",
				"description": "RFC 4180 CSV, a header row then one row per payment: " + strings.Join(ReconciliationCSVHeader, ",")}}
			responses["406"] = problemResp("Accept is neither application/json nor text/csv")
		}
		if op.method == "PUT" {
			responses["409"] = problemResp("Finance closed the day: the record can no longer be replaced")
			responses["415"] = problemResp("Content-Type is neither text/csv nor application/json")
			responses["422"] = problemResp("The record is invalid: the detail names the first line (JSON: item) and field, errors lists every one as {line, field, reason}")
		}
		if op.method == "POST" {
			responses["409"] = problemResp("Consent consumed, or the same idempotency key is in flight")
			responses["429"] = problemResp("Velocity exceeded")
		}
		if jws {
			for _, r := range responses {
				h := map[string]any{JWSHeader: map[string]any{"schema": map[string]any{"type": "string"},
					"description": "Detached JWS of the response body signed with the bank's key at jwks_uri (UK OB v3.1.11 message signing)"}}
				old, _ := r.(map[string]any)["headers"].(map[string]any)
				for k, v := range old {
					h[k] = v
				}
				r.(map[string]any)["headers"] = h
			}
		}
		o["responses"] = responses
		item, _ := paths[full].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[full] = item
		}
		item[strings.ToLower(op.method)] = o
	}
	for k, v := range platformPaths(problemResp) {
		paths[k] = v
	}
	for k, v := range platformSchemas() {
		schemas[k] = v
	}
	securitySchemes := platformSecuritySchemes()
	securitySchemes["bankbridge"] = map[string]any{"type": "openIdConnect",
		"openIdConnectUrl": strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration",
		"description":      "FAPI 2.0: PAR, PKCE, private_key_jwt, DPoP-bound access tokens (send Authorization: DPoP <token> and a DPoP proof)."}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Bankbridge partner APIs", "version": "3.1.11-bankbridge.1",
			"description": "Account information and payment initiation in the shape of the UK Open Banking Read/Write API v3.1.11, plus Bankbridge's data-sharing API under " + BasePath + "/data. " +
				"Differences from Open Banking on purpose: FAPI 2.0 with DPoP-bound tokens instead of FAPI 1 mTLS; RFC 9396 authorization_details (types account_access, payment_initiation, data_sharing with consent_id) instead of openbanking_intent_id; errors are RFC 9457 application/problem+json with a stable code. " +
				"OB v3.1.11 has no Expired consent status: an expired account-access consent keeps Status Authorised with its past ExpirationDateTime, a revoked or expired payment consent shows Rejected. " +
				"Payment settlement: POST answers AcceptedSettlementInProcess once the bank accepted the instruction; a later GET shows AcceptedSettlementCompleted once the booking is confirmed; a rejected payment (e.g. insufficient funds) is created with Status Rejected and its reason in /payment-details."},
		"servers": []any{map[string]any{"url": strings.TrimRight(issuer, "/")}},
		"paths":   paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": securitySchemes,
		},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
