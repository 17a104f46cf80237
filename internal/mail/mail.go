// Package mail is the platform's email outbox: mail is written to the
// email_outbox table in the transaction of the change that causes it, and a
// Sender (sender.go) delivers it over SMTP from there, on any number of nodes,
// with retries and backoff. In development without SMTP the dev outbox page
// shows it instead.
package mail

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/ids"
)

// Message is one outgoing mail.
type Message struct {
	ID        string `gorm:"primaryKey"`
	PartnerID string
	Recipient string
	Template  string // a short name: "verify_email", "webhook_endpoint_disabled", …
	Subject   string
	Body      string
	CreatedAt time.Time
	SentAt    *time.Time
	// Attempts counts the SMTP attempts made so far.
	Attempts int
	// NextAttemptAt is when the mail is next due; nil once nothing more is
	// to be done (sent, or given up).
	NextAttemptAt *time.Time
	// LastError is the last failed attempt's error ("" after success).
	LastError string
	// ClaimedBy and LeaseUntil are a sender's claim on the row.
	ClaimedBy  string
	LeaseUntil *time.Time
	// FailedAt is when the sender gave up on the mail.
	FailedAt *time.Time
}

// TableName implements gorm's tabler.
func (Message) TableName() string { return "email_outbox" }

// Enqueue writes m to the outbox using tx (pass the caller's transaction).
func Enqueue(ctx context.Context, tx *gorm.DB, m Message) (*Message, error) {
	m.ID = ids.New("mail")
	m.CreatedAt = time.Now().UTC()
	m.SentAt, m.FailedAt, m.LeaseUntil, m.ClaimedBy, m.Attempts, m.LastError = nil, nil, nil, "", 0, ""
	due := m.CreatedAt
	m.NextAttemptAt = &due
	if err := tx.WithContext(ctx).Create(&m).Error; err != nil {
		return nil, err
	}
	return &m, nil
}

// List returns the newest messages, optionally only those to recipient.
func List(ctx context.Context, db *gorm.DB, recipient string, limit int) ([]Message, error) {
	q := db.WithContext(ctx).Order("created_at DESC, id DESC")
	if recipient != "" {
		q = q.Where("recipient = ?", recipient)
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var out []Message
	return out, q.Limit(limit).Find(&out).Error
}

// EnqueueToPartnerOwners writes one copy of m per owner of m.PartnerID (a
// portal user with the owner role) using tx, and returns how many were
// written. It is the one place outside package partners that reads its
// membership tables, so that the domains that notify partners (webhooks,
// contracts) need not depend on partners. A partner without owners gets no
// mail (its notices stay visible in the portal).
func EnqueueToPartnerOwners(ctx context.Context, tx *gorm.DB, m Message) (int, error) {
	var emails []string
	if err := tx.WithContext(ctx).Raw(`SELECT u.email FROM memberships m JOIN portal_users u ON u.id = m.user_id
		WHERE m.partner_id = ? AND m.role = 'owner' ORDER BY u.email`, m.PartnerID).Scan(&emails).Error; err != nil {
		return 0, err
	}
	for _, e := range emails {
		msg := m
		msg.Recipient = e
		if _, err := Enqueue(ctx, tx, msg); err != nil {
			return 0, err
		}
	}
	return len(emails), nil
}
