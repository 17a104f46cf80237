package apis

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/bankbridge/bankbridge/internal/mail"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/environment"
	"github.com/bankbridge/bankbridge/internal/events"
	"github.com/bankbridge/bankbridge/internal/money"
	"github.com/bankbridge/bankbridge/oauth"
	"github.com/bankbridge/bankbridge/risk"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
)

// GormStore is the Store on the platform database (migrations
// 0040_apis.sql, 0041_idempotency_key_environment.sql).
type GormStore struct {
	db *db.DB
}

var _ Store = (*GormStore)(nil)

// NewGormStore returns the Store on d.
func NewGormStore(d *db.DB) *GormStore { return &GormStore{db: d} }

// handle is the transaction of ctx (see Tx), else the database, bound to ctx.
func (s *GormStore) handle(ctx context.Context) *gorm.DB { return s.db.Conn(ctx) }

// Tx implements Store: the transaction travels in ctx (db.TxContext).
func (s *GormStore) Tx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.TxContext(ctx, fn)
}

// LockPartnerPayments implements Store: a transaction-scoped advisory lock on
// PostgreSQL; nothing on SQLite, which serialises writers anyway.
func (s *GormStore) LockPartnerPayments(ctx context.Context, partnerID string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("apis.payments:" + partnerID))
	return s.handle(ctx).Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error
}

// LockCustomerPayments implements Store, as LockPartnerPayments.
func (s *GormStore) LockCustomerPayments(ctx context.Context, customerID string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("apis.payments.customer:" + customerID))
	return s.handle(ctx).Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error
}

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.handle(ctx), e)
}

// EnqueueMail implements Store.
func (s *GormStore) EnqueueMail(ctx context.Context, m mail.Message) error {
	_, err := mail.Enqueue(ctx, s.handle(ctx), m)
	return err
}

// PartnerName implements Store. It reads the partners table directly (as
// package mail reads memberships) so that apis need not depend on partners.
func (s *GormStore) PartnerName(ctx context.Context, partnerID string) (string, error) {
	var row struct{ LegalName, TradingName string }
	res := s.handle(ctx).Raw(`SELECT legal_name, trading_name FROM partners WHERE id = ?`, partnerID).Scan(&row)
	if res.Error != nil {
		return "", res.Error
	}
	if res.RowsAffected == 0 {
		return "", ErrNotFound
	}
	if row.TradingName != "" {
		return row.TradingName, nil
	}
	return row.LegalName, nil
}

// Publish implements Store.
func (s *GormStore) Publish(ctx context.Context, pub events.Publisher, eventType, partnerID, appID string, data map[string]any) error {
	return pub.Publish(ctx, s.handle(ctx), eventType, partnerID, appID, data)
}

type consentRow struct {
	ID              string `gorm:"primaryKey"`
	Type            string
	PartnerID       string
	ClientID        string
	Environment     environment.Environment
	Status          string
	CustomerID      string
	AccountIDs      string `gorm:"column:account_ids"`
	Permissions     string
	Datasets        string
	ExpiresAt       *time.Time
	TransactionFrom *time.Time
	TransactionTo   *time.Time
	Initiation      string
	Risk            string
	AmountMinor     int64
	Currency        string
	SCAACR          string `gorm:"column:sca_acr"`
	SCAAMR          string `gorm:"column:sca_amr"`
	SCAExemption    string `gorm:"column:sca_exemption"`
	SCAReason       string `gorm:"column:sca_reason"`
	RiskScore       int
	RiskDecision    string
	RiskReasons     string
	CreatedAt       time.Time
	StatusUpdatedAt time.Time
}

func (consentRow) TableName() string { return "api_consents" }

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func strList(s []string) string {
	if s == nil {
		s = []string{}
	}
	return jsonText(s)
}

