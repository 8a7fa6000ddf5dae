package vault_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labtrust/labtrust/vault"
)

// fakeAEAD is the test doubles' own sealing: AES-GCM under a random key,
// with the caller's context bound, so tampering fails as it would in the
// real service.
type fakeAEAD struct{ a cipher.AEAD }

func newFakeAEAD(t *testing.T) fakeAEAD {
	key := make([]byte, 32)
	rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return fakeAEAD{a}
}

func (f fakeAEAD) seal(pt, ad []byte) []byte {
	nonce := make([]byte, f.a.NonceSize())
	rand.Read(nonce)
	return f.a.Seal(nonce, nonce, pt, ad)
}

func (f fakeAEAD) open(ct, ad []byte) ([]byte, bool) {
	if len(ct) < f.a.NonceSize() {
		return nil, false
	}
	pt, err := f.a.Open(nil, ct[:f.a.NonceSize()], ct[f.a.NonceSize():], ad)
	return pt, err == nil
}

// transit implements the two HashiCorp Vault Transit endpoints a KEK uses
// (POST /v1/transit/encrypt/NAME and /decrypt/NAME), as documented at
// developer.hashicorp.com/vault/api-docs/secret/transit.
func transit(t *testing.T, token string, calls *atomic.Int64) *httptest.Server {
	f := newFakeAEAD(t)
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Vault-Token") != token {
			http.Error(w, `{"errors":["permission denied"]}`, http.StatusForbidden)
			return
		}
		var req map[string]string
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"errors":["bad json"]}`, http.StatusBadRequest)
			return
		}
		ad, _ := base64.StdEncoding.DecodeString(req["associated_data"])
		var data map[string]string
		switch r.URL.Path {
		case "/v1/transit/encrypt/labtrust":
			pt, _ := base64.StdEncoding.DecodeString(req["plaintext"])
			data = map[string]string{"ciphertext": "vault:v1:" + base64.StdEncoding.EncodeToString(f.seal(pt, ad))}
		case "/v1/transit/decrypt/labtrust":
			ct, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(req["ciphertext"], "vault:v1:"))
			pt, ok := f.open(ct, ad)
			if err != nil || !ok {
				http.Error(w, `{"errors":["cipher: message authentication failed"]}`, http.StatusBadRequest)
				return
			}
			data = map[string]string{"plaintext": base64.StdEncoding.EncodeToString(pt)}
		default:
			http.Error(w, `{"errors":["no handler"]}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	}))
}

// kmsFake implements AWS KMS's Encrypt and Decrypt actions (JSON 1.1
// protocol, X-Amz-Target TrentService.*), as documented in the AWS KMS API
// reference.
func kmsFake(t *testing.T, keyARN string, calls *atomic.Int64) *httptest.Server {
	f := newFakeAEAD(t)
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			http.Error(w, `{"__type":"UnrecognizedClientException"}`, http.StatusBadRequest)
			return
		}
		var req struct {
			KeyId             string
			Plaintext         []byte
			CiphertextBlob    []byte
			EncryptionContext map[string]string
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
			return
		}
		if req.KeyId != keyARN {
			http.Error(w, `{"__type":"NotFoundException"}`, http.StatusBadRequest)
			return
		}
		ctxBytes, _ := json.Marshal(req.EncryptionContext)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "TrentService.Encrypt":
			json.NewEncoder(w).Encode(map[string]any{"CiphertextBlob": f.seal(req.Plaintext, ctxBytes), "KeyId": keyARN})
		case "TrentService.Decrypt":
			pt, ok := f.open(req.CiphertextBlob, ctxBytes)
			if !ok {
				http.Error(w, `{"__type":"InvalidCiphertextException"}`, http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"Plaintext": pt, "KeyId": keyARN})
		default:
			http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		}
	}))
}

