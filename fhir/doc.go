// Package fhir reads FHIR R4 (4.0.1) AuditEvent resources, the way IHE
// Basic Audit Log Patterns (BALP) records them, and maps each to a
// labtrust.Event; it also writes Events back as BALP-shaped AuditEvents.
//
// Parse accepts NDJSON, a single resource, or a Bundle, and turns every
// record into exactly one Event or one labtrust.Reject. Mapping summary:
//
//   - Time: recorded (required; converted to UTC). Type, Subtype: the
//     codings. Action: C, R, U, D or E. Outcome: "0", "4", "8", "12"
//     (absent means success).
//   - Actor: the first agent with requestor=true, else the first agent. ID
//     from who.identifier.value, else who.reference, else altId; Name from
//     who.display, else name; Role from the first coding of role, else of
//     type; Site from location, else source.site; UserType from who's
//     resource type or a humanuser / DICOM application agent type.
//   - Network: the actor's network.address, else the first agent's that has
//     one. Purpose: the actor's purposeOfUse then purposeOfEvent, deduplicated.
//   - Patients: entities typed Person (audit-entity-type 1) in role Patient
//     (object-role 1), and entities whose what.reference is a Patient
//     reference. Other entities are Objects.
//   - Kind: access with a patient, security without. SourceRef: the id.
//
// The JSON reader is this package's own (json.go): strict RFC 8259, UTF-8
// validated, duplicate member names rejected, nesting bounded, and it never
// quotes input in its errors, since input is PHI.
package fhir
