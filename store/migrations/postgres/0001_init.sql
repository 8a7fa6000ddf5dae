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

-- Secondary indexes are kept per block of 256 entries (block = idx >> 8),
-- not per entry: a per-entry index costs a B-tree insert per event, which
-- is most of the store's ingest cost. A query finds candidate blocks, then
-- filters the block's rows by their clear columns.
CREATE TABLE event_blocks (
    block  BIGINT PRIMARY KEY,
    min_ts BIGINT NOT NULL,
    max_ts BIGINT NOT NULL
);
CREATE INDEX event_blocks_ts ON event_blocks (max_ts, min_ts);

CREATE TABLE block_actors (
    actor TEXT   NOT NULL,
    block BIGINT NOT NULL,
    PRIMARY KEY (actor, block)
);

CREATE TABLE block_kinds (
    source TEXT   NOT NULL,
    kind   TEXT   NOT NULL,
    block  BIGINT NOT NULL,
    PRIMARY KEY (source, kind, block)
);

-- Patient blind index (keyed HMAC of the identifier), never the identifier.
-- Keyed by bucket (idx >> 16) first, so that one batch's inserts land in
-- the newest bucket's few pages instead of random pages across the whole
-- index; a patient lookup probes each bucket. The commitment is here so the
-- chain heads load in one sequential scan.
CREATE TABLE event_patients (
    bucket     BIGINT NOT NULL,
    patient    BYTEA   NOT NULL,
    idx        BIGINT NOT NULL,
    commitment BYTEA   NOT NULL,
    PRIMARY KEY (bucket, patient, idx)
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
