// Package incident runs incident response as NIST SP 800-61r3 describes it
// against the CSF 2.0 functions (detect, respond, recover, and improve
// from lessons learned): incidents created from alerts or by hand,
// playbooks that expand into tasks with owners and due dates, a timeline,
// evidence sealed with its SHA-256 and chain of custody in the ledger,
// outside responders, contacts with regulators and law enforcement, and
// the breach scope, risk assessment and obligations that follow.
package incident

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/store"
)

// Status is where an incident is in its lifecycle.
type Status string

const (
	StatusOpen          Status = "open"          // detected, being triaged (CSF DE.AE)
	StatusInvestigating Status = "investigating" // analysis and scoping (RS.AN)
	StatusContained     Status = "contained"     // mitigation done (RS.MI)
	StatusRecovering    Status = "recovering"    // restoring operations (RC.RP)
	StatusClosed        Status = "closed"        // lessons learned recorded (ID.IM)
)

// Statuses in lifecycle order.
var Statuses = []Status{StatusOpen, StatusInvestigating, StatusContained, StatusRecovering, StatusClosed}

// Valid reports whether s is a lifecycle state.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Severities an incident may have.
var Severities = []string{"low", "medium", "high", "critical"}

// Incident is the sealed incident document.
type Incident struct {
	ID         int64     `json:"id"`
	Title      string    `json:"title"`
	Summary    string    `json:"summary,omitempty"`
	Severity   string    `json:"severity"`
	Status     Status    `json:"status"`
	Playbooks  []string  `json:"playbooks,omitempty"`
	Discovered time.Time `json:"discovered"` // the date of discovery: every clock counts from it
	Opened     time.Time `json:"opened"`
	OpenedBy   string    `json:"openedBy"`
	Lead       string    `json:"lead,omitempty"`
	// Entity is what the lab is under HIPAA in this breach, and
	// CoveredEntity who it reports to when it acted as a business
	// associate.
	Entity        breach.Entity       `json:"entity"`
	CoveredEntity string              `json:"coveredEntity,omitempty"`
	Alerts        []int64             `json:"alerts,omitempty"`
	Tasks         []Task              `json:"tasks,omitempty"`
	Timeline      []Entry             `json:"timeline"`
	Evidence      []Evidence          `json:"evidence,omitempty"`
	Contacts      []Contact           `json:"contacts,omitempty"`
	Delay         *breach.Delay       `json:"delay,omitempty"`
	Indicators    []breach.Indicator  `json:"indicators,omitempty"`
	Assessments   []breach.Assessment `json:"assessments,omitempty"`
	Scope         *ScopeRef           `json:"scope,omitempty"`
	Lessons       string              `json:"lessons,omitempty"`
	Ransomware    bool                `json:"ransomware,omitempty"`
	// NoticeText is what the notices say happened and what the lab is
	// doing, by language ("en", "es").
	NoticeText map[string]NoticeText `json:"noticeText,omitempty"`
	// Updates are the public statements the portal shows, newest last.
	Updates []Update `json:"updates,omitempty"`
	// Monitoring is the credit-monitoring offer the notices carry.
	Monitoring *MonitoringOffer `json:"monitoring,omitempty"`
	// NoticesApproved records the director's approval of the notices'
	// text; letters and emails go out only after it.
	NoticesApproved *Approval `json:"noticesApproved,omitempty"`
	version         int64
}

// Assessment returns the latest recorded assessment, or nil.
func (in *Incident) Assessment() *breach.Assessment {
	if len(in.Assessments) == 0 {
		return nil
	}
	return &in.Assessments[len(in.Assessments)-1]
}

// Task is one thing to do, with its owner and due date.
type Task struct {
	ID     int       `json:"id"`
	Title  string    `json:"title"`
	Detail string    `json:"detail,omitempty"`
	Phase  string    `json:"phase,omitempty"` // detect, respond, recover, improve
	CSF    string    `json:"csf,omitempty"`
	Cite   string    `json:"cite,omitempty"`
	Role   string    `json:"role,omitempty"`  // owner role
	Owner  string    `json:"owner,omitempty"` // owner account, once assigned
	Due    time.Time `json:"due,omitzero"`
	Done   bool      `json:"done"`
	DoneBy string    `json:"doneBy,omitempty"`
	DoneAt time.Time `json:"doneAt,omitzero"`
	From   string    `json:"from,omitempty"` // the playbook that made it
}

