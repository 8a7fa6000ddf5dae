-- Clinical context (orders, and the specimens and reports of each order),
-- imported from HL7 ORM/ORU or FHIR, for explaining accesses. Only keyed
-- hashes of the identifiers (blind indexes under the lab's PRF key): an
-- order names no patient in clear.
CREATE TABLE clinical (
    key         BLOB    PRIMARY KEY, -- the order's or object's blind index
    kind        TEXT    NOT NULL,    -- order or object
    order_key   BLOB    NOT NULL,    -- for an order, its own key
    patient_key BLOB,                -- orders: the patient's
    at          INTEGER NOT NULL,
    source      TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX clinical_at ON clinical (at);
