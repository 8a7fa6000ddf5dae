-- Incidents: the document (title, tasks, timeline, notes, contacts,
-- assessments) is sealed by the vault because staff write PHI into notes;
-- status, severity and times stay clear for lists. version guards
-- concurrent edits (optimistic locking).
CREATE TABLE incidents (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    status     TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    opened_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    doc        BLOB    NOT NULL
);

-- Evidence files, sealed; their metadata and chain of custody are in the
-- incident document and the ledger.
CREATE TABLE incident_evidence (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    incident  INTEGER NOT NULL,
    sha256    BLOB    NOT NULL,
    size      INTEGER NOT NULL,
    added_at  INTEGER NOT NULL,
    body      BLOB    NOT NULL
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident);

-- Computed breach scopes: the patient list (PHI) sealed, and the signed
-- manifest (blind indexes, no PHI) as issued.
CREATE TABLE breach_scopes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident    INTEGER NOT NULL,
    computed_at INTEGER NOT NULL,
    tree_size   INTEGER NOT NULL,
    patients    INTEGER NOT NULL,
    body        BLOB    NOT NULL,
    manifest    BLOB    NOT NULL
);
CREATE INDEX breach_scopes_incident ON breach_scopes (incident, id);