// Entry is one line of the timeline.
type Entry struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"`
	Text   string    `json:"text"`
}

// Evidence is an evidence file's record; its bytes are sealed in the store.
type Evidence struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Custody     []Custody `json:"custody"`
}

// Custody is one link of the chain of custody. Each is also a ledger
// event (SourceRef "incident/ID/evidence/EID"), so the chain cannot be
// rewritten without the ledger showing it.
type Custody struct {
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Action  string    `json:"action"` // collected, accessed, transferred, returned
	To      string    `json:"to,omitempty"`
	Purpose string    `json:"purpose,omitempty"`
}

// ContactKinds are the parties an incident records contacts with.
var ContactKinds = []string{"law-enforcement", "regulator", "counsel", "forensics", "insurer", "business-associate", "covered-entity", "other"}

// Contact is a recorded contact with an outside party.
type Contact struct {
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Kind      string    `json:"kind"`
	Org       string    `json:"org"`
	Person    string    `json:"person,omitempty"`
	Channel   string    `json:"channel,omitempty"` // phone, email, portal, letter, in person
	Summary   string    `json:"summary"`
	Reference string    `json:"reference,omitempty"` // case or report number
}

// ScopeRef points at the latest computed scope.
type ScopeRef struct {
	ID       int64          `json:"id"`
	Computed time.Time      `json:"computed"`
	TreeSize uint64         `json:"treeSize"`
	Summary  breach.Summary `json:"summary"`
	// Groups count the scope's people by state, data elements and
	// contact: enough for the obligations, which then need not read the
	// scope (seconds for a million people, on every incident page).
	Groups []breach.Affected `json:"groups,omitempty"`
}

// Store is what the service keeps incidents in.
type Store interface {
	CreateIncident(ctx context.Context, status, severity string, opened time.Time) (int64, error)
	UpdateIncident(ctx context.Context, r store.IncidentRow) error
	GetIncident(ctx context.Context, id int64) (store.IncidentRow, error)
	ListIncidents(ctx context.Context) ([]store.IncidentRow, error)
	AddEvidence(ctx context.Context, r store.EvidenceRow) (int64, error)
	Evidence(ctx context.Context, id int64) (store.EvidenceRow, error)
	AddScope(ctx context.Context, r store.ScopeRow) (int64, error)
	FinishScope(ctx context.Context, r store.ScopeRow) error
	DeleteScope(ctx context.Context, id int64) error
	Scope(ctx context.Context, id int64) (store.ScopeRow, error)
	AddScopeChunks(ctx context.Context, scope int64, chunks []store.ScopeChunk) error
	ScopeChunks(ctx context.Context, scope int64, fn func(seq int, body []byte) error) error
	InScope(ctx context.Context, scope int64, blind []byte) (bool, error)
}

// Sealer seals incident documents and evidence (the vault's keyring).
type Sealer interface {
	Seal(ctx context.Context, dst, plaintext, aad []byte) ([]byte, error)
	Open(dst, sealed, aad []byte) ([]byte, error)
}

// Recorder appends staff actions to the ledger.
type Recorder interface {
	Record(ctx context.Context, e labtrust.Event) error
}

// Service manages incidents.
type Service struct {
	// Unreachable, if set, counts the incident's notices that came back
	// undelivered, for substitute notice.
	Unreachable func(ctx context.Context, incident int64) (int, error)
	// Posted, if set, is called after a public update lands (the portal
	// mails its subscribers).
	Posted func()

	st        Store
	key       Sealer
	rec       Recorder
	now       func() time.Time
	playbooks map[string]*Playbook
}

// New returns the service with the built-in playbooks. now may be nil.
func New(st Store, key Sealer, rec Recorder, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	pbs, err := BuiltinPlaybooks()
	if err != nil {
		return nil, err
	}
	return &Service{st: st, key: key, rec: rec, now: now, playbooks: pbs}, nil
}

// Playbooks returns the playbooks by key.
func (s *Service) Playbooks() map[string]*Playbook { return s.playbooks }

// MaxEvidence bounds one evidence file (it is sealed in one piece).
const MaxEvidence = 64 << 20

// ErrInvalid wraps what a caller got wrong.
var ErrInvalid = errors.New("invalid")

func invalid(format string, a ...any) error {
	return &labtrust.Error{Code: "invalid", Message: fmt.Sprintf(format, a...), Err: ErrInvalid}
}

