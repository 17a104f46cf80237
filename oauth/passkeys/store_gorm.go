package passkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/audit"
	"github.com/bankbridge/bankbridge/internal/db"
)

// GormStore is the Store on the platform database (migration
// 0016_customer_passkeys.sql). The same SQL runs on PostgreSQL and SQLite.
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

// Audit implements Store.
func (s *GormStore) Audit(ctx context.Context, e audit.Entry) error {
	return audit.Record(ctx, s.handle(ctx), e)
}

// dbTime is t as stored: UTC, microseconds (PostgreSQL's precision).
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

type ceremonyRow struct {
	ID         string `gorm:"primaryKey"`
	Kind       string
	CustomerID string
	Session    string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

func (ceremonyRow) TableName() string { return "customer_passkey_ceremonies" }

// SaveCeremony implements Store.
func (s *GormStore) SaveCeremony(ctx context.Context, c Ceremony) error {
	row := ceremonyRow{ID: c.ID, Kind: c.Kind, CustomerID: c.CustomerID, Session: string(c.Session),
		CreatedAt: dbTime(c.CreatedAt), ExpiresAt: dbTime(c.ExpiresAt)}
	if err := s.handle(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("passkeys: save ceremony: %w", err)
	}
	return nil
}

const takeCeremonySQL = `DELETE FROM customer_passkey_ceremonies
WHERE id = ? AND kind = ? AND customer_id = ?
RETURNING id, kind, customer_id, session, created_at, expires_at`

// TakeCeremony implements Store with one DELETE … RETURNING.
func (s *GormStore) TakeCeremony(ctx context.Context, id, kind, customerID string) (Ceremony, error) {
	var rows []ceremonyRow
	if err := s.handle(ctx).Raw(takeCeremonySQL, id, kind, customerID).Scan(&rows).Error; err != nil {
		return Ceremony{}, fmt.Errorf("passkeys: take ceremony: %w", err)
	}
	if len(rows) == 0 {
		return Ceremony{}, ErrNotFound
	}
	r := rows[0]
	return Ceremony{ID: r.ID, Kind: r.Kind, CustomerID: r.CustomerID, Session: []byte(r.Session),
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}, nil
}

// PurgeCeremonies implements Store.
func (s *GormStore) PurgeCeremonies(ctx context.Context, now time.Time) (int64, error) {
	res := s.handle(ctx).Exec(`DELETE FROM customer_passkey_ceremonies WHERE expires_at <= ?`, dbTime(now))
	if res.Error != nil {
		return 0, fmt.Errorf("passkeys: purge ceremonies: %w", res.Error)
	}
	return res.RowsAffected, nil
}

type credentialRow struct {
	CredentialID      string `gorm:"primaryKey"`
	CustomerID        string
	PublicKey         []byte
	SignCount         int64
	AAGUID            []byte `gorm:"column:aaguid"`
	AttestationFormat string
	Transports        string
	Attachment        string
	BackupEligible    bool
	BackupState       bool
	Name              string
	CreatedAt         time.Time
	LastUsedAt        *time.Time
}

func (credentialRow) TableName() string { return "customer_passkeys" }

func toRow(c StoredCredential) (credentialRow, error) {
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	tj, err := json.Marshal(transports)
	if err != nil {
		return credentialRow{}, err
	}
	aaguid := c.RawAAGUID
	if aaguid == nil {
		aaguid = []byte{}
	}
	r := credentialRow{CredentialID: c.ID, CustomerID: c.CustomerID, PublicKey: c.PublicKey,
		SignCount: int64(c.SignCount), AAGUID: aaguid, AttestationFormat: c.AttestationFormat,
		Transports: string(tj), Attachment: c.Attachment, BackupEligible: c.BackupEligible,
		BackupState: c.BackupState, Name: c.Name, CreatedAt: dbTime(c.CreatedAt)}
	if !c.LastUsedAt.IsZero() {
		t := dbTime(c.LastUsedAt)
		r.LastUsedAt = &t
	}
	return r, nil
}

func fromRow(r credentialRow) (StoredCredential, error) {
	var transports []string
	if err := json.Unmarshal([]byte(r.Transports), &transports); err != nil {
		return StoredCredential{}, fmt.Errorf("passkeys: credential %s: transports: %w", r.CredentialID, err)
	}
	if transports == nil {
		transports = []string{}
	}
	aaguid := uuid.Nil.String()
	if u, err := uuid.FromBytes(r.AAGUID); err == nil {
		aaguid = u.String()
	}
	c := StoredCredential{
		Credential: Credential{ID: r.CredentialID, Name: r.Name, AAGUID: aaguid, Transports: transports,
			BackupEligible: r.BackupEligible, BackupState: r.BackupState, CreatedAt: r.CreatedAt.UTC()},
		CustomerID: r.CustomerID, PublicKey: r.PublicKey, RawAAGUID: r.AAGUID,
		SignCount: uint32(r.SignCount), AttestationFormat: r.AttestationFormat, Attachment: r.Attachment,
	}
	if r.LastUsedAt != nil {
		c.LastUsedAt = r.LastUsedAt.UTC()
	}
	return c, nil
}

// AddCredential implements Store.
func (s *GormStore) AddCredential(ctx context.Context, c StoredCredential) error {
	row, err := toRow(c)
	if err != nil {
		return err
	}
	err = s.handle(ctx).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("passkeys: add credential: %w", err)
	}
	return nil
}

// Credentials implements Store.
func (s *GormStore) Credentials(ctx context.Context, customerID string) ([]StoredCredential, error) {
	var rows []credentialRow
	if err := s.handle(ctx).Where("customer_id = ?", customerID).
		Order("created_at, credential_id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("passkeys: list credentials: %w", err)
	}
	out := make([]StoredCredential, 0, len(rows))
	for _, r := range rows {
		c, err := fromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Credential implements Store.
func (s *GormStore) Credential(ctx context.Context, customerID, id string) (StoredCredential, error) {
	var rows []credentialRow
	if err := s.handle(ctx).Where("credential_id = ? AND customer_id = ?", id, customerID).
		Limit(1).Find(&rows).Error; err != nil {
		return StoredCredential{}, fmt.Errorf("passkeys: get credential: %w", err)
	}
	if len(rows) == 0 {
		return StoredCredential{}, ErrNotFound
	}
	return fromRow(rows[0])
}

const recordUseSQL = `UPDATE customer_passkeys
SET sign_count = ?, backup_state = ?, last_used_at = ?
WHERE credential_id = ? AND customer_id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`

// RecordUse implements Store with one conditional UPDATE; when it changes no
// row, a lookup tells a missing credential from a counter not behind.
func (s *GormStore) RecordUse(ctx context.Context, customerID, id string, signCount uint32, backupState bool, at time.Time) error {
	n := int64(signCount)
	res := s.handle(ctx).Exec(recordUseSQL, n, backupState, dbTime(at), id, customerID, n, n)
	if res.Error != nil {
		return fmt.Errorf("passkeys: record use: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	if _, err := s.Credential(ctx, customerID, id); err != nil {
		return err
	}
	return ErrStale
}

// DeleteCredential implements Store.
func (s *GormStore) DeleteCredential(ctx context.Context, customerID, id string) error {
	res := s.handle(ctx).Exec(`DELETE FROM customer_passkeys WHERE credential_id = ? AND customer_id = ?`, id, customerID)
	if res.Error != nil {
		return fmt.Errorf("passkeys: delete credential: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
