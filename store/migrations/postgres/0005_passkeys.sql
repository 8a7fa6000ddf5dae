-- WebAuthn passkeys of staff accounts: the public key credential (JSON, as
-- go-webauthn records it); no secret is stored.
CREATE TABLE staff_passkeys (
    credential_id BYTEA   PRIMARY KEY,
    staff         BIGINT  NOT NULL,
    credential    BYTEA   NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX staff_passkeys_staff ON staff_passkeys (staff);
