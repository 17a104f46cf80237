// Notices: the partner's portal notices (list, mark read) and the notice and
// e-mail written when an endpoint is disabled.

package webhooks

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/bankbridge/bankbridge/internal/ids"
	"github.com/bankbridge/bankbridge/internal/mail"
	"github.com/bankbridge/bankbridge/internal/problem"
)

// Notices returns the partner's notices, newest first.
func (s *Service) Notices(ctx context.Context, partnerID string, unreadOnly bool) ([]Notice, error) {
	q := s.db.WithContext(ctx).Where("partner_id = ?", partnerID)
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	var rows []noticeRow
	if err := q.Order("created_at DESC, id DESC").Limit(200).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]Notice, 0, len(rows))
	for _, r := range rows {
		out = append(out, Notice{ID: r.ID, PartnerID: r.PartnerID, AppID: r.AppID, Kind: r.Kind, ObjectID: r.ObjectID,
			Subject: r.Subject, Body: r.Body, CreatedAt: r.CreatedAt.UTC(), ReadAt: utcp(r.ReadAt)})
	}
	return out, nil
}

// MarkNoticeRead marks one of the partner's notices read. Errors: not_found.
func (s *Service) MarkNoticeRead(ctx context.Context, partnerID, noticeID string) error {
	res := s.db.WithContext(ctx).Model(&noticeRow{}).Where("id = ? AND partner_id = ? AND read_at IS NULL", noticeID, partnerID).
		Update("read_at", s.now())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		var n int64
		s.db.WithContext(ctx).Model(&noticeRow{}).Where("id = ? AND partner_id = ?", noticeID, partnerID).Count(&n)
		if n == 0 {
			return problem.New(problem.CodeNotFound, "notice %s not found", noticeID)
		}
	}
	return nil
}

// notifyDisabled writes the portal notice and the e-mail outbox row telling the
// partner an endpoint was disabled.
func (s *Service) notifyDisabled(tx *gorm.DB, r *endpointRow, reason string, now time.Time) error {
	subject := "Webhook endpoint disabled"
	text := fmt.Sprintf("Your webhook endpoint %s (%s) of app %s was disabled: %s. Fix the receiver, then enable the endpoint again and replay the events you missed.",
		r.ID, r.URL, r.AppID, reason)
	if err := tx.Create(&noticeRow{ID: ids.New("ntc"), PartnerID: r.PartnerID, AppID: r.AppID, Kind: NoticeEndpointDisabled,
		ObjectID: r.ID, Subject: subject, Body: text, CreatedAt: now}).Error; err != nil {
		return err
	}
	_, err := mail.EnqueueToPartnerOwners(tx.Statement.Context, tx, mail.Message{PartnerID: r.PartnerID,
		Template: NoticeEndpointDisabled, Subject: subject, Body: text})
	return err
}
