-- monitoring/reviews: quarterly partner performance reviews. The scorecard
-- is a frozen JSON snapshot (computed when the draft is created or
-- refreshed); ratings are JSON {dimension: 1–5}. internal_notes are never
-- shown to the partner. One review per partner and quarter.
CREATE TABLE partner_reviews (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    quarter TEXT NOT NULL,
    status TEXT NOT NULL,
    scorecard TEXT NOT NULL,
    ratings TEXT NOT NULL,
    partner_notes TEXT NOT NULL,
    internal_notes TEXT NOT NULL,
    outcome TEXT NOT NULL,
    created_by TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TIMESTAMPTZ,
    decided_by TEXT NOT NULL,
    decided_at TIMESTAMPTZ,
    return_note TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT partner_reviews_status CHECK (status IN ('draft', 'submitted', 'published')),
    CONSTRAINT partner_reviews_outcome CHECK (outcome IN ('', 'continue', 'watch', 'renegotiate', 'exit'))
);
CREATE UNIQUE INDEX partner_reviews_quarter ON partner_reviews (partner_id, quarter);
CREATE INDEX partner_reviews_status ON partner_reviews (status, quarter);
