CREATE TABLE keys (
    id         INTEGER PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    kek_id     TEXT    NOT NULL,
    wrapped    BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per ledger entry. body is the sealed nonce||canonical bytes; the
-- clear columns hold no patient data.
CREATE TABLE events (
    idx        INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    source     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    outcome    INTEGER NOT NULL,
    commitment BLOB    NOT NULL,
    body       BLOB    NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_actor ON events (actor, ts);
CREATE INDEX events_source_kind ON events (source, kind, ts);

-- Patient blind index (keyed HMAC of the identifier), never the identifier.
CREATE TABLE event_patients (
    patient BLOB    NOT NULL,
    idx     INTEGER NOT NULL,
    PRIMARY KEY (patient, idx)
) WITHOUT ROWID;

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    position    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    raw         BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    resolved_at INTEGER
);
CREATE INDEX quarantine_status ON quarantine (status, id);