// New is what creating an incident takes.
type NewIncident struct {
	Title      string
	Summary    string
	Severity   string
	Discovered time.Time // zero: now
	Entity     breach.Entity
	// CoveredEntity: who a business associate reports to.
	CoveredEntity string
	Playbook      string  // applied at once when set
	Alerts        []int64 // alerts that raised it
	Lead          string
}

func docAAD(id int64) []byte { return []byte("labtrust incident v1\x00" + strconv.FormatInt(id, 10)) }

// Create opens an incident.
func (s *Service) Create(ctx context.Context, by string, n NewIncident) (*Incident, error) {
	n.Title = strings.TrimSpace(n.Title)
	if n.Title == "" {
		return nil, invalid("an incident needs a title")
	}
	if n.Severity == "" {
		n.Severity = "medium"
	}
	if !slices.Contains(Severities, n.Severity) {
		return nil, invalid("severity %q: one of %s", n.Severity, strings.Join(Severities, ", "))
	}
	if n.Entity == "" {
		n.Entity = breach.EntityCoveredEntity
	}
	switch n.Entity {
	case breach.EntityCoveredEntity, breach.EntityBusinessAssociate, breach.EntityOther:
	default:
		return nil, invalid("entity %q: covered-entity, business-associate or other", n.Entity)
	}
	if n.Playbook != "" && s.playbooks[n.Playbook] == nil {
		return nil, invalid("no playbook %q", n.Playbook)
	}
	now := s.now().UTC()
	if n.Discovered.IsZero() {
		n.Discovered = now
	}
	if n.Discovered.After(now.Add(time.Minute)) {
		return nil, invalid("the discovery date is in the future")
	}
	id, err := s.st.CreateIncident(ctx, string(StatusOpen), n.Severity, now)
	if err != nil {
		return nil, err
	}
	in := &Incident{ID: id, Title: n.Title, Summary: n.Summary, Severity: n.Severity, Status: StatusOpen,
		Discovered: n.Discovered.UTC(), Opened: now, OpenedBy: by, Lead: n.Lead, Entity: n.Entity,
		CoveredEntity: n.CoveredEntity, Alerts: slices.Clone(n.Alerts)}
	text := "Incident opened: " + n.Title
	if len(n.Alerts) > 0 {
		text += fmt.Sprintf(" (from alert %s)", joinIDs(n.Alerts))
	}
	in.Timeline = append(in.Timeline, Entry{At: now, By: by, Action: "opened", Text: text})
	if n.Playbook != "" {
		s.apply(in, s.playbooks[n.Playbook], by, now)
	}
	if err := s.save(ctx, in); err != nil {
		return nil, err
	}
	s.record(ctx, by, in.ID, "incident-open", labtrust.ActionCreate, "", "severity "+n.Severity)
	return in, nil
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

func (s *Service) save(ctx context.Context, in *Incident) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("incident: encode: %w", err)
	}
	sealed, err := s.key.Seal(ctx, nil, b, docAAD(in.ID))
	if err != nil {
		return fmt.Errorf("incident: seal: %w", err)
	}
	err = s.st.UpdateIncident(ctx, store.IncidentRow{ID: in.ID, Status: string(in.Status), Severity: in.Severity,
		UpdatedAt: s.now().UTC(), Version: in.version, Doc: sealed})
	if err != nil {
		return err
	}
	in.version++
	return nil
}

func (s *Service) open(r store.IncidentRow) (*Incident, error) {
	if r.Version == 0 {
		return nil, fmt.Errorf("incident %d: %w", r.ID, labtrust.ErrNotFound) // created, never saved
	}
	pt, err := s.key.Open(nil, r.Doc, docAAD(r.ID))
	if err != nil {
		return nil, fmt.Errorf("incident %d: does not authenticate: %w", r.ID, err)
	}
	var in Incident
	if err := json.Unmarshal(pt, &in); err != nil {
		return nil, fmt.Errorf("incident %d: does not decode: %w", r.ID, err)
	}
	in.version = r.Version
	return &in, nil
}

// Get returns one incident.
func (s *Service) Get(ctx context.Context, id int64) (*Incident, error) {
	r, err := s.st.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.open(r)
}

