-- Staff accounts. The password is an argon2id PHC string; the TOTP secret
-- is sealed by the vault; recovery codes are kept as SHA-256 digests (they
-- are random, so a slow hash adds nothing).
CREATE TABLE staff (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password      TEXT    NOT NULL DEFAULT '',
    totp          BYTEA,
    totp_step     BIGINT  NOT NULL DEFAULT 0,  -- last accepted time step, so a code works once
    failed        INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT  NOT NULL DEFAULT 0,
    disabled      INTEGER NOT NULL DEFAULT 0,
    incident      TEXT    NOT NULL DEFAULT '', -- responders: the one incident they may see
    expires_at    BIGINT  NOT NULL DEFAULT 0,  -- responders: access ends (unix ns); 0 = never
    created_at    BIGINT  NOT NULL
);

CREATE TABLE staff_recovery (
    staff  BIGINT  NOT NULL,
    digest BYTEA   NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (staff, digest)
);

-- Sessions by the SHA-256 of their token: a stolen database holds no
-- usable session.
CREATE TABLE staff_sessions (
    digest     BYTEA   PRIMARY KEY,
    staff      BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    seen_at    BIGINT  NOT NULL,
    mfa        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff);