func toConsentRow(c *Consent) *consentRow {
	r := &consentRow{ID: c.ID, Type: c.Type, PartnerID: c.PartnerID, ClientID: c.ClientID,
		Environment: c.Environment, Status: c.Status, CustomerID: c.CustomerID,
		AccountIDs: strList(c.AccountIDs), Permissions: strList(c.Permissions), Datasets: strList(c.Datasets),
		ExpiresAt: db.NullTime(c.ExpiresAt), TransactionFrom: db.NullTime(c.TransactionFrom), TransactionTo: db.NullTime(c.TransactionTo),
		Risk: "{}", AmountMinor: c.Amount.Minor, Currency: c.Amount.Currency,
		SCAACR: c.Authorisation.ACR, SCAAMR: strings.Join(c.Authorisation.AMR, " "),
		SCAExemption: c.Authorisation.Exemption, SCAReason: c.Authorisation.Reason,
		RiskScore: c.Scoring.Score, RiskDecision: c.Scoring.Decision, RiskReasons: reasonList(c.Scoring.Reasons),
		CreatedAt: c.CreatedAt.UTC(), StatusUpdatedAt: c.StatusUpdatedAt.UTC()}
	if c.Initiation != nil {
		r.Initiation = c.Initiation.canonical()
	}
	if c.Risk != nil {
		r.Risk = jsonText(c.Risk)
	}
	return r
}

func (r *consentRow) toConsent() (*Consent, error) {
	c := &Consent{ID: r.ID, Type: r.Type, PartnerID: r.PartnerID, ClientID: r.ClientID,
		Environment: r.Environment, Status: r.Status, CustomerID: r.CustomerID,
		ExpiresAt: db.TimeOf(r.ExpiresAt), TransactionFrom: db.TimeOf(r.TransactionFrom), TransactionTo: db.TimeOf(r.TransactionTo),
		Amount:    money.Money{Minor: r.AmountMinor, Currency: r.Currency},
		CreatedAt: r.CreatedAt.UTC(), StatusUpdatedAt: r.StatusUpdatedAt.UTC(),
		Authorisation: oauth.ConsentAuthorisation{ACR: r.SCAACR, AMR: strings.Fields(r.SCAAMR),
			Exemption: r.SCAExemption, Reason: r.SCAReason},
		Scoring: RiskScore{Score: r.RiskScore, Decision: r.RiskDecision}}
	for _, x := range []struct {
		src string
		dst any
	}{{r.AccountIDs, &c.AccountIDs}, {r.Permissions, &c.Permissions}, {r.Datasets, &c.Datasets}, {r.Risk, &c.Risk},
		{orList(r.RiskReasons), &c.Scoring.Reasons}} {
		if err := json.Unmarshal([]byte(x.src), x.dst); err != nil {
			return nil, err
		}
	}
	if r.Initiation != "" {
		c.Initiation = &Initiation{}
		if err := json.Unmarshal([]byte(r.Initiation), c.Initiation); err != nil {
			return nil, err
		}
	}
	return c, nil
}

type paymentRow struct {
	ID              string `gorm:"primaryKey"`
	ConsentID       string
	PartnerID       string
	ClientID        string
	Environment     environment.Environment
	DebtorAccountID string
	AmountMinor     int64
	Currency        string
	Initiation      string
	Status          string
	RejectReason    string
	CustomerID      string
	CreditorAccount string
	Held            bool
	RiskScore       int
	RiskDecision    string
	RiskReasons     string
	CreatedAt       time.Time
	StatusUpdatedAt time.Time
}

func (paymentRow) TableName() string { return "api_payments" }