// List returns every incident, newest first.
func (s *Service) List(ctx context.Context) ([]*Incident, error) {
	rows, err := s.st.ListIncidents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Incident, 0, len(rows))
	for _, r := range rows {
		in, err := s.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// update loads the incident, applies fn, adds the timeline entry fn
// returns, saves, and records the action in the ledger; a concurrent edit
// makes it reload and apply fn again.
func (s *Service) update(ctx context.Context, by string, id int64, action string, fn func(in *Incident, now time.Time) (text, detail string, err error)) (*Incident, error) {
	for attempt := 0; ; attempt++ {
		in, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		text, detail, err := fn(in, now)
		if err != nil {
			return nil, err
		}
		if text != "" {
			in.Timeline = append(in.Timeline, Entry{At: now, By: by, Action: action, Text: text})
		}
		err = s.save(ctx, in)
		if errors.Is(err, labtrust.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.record(ctx, by, id, "incident-"+action, labtrust.ActionUpdate, "", detail)
		return in, nil
	}
}

// record appends the staff action to the ledger. detail must hold no PHI:
// it names what changed, never note text.
func (s *Service) record(ctx context.Context, by string, id int64, what string, action labtrust.Action, ref, detail string) {
	if s.rec == nil {
		return
	}
	if ref == "" {
		ref = "incident/" + strconv.FormatInt(id, 10)
	}
	e := labtrust.Event{Time: s.now().UTC(), Source: "labtrust", Kind: labtrust.KindStaff, Action: action, Outcome: labtrust.OutcomeSuccess,
		Type:      labtrust.Code{System: "https://labtrust.example/staff-action", Code: what},
		Actor:     labtrust.Actor{ID: by, UserType: "person"},
		SourceRef: ref}
	if detail != "" {
		e.Subtype = []labtrust.Code{{System: "https://labtrust.example/staff-action-detail", Code: detail}}
	}
	s.rec.Record(ctx, e)
}

// SetStatus moves the incident through its lifecycle. Closing needs the
// lessons learned, which feed the risk analysis.
func (s *Service) SetStatus(ctx context.Context, by string, id int64, st Status, note string) (*Incident, error) {
	if !st.Valid() {
		return nil, invalid("status %q: one of open, investigating, contained, recovering, closed", st)
	}
	return s.update(ctx, by, id, "status", func(in *Incident, now time.Time) (string, string, error) {
		if st == StatusClosed && strings.TrimSpace(in.Lessons) == "" && strings.TrimSpace(note) == "" {
			return "", "", invalid("record the lessons learned before closing (NIST SP 800-61r3: they feed improvement)")
		}
		if st == StatusClosed && in.Lessons == "" {
			in.Lessons = note
		}
		old := in.Status
		in.Status = st
		text := fmt.Sprintf("Status %s → %s", old, st)
		if note != "" {
			text += ": " + note
		}
		return text, "status " + string(st), nil
	})
}

// AddNote adds a note to the timeline.
func (s *Service) AddNote(ctx context.Context, by string, id int64, note string) (*Incident, error) {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil, invalid("an empty note")
	}
	return s.update(ctx, by, id, "note", func(in *Incident, now time.Time) (string, string, error) {
		return note, "note added", nil
	})
}

// SetLessons records the lessons learned.
func (s *Service) SetLessons(ctx context.Context, by string, id int64, text string) (*Incident, error) {
	return s.update(ctx, by, id, "lessons", func(in *Incident, now time.Time) (string, string, error) {
		in.Lessons = strings.TrimSpace(text)
		return "Lessons learned recorded", "lessons", nil
	})
}

// LinkAlert joins an alert to the incident.
func (s *Service) LinkAlert(ctx context.Context, by string, id, alert int64) (*Incident, error) {
	return s.update(ctx, by, id, "alert", func(in *Incident, now time.Time) (string, string, error) {
		if slices.Contains(in.Alerts, alert) {
			return "", "", invalid("alert %d is already part of the incident", alert)
		}
		in.Alerts = append(in.Alerts, alert)
		return fmt.Sprintf("Alert %d joined the incident", alert), fmt.Sprintf("alert %d", alert), nil
	})
}

// ApplyPlaybook expands a playbook into tasks due from now.
func (s *Service) ApplyPlaybook(ctx context.Context, by string, id int64, key string) (*Incident, error) {
	pb := s.playbooks[key]
	if pb == nil {
		return nil, invalid("no playbook %q", key)
	}
	return s.update(ctx, by, id, "playbook", func(in *Incident, now time.Time) (string, string, error) {
		if slices.Contains(in.Playbooks, key) {
			return "", "", invalid("playbook %s is already applied", key)
		}
		n := s.apply(in, pb, by, now)
		return fmt.Sprintf("Playbook %q applied: %d tasks", pb.Name, n), "playbook " + key, nil
	})
}

func (s *Service) apply(in *Incident, pb *Playbook, by string, now time.Time) int {
	in.Playbooks = append(in.Playbooks, pb.Key)
	in.Ransomware = in.Ransomware || pb.Ransomware
	next := 1
	for _, t := range in.Tasks {
		next = max(next, t.ID+1)
	}
	for _, t := range pb.Tasks {
		in.Tasks = append(in.Tasks, Task{ID: next, Title: t.Title, Detail: t.Detail, Phase: t.Phase, CSF: t.CSF, Cite: t.Cite,
			Role: t.Role, Due: now.Add(t.Due.Duration), From: pb.Key})
		next++
	}
	if len(in.Timeline) == 1 { // applied on creation
		in.Timeline = append(in.Timeline, Entry{At: now, By: by, Action: "playbook", Text: fmt.Sprintf("Playbook %q applied: %d tasks", pb.Name, len(pb.Tasks))})
	}
	return len(pb.Tasks)
}

// AddTask adds a task by hand.
func (s *Service) AddTask(ctx context.Context, by string, id int64, t Task) (*Incident, error) {
	if strings.TrimSpace(t.Title) == "" {
		return nil, invalid("a task needs a title")
	}
	return s.update(ctx, by, id, "task", func(in *Incident, now time.Time) (string, string, error) {
		t.ID = 1
		for _, x := range in.Tasks {
			t.ID = max(t.ID, x.ID+1)
		}
		t.Done, t.DoneBy, t.DoneAt = false, "", time.Time{}
		in.Tasks = append(in.Tasks, t)
		return fmt.Sprintf("Task %d added: %s", t.ID, t.Title), fmt.Sprintf("task %d added", t.ID), nil
	})
}

// SetTask marks a task done or not, and (when owner is set) assigns it.
func (s *Service) SetTask(ctx context.Context, by string, id int64, task int, done bool, owner string) (*Incident, error) {
	return s.update(ctx, by, id, "task", func(in *Incident, now time.Time) (string, string, error) {
		for i := range in.Tasks {
			t := &in.Tasks[i]
			if t.ID != task {
				continue
			}
			var parts []string
			if owner != "" && owner != t.Owner {
				t.Owner = owner
				parts = append(parts, "assigned to "+owner)
			}
			if done != t.Done {
				t.Done = done
				if done {
					t.DoneBy, t.DoneAt = by, now
					parts = append(parts, "done")
				} else {
					t.DoneBy, t.DoneAt = "", time.Time{}
					parts = append(parts, "reopened")
				}
			}
			if len(parts) == 0 {
				return "", "", invalid("task %d is already so", task)
			}
			what := strings.Join(parts, ", ")
			return fmt.Sprintf("Task %d (%s): %s", t.ID, t.Title, what), fmt.Sprintf("task %d %s", t.ID, what), nil
		}
		return "", "", fmt.Errorf("incident %d: task %d: %w", id, task, labtrust.ErrNotFound)
	})
}

// AddContact records a contact with an outside party.
func (s *Service) AddContact(ctx context.Context, by string, id int64, c Contact) (*Incident, error) {
	if !slices.Contains(ContactKinds, c.Kind) {
		return nil, invalid("contact kind %q: one of %s", c.Kind, strings.Join(ContactKinds, ", "))
	}
	if strings.TrimSpace(c.Org) == "" || strings.TrimSpace(c.Summary) == "" {
		return nil, invalid("a contact needs the organisation and a summary")
	}
	return s.update(ctx, by, id, "contact", func(in *Incident, now time.Time) (string, string, error) {
		c.By = by
		if c.At.IsZero() {
			c.At = now
		}
		in.Contacts = append(in.Contacts, c)
		return fmt.Sprintf("Contact with %s (%s): %s", c.Org, c.Kind, c.Summary), "contact " + c.Kind, nil
	})
}

// RequestDelay records a law-enforcement official's statement that notice
// would impede a criminal investigation (45 CFR 164.412): a written
// statement delays notice for the period it specifies; an oral one is
// documented and delays notice no longer than 30 days unless a written
// statement follows.
func (s *Service) RequestDelay(ctx context.Context, by string, id int64, d breach.Delay, official, reference string) (*Incident, error) {
	if strings.TrimSpace(d.Agency) == "" || strings.TrimSpace(official) == "" {
		return nil, invalid("a delay request names the agency and the official")
	}
	if d.From.IsZero() {
		d.From = s.now().UTC()
	}
	if !d.Oral && (d.Until.IsZero() || !d.Until.After(d.From)) {
		return nil, invalid("a written statement specifies the time for which a delay is required (164.412(a))")
	}
	return s.update(ctx, by, id, "delay", func(in *Incident, now time.Time) (string, string, error) {
		kind := "written"
		if d.Oral {
			kind = "oral"
		}
		in.Delay = &d
		in.Contacts = append(in.Contacts, Contact{At: d.From, By: by, Kind: "law-enforcement", Org: d.Agency, Person: official,
			Channel: kind + " statement", Reference: reference,
			Summary: "Requested a delay of breach notification because notice would impede a criminal investigation (45 CFR 164.412)"})
		text := fmt.Sprintf("Law-enforcement delay (%s statement, %s, %s): notices held until %s", kind, d.Agency, official, d.End().Format(time.DateOnly))
		return text, "delay " + kind + " until " + d.End().Format(time.DateOnly), nil
	})
}

// SetIndicators replaces the breach scope's indicators.
func (s *Service) SetIndicators(ctx context.Context, by string, id int64, ins []breach.Indicator) (*Incident, error) {
	for _, x := range ins {
		if err := x.Check(); err != nil {
			return nil, &labtrust.Error{Code: "invalid", Message: err.Error(), Err: ErrInvalid}
		}
	}
	return s.update(ctx, by, id, "indicators", func(in *Incident, now time.Time) (string, string, error) {
		in.Indicators = ins
		kinds := make([]string, len(ins))
		for i, x := range ins {
			kinds[i] = string(x.Kind)
			if x.Kind != breach.IndicatorRecords {
				kinds[i] += " " + x.Value
			}
		}
		return "Scope indicators set: " + strings.Join(kinds, "; "), fmt.Sprintf("%d indicators", len(ins)), nil
	})
}

// Assess records a HIPAA risk assessment; its outcome decides whether
// notice is owed.
func (s *Service) Assess(ctx context.Context, by string, id int64, a breach.Assessment) (*Incident, error) {
	return s.update(ctx, by, id, "assessment", func(in *Incident, now time.Time) (string, string, error) {
		a.By, a.At = by, now
		a.Ransomware = a.Ransomware || in.Ransomware
		for _, ev := range a.Evidence {
			if !slices.ContainsFunc(in.Evidence, func(e Evidence) bool { return e.ID == ev }) {
				return "", "", invalid("evidence %d is not part of incident %d", ev, id)
			}
		}
		if err := a.Decide(); err != nil {
			return "", "", &labtrust.Error{Code: "invalid", Message: err.Error(), Err: ErrInvalid}
		}
		in.Assessments = append(in.Assessments, a)
		verdict := "notice is owed"
		if !a.Outcome.Breach {
			verdict = "no notice owed"
		}
		return "Risk assessment recorded: " + verdict + ". " + a.Outcome.Basis, "assessment breach=" + strconv.FormatBool(a.Outcome.Breach), nil
	})
}

func evidenceAAD(incident int64, sum []byte) []byte {
	return []byte("labtrust evidence v1\x00" + strconv.FormatInt(incident, 10) + "\x00" + hex.EncodeToString(sum))
}

// AddEvidence seals a file into the store with its SHA-256 and starts its
// chain of custody.
func (s *Service) AddEvidence(ctx context.Context, by string, id int64, name, description string, r io.Reader) (*Evidence, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, invalid("evidence needs a name")
	}
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxEvidence+1))
	if err != nil {
		return nil, fmt.Errorf("incident: read evidence: %w", err)
	}
	if len(b) > MaxEvidence {
		return nil, invalid("evidence files are limited to %d MiB", MaxEvidence>>20)
	}
	sum := sha256.Sum256(b)
	sealed, err := s.key.Seal(ctx, nil, b, evidenceAAD(id, sum[:]))
	if err != nil {
		return nil, fmt.Errorf("incident: seal evidence: %w", err)
	}
	eid, err := s.st.AddEvidence(ctx, store.EvidenceRow{Incident: id, SHA256: sum[:], Size: int64(len(b)), AddedAt: s.now().UTC(), Body: sealed})
	if err != nil {
		return nil, err
	}
	ev := Evidence{ID: eid, Name: name, Description: description, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}
	_, err = s.update(ctx, by, id, "evidence", func(in *Incident, now time.Time) (string, string, error) {
		ev.Custody = []Custody{{At: now, By: by, Action: "collected"}}
		in.Evidence = append(in.Evidence, ev)
		return fmt.Sprintf("Evidence %d collected: %s (%d bytes, SHA-256 %s)", eid, name, len(b), ev.SHA256[:16]+"…"), "", nil
	})
	if err != nil {
		return nil, err
	}
	s.custody(ctx, by, id, eid, "collected", ev.SHA256)
	return &ev, nil
}

