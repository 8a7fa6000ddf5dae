package incident

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Playbook is a response plan as data: tasks with owner roles and due
// offsets, expanded into an incident's tasks when applied.
type Playbook struct {
	Key         string         `yaml:"key"`
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	ScopeHint   string         `yaml:"scope_hint"`
	Ransomware  bool           `yaml:"ransomware,omitempty"`
	Tasks       []PlaybookTask `yaml:"tasks"`
}

// PlaybookTask is one task of a playbook.
type PlaybookTask struct {
	Title  string   `yaml:"title"`
	Phase  string   `yaml:"phase"`
	CSF    string   `yaml:"csf"`
	Role   string   `yaml:"role"`
	Due    Duration `yaml:"due"`
	Detail string   `yaml:"detail"`
	Cite   string   `yaml:"cite,omitempty"`
}

// Duration reads Go durations (30m, 4h, 720h).
type Duration struct{ time.Duration }

// UnmarshalYAML parses a Go duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: due %q: want a duration such as 4h or 720h", n.Line, n.Value)
	}
	d.Duration = v
	return nil
}

// Phases are the CSF 2.0 functions a task serves.
var Phases = []string{"detect", "respond", "recover", "improve"}

var ownerRoles = []string{"security-officer", "privacy-officer", "director", "admin"}

//go:embed playbooks/*.yaml
var playbookFiles embed.FS

// BuiltinPlaybooks loads the playbooks shipped in the binary.
func BuiltinPlaybooks() (map[string]*Playbook, error) {
	return LoadPlaybooks(playbookFiles, "playbooks")
}

// LoadPlaybooks reads every *.yaml file in dir, strictly.
func LoadPlaybooks(fsys fs.FS, dir string) (map[string]*Playbook, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("incident: playbooks: %w", err)
	}
	out := map[string]*Playbook{}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		pb, err := ParsePlaybook(b)
		if err != nil {
			return nil, fmt.Errorf("incident: playbook %s: %w", e.Name(), err)
		}
		if out[pb.Key] != nil {
			return nil, fmt.Errorf("incident: playbook %s: key %q twice", e.Name(), pb.Key)
		}
		out[pb.Key] = pb
	}
	return out, nil
}

// ParsePlaybook reads and checks one playbook.
func ParsePlaybook(b []byte) (*Playbook, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var pb Playbook
	if err := dec.Decode(&pb); err != nil {
		return nil, err
	}
	if pb.Key == "" || pb.Name == "" || len(pb.Tasks) == 0 {
		return nil, fmt.Errorf("a playbook needs a key, a name and tasks")
	}
	for i, t := range pb.Tasks {
		switch {
		case t.Title == "":
			return nil, fmt.Errorf("task %d: no title", i+1)
		case !slices.Contains(Phases, t.Phase):
			return nil, fmt.Errorf("task %d: phase %q: one of %s", i+1, t.Phase, strings.Join(Phases, ", "))
		case !slices.Contains(ownerRoles, t.Role):
			return nil, fmt.Errorf("task %d: role %q: one of %s", i+1, t.Role, strings.Join(ownerRoles, ", "))
		case t.Due.Duration <= 0:
			return nil, fmt.Errorf("task %d: due must be after the playbook is applied", i+1)
		}
	}
	return &pb, nil
}
