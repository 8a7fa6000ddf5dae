-- What patients send from the portal: the trust survey (ratings clear,
-- the comment sealed) and call-back requests (sealed: name, number, when
-- to call). Both name the incident; a call-back names the notice.
CREATE TABLE survey_responses (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    incident INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    trust    INTEGER NOT NULL, -- 1 to 5
    clear    INTEGER NOT NULL, -- 1 to 5
    helped   INTEGER NOT NULL, -- 0 no, 1 yes
    comment  BLOB
);
CREATE INDEX survey_incident ON survey_responses (incident, at);
CREATE TABLE callbacks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    incident INTEGER NOT NULL,
    notice   INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    status   TEXT    NOT NULL, -- open, done
    body     BLOB    NOT NULL
);
CREATE INDEX callbacks_incident ON callbacks (incident, status, at);