func (s *Service) custody(ctx context.Context, by string, id, eid int64, action, sum string) {
	s.record(ctx, by, id, "evidence-"+action, labtrust.ActionExecute, fmt.Sprintf("incident/%d/evidence/%d", id, eid), "sha256 "+sum)
}

// ErrTampered means an evidence file no longer matches its SHA-256.
var ErrTampered = errors.New("incident: evidence does not match its recorded SHA-256")

// OpenEvidence returns an evidence file's bytes, checked against its
// SHA-256, and records the access in its chain of custody.
func (s *Service) OpenEvidence(ctx context.Context, by string, id, eid int64, purpose string) (*Evidence, []byte, error) {
	if strings.TrimSpace(purpose) == "" {
		return nil, nil, invalid("say why the evidence is opened: the chain of custody records it")
	}
	row, err := s.st.Evidence(ctx, eid)
	if err != nil {
		return nil, nil, err
	}
	if row.Incident != id {
		return nil, nil, fmt.Errorf("incident %d: evidence %d: %w", id, eid, labtrust.ErrNotFound)
	}
	b, err := s.key.Open(nil, row.Body, evidenceAAD(id, row.SHA256))
	if err != nil {
		return nil, nil, fmt.Errorf("incident: evidence %d does not authenticate: %w", eid, err)
	}
	if sum := sha256.Sum256(b); !bytes.Equal(sum[:], row.SHA256) {
		return nil, nil, ErrTampered
	}
	var ev Evidence
	_, err = s.update(ctx, by, id, "evidence", func(in *Incident, now time.Time) (string, string, error) {
		for i := range in.Evidence {
			if in.Evidence[i].ID == eid {
				in.Evidence[i].Custody = append(in.Evidence[i].Custody, Custody{At: now, By: by, Action: "accessed", Purpose: purpose})
				ev = in.Evidence[i]
				return fmt.Sprintf("Evidence %d accessed: %s", eid, purpose), "", nil
			}
		}
		return "", "", fmt.Errorf("incident %d: evidence %d: %w", id, eid, labtrust.ErrNotFound)
	})
	if err != nil {
		return nil, nil, err
	}
	s.custody(ctx, by, id, eid, "accessed", hex.EncodeToString(row.SHA256))
	return &ev, b, nil
}

