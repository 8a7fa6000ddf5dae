-- People who asked the portal to email them when the status page changes.
-- The address is sealed; it is found again only by keyed hashes: of the
-- lower-cased address (one subscription each) and of the random token in
-- the confirm and unsubscribe links. Nobody is mailed an update until they
-- follow the confirmation link (double opt-in).
CREATE TABLE subscribers (
    id           BIGSERIAL PRIMARY KEY,
    email_hash   BYTEA NOT NULL UNIQUE,
    token_hash   BYTEA NOT NULL UNIQUE,
    body         BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    sent_through BIGINT NOT NULL -- the newest update already mailed (unix ns)
);
