package syslog

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/labtrust/labtrust"
)

// The codes plain security lines map to: DICOM "User Authentication" with
// subtype Login or Logout, the same codes an ATNA User Authentication
// message carries, so one detection rule covers both.
const systemDCM = "http://dicom.nema.org/resources/ontology/DCM"

var (
	typeUserAuth = labtrust.Code{System: systemDCM, Code: "110114", Display: "User Authentication"}
	subLogin     = labtrust.Code{System: systemDCM, Code: "110122", Display: "Login"}
	subLogout    = labtrust.Code{System: systemDCM, Code: "110123", Display: "Logout"}
)

// Patterns for the security lines of OpenSSH, Linux-PAM's pam_unix,
// util-linux and shadow su, and sudo. They are anchored at the start of MSG
// (after the tag, for RFC 3164) and read-only after init.
var (
	reSSHAccepted = regexp.MustCompile(`^Accepted \S+ for (\S+) from (\S+) port \d+`)
	reSSHFailed   = regexp.MustCompile(`^Failed \S+ for (invalid user )?(\S+) from (\S+) port \d+`)
	reSSHInvalid  = regexp.MustCompile(`^Invalid user (\S*) from (\S+)`)
	rePAMAuthFail = regexp.MustCompile(`^pam_unix\([^)]*\): authentication failure;(.*)$`)
	rePAMOpened   = regexp.MustCompile(`^pam_unix\([^)]*\): session opened for user ([^\s(]+)`)
	rePAMClosed   = regexp.MustCompile(`^pam_unix\([^)]*\): session closed for user ([^\s(]+)`)
	// RFC 5424 section 6.5 and RFC 3164 section 5.4 example form.
	reSuQuoted = regexp.MustCompile(`^'su \S*' failed for (\S+) on \S+`)
	// util-linux su.
	reSuUtil = regexp.MustCompile(`^FAILED SU \(to \S+\) (\S+) on \S+`)
	// shadow-utils su.
	reSuShadow = regexp.MustCompile(`^FAILED su for \S+ by (\S+)`)
	reSudoFail = regexp.MustCompile(`^\s*(\S+) : (?:\d+ incorrect password attempts?|user NOT in sudoers|user NOT authorized on host|command not allowed|a password is required) ;`)
)

// classify maps a plain security line to an Event without Source, Time or
// Site, or reports that it does not recognize the line. app is the syslog
// APP-NAME or TAG; the patterns do not depend on it because relays and
// journald rewrite it, except that sudo lines are only read from sudo.
func classify(app string, msg []byte) (labtrust.Event, bool) {
	s := string(msg)
	e := labtrust.Event{
		Kind:    labtrust.KindSecurity,
		Type:    typeUserAuth,
		Subtype: []labtrust.Code{subLogin},
		Action:  labtrust.ActionExecute,
		Outcome: labtrust.OutcomeSuccess,
	}
	switch {
	case strings.HasPrefix(s, "Accepted "):
		m := reSSHAccepted.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Actor.ID, e.Network = m[1], m[2]
	case strings.HasPrefix(s, "Failed "):
		m := reSSHFailed.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome = labtrust.OutcomeMinorFailure
		if m[1] != "" {
			e.Outcome = labtrust.OutcomeSeriousFailure
		}
		e.Actor.ID, e.Network = m[2], m[3]
	case strings.HasPrefix(s, "Invalid user "):
		m := reSSHInvalid.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome = labtrust.OutcomeSeriousFailure
		e.Actor.ID, e.Network = m[1], m[2]
	case strings.HasPrefix(s, "pam_unix("):
		if m := rePAMAuthFail.FindStringSubmatch(s); m != nil {
			kv := keyValues(m[1])
			e.Outcome = labtrust.OutcomeMinorFailure
			e.Actor.ID = kv["user"]
			if e.Actor.ID == "" {
				e.Actor.ID = kv["ruser"]
			}
			e.Network = kv["rhost"]
		} else if m := rePAMOpened.FindStringSubmatch(s); m != nil {
			e.Actor.ID = m[1]
		} else if m := rePAMClosed.FindStringSubmatch(s); m != nil {
			e.Actor.ID = m[1]
			e.Subtype = []labtrust.Code{subLogout}
		} else {
			return e, false
		}
	case strings.HasPrefix(s, "'su "):
		m := reSuQuoted.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome, e.Actor.ID = labtrust.OutcomeMinorFailure, m[1]
	case strings.HasPrefix(s, "FAILED SU "):
		m := reSuUtil.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome, e.Actor.ID = labtrust.OutcomeMinorFailure, m[1]
	case strings.HasPrefix(s, "FAILED su "):
		m := reSuShadow.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome, e.Actor.ID = labtrust.OutcomeMinorFailure, m[1]
	case app == "sudo" && strings.Contains(s, " : "):
		m := reSudoFail.FindStringSubmatch(s)
		if m == nil {
			return e, false
		}
		e.Outcome, e.Actor.ID = labtrust.OutcomeMinorFailure, m[1]
	default:
		return classifyKeyValue(s)
	}
	return e, true
}