// TransferEvidence records a hand-over of evidence (to a forensics firm,
// to law enforcement) in its chain of custody.
func (s *Service) TransferEvidence(ctx context.Context, by string, id, eid int64, to, purpose string) (*Incident, error) {
	if strings.TrimSpace(to) == "" {
		return nil, invalid("a transfer names who receives the evidence")
	}
	var sum string
	in, err := s.update(ctx, by, id, "evidence", func(in *Incident, now time.Time) (string, string, error) {
		for i := range in.Evidence {
			if in.Evidence[i].ID == eid {
				in.Evidence[i].Custody = append(in.Evidence[i].Custody, Custody{At: now, By: by, Action: "transferred", To: to, Purpose: purpose})
				sum = in.Evidence[i].SHA256
				return fmt.Sprintf("Evidence %d transferred to %s", eid, to), "", nil
			}
		}
		return "", "", fmt.Errorf("incident %d: evidence %d: %w", id, eid, labtrust.ErrNotFound)
	})
	if err != nil {
		return nil, err
	}
	s.custody(ctx, by, id, eid, "transferred", sum)
	return in, nil
}

// NoticeText is the incident's own words in the notices, in one language.
type NoticeText struct {
	What  string `json:"what"`
	Doing string `json:"doing"`
}

// SetNoticeText records what the notices in one language say happened and
// what the lab is doing about it.
func (s *Service) SetNoticeText(ctx context.Context, by string, id int64, language, what, doing string) (*Incident, error) {
	if language != "en" && language != "es" {
		return nil, invalid("notices are written in English (en) and Spanish (es)")
	}
	if strings.TrimSpace(what) == "" || strings.TrimSpace(doing) == "" {
		return nil, invalid("the notice text needs what happened and what the lab is doing")
	}
	return s.update(ctx, by, id, "notice-text", func(in *Incident, now time.Time) (string, string, error) {
		if in.NoticeText == nil {
			in.NoticeText = map[string]NoticeText{}
		}
		in.NoticeText[language] = NoticeText{What: strings.TrimSpace(what), Doing: strings.TrimSpace(doing)}
		text := "Notice text written (" + language + ")"
		if in.NoticesApproved != nil {
			in.NoticesApproved = nil // the approval was of the old words
			text += "; the approval is withdrawn until it is given again"
		}
		return text, "notice text " + language, nil
	})
}

