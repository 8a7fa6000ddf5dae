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

-- Secondary indexes are kept per block of 256 entries (block = idx >> 8),
-- not per entry: a per-entry index costs a B-tree insert per event, which
-- is most of the store's ingest cost. A query finds candidate blocks, then
-- filters the block's rows by their clear columns.
CREATE TABLE event_blocks (
    block  INTEGER PRIMARY KEY,
    min_ts INTEGER NOT NULL,
    max_ts INTEGER NOT NULL
);
CREATE INDEX event_blocks_ts ON event_blocks (max_ts, min_ts);

CREATE TABLE block_actors (
    actor TEXT   NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (actor, block)
) WITHOUT ROWID;

CREATE TABLE block_kinds (
    source TEXT   NOT NULL,
    kind   TEXT   NOT NULL,
    block  INTEGER NOT NULL,
    PRIMARY KEY (source, kind, block)
) WITHOUT ROWID;

-- Patient blind index (keyed HMAC of the identifier), never the identifier.
-- Keyed by bucket (idx >> 16) first, so that one batch's inserts land in
-- the newest bucket's few pages instead of random pages across the whole
-- index; a patient lookup probes each bucket. The commitment is here so the
-- chain heads load in one sequential scan.
CREATE TABLE event_patients (
    bucket     INTEGER NOT NULL,
    patient    BLOB   NOT NULL,
    idx        INTEGER NOT NULL,
    commitment BLOB   NOT NULL,
    PRIMARY KEY (bucket, patient, idx)
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
