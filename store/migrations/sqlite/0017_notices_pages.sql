-- Notices are read a page at a time in id order (keyset pagination), so
-- no read holds a snapshot open across a whole mail-house export.
CREATE INDEX notices_incident_id ON notices (incident, id);