// UpdateStatuses are the stages a public status update announces.
var UpdateStatuses = []string{"investigating", "identified", "contained", "resolved"}

// Update is a public, timestamped statement about the incident, in
// English and Spanish. It is what patients read: no PHI, no names.
type Update struct {
	At     time.Time         `json:"at"`
	By     string            `json:"by"`
	Status string            `json:"status"`
	Text   map[string]string `json:"text"` // by language
}

// PostUpdate publishes a status update on the portal.
func (s *Service) PostUpdate(ctx context.Context, by string, id int64, status, en, es string) (*Incident, error) {
	if !slices.Contains(UpdateStatuses, status) {
		return nil, invalid("update status %q: one of %s", status, strings.Join(UpdateStatuses, ", "))
	}
	if strings.TrimSpace(en) == "" || strings.TrimSpace(es) == "" {
		return nil, invalid("a public update is written in English and Spanish")
	}
	in, err := s.update(ctx, by, id, "public-update", func(in *Incident, now time.Time) (string, string, error) {
		in.Updates = append(in.Updates, Update{At: now, By: by, Status: status, Text: map[string]string{"en": strings.TrimSpace(en), "es": strings.TrimSpace(es)}})
		return "Public update posted (" + status + "): " + strings.TrimSpace(en), "update " + status, nil
	})
	if err == nil && s.Posted != nil {
		s.Posted()
	}
	return in, err
}

