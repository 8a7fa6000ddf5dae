package notice_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
	"github.com/labtrust/labtrust/breach"
	"github.com/labtrust/labtrust/notice"
	"github.com/labtrust/labtrust/store"
)

// TestEmailFailureLogged: a notice email the server refuses is counted,
// stays prepared, and is logged with a reason that does not repeat the
// server's words, which name the patient's address.
func TestEmailFailureLogged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, keys, reg := openLab(t, dir+"/lab.db", dir)
	p := labtrust.Patient{ID: labtrust.PatientRef{ID: "E1"}, Name: labtrust.HumanName{Family: "García", Given: []string{"Ana"}},
		BirthDate: "1980-02-03", Emails: []string{"ana.garcia@example.org"}}
	if err := reg.Import(ctx, []labtrust.PatientRecord{{Source: "adt", Time: time.Now(), Patient: p}}); err != nil {
		t.Fatal(err)
	}
	s := notice.NewService(db, keys, keys.Blind, reg, nil)
	sc := &breach.Scope{Incident: 1, Patients: []breach.Affected{{MRN: "E1", Blind: keys.Blind("E1"), Elements: []breach.Element{breach.ElementName}}}}
	if _, err := s.Prepare(ctx, 1, sc, nil); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	job := &notice.Emails{Service: s, Rows: db.Notices, Lab: notice.Lab{Name: "Valley Lab"},
		Texts: map[string]notice.Text{"en": {What: "An export.", Doing: "We stopped it."}}, Discovered: time.Now(), Date: time.Now(),
		Fonts: notice.DefaultFonts(), SetStatus: db.SetNoticeStatus, Log: slog.New(slog.NewTextHandler(&logged, nil)),
		Send: func(ctx context.Context, to, subject, body, file string, pdf []byte) error {
			return errors.New("550 5.1.1 <" + to + ">: no such user")
		},
		Reason: func(err error) string { return "recipient refused (permanent)" }}
	sent, failed, err := job.Run(ctx, 1)
	if err != nil || sent != 0 || failed != 1 {
		t.Fatalf("sent %d, failed %d, %v", sent, failed, err)
	}
	if !strings.Contains(logged.String(), `reason="recipient refused (permanent)"`) || strings.Contains(logged.String(), "ana.garcia") {
		t.Fatalf("log: %s", logged.String())
	}
	if err := db.Notices(ctx, 1, func(r store.NoticeRow) error {
		if r.Status != notice.StatusPrepared {
			t.Errorf("a failed notice is %s, want it still prepared", r.Status)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
