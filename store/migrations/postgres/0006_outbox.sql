-- Events recorded by processes that are not the ledger's writer (the CLI
-- beside a running server): the writer drains them into the ledger.
CREATE TABLE event_outbox (
    id         BIGSERIAL PRIMARY KEY,
    event      BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);
