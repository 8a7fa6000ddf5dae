-- Free codes only: giving a code out then drops it from this index, where
-- the index over every code moved it (a delete and an insert) per letter.
DROP INDEX monitoring_free;
CREATE INDEX monitoring_free ON monitoring_codes (incident, id) WHERE notice IS NULL;
