-- contracts: the ledger is append-only in the database itself, credit notes
-- above a limit wait for a second approver, and contract versions remember
-- everyone who wrote their terms (the approver must be none of them).

-- The ledger refuses UPDATE and DELETE on both engines with the message
--   history cannot be rewritten: DELETE on ledger_entries is refused
-- (refuse_history_rewrite() is defined in 0005_immutable_history.sql).
-- +engine postgres
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();
-- +engine sqlite
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: UPDATE on ledger_postings is refused'); END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: DELETE on ledger_postings is refused'); END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: UPDATE on ledger_entries is refused'); END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: DELETE on ledger_entries is refused'); END;
-- +engine all

-- Adjustments: status issued (posted, billed), pending_approval (a credit note
-- above the limit, not posted yet; posting_id is '') or rejected; the second
-- approver's decision.
ALTER TABLE adjustments ADD COLUMN status TEXT NOT NULL DEFAULT 'issued';
ALTER TABLE adjustments ADD COLUMN decided_by TEXT NOT NULL DEFAULT '';
ALTER TABLE adjustments ADD COLUMN decided_at TIMESTAMPTZ NULL;
ALTER TABLE adjustments ADD COLUMN decision_reason TEXT NOT NULL DEFAULT '';
CREATE INDEX adjustments_status ON adjustments (status, created_at);

-- Contract versions: the last editor, and everyone who wrote the terms (a JSON
-- array of staff ids). Versions written before this migration name their
-- creator, plus every editor the audit trail names for that version.
ALTER TABLE contract_versions ADD COLUMN updated_by TEXT NOT NULL DEFAULT '';
ALTER TABLE contract_versions ADD COLUMN editors TEXT NOT NULL DEFAULT '[]';
UPDATE contract_versions SET updated_by = created_by, editors = '["' || created_by || '"]';
-- +engine postgres
UPDATE contract_versions v SET
    editors = COALESCE((SELECT json_agg(DISTINCT e.actor_id ORDER BY e.actor_id)::text FROM audit_events e
        WHERE e.object_type = 'contract' AND e.object_id = v.contract_id
        AND e.action IN ('contract.drafted', 'contract.updated', 'contract.version_created')
        AND e.details::json->>'version' = v.version::text), v.editors),
    updated_by = COALESCE((SELECT e.actor_id FROM audit_events e
        WHERE e.object_type = 'contract' AND e.object_id = v.contract_id
        AND e.action IN ('contract.drafted', 'contract.updated', 'contract.version_created')
        AND e.details::json->>'version' = v.version::text ORDER BY e.at DESC, e.id DESC LIMIT 1), v.updated_by);
-- +engine sqlite
UPDATE contract_versions SET
    editors = COALESCE((SELECT NULLIF(json_group_array(DISTINCT e.actor_id), '[]') FROM audit_events e
        WHERE e.object_type = 'contract' AND e.object_id = contract_versions.contract_id
        AND e.action IN ('contract.drafted', 'contract.updated', 'contract.version_created')
        AND json_extract(e.details, '$.version') = contract_versions.version), editors),
    updated_by = COALESCE((SELECT e.actor_id FROM audit_events e
        WHERE e.object_type = 'contract' AND e.object_id = contract_versions.contract_id
        AND e.action IN ('contract.drafted', 'contract.updated', 'contract.version_created')
        AND json_extract(e.details, '$.version') = contract_versions.version ORDER BY e.at DESC, e.id DESC LIMIT 1), updated_by);
-- +engine all
