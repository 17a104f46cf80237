package bankbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Base paths of the partner APIs.
const (
	PathAISP = "/open-banking/v3.1/aisp"
	PathPISP = "/open-banking/v3.1/pisp"
	PathData = "/open-banking/v3.1/data"
)

// API calls the partner APIs with one DPoP-bound access token: a
// client_credentials token to create and read consents, a customer's token
// (from ExchangeCode) to read accounts, make the payment or read a dataset.
// Every call sends a fresh x-fapi-interaction-id (or the one given with
// WithInteractionID), every POST an x-idempotency-key (a random UUID unless
// given with WithIdempotencyKey), and answers a refusal with a *Problem.
// A call answered 429 or 503 with a short Retry-After is repeated after it
// (see Config.RateLimitRetries).
type API struct {
	c     *Client
	token *Token
}

// API returns the partner APIs called with tok.
func (c *Client) API(tok *Token) *API { return &API{c: c, token: tok} }

// ResponseInfo describes the answer of one call (see WithResponseInfo).
type ResponseInfo struct {
	StatusCode int
	// InteractionID is the x-fapi-interaction-id the platform answered with.
	InteractionID string
	// IdempotencyKey is the x-idempotency-key sent (POST only).
	IdempotencyKey string
	// IdempotentReplay is true when the platform replayed the first answer
	// to this idempotency key.
	IdempotentReplay bool
	Header           http.Header
}

// CallOption changes one API call.
type CallOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
	interactionID  string
	info           *ResponseInfo
	header         http.Header
}

// WithIdempotencyKey sends key as x-idempotency-key (POST only): repeat a
// call with the same key and body to get the first answer instead of a
// second payment or consent.
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// WithInteractionID sends id as x-fapi-interaction-id (an RFC 4122 UUID).
func WithInteractionID(id string) CallOption {
	return func(o *callOptions) { o.interactionID = id }
}

// WithResponseInfo fills dst with the answer's status and headers (the
// interaction id, whether it was an idempotent replay).
func WithResponseInfo(dst *ResponseInfo) CallOption {
	return func(o *callOptions) { o.info = dst }
}

// WithHeader adds a request header, e.g. x-fapi-customer-ip-address.
func WithHeader(name, value string) CallOption {
	return func(o *callOptions) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(name, value)
	}
}

// Do calls any partner API route: path is relative to the issuer (e.g.
// "/webhook-endpoints") or an absolute URL on the issuer's origin; in, when
// not nil, is sent as JSON; a 2xx JSON answer is decoded into out when out
// is not nil. The typed methods are built on it.
func (a *API) Do(ctx context.Context, method, path string, in, out any, opts ...CallOption) error {
	var o callOptions
	for _, opt := range opts {
		opt(&o)
	}
	u, err := a.c.resourceURL(path)
	if err != nil {
		return err
	}
	h := http.Header{"Accept": {"application/json"}}
	for k, vs := range o.header {
		h[k] = vs
	}
	if o.interactionID == "" {
		o.interactionID = newUUID()
	}
	h.Set(HeaderInteractionID, o.interactionID)
	var body func() ([]byte, error)
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("bankbridge: encode request: %w", err)
		}
		body = func() ([]byte, error) { return b, nil }
		h.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		if o.idempotencyKey == "" {
			o.idempotencyKey = newUUID()
		}
		h.Set(HeaderIdempotencyKey, o.idempotencyKey)
	}
	if a.token == nil || a.token.AccessToken == "" {
		return fmt.Errorf("bankbridge: %s %s: no access token", method, u.Path)
	}
	var resp *http.Response
	var rb []byte
	for retry := 0; ; retry++ {
		resp, rb, err = a.c.doDPoP(ctx, request{method: method, url: u, header: h, accessToken: a.token.AccessToken, body: body})
		if err != nil {
			return fmt.Errorf("bankbridge: %s %s: %w", method, u.Path, err)
		}
		if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable || retry >= a.c.retries {
			break
		}
		// Rate limited or busy: wait as told (bounded) and repeat the same request.
		wait := problemFrom(resp, rb).RetryAfter
		if resp.Header.Get("Retry-After") == "" || wait > a.c.maxWait {
			break
		}
		if err := a.c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("bankbridge: %s %s: %w", method, u.Path, err)
		}
	}
	if o.info != nil {
		*o.info = ResponseInfo{StatusCode: resp.StatusCode, InteractionID: resp.Header.Get(HeaderInteractionID),
			IdempotencyKey: h.Get(HeaderIdempotencyKey), IdempotentReplay: resp.Header.Get(HeaderIdempotentReplay) == "true", Header: resp.Header}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return problemFrom(resp, rb)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if !isJSON(resp) {
		return fmt.Errorf("bankbridge: %s %s: %w: Content-Type %q", method, u.Path, ErrUnexpectedResponse, resp.Header.Get("Content-Type"))
	}
	dec := json.NewDecoder(bytes.NewReader(rb))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("bankbridge: %s %s: %w: %v", method, u.Path, ErrUnexpectedResponse, err)
	}
	return nil
}

