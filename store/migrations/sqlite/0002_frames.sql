-- Event bodies move from one row per entry to one row per frame of
-- consecutive entries (package frame: compressed, then sealed), which cuts
-- the rows and bytes written per event about fivefold. Go refuses this
-- migration on a database whose events table holds rows (a pre-release
-- layout), so nothing is dropped that holds data. The block indexes of 0001
-- now cover 65536 entries each (block = idx >> 16): fewer rows per event.
DROP TABLE events;

CREATE TABLE event_frames (
    first       INTEGER PRIMARY KEY, -- index of the frame's first entry
    count       INTEGER NOT NULL,
    min_ts      INTEGER NOT NULL,
    max_ts      INTEGER NOT NULL,
    commitments BLOB    NOT NULL,    -- count x 32 bytes: hashes, no PHI
    meta        BLOB    NOT NULL,    -- each entry's clear index columns (time, source, kind, actor, action, outcome), packed
    body        BLOB    NOT NULL     -- sealed, compressed nonce||canonical records
);
