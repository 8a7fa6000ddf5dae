package labtrust_test

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/labtrust/labtrust"
)

func TestEraseKeepsTheStaffSideOnly(t *testing.T) {
	en := richEntry()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	body, err := labtrust.Erase(en, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, phi := range []string{"MRN-0001", "MRN", "DiagnosticReport/77", "birthdate", "AuditEvent/abc-123", "prevHash"} {
		if bytes.Contains(body, []byte(phi)) {
			t.Errorf("erasure record still holds %q: %s", phi, body)
		}
	}
	got, err := labtrust.UnmarshalStored(labtrust.ErasedNonce(), body)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Erased.Equal(at) || got.Index != en.Index {
		t.Errorf("erased at %v index %d, want %v %d", got.Erased, got.Index, at, en.Index)
	}
	e := got.Event
	if e.Actor != en.Event.Actor || e.Action != en.Event.Action || !e.Time.Equal(en.Event.Time.Truncate(time.Microsecond)) ||
		e.Network != en.Event.Network || e.Source != en.Event.Source || len(e.Purpose) != 1 || len(e.Subtype) != 2 {
		t.Errorf("residue lost the staff side: %+v", e)
	}
	if len(e.Patients)+len(e.Objects)+len(got.Links) != 0 || e.SourceRef != "" {
		t.Errorf("residue kept patient data: %+v", got)
	}
}

func TestUnmarshalStoredTellsEntriesFromErasures(t *testing.T) {
	en := richEntry()
	canon, err := en.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, labtrust.NonceSize)
	rand.Read(nonce)
	if got, err := labtrust.UnmarshalStored(nonce, canon); err != nil || !got.Erased.IsZero() || len(got.Event.Patients) != 2 {
		t.Fatalf("a live entry: %+v, %v", got, err)
	}
	// Under the erasure nonce, canonical bytes are not an erasure record.
	if _, err := labtrust.UnmarshalStored(labtrust.ErasedNonce(), canon); err == nil {
		t.Error("an entry's bytes were read as an erasure record")
	}
	// A residue that still names a patient is refused.
	forged := `{"erasedAt":"2026-11-29T12:00:00.000000Z","residue":` + string(canon) + `}`
	if _, err := labtrust.UnmarshalStored(labtrust.ErasedNonce(), []byte(forged)); err == nil || !strings.Contains(err.Error(), "names patients") {
		t.Errorf("residue naming a patient: %v", err)
	}
}