// resourceURL resolves path against the issuer and refuses other origins.
func (c *Client) resourceURL(path string) (*url.URL, error) {
	base, err := url.Parse(c.issuer + "/")
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("bankbridge: bad path %q: %w", path, err)
	}
	var u *url.URL
	if ref.IsAbs() || ref.Host != "" {
		u = base.ResolveReference(ref)
	} else {
		// Paths are under the issuer (which may itself have a path).
		u = base.ResolveReference(&url.URL{Path: strings.TrimPrefix(ref.Path, "/"), RawQuery: ref.RawQuery})
	}
	if origin(u) != origin(base) || !strings.HasPrefix(u.Path, base.Path) {
		return nil, fmt.Errorf("%w: %s", ErrForeignLink, u.Redacted())
	}
	return u, nil
}

// call is Do decoding into a fresh T (nil on error).
func call[T any](ctx context.Context, a *API, method, path string, in any, opts []CallOption) (*T, error) {
	var out T
	if err := a.Do(ctx, method, path, in, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

func esc(id string) string { return url.PathEscape(id) }

// riskOrEmpty makes a nil Risk an empty JSON object (the documents require one).
func riskOrEmpty(r OBRisk2) OBRisk2 {
	if r == nil {
		return OBRisk2{}
	}
	return r
}

// CreateAccountAccessConsent creates an account-access consent (client
// credentials token, scope accounts). Authorise it with PushAuthorization
// and an AuthorizationDetail{Type: DetailAccountAccess, ConsentID: …}.
func (a *API) CreateAccountAccessConsent(ctx context.Context, req OBReadConsent1, opts ...CallOption) (*OBReadConsentResponse1, error) {
	req.Risk = riskOrEmpty(req.Risk)
	return call[OBReadConsentResponse1](ctx, a, http.MethodPost, PathAISP+"/account-access-consents", req, opts)
}

// AccountAccessConsent reads an account-access consent.
func (a *API) AccountAccessConsent(ctx context.Context, consentID string, opts ...CallOption) (*OBReadConsentResponse1, error) {
	return call[OBReadConsentResponse1](ctx, a, http.MethodGet, PathAISP+"/account-access-consents/"+esc(consentID), nil, opts)
}

// DeleteAccountAccessConsent revokes an account-access consent; its tokens
// stop working at once.
func (a *API) DeleteAccountAccessConsent(ctx context.Context, consentID string, opts ...CallOption) error {
	return a.Do(ctx, http.MethodDelete, PathAISP+"/account-access-consents/"+esc(consentID), nil, nil, opts...)
}

// Accounts lists the accounts the customer shared (customer token).
func (a *API) Accounts(ctx context.Context, opts ...CallOption) (*OBReadAccount6, error) {
	return call[OBReadAccount6](ctx, a, http.MethodGet, PathAISP+"/accounts", nil, opts)
}

// Account reads one account.
func (a *API) Account(ctx context.Context, accountID string, opts ...CallOption) (*OBReadAccount6, error) {
	return call[OBReadAccount6](ctx, a, http.MethodGet, PathAISP+"/accounts/"+esc(accountID), nil, opts)
}

// Balances reads an account's balances (permission ReadBalances).
func (a *API) Balances(ctx context.Context, accountID string, opts ...CallOption) (*OBReadBalance1, error) {
	return call[OBReadBalance1](ctx, a, http.MethodGet, PathAISP+"/accounts/"+esc(accountID)+"/balances", nil, opts)
}

// CreateDomesticPaymentConsent creates a domestic payment consent (client
// credentials token, scope payments). Authorise it with PushAuthorization
// and an AuthorizationDetail{Type: DetailPaymentInitiation, ConsentID: …}.
func (a *API) CreateDomesticPaymentConsent(ctx context.Context, req OBWriteDomesticConsent4, opts ...CallOption) (*OBWriteDomesticConsentResponse5, error) {
	return call[OBWriteDomesticConsentResponse5](ctx, a, http.MethodPost, PathPISP+"/domestic-payment-consents", req, opts)
}

// DomesticPaymentConsent reads a domestic payment consent.
func (a *API) DomesticPaymentConsent(ctx context.Context, consentID string, opts ...CallOption) (*OBWriteDomesticConsentResponse5, error) {
	return call[OBWriteDomesticConsentResponse5](ctx, a, http.MethodGet, PathPISP+"/domestic-payment-consents/"+esc(consentID), nil, opts)
}

// FundsConfirmation asks whether the debtor account can pay an authorised
// payment consent (customer token of that consent).
func (a *API) FundsConfirmation(ctx context.Context, consentID string, opts ...CallOption) (*OBWriteFundsConfirmationResponse1, error) {
	return call[OBWriteFundsConfirmationResponse1](ctx, a, http.MethodGet, PathPISP+"/domestic-payment-consents/"+esc(consentID)+"/funds-confirmation", nil, opts)
}

// CreateDomesticPayment makes the payment of an authorised consent
// (customer token of that consent); the Initiation must be the consent's.
// See PaymentFor.
func (a *API) CreateDomesticPayment(ctx context.Context, req OBWriteDomestic2, opts ...CallOption) (*OBWriteDomesticResponse5, error) {
	return call[OBWriteDomesticResponse5](ctx, a, http.MethodPost, PathPISP+"/domestic-payments", req, opts)
}

// DomesticPayment reads a payment and its status.
func (a *API) DomesticPayment(ctx context.Context, paymentID string, opts ...CallOption) (*OBWriteDomesticResponse5, error) {
	return call[OBWriteDomesticResponse5](ctx, a, http.MethodGet, PathPISP+"/domestic-payments/"+esc(paymentID), nil, opts)
}

// DomesticPaymentDetails reads a payment's status history (with the reason
// of a rejection).
func (a *API) DomesticPaymentDetails(ctx context.Context, paymentID string, opts ...CallOption) (*OBWritePaymentDetailsResponse1, error) {
	return call[OBWritePaymentDetailsResponse1](ctx, a, http.MethodGet, PathPISP+"/domestic-payments/"+esc(paymentID)+"/payment-details", nil, opts)
}

// CreateDomesticPaymentCorrection asks the bank to refund (part or all) or
// reverse (the whole amount) one of the partner's accepted payments; it is
// pending until the bank's staff approve it (payment.refunded or
// payment.reversed follows). Pass WithIdempotencyKey to make a retry safe.
func (a *API) CreateDomesticPaymentCorrection(ctx context.Context, paymentID string, req CorrectionRequest, opts ...CallOption) (*CorrectionResponse, error) {
	return call[CorrectionResponse](ctx, a, http.MethodPost, PathPISP+"/domestic-payments/"+esc(paymentID)+"/corrections", req, opts)
}

// DomesticPaymentCorrections lists a payment's corrections with their status.
func (a *API) DomesticPaymentCorrections(ctx context.Context, paymentID string, opts ...CallOption) (*CorrectionsResponse, error) {
	return call[CorrectionsResponse](ctx, a, http.MethodGet, PathPISP+"/domestic-payments/"+esc(paymentID)+"/corrections", nil, opts)
}

// PaymentFor is the payment request of a payment consent: its ConsentId,
// Initiation and Risk, as the documents require them to be repeated.
func PaymentFor(consent *OBWriteDomesticConsentResponse5) OBWriteDomestic2 {
	return OBWriteDomestic2{Data: OBWriteDomestic2Data{ConsentId: consent.Data.ConsentId, Initiation: consent.Data.Initiation}, Risk: consent.Risk}
}

// CreateDataSharingConsent creates a data-sharing consent (client
// credentials token, scope data_sharing). Authorise it with
// PushAuthorization and an AuthorizationDetail{Type: DetailDataSharing, ConsentID: …}.
func (a *API) CreateDataSharingConsent(ctx context.Context, req DataSharingConsentRequest, opts ...CallOption) (*DataSharingConsentResponse, error) {
	if req.Risk == nil {
		req.Risk = map[string]interface{}{}
	}
	return call[DataSharingConsentResponse](ctx, a, http.MethodPost, PathData+"/data-sharing-consents", req, opts)
}

// DataSharingConsent reads a data-sharing consent.
func (a *API) DataSharingConsent(ctx context.Context, consentID string, opts ...CallOption) (*DataSharingConsentResponse, error) {
	return call[DataSharingConsentResponse](ctx, a, http.MethodGet, PathData+"/data-sharing-consents/"+esc(consentID), nil, opts)
}

// DeleteDataSharingConsent revokes a data-sharing consent.
func (a *API) DeleteDataSharingConsent(ctx context.Context, consentID string, opts ...CallOption) error {
	return a.Do(ctx, http.MethodDelete, PathData+"/data-sharing-consents/"+esc(consentID), nil, nil, opts...)
}

// Dataset reads a shared dataset (customer token of a data-sharing consent).
func (a *API) Dataset(ctx context.Context, dataset Dataset, opts ...CallOption) (*DatasetResponse, error) {
	return call[DatasetResponse](ctx, a, http.MethodGet, PathData+"/datasets/"+esc(string(dataset)), nil, opts)
}