// classifyKeyValue reads generic key=value lines such as
// "user=alice src=10.0.0.5 action=login outcome=success". It needs user=
// and action= (login, logout or failure); outcome= is optional.
func classifyKeyValue(s string) (labtrust.Event, bool) {
	if !strings.Contains(s, "=") {
		return labtrust.Event{}, false
	}
	kv := keyValues(s)
	user := kv["user"]
	if user == "" {
		return labtrust.Event{}, false
	}
	e := labtrust.Event{
		Kind:   labtrust.KindSecurity,
		Type:   typeUserAuth,
		Action: labtrust.ActionExecute,
		Actor:  labtrust.Actor{ID: user},
	}
	for _, k := range []string{"src", "src_ip", "rhost"} {
		if v := kv[k]; v != "" {
			e.Network = v
			break
		}
	}
	failed := false
	switch strings.ToLower(kv["action"]) {
	case "login":
		e.Subtype = []labtrust.Code{subLogin}
	case "logout":
		e.Subtype = []labtrust.Code{subLogout}
	case "failure":
		e.Subtype = []labtrust.Code{subLogin}
		failed = true
	default:
		return labtrust.Event{}, false
	}
	out, ok := outcome(kv["outcome"], failed)
	if !ok {
		return labtrust.Event{}, false
	}
	e.Outcome = out
	return e, true
}

func outcome(v string, failed bool) (labtrust.Outcome, bool) {
	switch strings.ToLower(v) {
	case "":
		if failed {
			return labtrust.OutcomeMinorFailure, true
		}
		return labtrust.OutcomeSuccess, true
	case "success", "succeeded", "ok", "allow", "allowed", "accept", "accepted", "0":
		if failed {
			// action=failure wins over a contradictory outcome.
			return labtrust.OutcomeMinorFailure, true
		}
		return labtrust.OutcomeSuccess, true
	case "failure", "failed", "fail", "denied", "deny", "reject", "rejected", "error", "4":
		return labtrust.OutcomeMinorFailure, true
	case "invalid", "invalid_user", "8":
		return labtrust.OutcomeSeriousFailure, true
	case "12":
		return labtrust.OutcomeMajorFailure, true
	}
	return 0, false
}

// keyValues splits "k=v k2=\"v 2\" word k3=" into a map. Words without '='
// are skipped; a double-quoted value may contain spaces and \" escapes.
// Keys are lower-cased; the first occurrence of a key wins.
func keyValues(s string) map[string]string {
	kv := make(map[string]string, 8)
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ';' || s[i] == ',') {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		if i >= len(s) || s[i] != '=' {
			continue
		}
		key := strings.ToLower(s[start:i])
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			var b bytes.Buffer
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
				i++
			}
			i++ // closing quote
			val = b.String()
		} else {
			vs := i
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != ';' && s[i] != ',' {
				i++
			}
			val = s[vs:i]
		}
		if _, dup := kv[key]; !dup && key != "" {
			kv[key] = val
		}
	}
	return kv
}
