-- partners: who suspended a partner or an app (lifting a risk officer's
-- suspension needs a risk officer), maker-checker app reinstatement, and the
-- creator of each RFC 7592 registration access token (the token works only
-- while its creator may still change the partner's apps).

ALTER TABLE partners ADD COLUMN suspended_by TEXT NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN suspended_by_role TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN suspended_by TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN suspended_by_role TEXT NOT NULL DEFAULT '';

-- Suspensions in force before this migration: the audit trail names who
-- suspended (the latest suspension), staff_users their role. A suspension
-- whose author is unknown keeps '' and counts as a risk officer's.
UPDATE partners SET suspended_by = COALESCE((SELECT a.actor_id FROM audit_events a
    WHERE a.object_type = 'partner' AND a.object_id = partners.id AND a.action = 'partner.status_changed'
    AND a.actor_type = 'staff' AND a.details LIKE '%"to":"suspended"%' ORDER BY a.at DESC, a.id DESC LIMIT 1), '')
    WHERE status = 'suspended';
UPDATE partners SET suspended_by_role = COALESCE((SELECT s.role FROM staff_users s WHERE s.id = partners.suspended_by), '')
    WHERE status = 'suspended';
UPDATE apps SET suspended_by = COALESCE((SELECT a.actor_id FROM audit_events a
    WHERE a.object_type = 'app' AND a.object_id = apps.id AND a.action = 'app.suspended'
    AND a.actor_type = 'staff' ORDER BY a.at DESC, a.id DESC LIMIT 1), '')
    WHERE status = 'suspended';
UPDATE apps SET suspended_by_role = COALESCE((SELECT s.role FROM staff_users s WHERE s.id = apps.suspended_by), '')
    WHERE status = 'suspended';

-- App reinstatement is a maker-checker request too: one pending request per
-- partner, kind and app.
ALTER TABLE approval_requests ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
DROP INDEX approval_requests_one_pending;
CREATE UNIQUE INDEX approval_requests_one_pending ON approval_requests (partner_id, kind, app_id) WHERE status = 'pending';

-- Registration access tokens name their creator: the member whose initial
-- access token registered the app.
ALTER TABLE registration_access_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
UPDATE registration_access_tokens SET created_by = COALESCE((SELECT t.created_by FROM initial_access_tokens t
    WHERE t.used_for = registration_access_tokens.app_id), '');