func (r *paymentRow) toPayment() (*Payment, error) {
	p := &Payment{ID: r.ID, ConsentID: r.ConsentID, PartnerID: r.PartnerID, ClientID: r.ClientID,
		Environment: r.Environment, DebtorAccountID: r.DebtorAccountID,
		Amount: money.Money{Minor: r.AmountMinor, Currency: r.Currency}, Status: r.Status, RejectReason: r.RejectReason,
		CustomerID: r.CustomerID, CreditorAccount: r.CreditorAccount, Held: r.Held,
		Scoring:   RiskScore{Score: r.RiskScore, Decision: r.RiskDecision},
		CreatedAt: r.CreatedAt.UTC(), StatusUpdatedAt: r.StatusUpdatedAt.UTC(), Initiation: &Initiation{}}
	if err := json.Unmarshal([]byte(r.Initiation), p.Initiation); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(orList(r.RiskReasons)), &p.Scoring.Reasons); err != nil {
		return nil, err
	}
	return p, nil
}

// reasonList is the stored JSON of risk reasons ("[]" for none).
func reasonList(rs []risk.Reason) string {
	if rs == nil {
		rs = []risk.Reason{}
	}
	return jsonText(rs)
}

// orList reads an empty column as an empty list.
func orList(s string) string {
	if s == "" {
		return "[]"
	}
	return s
}

type idempotencyRow struct {
	PartnerID      string                  `gorm:"primaryKey"`
	Key            string                  `gorm:"primaryKey"`
	Environment    environment.Environment `gorm:"primaryKey"`
	RequestHash    string
	Status         string
	ResponseStatus int
	ResponseType   string
	ResponseBody   []byte
	CreatedAt      time.Time
}

func (idempotencyRow) TableName() string { return "idempotency_keys" }

type requestLogRow struct {
	ID            int64 `gorm:"primaryKey;autoIncrement"`
	At            time.Time
	ClientID      string
	PartnerID     string
	Environment   environment.Environment
	Method        string
	Path          string
	Status        int
	LatencyUS     int64 `gorm:"column:latency_us"`
	InteractionID string
	ProblemType   string
}

func (requestLogRow) TableName() string { return "request_log" }

// CreateConsent implements Store.
func (s *GormStore) CreateConsent(ctx context.Context, c *Consent) error {
	return s.handle(ctx).Create(toConsentRow(c)).Error
}

// Consent implements Store.
func (s *GormStore) Consent(ctx context.Context, id string) (*Consent, error) {
	var r consentRow
	err := s.handle(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.toConsent()
}

// SetConsentStatus implements Store.
func (s *GormStore) SetConsentStatus(ctx context.Context, c *Consent, from ...string) error {
	res := s.handle(ctx).Model(&consentRow{}).Where("id = ? AND status IN ?", c.ID, from).Updates(consentStatusColumns(c))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

// consentStatusColumns are the columns SetConsentStatus and DecideConsent
// write.
func consentStatusColumns(c *Consent) map[string]any {
	return map[string]any{"status": c.Status, "customer_id": c.CustomerID,
		"account_ids": strList(c.AccountIDs), "status_updated_at": c.StatusUpdatedAt.UTC(),
		"sca_acr": c.Authorisation.ACR, "sca_amr": strings.Join(c.Authorisation.AMR, " "),
		"sca_exemption": c.Authorisation.Exemption, "sca_reason": c.Authorisation.Reason}
}

// DecideConsent implements Store: the consent's UPDATE guards the audit
// entry's and the event's INSERTs (db.DB.Guarded: one statement on
// PostgreSQL, so a consent decided twice concurrently is decided, audited
// and announced once). A publisher that cannot hand its writes over as rows
// publishes in a transaction of the three writes instead.
func (s *GormStore) DecideConsent(ctx context.Context, d ConsentDecision) error {
	c := d.Consent
	rp, rows := d.Publisher.(events.RowPublisher)
	if d.Publisher != nil && !rows {
		return s.Tx(ctx, func(ctx context.Context) error {
			if err := s.SetConsentStatus(ctx, c, d.From...); err != nil {
				return err
			}
			if err := s.Audit(ctx, d.Audit); err != nil {
				return err
			}
			return s.Publish(ctx, d.Publisher, d.EventType, d.PartnerID, d.AppID, d.Data)
		})
	}
	ins, err := audit.Insert(d.Audit)
	if err != nil {
		return err
	}
	w := db.Writes{Inserts: []db.Insert{ins}}
	if rows {
		ew, err := rp.EventWrites(ctx, d.EventType, d.PartnerID, d.AppID, d.Data)
		if err != nil {
			return err
		}
		w.Add(ew)
	}
	cols := consentStatusColumns(c)
	names := make([]string, 0, len(cols))
	for k := range cols {
		names = append(names, k)
	}
	slices.Sort(names) // one statement text, so one prepared statement
	set := make([]string, len(names))
	args := make([]any, 0, len(names)+2)
	for i, k := range names {
		set[i] = k + " = ?"
		args = append(args, cols[k])
	}
	args = append(args, c.ID, d.From)
	n, err := s.db.Guarded(ctx, "UPDATE api_consents SET "+strings.Join(set, ", ")+" WHERE id = ? AND status IN ?", args, w)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrStale
	}
	return nil
}

// ConsentsForCustomer implements Store.
func (s *GormStore) ConsentsForCustomer(ctx context.Context, customerID string) ([]Consent, error) {
	var rows []consentRow
	if err := s.handle(ctx).Where("customer_id = ?", customerID).
		Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*consentRow).toConsent)
}

