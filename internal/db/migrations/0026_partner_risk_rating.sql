-- partners: the partner's risk rating (low | medium | high, medium until
-- someone rates it) and the append-only history of its changes: who or what
-- changed it (source, e.g. "review:prv_…"), why, and when. Performance
-- reviews feed it (monitoring/reviews); issue 16 will feed it from
-- incidents and volumes through the same partners.Service.SetRiskRating.
ALTER TABLE partners ADD COLUMN risk_rating TEXT NOT NULL DEFAULT 'medium';

CREATE TABLE partner_risk_ratings (
    id BIGSERIAL PRIMARY KEY,
    partner_id TEXT NOT NULL,
    rating TEXT NOT NULL,
    previous TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX partner_risk_ratings_partner ON partner_risk_ratings (partner_id, id);

-- +engine postgres
CREATE TRIGGER partner_risk_ratings_append_only BEFORE UPDATE OR DELETE ON partner_risk_ratings
    FOR EACH ROW EXECUTE FUNCTION refuse_history_rewrite();

-- +engine sqlite
CREATE TRIGGER partner_risk_ratings_no_update BEFORE UPDATE ON partner_risk_ratings BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: UPDATE on partner_risk_ratings is refused'); END;
CREATE TRIGGER partner_risk_ratings_no_delete BEFORE DELETE ON partner_risk_ratings BEGIN SELECT RAISE(ABORT, 'history cannot be rewritten: DELETE on partner_risk_ratings is refused'); END;
