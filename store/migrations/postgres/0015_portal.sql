-- What patients send from the portal: the trust survey (ratings clear,
-- the comment sealed) and call-back requests (sealed: name, number, when
-- to call). Both name the incident; a call-back names the notice.
CREATE TABLE survey_responses (
    id       BIGSERIAL PRIMARY KEY,
    incident BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    trust    BIGINT NOT NULL, -- 1 to 5
    clear    BIGINT NOT NULL, -- 1 to 5
    helped   BIGINT NOT NULL, -- 0 no, 1 yes
    comment  BYTEA
);
CREATE INDEX survey_incident ON survey_responses (incident, at);
CREATE TABLE callbacks (
    id       BIGSERIAL PRIMARY KEY,
    incident BIGINT NOT NULL,
    notice   BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    status   TEXT    NOT NULL, -- open, done
    body     BYTEA    NOT NULL
);
CREATE INDEX callbacks_incident ON callbacks (incident, status, at);
