-- Credit-monitoring enrolment codes a vendor issued for an incident, each
-- given to at most one notice (allocated when its letter is made or its
-- portal page is first shown). The code is sealed.
CREATE TABLE monitoring_codes (
    id           BIGSERIAL PRIMARY KEY,
    incident     BIGINT NOT NULL,
    code         BYTEA   NOT NULL,
    notice       BIGINT,
    allocated_at BIGINT,
    claimed_at   BIGINT
);
CREATE INDEX monitoring_free ON monitoring_codes (incident, notice, id);
CREATE UNIQUE INDEX monitoring_notice ON monitoring_codes (notice) WHERE notice IS NOT NULL;
