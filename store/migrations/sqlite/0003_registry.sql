-- The patient registry. Every identifying detail is in record, sealed with
-- the patient's own data key (key, itself sealed by the vault's AEAD
-- keyset): deleting key crypto-shreds the patient. state and language are
-- clear because breach obligations and notice language are decided from
-- them and neither identifies anyone (HIPAA counts geographic units
-- smaller than a state as identifiers, not the state).
CREATE TABLE patients (
    id          INTEGER PRIMARY KEY,
    blind       BLOB    NOT NULL UNIQUE, -- blind index of the MRN
    merged_into INTEGER,                 -- set when an ADT merge folded this record into another
    key         BLOB,                    -- NULL once forgotten
    record      BLOB,                    -- NULL once forgotten
    state       TEXT    NOT NULL DEFAULT '',
    language    TEXT    NOT NULL DEFAULT '',
    minor       INTEGER NOT NULL DEFAULT 0,
    deceased    INTEGER NOT NULL DEFAULT 0,
    source      TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL,
    forgotten_at INTEGER
);
CREATE INDEX patients_merged ON patients (merged_into) WHERE merged_into IS NOT NULL;

-- Exact-match lookups through blind indexes: other identifiers, SSN,
-- email, phone, and name with birth date. kind says which.
CREATE TABLE patient_lookup (
    kind    TEXT    NOT NULL,
    blind   BLOB    NOT NULL,
    patient INTEGER NOT NULL,
    PRIMARY KEY (kind, blind, patient)
) WITHOUT ROWID;
CREATE INDEX patient_lookup_patient ON patient_lookup (patient);
