package apis

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/bankbridge/bankbridge/internal/httpx"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/internal/problem"
	"github.com/bankbridge/bankbridge/oauth"
)

// Payment corrections (issue 17 item 2): a partner asks for a refund or a
// reversal of one of its accepted payments, POST
// BasePath/pisp/domestic-payments/{id}/corrections, and lists them with
// their status, GET on the same path. The corrections domain decides and
// posts them; apis serves them through its Corrections port (adapted in
// cmd/bankbridge to package corrections) behind the same chain as the other
// payment endpoints (token, scope payments, quota, x-idempotency-key,
// metering).

// Corrections is the port to the corrections domain.
type Corrections interface {
	// RequestCorrection records the partner's request (pending the bank's
	// approval). Refusals: CodeNotFound (no such payment of the caller's
	// partner and environment), CodeValidation, CodeInvalidState.
	RequestCorrection(ctx context.Context, ac *oauth.AccessContext, paymentID string, req CorrectionRequest, interactionID string) (*PaymentCorrection, error)
	// PaymentCorrections lists a payment's corrections, newest first;
	// CodeNotFound as above.
	PaymentCorrections(ctx context.Context, ac *oauth.AccessContext, paymentID string) ([]PaymentCorrection, error)
}

// CorrectionRequest is the partner's request body, parsed.
type CorrectionRequest struct {
	Kind   string
	Amount money.Money // zero for a reversal without an amount (the whole payment)
	Reason string
}

// PaymentCorrection is a correction as the partner sees it.
type PaymentCorrection struct {
	ID, PaymentID, Kind, Status string
	Amount                      money.Money
	Reason                      string
	CreatedAt, UpdatedAt        time.Time
	PostedAt                    time.Time // zero until posted
}

type correctionIn struct {
	Kind   string `json:"Kind"`
	Amount *struct {
		Amount   string `json:"Amount"`
		Currency string `json:"Currency"`
	} `json:"Amount"`
	Reason string `json:"Reason"`
}

type correctionData struct {
	CorrectionId         string      `json:"CorrectionId"`      //nolint:revive // OB style
	DomesticPaymentId    string      `json:"DomesticPaymentId"` //nolint:revive // OB member
	Kind                 string      `json:"Kind"`
	Status               string      `json:"Status"`
	Amount               obAmountOut `json:"Amount"`
	Reason               string      `json:"Reason"`
	CreationDateTime     string      `json:"CreationDateTime"`
	StatusUpdateDateTime string      `json:"StatusUpdateDateTime"`
	PostingDateTime      string      `json:"PostingDateTime,omitempty"`
}

func correctionOut(k PaymentCorrection) correctionData {
	return correctionData{CorrectionId: k.ID, DomesticPaymentId: k.PaymentID, Kind: k.Kind, Status: k.Status,
		Amount: amountOut(k.Amount), Reason: k.Reason, CreationDateTime: ts(k.CreatedAt),
		StatusUpdateDateTime: ts(k.UpdatedAt), PostingDateTime: tsOpt(k.PostedAt)}
}

func (h *Handler) correctionsPath(c *gin.Context) string {
	return BasePath + "/pisp/domestic-payments/" + c.Param("DomesticPaymentId") + "/corrections"
}

func (h *Handler) corrections() (Corrections, bool) { return h.corr, h.corr != nil }

func (h *Handler) createCorrection(c *gin.Context) {
	corr, ok := h.corrections()
	if !ok {
		abort(c, problem.New(problem.CodeNotFound, "payment corrections are not offered here"))
		return
	}
	var in correctionIn
	if err := httpx.DecodeJSON(c, &in); err != nil {
		abort(c, err)
		return
	}
	req := CorrectionRequest{Kind: in.Kind, Reason: strings.TrimSpace(in.Reason)}
	if in.Amount != nil {
		minor, err := money.ParseAmount(in.Amount.Amount, in.Amount.Currency)
		if err != nil {
			abort(c, problem.New(problem.CodeValidation, "Amount: %v", err))
			return
		}
		req.Amount = money.Money{Minor: minor, Currency: in.Amount.Currency}
	}
	k, err := corr.RequestCorrection(c.Request.Context(), accessOf(c), c.Param("DomesticPaymentId"), req, httpx.InteractionIDOf(c))
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"Data": correctionOut(*k), "Links": h.link(c, h.correctionsPath(c)), "Meta": obMeta{}})
}

func (h *Handler) listCorrections(c *gin.Context) {
	corr, ok := h.corrections()
	if !ok {
		abort(c, problem.New(problem.CodeNotFound, "payment corrections are not offered here"))
		return
	}
	ks, err := corr.PaymentCorrections(c.Request.Context(), accessOf(c), c.Param("DomesticPaymentId"))
	if err != nil {
		abort(c, err)
		return
	}
	out := make([]correctionData, len(ks))
	for i := range ks {
		out[i] = correctionOut(ks[i])
	}
	c.JSON(http.StatusOK, gin.H{"Data": gin.H{"Corrections": out}, "Links": h.link(c, h.correctionsPath(c)), "Meta": obMeta{}})
}

// correctionSchemas are the OpenAPI schemas of the corrections API.
func correctionSchemas() map[string]any {
	obj := func(required []string, props map[string]any) map[string]any {
		return map[string]any{"type": "object", "required": required, "properties": props}
	}
	amount := obj([]string{"Amount", "Currency"}, map[string]any{"Amount": str("Open Banking decimal amount"), "Currency": str("ISO 4217 code")})
	kind := map[string]any{"type": "string", "enum": []string{"refund", "reversal"}}
	data := obj([]string{"CorrectionId", "DomesticPaymentId", "Kind", "Status", "Amount", "Reason", "CreationDateTime", "StatusUpdateDateTime"}, map[string]any{
		"CorrectionId":      str("cor_… correction id"),
		"DomesticPaymentId": str("pay_… the corrected payment"),
		"Kind":              kind,
		"Status": map[string]any{"type": "string", "enum": []string{"pending_approval", "approved", "posted", "rejected", "failed"},
			"description": "pending_approval until a member of the bank's staff decides; posted once credited to the customer's account; failed when the bank's core refused the posting"},
		"Amount": amount, "Reason": map[string]any{"type": "string"},
		"CreationDateTime": dateTimeSchema(), "StatusUpdateDateTime": dateTimeSchema(), "PostingDateTime": dateTimeSchema()})
	return map[string]any{
		"CorrectionRequest": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"Kind", "Reason"}, "properties": map[string]any{
			"Kind":   kind,
			"Amount": map[string]any{"allOf": []any{amount}, "description": "required for a refund (the refunds of a payment never exceed it); a reversal is the whole amount"},
			"Reason": map[string]any{"type": "string", "minLength": 1, "maxLength": 100, "description": "shown on the customer's statement"}}},
		"CorrectionResponse": obj([]string{"Data", "Links", "Meta"}, map[string]any{"Data": data, "Links": links(), "Meta": map[string]any{"type": "object"}}),
		"CorrectionsResponse": obj([]string{"Data", "Links", "Meta"}, map[string]any{
			"Data":  obj([]string{"Corrections"}, map[string]any{"Corrections": map[string]any{"type": "array", "items": data}}),
			"Links": links(), "Meta": map[string]any{"type": "object"}}),
	}
}
