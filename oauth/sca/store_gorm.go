package sca

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/db"
)

// GormStore is the Store on the platform database (migration
// 0015_customer_sca.sql). Its single-use claims are conditional UPDATEs and
// INSERT … ON CONFLICT … DO UPDATE … WHERE upserts, written the same way on
// PostgreSQL and SQLite.
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

// ts is t as stored: UTC, microseconds (PostgreSQL's precision).
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func storageErr(what string, err error) error { return fmt.Errorf("sca: %s: %w", what, err) }

// PutPendingTOTP implements Store.
func (s *GormStore) PutPendingTOTP(ctx context.Context, customerID, secretSealed string, at time.Time) error {
	res := s.handle(ctx).Exec(`INSERT INTO customer_totp (customer_id, secret_sealed, status, last_step, created_at)
VALUES (?, ?, 'pending', 0, ?)
ON CONFLICT (customer_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at,
  last_step = 0, confirmed_at = NULL, last_used_at = NULL
WHERE customer_totp.status = 'pending'`, customerID, secretSealed, ts(at))
	if res.Error != nil {
		return storageErr("store pending TOTP", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrTOTPEnrolled
	}
	return nil
}

type totpRow struct {
	CustomerID   string
	SecretSealed string
	Status       string
	LastStep     int64
	CreatedAt    time.Time
	ConfirmedAt  *time.Time
	LastUsedAt   *time.Time
}

// TOTP implements Store.
func (s *GormStore) TOTP(ctx context.Context, customerID string) (TOTPRecord, error) {
	var rows []totpRow
	err := s.handle(ctx).Raw(`SELECT customer_id, secret_sealed, status, last_step, created_at, confirmed_at, last_used_at
FROM customer_totp WHERE customer_id = ?`, customerID).Scan(&rows).Error
	if err != nil {
		return TOTPRecord{}, storageErr("load TOTP", err)
	}
	if len(rows) == 0 {
		return TOTPRecord{}, ErrNotFound
	}
	r := rows[0]
	return TOTPRecord{CustomerID: r.CustomerID, SecretSealed: r.SecretSealed, Active: r.Status == "active",
		LastStep: r.LastStep, CreatedAt: r.CreatedAt.UTC(), ConfirmedAt: utcPtr(r.ConfirmedAt), LastUsedAt: utcPtr(r.LastUsedAt)}, nil
}

// ActivateTOTP implements Store.
func (s *GormStore) ActivateTOTP(ctx context.Context, customerID, secretSealed string, step int64, at time.Time) error {
	res := s.handle(ctx).Exec(`UPDATE customer_totp SET status = 'active', last_step = ?, confirmed_at = ?
WHERE customer_id = ? AND status = 'pending' AND secret_sealed = ?`, step, ts(at), customerID, secretSealed)
	if res.Error != nil {
		return storageErr("activate TOTP", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// AdvanceTOTPStep implements Store.
func (s *GormStore) AdvanceTOTPStep(ctx context.Context, customerID string, step int64, at time.Time) error {
	res := s.handle(ctx).Exec(`UPDATE customer_totp SET last_step = ?, last_used_at = ?
WHERE customer_id = ? AND status = 'active' AND last_step < ?`, step, ts(at), customerID, step)
	if res.Error != nil {
		return storageErr("record TOTP step", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrCodeUsed
	}
	return nil
}

// DeleteTOTP implements Store.
func (s *GormStore) DeleteTOTP(ctx context.Context, customerID string) error {
	res := s.handle(ctx).Exec(`DELETE FROM customer_totp WHERE customer_id = ?`, customerID)
	if res.Error != nil {
		return storageErr("delete TOTP", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// lockCustomer serialises the transactions in ctx that replace what of one
// customer: a transaction-scoped advisory lock on PostgreSQL (where two
// concurrent delete-then-insert transactions would otherwise leave both new
// sets); nothing on SQLite, which serialises writers anyway.
func (s *GormStore) lockCustomer(ctx context.Context, what, customerID string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte("sca." + what + ":" + customerID))
	if err := s.handle(ctx).Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error; err != nil {
		return storageErr("lock "+what, err)
	}
	return nil
}

// ReplaceRecoveryCodes implements Store: one transaction, serialised per
// customer, so concurrent replacements leave exactly one set.
func (s *GormStore) ReplaceRecoveryCodes(ctx context.Context, customerID string, hashes []string, at time.Time) error {
	return s.Tx(ctx, func(ctx context.Context) error {
		h := s.handle(ctx)
		if err := s.lockCustomer(ctx, "recovery-codes", customerID); err != nil {
			return err
		}
		if err := h.Exec(`DELETE FROM customer_recovery_codes WHERE customer_id = ?`, customerID).Error; err != nil {
			return storageErr("delete recovery codes", err)
		}
		for _, hash := range hashes {
			if err := h.Exec(`INSERT INTO customer_recovery_codes (customer_id, code_hash, created_at) VALUES (?, ?, ?)`,
				customerID, hash, ts(at)).Error; err != nil {
				return storageErr("store recovery code", err)
			}
		}
		return nil
	})
}

// UseRecoveryCode implements Store.
func (s *GormStore) UseRecoveryCode(ctx context.Context, customerID, hash string, at time.Time) error {
	h := s.handle(ctx)
	res := h.Exec(`UPDATE customer_recovery_codes SET used_at = ? WHERE customer_id = ? AND code_hash = ? AND used_at IS NULL`,
		ts(at), customerID, hash)
	if res.Error != nil {
		return storageErr("use recovery code", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := h.Raw(`SELECT COUNT(*) FROM customer_recovery_codes WHERE customer_id = ? AND code_hash = ?`, customerID, hash).
		Scan(&n).Error; err != nil {
		return storageErr("look up recovery code", err)
	}
	if n > 0 {
		return ErrRecoveryCodeUsed
	}
	return ErrInvalidRecoveryCode
}

// RecoveryCodes implements Store.
func (s *GormStore) RecoveryCodes(ctx context.Context, customerID string) (RecoveryCodesState, error) {
	var rows []struct {
		CreatedAt time.Time
		UsedAt    *time.Time
	}
	if err := s.handle(ctx).Raw(`SELECT created_at, used_at FROM customer_recovery_codes WHERE customer_id = ?`, customerID).
		Scan(&rows).Error; err != nil {
		return RecoveryCodesState{}, storageErr("load recovery codes", err)
	}
	if len(rows) == 0 {
		return RecoveryCodesState{}, ErrNotFound
	}
	st := RecoveryCodesState{Total: len(rows), CreatedAt: rows[0].CreatedAt.UTC()}
	for _, r := range rows {
		if r.CreatedAt.Before(st.CreatedAt) {
			st.CreatedAt = r.CreatedAt.UTC()
		}
		if r.UsedAt == nil {
			st.Remaining++
		} else if st.LastUsedAt == nil || r.UsedAt.After(*st.LastUsedAt) {
			st.LastUsedAt = utcPtr(r.UsedAt)
		}
	}
	return st, nil
}

// Enrolment implements Store: one statement over both tables.
func (s *GormStore) Enrolment(ctx context.Context, customerID string) (Enrolment, error) {
	var row struct {
		TOTPStatus        *string `gorm:"column:totp_status"`
		RecoveryRemaining int
	}
	err := s.handle(ctx).Raw(`SELECT (SELECT status FROM customer_totp WHERE customer_id = ?) AS totp_status,
  (SELECT COUNT(*) FROM customer_recovery_codes WHERE customer_id = ? AND used_at IS NULL) AS recovery_remaining`,
		customerID, customerID).Scan(&row).Error
	if err != nil {
		return Enrolment{}, storageErr("load enrolment", err)
	}
	return Enrolment{TOTPActive: row.TOTPStatus != nil && *row.TOTPStatus == "active", RecoveryRemaining: row.RecoveryRemaining}, nil
}

// PutConfirmation implements Store.
func (s *GormStore) PutConfirmation(ctx context.Context, c Confirmation) error {
	res := s.handle(ctx).Exec(`INSERT INTO sca_confirmations (interaction_id, customer_id, link_hash, method, amr, confirmed_at, expires_at, voided)
VALUES (?, ?, ?, ?, ?, ?, ?, FALSE)
ON CONFLICT (interaction_id) DO UPDATE SET link_hash = excluded.link_hash, method = excluded.method, amr = excluded.amr,
  confirmed_at = excluded.confirmed_at, expires_at = excluded.expires_at, voided = FALSE
WHERE sca_confirmations.customer_id = excluded.customer_id AND sca_confirmations.consumed_at IS NULL`,
		c.InteractionID, c.CustomerID, c.LinkHash, c.Method, c.AMR, ts(c.ConfirmedAt), ts(c.ExpiresAt))
	if res.Error != nil {
		return storageErr("store confirmation", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrConfirmationUsed
	}
	return nil
}

type confirmationRow struct {
	InteractionID string
	CustomerID    string
	LinkHash      string
	Method        string
	AMR           string
	ConfirmedAt   time.Time
	ExpiresAt     time.Time
	Voided        bool
	ConsumedAt    *time.Time
}

// ConsumeConfirmation implements Store.
func (s *GormStore) ConsumeConfirmation(ctx context.Context, interactionID, customerID, linkHash string, at time.Time) (Confirmation, error) {
	h := s.handle(ctx)
	now := ts(at)
	res := h.Exec(`UPDATE sca_confirmations SET consumed_at = ?
WHERE interaction_id = ? AND customer_id = ? AND link_hash = ? AND consumed_at IS NULL AND voided = FALSE AND expires_at > ?`,
		now, interactionID, customerID, linkHash, now)
	if res.Error != nil {
		return Confirmation{}, storageErr("consume confirmation", res.Error)
	}
	var rows []confirmationRow
	if err := h.Raw(`SELECT interaction_id, customer_id, link_hash, method, amr, confirmed_at, expires_at, voided, consumed_at
FROM sca_confirmations WHERE interaction_id = ? AND customer_id = ?`, interactionID, customerID).Scan(&rows).Error; err != nil {
		return Confirmation{}, storageErr("load confirmation", err)
	}
	if len(rows) == 0 {
		return Confirmation{}, ErrNoConfirmation
	}
	r := rows[0]
	c := Confirmation{InteractionID: r.InteractionID, CustomerID: r.CustomerID, LinkHash: r.LinkHash, Method: r.Method, AMR: r.AMR,
		ConfirmedAt: r.ConfirmedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	switch {
	case res.RowsAffected == 1:
		return c, nil
	case r.Voided:
		return Confirmation{}, ErrConfirmationVoided
	case r.ConsumedAt != nil:
		return Confirmation{}, ErrConfirmationUsed
	case r.LinkHash != linkHash:
		// What was confirmed is not what is being authorised: void the
		// confirmation for good, so changing the payment back later does
		// not revive it either.
		if err := h.Exec(`UPDATE sca_confirmations SET voided = TRUE WHERE interaction_id = ? AND consumed_at IS NULL`,
			interactionID).Error; err != nil {
			return Confirmation{}, storageErr("void confirmation", err)
		}
		return Confirmation{}, ErrConfirmationVoided
	case !r.ExpiresAt.After(now):
		return Confirmation{}, ErrConfirmationExpired
	default:
		// Consumed by a racing request between the update and the read.
		return Confirmation{}, ErrConfirmationUsed
	}
}

// PurgeConfirmations implements Store.
func (s *GormStore) PurgeConfirmations(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.handle(ctx).Exec(`DELETE FROM sca_confirmations WHERE expires_at < ?`, ts(cutoff))
	if res.Error != nil {
		return 0, storageErr("purge confirmations", res.Error)
	}
	return res.RowsAffected, nil
}

// TrustPayee implements Store.
func (s *GormStore) TrustPayee(ctx context.Context, customerID string, p Payee, at time.Time) error {
	a := p.Account().normalise()
	err := s.handle(ctx).Exec(`INSERT INTO customer_trusted_payees (customer_id, scheme, identification, name, created_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (customer_id, scheme, identification) DO UPDATE SET name = excluded.name`,
		customerID, a.Scheme, a.Identification, p.Name, ts(at)).Error
	if err != nil {
		return storageErr("trust payee", err)
	}
	return nil
}

// UntrustPayee implements Store.
func (s *GormStore) UntrustPayee(ctx context.Context, customerID string, a Account) error {
	a = a.normalise()
	res := s.handle(ctx).Exec(`DELETE FROM customer_trusted_payees WHERE customer_id = ? AND scheme = ? AND identification = ?`,
		customerID, a.Scheme, a.Identification)
	if res.Error != nil {
		return storageErr("untrust payee", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// TrustedPayees implements Store.
func (s *GormStore) TrustedPayees(ctx context.Context, customerID string) ([]TrustedPayee, error) {
	var rows []struct {
		Scheme         string
		Identification string
		Name           string
		CreatedAt      time.Time
	}
	if err := s.handle(ctx).Raw(`SELECT scheme, identification, name, created_at FROM customer_trusted_payees
WHERE customer_id = ? ORDER BY created_at, scheme, identification`, customerID).Scan(&rows).Error; err != nil {
		return nil, storageErr("list trusted payees", err)
	}
	out := make([]TrustedPayee, 0, len(rows))
	for _, r := range rows {
		out = append(out, TrustedPayee{Payee: Payee{Name: r.Name, Scheme: r.Scheme, Identification: r.Identification},
			CreatedAt: r.CreatedAt.UTC()})
	}
	return out, nil
}

// IsTrusted implements Store.
func (s *GormStore) IsTrusted(ctx context.Context, customerID string, a Account) (bool, error) {
	a = a.normalise()
	var n int64
	if err := s.handle(ctx).Raw(`SELECT COUNT(*) FROM customer_trusted_payees WHERE customer_id = ? AND scheme = ? AND identification = ?`,
		customerID, a.Scheme, a.Identification).Scan(&n).Error; err != nil {
		return false, storageErr("look up trusted payee", err)
	}
	return n > 0, nil
}

// ExemptionCounters implements Store.
func (s *GormStore) ExemptionCounters(ctx context.Context, customerID string) (Counters, error) {
	h := s.handle(ctx)
	var counts []int
	if err := h.Raw(`SELECT exempted_count FROM sca_exemption_counts WHERE customer_id = ?`, customerID).Scan(&counts).Error; err != nil {
		return Counters{}, storageErr("load exemption count", err)
	}
	var sums []struct {
		Currency    string
		ExemptedSum int64
	}
	if err := h.Raw(`SELECT currency, exempted_sum FROM sca_exemption_sums WHERE customer_id = ?`, customerID).Scan(&sums).Error; err != nil {
		return Counters{}, storageErr("load exemption sums", err)
	}
	c := Counters{Sums: map[string]int64{}}
	if len(counts) > 0 {
		c.Count = counts[0]
	}
	for _, r := range sums {
		c.Sums[r.Currency] = r.ExemptedSum
	}
	return c, nil
}

// AddExempted implements Store: in one transaction, the count goes up by
// one only while below claim.MaxCount, then the currency's sum by the
// amount only while it stays at most claim.Cumulative (each a conditional
// upsert; on PostgreSQL the count row's lock serialises a customer's
// claims). When the sum refuses, the count is taken back in the same
// transaction, so nothing is added even inside a caller's transaction.
func (s *GormStore) AddExempted(ctx context.Context, customerID string, claim LowValueClaim, at time.Time) error {
	amt := claim.Amount.Minor
	if claim.MaxCount < 1 || amt <= 0 || amt > claim.Cumulative {
		return ErrExemptionExhausted
	}
	return s.Tx(ctx, func(ctx context.Context) error {
		h := s.handle(ctx)
		now := ts(at)
		res := h.Exec(`INSERT INTO sca_exemption_counts (customer_id, exempted_count, updated_at) VALUES (?, 1, ?)
ON CONFLICT (customer_id) DO UPDATE SET exempted_count = sca_exemption_counts.exempted_count + 1, updated_at = excluded.updated_at
WHERE sca_exemption_counts.exempted_count < ?`, customerID, now, claim.MaxCount)
		if res.Error != nil {
			return storageErr("count exempted payment", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrExemptionExhausted
		}
		res = h.Exec(`INSERT INTO sca_exemption_sums (customer_id, currency, exempted_sum, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (customer_id, currency) DO UPDATE SET exempted_sum = sca_exemption_sums.exempted_sum + excluded.exempted_sum,
  updated_at = excluded.updated_at
WHERE sca_exemption_sums.exempted_sum <= ? - excluded.exempted_sum`,
			customerID, claim.Amount.Currency, amt, now, claim.Cumulative)
		if res.Error != nil {
			return storageErr("sum exempted payment", res.Error)
		}
		if res.RowsAffected == 0 {
			if err := h.Exec(`UPDATE sca_exemption_counts SET exempted_count = exempted_count - 1 WHERE customer_id = ?`,
				customerID).Error; err != nil {
				return storageErr("take back exempted count", err)
			}
			return ErrExemptionExhausted
		}
		return nil
	})
}

// ResetExempted implements Store.
func (s *GormStore) ResetExempted(ctx context.Context, customerID string) error {
	return s.Tx(ctx, func(ctx context.Context) error {
		h := s.handle(ctx)
		if err := h.Exec(`DELETE FROM sca_exemption_counts WHERE customer_id = ?`, customerID).Error; err != nil {
			return storageErr("reset exemption count", err)
		}
		if err := h.Exec(`DELETE FROM sca_exemption_sums WHERE customer_id = ?`, customerID).Error; err != nil {
			return storageErr("reset exemption sums", err)
		}
		return nil
	})
}