// MonitoringOffer is credit monitoring the lab pays for: the vendor, how
// long, where to enrol and until when. Each notice gets its own code from
// the vendor's pool.
type MonitoringOffer struct {
	Vendor  string    `json:"vendor"`
	Months  int       `json:"months"`
	URL     string    `json:"url"`
	EnrolBy time.Time `json:"enrolBy"`
}

// SetMonitoringOffer records the credit-monitoring offer.
func (s *Service) SetMonitoringOffer(ctx context.Context, by string, id int64, o MonitoringOffer) (*Incident, error) {
	if strings.TrimSpace(o.Vendor) == "" || o.Months < 1 || !strings.HasPrefix(o.URL, "https://") || o.EnrolBy.IsZero() {
		return nil, invalid("a credit-monitoring offer needs the vendor, months, an https enrolment address and a date to enrol by")
	}
	return s.update(ctx, by, id, "monitoring", func(in *Incident, now time.Time) (string, string, error) {
		in.Monitoring = &o
		return fmt.Sprintf("Credit monitoring offered: %d months from %s, enrol by %s", o.Months, o.Vendor, o.EnrolBy.Format(time.DateOnly)), "monitoring offer", nil
	})
}

// Approval is who approved what, when.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// ApproveNotices records the approval of the notices as written; writing
// the text again withdraws it.
func (s *Service) ApproveNotices(ctx context.Context, by string, id int64) (*Incident, error) {
	return s.update(ctx, by, id, "notices-approved", func(in *Incident, now time.Time) (string, string, error) {
		if in.NoticeText["en"].What == "" || in.NoticeText["es"].What == "" {
			return "", "", invalid("write the notice text in English and Spanish before approving it")
		}
		in.NoticesApproved = &Approval{By: by, At: now}
		return "Notices approved for sending", "notices approved", nil
	})
}
