package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// kekAAD binds wrapped data keys to their use, so a KMS key shared with
// other software cannot be made to unwrap labtrust's keys for it (or the
// reverse) without the caller knowing.
var kekAAD = []byte("labtrust data key v1")

// TinkKEK is a KEK held by a Tink AEAD, typically a remote KMS key: the key
// material never leaves the KMS, only data keys travel to it to be wrapped.
type TinkKEK struct {
	id   string
	aead tink.AEAD
}

var _ KEK = (*TinkKEK)(nil)

// NewTinkKEK names a Tink AEAD as a KEK. id MUST identify the key without
// revealing anything secret (a key URI).
func NewTinkKEK(id string, a tink.AEAD) *TinkKEK { return &TinkKEK{id: id, aead: a} }

func (k *TinkKEK) ID() string { return k.id }

func (k *TinkKEK) Wrap(ctx context.Context, plaintext []byte) ([]byte, error) {
	if c, ok := k.aead.(tink.AEADWithContext); ok {
		return c.EncryptWithContext(ctx, plaintext, kekAAD)
	}
	return k.aead.Encrypt(plaintext, kekAAD)
}

func (k *TinkKEK) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	if c, ok := k.aead.(tink.AEADWithContext); ok {
		return c.DecryptWithContext(ctx, wrapped, kekAAD)
	}
	return k.aead.Decrypt(wrapped, kekAAD)
}

// KEKOptions are what remote KEKs need besides their URI.
type KEKOptions struct {
	// VaultToken authenticates to HashiCorp Vault (VAULT_TOKEN if empty).
	VaultToken string
	// CAFile, if set, is the PEM bundle that signs the KMS's TLS
	// certificate (Vault often runs with a private CA).
	CAFile string
	// AWSEndpoint overrides the AWS KMS endpoint (VPC endpoints, or a
	// local test double); credentials come from the default AWS chain.
	AWSEndpoint string
	// HTTPClient, if set, is used for Vault (tests use it).
	HTTPClient *http.Client
	Getenv     func(string) string
}

// OpenKEK returns the KEK named by uri:
//
//   - file:PATH, or a bare path: a local key file (created 0600 if absent);
//   - hcvault://HOST[:PORT]/MOUNT/keys/NAME: a HashiCorp Vault Transit key,
//     reached over HTTPS;
//   - aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID: an AWS KMS key.
func OpenKEK(ctx context.Context, uri string, o KEKOptions) (KEK, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	switch {
	case strings.HasPrefix(uri, "hcvault://"):
		return openHCVault(uri, o)
	case strings.HasPrefix(uri, "aws-kms://"):
		return openAWSKMS(ctx, uri, o)
	case strings.Contains(uri, "://"):
		return nil, fmt.Errorf("vault: unknown KEK scheme in %q: use a key file path, hcvault:// or aws-kms://", uri)
	}
	return LoadOrCreateFileKEK(strings.TrimPrefix(uri, "file:"))
}

func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("vault: read KMS CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("vault: %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

func openHCVault(uri string, o KEKOptions) (KEK, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("vault: malformed Vault key URI %q (want hcvault://HOST:PORT/MOUNT/keys/NAME)", uri)
	}
	token := o.VaultToken
	if token == "" {
		token = o.Getenv("VAULT_TOKEN")
	}
	if token == "" {
		return nil, errors.New("vault: no Vault token: set VAULT_TOKEN (or LABTRUST_KEK_TOKEN_FILE)")
	}
	hc := o.HTTPClient
	if hc == nil {
		tcfg, err := tlsConfig(o.CAFile)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: tcfg, Proxy: http.ProxyFromEnvironment}}
	}
	client, err := vaultapi.NewClient(&vaultapi.Config{Address: "https://" + u.Host, HttpClient: hc, MaxRetries: 2})
	if err != nil {
		return nil, fmt.Errorf("vault: Vault client: %w", err)
	}
	client.SetToken(token)
	kc, err := hcvault.NewClientWithAEADOptions("hcvault://"+u.Host, client.Logical())
	if err != nil {
		return nil, fmt.Errorf("vault: Vault client: %w", err)
	}
	a, err := kc.GetAEAD(uri)
	if err != nil {
		return nil, fmt.Errorf("vault: Vault key %q: %w", uri, err)
	}
	return NewTinkKEK(uri, a), nil
}

func openAWSKMS(ctx context.Context, uri string, o KEKOptions) (KEK, error) {
	arn := strings.TrimPrefix(uri, "aws-kms://")
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "kms" {
		return nil, fmt.Errorf("vault: malformed AWS KMS key URI %q (want aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID)", uri)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(parts[3]))
	if err != nil {
		return nil, fmt.Errorf("vault: AWS configuration: %w", err)
	}
	client := kms.NewFromConfig(cfg, func(opt *kms.Options) {
		if o.AWSEndpoint != "" {
			opt.BaseEndpoint = aws.String(o.AWSEndpoint)
		}
	})
	kc, err := awskms.NewClientWithOptions(ctx, uri, awskms.WithKMS(client))
	if err != nil {
		return nil, fmt.Errorf("vault: AWS KMS client: %w", err)
	}
	a, err := kc.GetAEAD(uri)
	if err != nil {
		return nil, fmt.Errorf("vault: AWS KMS key %q: %w", uri, err)
	}
	return NewTinkKEK(uri, a), nil
}
