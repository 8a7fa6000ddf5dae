package breach

import (
	"errors"
	"fmt"
	"time"
)

// Rating is a factor's risk level.
type Rating string

const (
	RatingLow    Rating = "low"
	RatingMedium Rating = "medium"
	RatingHigh   Rating = "high"
)

// Factor is one of the four factors of 45 CFR 164.402(2).
type Factor struct {
	Key      string `json:"key"`
	Question string `json:"question"`
	Guidance string `json:"guidance"`
	Citation string `json:"citation"`
}

// Factors are the four factors, in the rule's order, with the questions
// the guided workflow asks.
var Factors = []Factor{
	{Key: "nature", Citation: "45 CFR 164.402(2)(i)",
		Question: "What is the nature and extent of the PHI involved, including the types of identifiers and the likelihood of re-identification?",
		Guidance: "High when SSNs, financial or insurance data, or sensitive results (HIV, genetic, substance use, mental health) were involved, or many identifiers together; low for a few non-sensitive elements that cannot identify anyone."},
	{Key: "recipient", Citation: "45 CFR 164.402(2)(ii)",
		Question: "Who used the PHI or to whom was it disclosed?",
		Guidance: "Low when the recipient is itself bound by HIPAA (another covered entity or business associate) or is a known workforce member; high for an unknown or criminal actor (ransomware group, thief, the public internet)."},
	{Key: "acquired", Citation: "45 CFR 164.402(2)(iii)",
		Question: "Was the PHI actually acquired or viewed?",
		Guidance: "Low only when forensic analysis shows it was not (a recovered device never opened, logs showing no reads or transfers); high when it was viewed, exported or exfiltrated, or when it cannot be ruled out."},
	{Key: "mitigated", Citation: "45 CFR 164.402(2)(iv)",
		Question: "To what extent has the risk to the PHI been mitigated?",
		Guidance: "Low when reliable assurances were obtained (signed attestation of destruction from a HIPAA-bound recipient, remote wipe confirmed); high when nothing could be done."},
}

// Exception is one of the three exclusions from the definition of breach
// (45 CFR 164.402(1)).
type Exception struct {
	Key      string `json:"key"`
	Text     string `json:"text"`
	Citation string `json:"citation"`
}

// Exceptions are the statutory exclusions.
var Exceptions = []Exception{
	{Key: "good-faith-workforce", Citation: "45 CFR 164.402(1)(i)",
		Text: "An unintentional acquisition, access or use by a workforce member or person acting under the lab's authority, in good faith and within the scope of authority, not further used or disclosed in a manner not permitted."},
	{Key: "inadvertent-internal", Citation: "45 CFR 164.402(1)(ii)",
		Text: "An inadvertent disclosure by a person authorized to access PHI to another person authorized at the same covered entity, business associate or organized health care arrangement, not further used or disclosed in a manner not permitted."},
	{Key: "unable-to-retain", Citation: "45 CFR 164.402(1)(iii)",
		Text: "A disclosure where the lab has a good-faith belief that the unauthorized recipient would not reasonably have been able to retain the information."},
}

// Assessment is a recorded HIPAA breach risk assessment.
type Assessment struct {
	// Secured: the PHI was encrypted or destroyed as HHS guidance
	// specifies (74 FR 19006), so it is not "unsecured PHI" and the
	// notification rule does not apply.
	Secured   bool   `json:"secured"`
	Exception string `json:"exception,omitempty"` // one of Exceptions' keys
	// Ransomware: malware encrypted or took control of PHI. HHS presumes
	// a breach unless every factor shows a low probability of compromise.
	Ransomware bool              `json:"ransomware"`
	Ratings    map[string]Rating `json:"ratings"`
	Rationale  map[string]string `json:"rationale"`
	// Evidence lists evidence item IDs the conclusion rests on
	// (forensic reports); a ransomware rebuttal needs at least one.
	Evidence []int64   `json:"evidence,omitempty"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	// Outcome is computed by Decide.
	Outcome Outcome `json:"outcome"`
}

// Outcome is what an assessment concluded.
type Outcome struct {
	Breach      bool   `json:"breach"` // notice is owed under HIPAA
	Probability string `json:"probability"`
	Basis       string `json:"basis"`
	Citation    string `json:"citation"`
}

// Decide checks the assessment is complete and computes its outcome.
//   - Secured PHI: not a breach of unsecured PHI (164.402, 164.404(a)).
//   - An exception: not a breach (164.402(1)).
//   - Otherwise a breach is presumed (164.402(2)) unless every factor is
//     rated low; for ransomware HHS also expects the forensic basis, so a
//     rebuttal cites evidence.
func (a *Assessment) Decide() error {
	if a.Exception != "" {
		ok := false
		for _, e := range Exceptions {
			ok = ok || e.Key == a.Exception
		}
		if !ok {
			return fmt.Errorf("breach: unknown exception %q", a.Exception)
		}
	}
	low, missing := 0, ""
	for _, f := range Factors {
		r := a.Ratings[f.Key]
		switch r {
		case RatingLow:
			low++
		case RatingMedium, RatingHigh:
		case "":
			if missing == "" {
				missing = f.Key
			}
			continue
		default:
			return fmt.Errorf("breach: factor %s: rating %q (low, medium, high)", f.Key, r)
		}
		if a.Rationale[f.Key] == "" {
			return fmt.Errorf("breach: factor %s needs its rationale: the assessment is the documentation 164.530(j) keeps", f.Key)
		}
	}
	switch {
	case a.Secured:
		a.Outcome = Outcome{Breach: false, Probability: "n/a",
			Basis:    "The PHI was secured (encrypted or destroyed per HHS guidance), so it is not unsecured PHI; notification is not required.",
			Citation: "45 CFR 164.402 (unsecured protected health information); 164.404(a)"}
	case a.Exception != "":
		for _, e := range Exceptions {
			if e.Key == a.Exception {
				a.Outcome = Outcome{Breach: false, Probability: "n/a", Basis: "Excluded from the definition of breach: " + e.Text, Citation: e.Citation}
			}
		}
	case missing != "":
		return fmt.Errorf("breach: factor %s is not rated yet", missing)
	case low == len(Factors) && a.Ransomware && len(a.Evidence) == 0:
		a.Outcome = Outcome{Breach: true, Probability: "presumed",
			Basis:    "Ransomware: the encryption of PHI is an unauthorized acquisition and a breach is presumed. Every factor is rated low, but a rebuttal must rest on forensic evidence (attach the report to the incident and cite it).",
			Citation: "45 CFR 164.402(2); HHS Fact Sheet: Ransomware and HIPAA (2016)"}
	case low == len(Factors):
		a.Outcome = Outcome{Breach: false, Probability: "low",
			Basis:    "Every factor shows a low probability that the PHI has been compromised; the presumption of breach is rebutted. Keep this assessment for six years.",
			Citation: "45 CFR 164.402(2); 164.530(j)"}
	default:
		basis := "At least one factor does not show a low probability of compromise, so the presumption of breach stands and notice is owed."
		if a.Ransomware {
			basis = "Ransomware: a breach is presumed, and the factors do not rebut it; notice is owed."
		}
		a.Outcome = Outcome{Breach: true, Probability: "not low", Basis: basis, Citation: "45 CFR 164.402(2)"}
	}
	if a.By == "" {
		return errors.New("breach: an assessment records who made it")
	}
	return nil
}
