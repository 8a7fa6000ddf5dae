package atna

// Code systems. AuditMessages name code systems by short designators
// ("DCM") or OIDs; labtrust events use the URIs FHIR uses, so that an event
// from ATNA and the same event from a FHIR AuditEvent or a syslog line carry
// the same Type and can be matched by one detection rule.
const (
	// SystemDCM is the DICOM Controlled Terminology (PS3.16), designator "DCM".
	SystemDCM = "http://dicom.nema.org/resources/ontology/DCM"
	// SystemIHETransactions holds IHE transaction codes such as "ITI-9".
	SystemIHETransactions = "urn:ihe:event-type-code"
	// SystemActReason is HL7 v3 ActReason, the usual PurposeOfUse system.
	SystemActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
)

// systemByName maps codeSystemName designators and codeSystem OIDs to URIs.
// Names not listed pass through unchanged.
var systemByName = map[string]string{
	"DCM":                          SystemDCM,
	"1.2.840.10008.2.16.4":         SystemDCM,
	"IHE Transactions":             SystemIHETransactions,
	"v3-ActReason":                 SystemActReason,
	"2.16.840.1.113883.5.8":        SystemActReason,
	"HL7 ActReason":                SystemActReason,
	"urn:oid:1.2.840.10008.2.16.4": SystemDCM,
}

// nameBySystem is the inverse used by Encode; every value maps back to a key
// that systemByName maps to it again.
var nameBySystem = map[string]string{
	SystemDCM:             "DCM",
	SystemIHETransactions: "IHE Transactions",
	SystemActReason:       "v3-ActReason",
}

// objectRoles names ParticipantObjectTypeCodeRole values (RFC 3881 5.5.2,
// DICOM PS3.15 A.5.2.5) in the words labtrust uses for Object.Role.
var objectRoles = [...]string{
	1:  "patient",
	2:  "location",
	3:  "report",
	4:  "resource",
	5:  "master-file",
	6:  "user",
	7:  "list",
	8:  "doctor",
	9:  "subscriber",
	10: "guarantor",
	11: "security-user-entity",
	12: "security-user-group",
	13: "security-resource",
	14: "security-granularity-definition",
	15: "provider",
	16: "data-destination",
	17: "data-repository",
	18: "schedule",
	19: "customer",
	20: "job",
	21: "job-stream",
	22: "table",
	23: "routing-criteria",
	24: "query",
}

// dcmRoles are the DICOM RoleIDCode values (PS3.16 CID 402) Encode writes
// with their code meaning.
var dcmRoles = map[string]string{
	"110150": "Application",
	"110151": "Application Launcher",
	"110152": "Destination Role ID",
	"110153": "Source Role ID",
	"110154": "Destination Media",
	"110155": "Source Media",
}

// rfc3881IDTypes are RFC 3881 ParticipantObjectIDTypeCode values, used by
// Encode to write a recognizable code meaning.
var rfc3881IDTypes = map[string]string{
	"1":  "Medical Record Number",
	"2":  "Patient Number",
	"3":  "Encounter Number",
	"4":  "Enrollee Number",
	"5":  "Social Security Number",
	"6":  "Account Number",
	"7":  "Guarantor Number",
	"8":  "Report Name",
	"9":  "Report Number",
	"10": "Search Criteria",
	"11": "User Identifier",
	"12": "URI",
}

// privateScheme is the coding scheme designator Encode writes for values
// that have no standard code system. DICOM reserves designators starting
// with "99" for private use.
const privateScheme = "99LABTRUST"

// roleDetailType is the ParticipantObjectDetail type Encode uses to carry an
// Object.Role that has no ParticipantObjectTypeCodeRole number.
const roleDetailType = "labtrust:role"

// binaryQueryPrefix marks an Object.Query that holds a base64 query which is
// not UTF-8 text (a DICOM C-FIND identifier, for example). Keeping the
// base64 form keeps the event valid UTF-8 and lets Encode write the exact
// bytes back.
const binaryQueryPrefix = "base64:"
