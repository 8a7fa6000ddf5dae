-- Allow-lists learned from triage: an alert explained as benign may allow
-- the same rule and group (the alert's dedup key: the rule with its
-- account or address) until an expiry. Matches during that time are
-- counted here instead of raising alerts.
CREATE TABLE alert_allow (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rule       TEXT    NOT NULL,
    dedup_key  TEXT    NOT NULL,
    actor      TEXT    NOT NULL DEFAULT '',
    alert      INTEGER NOT NULL, -- the alert whose triage made it
    reason     TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    suppressed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_allow_key ON alert_allow (dedup_key, expires_at);
