package frame_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labtrust/labtrust/frame"
	"github.com/labtrust/labtrust/vault"
)

type memKeys []vault.WrappedKey

func (m *memKeys) LoadKeys(context.Context) ([]vault.WrappedKey, error) { return *m, nil }
func (m *memKeys) SaveKey(_ context.Context, k vault.WrappedKey) error {
	*m = append(*m, k)
	return nil
}

func keyring(t testing.TB) *vault.Keyring {
	t.Helper()
	kek, err := vault.LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.Open(context.Background(), kek, &memKeys{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func records(n int) []frame.Record {
	recs := make([]frame.Record, n)
	for i := range recs {
		nonce := make([]byte, 32)
		rand.Read(nonce)
		recs[i] = frame.Record{Nonce: nonce, Canonical: []byte(fmt.Sprintf(`{"action":"R","source":"lis","time":"2026-10-01T08:00:%02d.000000Z","v":1}`, i%60))}
	}
	return recs
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := keyring(t)
	ctx := context.Background()
	for _, n := range []int{1, 2, 64, 300} {
		recs := records(n)
		sealed, err := frame.Seal(ctx, k, 1000, recs)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(sealed, []byte(`"source":"lis"`)) {
			t.Fatal("sealed frame holds plaintext")
		}
		got, err := frame.Open(k, 1000, n, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d records, want %d", len(got), n)
		}
		for i := range got {
			if !bytes.Equal(got[i].Nonce, recs[i].Nonce) || !bytes.Equal(got[i].Canonical, recs[i].Canonical) {
				t.Fatalf("record %d differs", i)
			}
		}
		if n == 64 {
			raw := 0
			for _, r := range recs {
				raw += len(r.Nonce) + len(r.Canonical)
			}
			if len(sealed) >= raw {
				t.Fatalf("a frame of similar events did not compress: %d sealed bytes for %d plain", len(sealed), raw)
			}
		}
	}
}

func TestOpenRejects(t *testing.T) {
	k := keyring(t)
	ctx := context.Background()
	sealed, err := frame.Seal(ctx, k, 64, records(10))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)/2] ^= 1
	for name, tc := range map[string]struct {
		first  uint64
		count  int
		sealed []byte
	}{
		"moved":     {65, 10, sealed},
		"cut short": {64, 9, sealed},
		"extended":  {64, 11, sealed},
		"flipped":   {64, 10, flipped},
		"truncated": {64, 10, sealed[:len(sealed)-1]},
	} {
		if _, err := frame.Open(k, tc.first, tc.count, tc.sealed); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if _, err := frame.Seal(ctx, k, 0, nil); err == nil {
		t.Error("sealed an empty frame")
	}
	if _, err := frame.Seal(ctx, k, 0, []frame.Record{{Nonce: []byte{1}, Canonical: []byte("{}")}}); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("short nonce: %v", err)
	}
}

func TestDecodeCountMismatch(t *testing.T) {
	z := frame.Encode(nil, records(3))
	if _, err := frame.Decode(0, 3, z); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 4, 0, -1} {
		if _, err := frame.Decode(0, n, z); err == nil {
			t.Errorf("count %d accepted for a frame of 3", n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(frame.Encode(nil, records(3)), 3)
	f.Add(frame.Encode(nil, records(1)), 1)
	f.Add([]byte{}, 0)
	f.Add([]byte{0x05, 0x10, 0x01, 0xff}, 1)
	f.Fuzz(func(t *testing.T, z []byte, count int) {
		recs, err := frame.Decode(7, count, z)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a frame that decodes the same.
		again, err := frame.Decode(7, count, frame.Encode(nil, recs))
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded frame: %v (%d vs %d records)", err, len(again), len(recs))
		}
		for i := range recs {
			if !bytes.Equal(again[i].Nonce, recs[i].Nonce) || !bytes.Equal(again[i].Canonical, recs[i].Canonical) {
				t.Fatalf("record %d changed on re-encoding", i)
			}
		}
	})
}