// checkKEK wraps and unwraps through kek, and checks that a changed blob
// or a blob from another KEK does not unwrap.
func checkKEK(t *testing.T, kek vault.KEK, other vault.KEK) {
	t.Helper()
	ctx := context.Background()
	key := make([]byte, 32)
	rand.Read(key)
	w, err := kek.Wrap(ctx, key)
	if err != nil {
		t.Fatalf("wrap: %v", err)
	}
	if bytes.Contains(w, key) {
		t.Fatal("wrapped key holds the key")
	}
	got, err := kek.Unwrap(ctx, w)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}
	bad := bytes.Clone(w)
	bad[len(bad)-3] ^= 1
	if _, err := kek.Unwrap(ctx, bad); err == nil {
		t.Fatal("a changed wrapped key unwrapped")
	}
	if other != nil {
		ow, err := other.Wrap(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kek.Unwrap(ctx, ow); err == nil {
			t.Fatal("a key wrapped by another KEK unwrapped")
		}
	}
}

func TestHashiCorpVaultTransitKEK(t *testing.T) {
	var calls atomic.Int64
	srv := transit(t, "s.test-token", &calls)
	defer srv.Close()
	// The KEK must trust the server's CA from a file, as with a private CA.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	uri := "hcvault://" + strings.TrimPrefix(srv.URL, "https://") + "/transit/keys/labtrust"
	ctx := context.Background()
	kek, err := vault.OpenKEK(ctx, uri, vault.KEKOptions{VaultToken: "s.test-token", CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	if kek.ID() != uri {
		t.Fatalf("ID %q", kek.ID())
	}
	local, _ := vault.LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	checkKEK(t, kek, local)
	if calls.Load() < 4 {
		t.Fatalf("%d calls reached Vault", calls.Load())
	}
	// A keyring works on top of it, across a reopen.
	ks := &memKeys{}
	kr, err := vault.Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := kr.Seal(ctx, nil, []byte("body"), []byte("aad"))
	kr2, err := vault.Open(ctx, kek, ks)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr2.Open(nil, sealed, []byte("aad")); err != nil || string(pt) != "body" {
		t.Fatalf("reopened keyring: %q %v", pt, err)
	}
	// Wrong token, no token, unknown CA: clear errors, no key.
	if k, err := vault.OpenKEK(ctx, uri, vault.KEKOptions{VaultToken: "wrong", CAFile: ca}); err == nil {
		if _, err := k.Wrap(ctx, []byte("k")); err == nil {
			t.Fatal("wrong token wrapped")
		}
	}
	if _, err := vault.OpenKEK(ctx, uri, vault.KEKOptions{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	if k, err := vault.OpenKEK(ctx, uri, vault.KEKOptions{VaultToken: "s.test-token"}); err == nil {
		if _, err := k.Wrap(ctx, []byte("k")); err == nil {
			t.Fatal("an untrusted certificate was accepted")
		}
	}
}

func TestAWSKMSKEK(t *testing.T) {
	const arn = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	var calls atomic.Int64
	srv := kmsFake(t, arn, &calls)
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	kek, err := vault.OpenKEK(ctx, "aws-kms://"+arn, vault.KEKOptions{AWSEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	local, _ := vault.LoadOrCreateFileKEK(filepath.Join(t.TempDir(), "kek.key"))
	checkKEK(t, kek, local)
	if calls.Load() < 3 {
		t.Fatalf("%d calls reached KMS", calls.Load())
	}
	other, err := vault.OpenKEK(ctx, "aws-kms://arn:aws:kms:us-east-2:111122223333:key/other", vault.KEKOptions{AWSEndpoint: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Wrap(ctx, []byte("k")); err == nil {
		t.Fatal("an unknown key wrapped")
	}
	if _, err := vault.OpenKEK(ctx, "aws-kms://not-an-arn", vault.KEKOptions{}); err == nil {
		t.Fatal("malformed ARN accepted")
	}
}

func TestOpenKEKFileAndUnknownScheme(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek.key")
	k, err := vault.OpenKEK(ctx, "file:"+path, vault.KEKOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkKEK(t, k, nil)
	if _, err := vault.OpenKEK(ctx, "gcp-kms://projects/x", vault.KEKOptions{}); err == nil {
		t.Fatal("unknown scheme accepted")
	}
}

type memKeys struct{ keys []vault.WrappedKey }

func (m *memKeys) LoadKeys(context.Context) ([]vault.WrappedKey, error) { return m.keys, nil }
func (m *memKeys) SaveKey(_ context.Context, k vault.WrappedKey) error {
	m.keys = append(m.keys, k)
	return nil
}
