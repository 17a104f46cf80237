-- History can't be rewritten: the audit trail refuses UPDATE and DELETE in the
-- database itself, on both engines, with the same message:
--   history cannot be rewritten: UPDATE on audit_events is refused
-- refuse_history_rewrite() is the PostgreSQL trigger function every
-- append-only table uses (0061 guards the ledger with it). TRUNCATE and DROP
-- stay possible for the owner of the schema: the guard is against the
-- application and the SQL it runs, not against the database owner.

-- +engine postgres
CREATE FUNCTION refuse_history_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history cannot be rewritten: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();

-- +engine sqlite
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: UPDATE on audit_events is refused'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: DELETE on audit_events is refused'); END;
