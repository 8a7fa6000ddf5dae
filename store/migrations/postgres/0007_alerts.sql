-- Alerts raised by detection. No PHI: the explanation names rules, staff
-- accounts and counts; the patients are behind the ledger entries, which
-- only staff allowed to see them open. dedup_key is a hash of the rule and
-- its group values, so repeated matches update one open alert.
CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    rule        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'new',
    reason      TEXT    NOT NULL DEFAULT '',
    explanation TEXT    NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    dedup_key   TEXT    NOT NULL,
    first_ts    BIGINT NOT NULL,
    last_ts     BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    entries     BYTEA   NOT NULL, -- ledger indices, varint deltas
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alerts_open ON alerts (dedup_key, last_ts) WHERE status IN ('new', 'investigating');
CREATE INDEX alerts_status ON alerts (status, last_ts);

-- How far detection has read the ledger, so it resumes after a restart.
CREATE TABLE detect_cursor (
    name TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);
