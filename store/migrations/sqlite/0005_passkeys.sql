-- WebAuthn passkeys of staff accounts: the public key credential (JSON, as
-- go-webauthn records it); no secret is stored.
CREATE TABLE staff_passkeys (
    credential_id BLOB    PRIMARY KEY,
    staff         INTEGER NOT NULL,
    credential    BLOB    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff);