// CreatePayment implements Store.
func (s *GormStore) CreatePayment(ctx context.Context, p *Payment) error {
	err := s.handle(ctx).Create(&paymentRow{ID: p.ID, ConsentID: p.ConsentID, PartnerID: p.PartnerID,
		ClientID: p.ClientID, Environment: p.Environment, DebtorAccountID: p.DebtorAccountID,
		AmountMinor: p.Amount.Minor, Currency: p.Amount.Currency, Initiation: p.Initiation.canonical(),
		Status: p.Status, RejectReason: p.RejectReason, CustomerID: p.CustomerID, CreditorAccount: p.CreditorAccount,
		Held: p.Held, RiskScore: p.Scoring.Score, RiskDecision: p.Scoring.Decision, RiskReasons: reasonList(p.Scoring.Reasons),
		CreatedAt: p.CreatedAt.UTC(), StatusUpdatedAt: p.StatusUpdatedAt.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrConsentUsed
	}
	return err
}

// Payment implements Store.
func (s *GormStore) Payment(ctx context.Context, id string) (*Payment, error) {
	var r paymentRow
	err := s.handle(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.toPayment()
}

// SetPaymentStatus implements Store.
func (s *GormStore) SetPaymentStatus(ctx context.Context, p *Payment, from string) error {
	res := s.handle(ctx).Model(&paymentRow{}).Where("id = ? AND status = ?", p.ID, from).
		Updates(map[string]any{"status": p.Status, "reject_reason": p.RejectReason, "held": p.Held,
			"status_updated_at": p.StatusUpdatedAt.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

// PartnerTotalSince implements Store.
func (s *GormStore) PartnerTotalSince(ctx context.Context, partnerID string, env environment.Environment, currency string, since time.Time) (int64, error) {
	return s.totalSince(ctx, "partner_id", partnerID, env, currency, since)
}

// ClientTotalSince implements Store.
func (s *GormStore) ClientTotalSince(ctx context.Context, clientID string, env environment.Environment, currency string, since time.Time) (int64, error) {
	return s.totalSince(ctx, "client_id", clientID, env, currency, since)
}

// totalSince sums the non-rejected payments whose column (partner_id or
// client_id, never caller input) is id, in env and currency, created at or
// after since.
func (s *GormStore) totalSince(ctx context.Context, column, id string, env environment.Environment, currency string, since time.Time) (int64, error) {
	var total int64
	err := s.handle(ctx).Model(&paymentRow{}).
		Where(column+" = ? AND environment = ? AND currency = ? AND created_at >= ? AND status <> ?",
			id, env, currency, since.UTC(), PaymentRejected).
		Select("COALESCE(SUM(amount_minor), 0)").Scan(&total).Error
	return total, err
}

// CustomerTotalSince implements Store.
func (s *GormStore) CustomerTotalSince(ctx context.Context, customerID string, env environment.Environment, currency string, since time.Time) (int64, error) {
	var total int64
	err := s.handle(ctx).Table("api_payments AS p").Joins("JOIN api_consents AS c ON c.id = p.consent_id").
		Where("c.customer_id = ? AND p.environment = ? AND p.currency = ? AND p.created_at >= ? AND p.status <> ?",
			customerID, env, currency, since.UTC(), PaymentRejected).
		Select("COALESCE(SUM(p.amount_minor), 0)").Scan(&total).Error
	return total, err
}

// DebtorCountSince implements Store.
func (s *GormStore) DebtorCountSince(ctx context.Context, accountID string, since time.Time) (int64, error) {
	var n int64
	err := s.handle(ctx).Model(&paymentRow{}).
		Where("debtor_account_id = ? AND created_at >= ?", accountID, since.UTC()).Count(&n).Error
	return n, err
}

// CustomerHistory implements Store.
func (s *GormStore) CustomerHistory(ctx context.Context, customerID, currency string, since time.Time) (PaymentHistory, error) {
	var h PaymentHistory
	err := s.handle(ctx).Model(&paymentRow{}).
		Where("customer_id = ? AND currency = ? AND created_at >= ? AND status <> ?", customerID, currency, since.UTC(), PaymentRejected).
		Select("COUNT(*) AS count, COALESCE(SUM(amount_minor), 0) AS sum, COALESCE(MAX(amount_minor), 0) AS max").
		Scan(&h).Error
	return h, err
}

// PaidCreditorBefore implements Store.
func (s *GormStore) PaidCreditorBefore(ctx context.Context, customerID, creditorAccount string) (bool, error) {
	var n int64
	err := s.handle(ctx).Model(&paymentRow{}).
		Where("customer_id = ? AND creditor_account = ? AND status <> ?", customerID, creditorAccount, PaymentRejected).
		Limit(1).Count(&n).Error
	return n > 0, err
}

// PartnerPaymentCounts implements Store.
func (s *GormStore) PartnerPaymentCounts(ctx context.Context, from, to time.Time) (map[string]int64, error) {
	var rows []struct {
		PartnerID string
		N         int64
	}
	err := s.handle(ctx).Model(&paymentRow{}).Select("partner_id, COUNT(*) AS n").
		Where("created_at >= ? AND created_at < ? AND status <> ?", from.UTC(), to.UTC(), PaymentRejected).
		Group("partner_id").Scan(&rows).Error
	out := make(map[string]int64, len(rows))
	for _, r := range rows {
		out[r.PartnerID] = r.N
	}
	return out, err
}

// CustomerCountSince implements Store.
func (s *GormStore) CustomerCountSince(ctx context.Context, customerID string, since time.Time) (int64, error) {
	var n int64
	err := s.handle(ctx).Model(&paymentRow{}).
		Where("customer_id = ? AND created_at >= ?", customerID, since.UTC()).Count(&n).Error
	return n, err
}

// ReleasePayment implements Store.
func (s *GormStore) ReleasePayment(ctx context.Context, id string, at time.Time) error {
	res := s.handle(ctx).Model(&paymentRow{}).Where("id = ? AND status = ? AND held", id, PaymentPending).
		Updates(map[string]any{"held": false, "status_updated_at": at.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrStale
	}
	return nil
}

// RejectedCount implements Store.
func (s *GormStore) RejectedCount(ctx context.Context, accountIDs []string) (map[string]int64, error) {
	var rows []struct {
		DebtorAccountID string
		N               int64
	}
	out := map[string]int64{}
	if len(accountIDs) == 0 {
		return out, nil
	}
	err := s.handle(ctx).Model(&paymentRow{}).Select("debtor_account_id, COUNT(*) AS n").
		Where("debtor_account_id IN ? AND status = ?", accountIDs, PaymentRejected).
		Group("debtor_account_id").Scan(&rows).Error
	for _, r := range rows {
		out[r.DebtorAccountID] = r.N
	}
	return out, err
}

// ClaimKey implements Store.
func (s *GormStore) ClaimKey(ctx context.Context, r *IdempotencyRecord, notBefore time.Time) error {
	g := s.handle(ctx)
	if err := g.Where("partner_id = ? AND environment = ? AND key = ? AND created_at < ?", r.PartnerID, r.Environment, r.Key, notBefore.UTC()).
		Delete(&idempotencyRow{}).Error; err != nil {
		return err
	}
	err := g.Create(&idempotencyRow{PartnerID: r.PartnerID, Key: r.Key, Environment: r.Environment,
		RequestHash: r.RequestHash, Status: KeyInProgress, CreatedAt: r.CreatedAt.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrKeyTaken
	}
	return err
}

// Key implements Store.
func (s *GormStore) Key(ctx context.Context, partnerID string, env environment.Environment, key string) (*IdempotencyRecord, error) {
	var r idempotencyRow
	err := s.handle(ctx).Where("partner_id = ? AND environment = ? AND key = ?", partnerID, env, key).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &IdempotencyRecord{PartnerID: r.PartnerID, Environment: r.Environment, Key: r.Key, RequestHash: r.RequestHash, Status: r.Status,
		ResponseStatus: r.ResponseStatus, ResponseType: r.ResponseType, ResponseBody: r.ResponseBody,
		CreatedAt: r.CreatedAt.UTC()}, nil
}

// FinishKey implements Store.
func (s *GormStore) FinishKey(ctx context.Context, r *IdempotencyRecord) error {
	return s.handle(ctx).Model(&idempotencyRow{}).Where("partner_id = ? AND environment = ? AND key = ?", r.PartnerID, r.Environment, r.Key).
		Updates(map[string]any{"status": KeyDone, "response_status": r.ResponseStatus,
			"response_type": r.ResponseType, "response_body": r.ResponseBody}).Error
}

// ReleaseKey implements Store.
func (s *GormStore) ReleaseKey(ctx context.Context, partnerID string, env environment.Environment, key string) error {
	return s.handle(ctx).Where("partner_id = ? AND environment = ? AND key = ? AND status = ?", partnerID, env, key, KeyInProgress).
		Delete(&idempotencyRow{}).Error
}

// LogRequest implements Store.
func (s *GormStore) LogRequest(ctx context.Context, e *RequestLogEntry) error {
	r := requestLogRow{At: e.At.UTC(), ClientID: e.ClientID, PartnerID: e.PartnerID, Environment: e.Environment,
		Method: e.Method, Path: boundPath(e.Path), Status: e.Status, LatencyUS: e.LatencyUS,
		InteractionID: e.InteractionID, ProblemType: e.ProblemType}
	if err := s.handle(ctx).Create(&r).Error; err != nil {
		return err
	}
	e.ID = r.ID
	return nil
}

const insertRequestLog = `INSERT INTO request_log
	(at, client_id, partner_id, environment, method, path, status, latency_us, interaction_id, problem_type)
	VALUES `

const requestLogValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// requestLogBatch bounds the rows of one multi-row INSERT (10 parameters each).
const requestLogBatch = 100

// requestLogColumns are request_log's columns in requestLogArgs' order,
// and requestLogTypes their PostgreSQL types.
var (
	requestLogColumns = []string{"at", "client_id", "partner_id", "environment", "method", "path", "status", "latency_us", "interaction_id", "problem_type"}
	requestLogTypes   = []string{"timestamptz", "text", "text", "text", "text", "text", "integer", "bigint", "text", "text"}
)

func requestLogArgs(e *RequestLogEntry) []any {
	return []any{e.At.UTC(), e.ClientID, e.PartnerID, e.Environment, e.Method, boundPath(e.Path),
		e.Status, e.LatencyUS, e.InteractionID, e.ProblemType}
}

// OneStatementCalls implements callWriter: WriteCalls runs on PostgreSQL
// only (SQLite has no data-modifying WITH).
func (s *GormStore) OneStatementCalls() bool { return s.db.Dialect == db.Postgres }

// WriteCalls implements callWriter: one statement and no transaction
// (db.DB.InsertClaimed) that records claims (the calls' DPoP proof ids,
// rows the verifier hands over) and, for each call i whose guards[i] is nil
// or a key claimed now, its usage record (usage: rows the UsageRecorder
// hands over, nil for none) and its request-log row es[i]. It returns the
// keys claimed now; a call whose key is missing wrote nothing.
func (s *GormStore) WriteCalls(ctx context.Context, claims db.Rows, guards []any, usage *db.Rows, es []*RequestLogEntry) ([]string, error) {
	logs := db.Rows{Table: "request_log", Columns: requestLogColumns, Types: requestLogTypes, Values: make([][]any, len(es))}
	for i, e := range es {
		logs.Values[i] = requestLogArgs(e)
	}
	rows := []db.Rows{logs}
	if usage != nil {
		rows = []db.Rows{*usage, logs}
	}
	return s.db.InsertClaimed(ctx, claims, guards, rows...)
}

// LogRequests implements Store.
func (s *GormStore) LogRequests(ctx context.Context, es []*RequestLogEntry) error {
	g := s.handle(ctx)
	batch := s.db.RowsPerInsert(requestLogBatch, s.db.InTx(ctx))
	for i := 0; i < len(es); i += batch {
		chunk := es[i:min(i+batch, len(es))]
		var sb strings.Builder
		sb.Grow(len(insertRequestLog) + len(chunk)*(len(requestLogValues)+2))
		sb.WriteString(insertRequestLog)
		args := make([]any, 0, len(chunk)*10)
		for j, e := range chunk {
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(requestLogValues)
			args = append(args, requestLogArgs(e)...)
		}
		if err := g.Exec(sb.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// RequestLog implements Store.
func (s *GormStore) RequestLog(ctx context.Context, partnerID, clientID string, f RequestLogFilter) ([]RequestLogEntry, error) {
	q := s.handle(ctx).Model(&requestLogRow{}).Where("partner_id = ?", partnerID)
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	if f.Query != "" {
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Query)
		q = q.Where(`path LIKE ? ESCAPE '\'`, "%"+esc+"%")
	}
	if f.Status != 0 {
		q = q.Where("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		q = q.Where("at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("at < ?", f.To.UTC())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var rows []requestLogRow
	if err := q.Order("at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]RequestLogEntry, len(rows))
	for i := range rows {
		out[i] = rows[i].toEntry()
	}
	return out, nil
}

// DeleteKeys implements Store.
func (s *GormStore) DeleteKeys(ctx context.Context, partnerID string, env environment.Environment) (int64, error) {
	res := s.handle(ctx).Where("partner_id = ? AND environment = ?", partnerID, env).Delete(&idempotencyRow{})
	return res.RowsAffected, res.Error
}

// DeleteRequestLog implements Store.
func (s *GormStore) DeleteRequestLog(ctx context.Context, partnerID string, env environment.Environment) (int64, error) {
	res := s.handle(ctx).Where("partner_id = ? AND environment = ?", partnerID, env).Delete(&requestLogRow{})
	return res.RowsAffected, res.Error
}

// PartnerConsents implements Store.
func (s *GormStore) PartnerConsents(ctx context.Context, partnerID string, env environment.Environment, statuses ...string) ([]Consent, error) {
	var rows []consentRow
	if err := s.handle(ctx).Where("partner_id = ? AND environment = ? AND status IN ?", partnerID, env, statuses).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*consentRow).toConsent)
}

// LatestPartnerConsents implements Store (the api_consents_partner index
// serves it).
func (s *GormStore) LatestPartnerConsents(ctx context.Context, partnerID string, limit int) ([]Consent, error) {
	switch {
	case limit <= 0:
		limit = DefaultLatestConsents
	case limit > MaxLatestConsents:
		limit = MaxLatestConsents
	}
	var rows []consentRow
	if err := s.handle(ctx).Where("partner_id = ?", partnerID).
		Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*consentRow).toConsent)
}

// PartnerPayments implements Store.
func (s *GormStore) PartnerPayments(ctx context.Context, partnerID string, env environment.Environment, statuses ...string) ([]Payment, error) {
	var rows []paymentRow
	if err := s.handle(ctx).Where("partner_id = ? AND environment = ? AND status IN ?", partnerID, env, statuses).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*paymentRow).toPayment)
}

// CustomerPayments implements Store.
func (s *GormStore) CustomerPayments(ctx context.Context, customerID string, limit int) ([]Payment, error) {
	if limit <= 0 {
		limit = DefaultCustomerPayments
	}
	var rows []paymentRow
	if err := s.handle(ctx).Where("customer_id = ?", customerID).Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*paymentRow).toPayment)
}

// PaymentsCreated implements Store.
func (s *GormStore) PaymentsCreated(ctx context.Context, partnerID string, env environment.Environment, from, to time.Time) ([]Payment, error) {
	var rows []paymentRow
	if err := s.handle(ctx).Where("partner_id = ? AND environment = ? AND created_at >= ? AND created_at < ?", partnerID, env, from.UTC(), to.UTC()).
		Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, err
	}
	return convertRows(rows, (*paymentRow).toPayment)
}

// PurgeKeys implements Store.
func (s *GormStore) PurgeKeys(ctx context.Context, notBefore time.Time) (int64, error) {
	res := s.handle(ctx).Where("created_at < ?", notBefore.UTC()).Delete(&idempotencyRow{})
	return res.RowsAffected, res.Error
}

// PurgeRequestLog implements Store.
func (s *GormStore) PurgeRequestLog(ctx context.Context, notBefore time.Time, batch int) (int64, error) {
	res := s.handle(ctx).Exec(`DELETE FROM request_log WHERE at < ? AND id IN
		(SELECT id FROM request_log ORDER BY id LIMIT ?)`, notBefore.UTC(), batch)
	return res.RowsAffected, res.Error
}

// LatestSuccess implements Store.
func (s *GormStore) LatestSuccess(ctx context.Context, clientIDs []string, method, pathPrefix string) (*RequestLogEntry, error) {
	if len(clientIDs) == 0 {
		return nil, nil
	}
	esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(pathPrefix)
	var r requestLogRow
	res := s.handle(ctx).Model(&requestLogRow{}).
		Where("client_id IN ? AND method = ? AND status >= 200 AND status < 300", clientIDs, method).
		Where(`path LIKE ? ESCAPE '\'`, esc+"%").
		Order("at DESC, id DESC").Limit(1).Find(&r)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, nil
	}
	e := r.toEntry()
	return &e, nil
}

func (r *requestLogRow) toEntry() RequestLogEntry {
	return RequestLogEntry{ID: r.ID, At: r.At.UTC(), ClientID: r.ClientID, PartnerID: r.PartnerID,
		Environment: r.Environment, Method: r.Method, Path: r.Path, Status: r.Status, LatencyUS: r.LatencyUS,
		InteractionID: r.InteractionID, ProblemType: r.ProblemType}
}

// convertRows converts rows read from the database with convert (a row
// type's toConsent or toPayment), stopping at the first row that does not
// convert.
func convertRows[R, T any](rows []R, convert func(*R) (*T, error)) ([]T, error) {
	out := make([]T, 0, len(rows))
	for i := range rows {
		v, err := convert(&rows[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}
