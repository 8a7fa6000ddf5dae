CREATE TABLE keys (
    id         BIGINT  PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    kek_id     TEXT    NOT NULL,
    wrapped    BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);

-- One row per ledger entry. body is the sealed nonce||canonical bytes; the
-- clear columns hold no patient data.
CREATE TABLE events (
    idx        BIGINT  PRIMARY KEY,
    ts         BIGINT  NOT NULL,
    source     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    outcome    INTEGER NOT NULL,
    commitment BYTEA   NOT NULL,
    body       BYTEA   NOT NULL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_actor ON events (actor, ts);
CREATE INDEX events_source_kind ON events (source, kind, ts);

-- Patient blind index (keyed HMAC of the identifier), never the identifier.
CREATE TABLE event_patients (
    patient BYTEA  NOT NULL,
    idx     BIGINT NOT NULL,
    PRIMARY KEY (patient, idx)
);

CREATE TABLE quarantine (
    id          BIGSERIAL PRIMARY KEY,
    source      TEXT    NOT NULL,
    format      TEXT    NOT NULL,
    position    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    raw         BYTEA   NOT NULL,
    received_at BIGINT  NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    resolved_at BIGINT
);
CREATE INDEX quarantine_status ON quarantine (status, id);
