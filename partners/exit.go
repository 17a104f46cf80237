package partners

import (
	"context"
	"strings"

	"gorm.io/gorm"
)

// The end of a partnership as partners/exit drives it: the scheduled
// termination (the platform terminates the partner on the effective date a
// member of staff proposed and another approved) and, after the retention
// period, the erasure of the personal data of the partner's people.

// TerminateScheduled terminates the partner on behalf of the platform
// (actor system:exit, audited with the exit's id): partner.status_changed
// is published, pending approval requests are closed, and after commit
// every app's tokens are revoked and the client cache dropped, as
// Terminate does. A partner already terminated is left as it is (nil), so
// a wind-down that crashed can run it again. It returns the partner's app
// ids. Errors: CodeNotFound, CodeValidation (no reason).
func (s *Service) TerminateScheduled(ctx context.Context, partnerID, exitID, reason string) ([]string, error) {
	reason = strings.TrimSpace(reason)
	if err := checkLen("reason", reason, 1, 2000); err != nil {
		return nil, err
	}
	by := systemActor("exit:" + exitID)
	var appIDs []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusTerminated {
			if err := s.setStatus(ctx, tx, p, StatusTerminated, reason, by, "terminate"); err != nil {
				return err
			}
			if err := s.closeApprovals(ctx, tx, partnerID, by); err != nil {
				return err
			}
		}
		return tx.Model(&App{}).Where("partner_id = ?", partnerID).Order("id").Pluck("id", &appIDs).Error
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidatePartner(partnerID)
	s.afterAppsChanged(ctx, appIDs...)
	return appIDs, nil
}

// PersonalDataErasure counts what ErasePersonalData changed.
type PersonalDataErasure struct {
	UsersAnonymised    int64 `json:"users_anonymised"`
	MembershipsRemoved int64 `json:"memberships_removed"`
	InvitationsDeleted int64 `json:"invitations_deleted"`
	ApplicationsErased int64 `json:"application_contacts_erased"`
}

// ErasePersonalData removes, in one transaction, the personal data of a
// terminated partner's people: every membership of the partner is removed;
// a member of no other partner is anonymised (email erased+<id>@invalid,
// no password, unverified, no pending email tokens) so the account cannot
// sign in and names nobody; invitations are deleted; the applications'
// contact name and email are erased. Kept: the organisation's own record
// (legal name, company and licence numbers), its apps and the audit trail.
// Running it again changes nothing more. Errors: CodeNotFound,
// CodeInvalidState (partner not terminated).
func (s *Service) ErasePersonalData(ctx context.Context, partnerID, exitID string) (PersonalDataErasure, error) {
	var out PersonalDataErasure
	err := s.tx(ctx, func(tx *gorm.DB) error {
		p, err := s.loadPartner(tx, partnerID, true)
		if err != nil {
			return err
		}
		if p.Status != StatusTerminated {
			return invalidState("erase personal data", p.Status, StatusTerminated)
		}
		var members []string
		if err := tx.Model(&Membership{}).Where("partner_id = ?", partnerID).Order("user_id").Pluck("user_id", &members).Error; err != nil {
			return internal(err, "list members")
		}
		for _, uid := range members {
			var others int64
			if err := tx.Model(&Membership{}).Where("user_id = ? AND partner_id <> ?", uid, partnerID).Count(&others).Error; err != nil {
				return internal(err, "count memberships")
			}
			if others > 0 {
				continue
			}
			if err := tx.Where("user_id = ?", uid).Delete(&emailToken{}).Error; err != nil {
				return internal(err, "delete email tokens")
			}
			res := tx.Model(&userRow{}).Where("id = ?", uid).Updates(map[string]any{"email": "erased+" + uid + "@invalid",
				"password_hash": "", "email_verified_at": nil, "updated_at": s.clock()})
			if res.Error != nil {
				return internal(res.Error, "anonymise user")
			}
			out.UsersAnonymised += res.RowsAffected
		}
		res := tx.Where("partner_id = ?", partnerID).Delete(&Membership{})
		if res.Error != nil {
			return internal(res.Error, "remove memberships")
		}
		out.MembershipsRemoved = res.RowsAffected
		if res = tx.Where("partner_id = ?", partnerID).Delete(&Invitation{}); res.Error != nil {
			return internal(res.Error, "delete invitations")
		}
		out.InvitationsDeleted = res.RowsAffected
		res = tx.Model(&Application{}).Where("partner_id = ? AND (contact_name <> '' OR contact_email <> '')", partnerID).
			Updates(map[string]any{"contact_name": "", "contact_email": ""})
		if res.Error != nil {
			return internal(res.Error, "erase application contacts")
		}
		out.ApplicationsErased = res.RowsAffected
		return s.audit(ctx, tx, systemActor("exit:"+exitID), "partner.personal_data_erased", "partner", partnerID, partnerID,
			map[string]any{"users_anonymised": out.UsersAnonymised, "memberships_removed": out.MembershipsRemoved,
				"invitations_deleted": out.InvitationsDeleted, "application_contacts_erased": out.ApplicationsErased})
	})
	return out, err
}
