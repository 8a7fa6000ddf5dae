-- The VIP flag (HL7 v2 PV1-16, FHIR meta.security R/V): clear like deceased,
-- because detection raises the severity of unexplained accesses to these
-- records without opening them.
ALTER TABLE patients ADD COLUMN vip INTEGER NOT NULL DEFAULT 0;
