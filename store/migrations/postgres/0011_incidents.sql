-- Incidents: the document (title, tasks, timeline, notes, contacts,
-- assessments) is sealed by the vault because staff write PHI into notes;
-- status, severity and times stay clear for lists. version guards
-- concurrent edits (optimistic locking).
CREATE TABLE incidents (
    id         BIGSERIAL PRIMARY KEY,
    status     TEXT    NOT NULL,
    severity   TEXT    NOT NULL,
    opened_at  BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL,
    version    BIGINT  NOT NULL,
    doc        BYTEA   NOT NULL
);

-- Evidence files, sealed; their metadata and chain of custody are in the
-- incident document and the ledger.
CREATE TABLE incident_evidence (
    id        BIGSERIAL PRIMARY KEY,
    incident  BIGINT  NOT NULL,
    sha256    BYTEA   NOT NULL,
    size      BIGINT  NOT NULL,
    added_at  BIGINT  NOT NULL,
    body      BYTEA   NOT NULL
);
CREATE INDEX incident_evidence_incident ON incident_evidence (incident);

-- Computed breach scopes: the patient list (PHI) sealed, and the signed
-- manifest (blind indexes, no PHI) as issued.
CREATE TABLE breach_scopes (
    id          BIGSERIAL PRIMARY KEY,
    incident    BIGINT  NOT NULL,
    computed_at BIGINT  NOT NULL,
    tree_size   BIGINT  NOT NULL,
    patients    BIGINT  NOT NULL,
    body        BYTEA   NOT NULL,
    manifest    BYTEA   NOT NULL
);
CREATE INDEX breach_scopes_incident ON breach_scopes (incident, id);
