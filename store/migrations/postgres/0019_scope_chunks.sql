-- A scope's patient list in sealed parts (a few thousand people each), so
-- no reader needs the whole list in memory, and the blind index of each
-- person in it, so "is this patient in the scope?" is one look-up.
CREATE TABLE breach_scope_chunks (
    scope BIGINT NOT NULL,
    seq   BIGINT NOT NULL,
    body  BYTEA NOT NULL,
    PRIMARY KEY (scope, seq)
);
CREATE TABLE breach_scope_members (
    scope BIGINT NOT NULL,
    blind BYTEA NOT NULL,
    PRIMARY KEY (scope, blind)
);
