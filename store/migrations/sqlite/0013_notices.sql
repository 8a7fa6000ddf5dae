-- Notices prepared for a breach: one per affected person. The record
-- (code, name, address, birth date for the portal's check, elements) is
-- sealed; the code is looked up by its keyed hash. Channel, language,
-- state and status stay clear for counts and delivery tracking.
CREATE TABLE notices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    incident   INTEGER NOT NULL,
    code_hash  BLOB    NOT NULL UNIQUE,
    patient    BLOB    NOT NULL, -- the patient's blind index
    channel    TEXT    NOT NULL, -- mail, substitute
    language   TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    body       BLOB    NOT NULL,
    UNIQUE (incident, patient)
);
CREATE INDEX notices_incident ON notices (incident, status);
