-- Clinical context (orders, and the specimens and reports of each order),
-- imported from HL7 ORM/ORU or FHIR, for explaining accesses. Only keyed
-- hashes of the identifiers (blind indexes under the lab's PRF key): an
-- order names no patient in clear.
CREATE TABLE clinical (
    key         BYTEA   PRIMARY KEY, -- the order's or object's blind index
    kind        TEXT    NOT NULL,    -- order or object
    order_key   BYTEA   NOT NULL,    -- for an order, its own key
    patient_key BYTEA,                -- orders: the patient's
    at          BIGINT NOT NULL,
    source      TEXT    NOT NULL
);
CREATE INDEX clinical_at ON clinical (at);
