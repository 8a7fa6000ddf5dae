-- People who asked the portal to email them when the status page changes.
-- The address is sealed; it is found again only by keyed hashes: of the
-- lower-cased address (one subscription each) and of the random token in
-- the confirm and unsubscribe links. Nobody is mailed an update until they
-- follow the confirmation link (double opt-in).
CREATE TABLE subscribers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    email_hash   BLOB NOT NULL UNIQUE,
    token_hash   BLOB NOT NULL UNIQUE,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    sent_through INTEGER NOT NULL -- the newest update already mailed (unix ns)
);
