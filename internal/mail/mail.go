// Package mail is the platform's email outbox: mail is written to the
// email_outbox table in the transaction of the change that causes it. In
// development the dev outbox page and the log show it; a production relay would
// send unsent rows.
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
}

// TableName implements gorm's tabler.
func (Message) TableName() string { return "email_outbox" }

// Enqueue writes m to the outbox using tx (pass the caller's transaction).
func Enqueue(ctx context.Context, tx *gorm.DB, m Message) (*Message, error) {
	m.ID = ids.New("mail")
	m.CreatedAt = time.Now().UTC()
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
