// Package testenv holds what the tests of several packages share: the rule
// for tests that drive real tools, OpenPGP keys made at test time, and the
// way to the real upstream vectors. Import it only from _test files.
package testenv

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// RequireTools skips the test when a tool it drives is missing, except in
// CI (CI=true), where a missing tool fails it: CI must never pass by
// skipping what it was meant to prove.
func RequireTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	reason := fmt.Sprintf("%s not found in PATH (.ci/run installs it)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true: this test must run, not skip", reason)
	}
	t.Skip(reason)
}

// Key is an OpenPGP key made for a test, with its private half. It is the
// one test-key helper of the repository: every test that needs a key made
// at run time (expired, v6, RSA, with subkeys, signing at any time,
// clearsigning) uses it.
type Key struct {
	Entity      *openpgp.Entity
	Fingerprint string // primary fingerprint, upper-case hex
	Created     time.Time
}

// KeyOptions says what key to make.
type KeyOptions struct {
	Created  time.Time     // zero: an hour ago
	Lifetime time.Duration // zero: never expires
	V6       bool          // a v6 Ed25519 key (gpgv 2.2 cannot read it)
	RSA      bool          // RSA 2048 instead of legacy Ed25519
}

// NewKey makes a key that signs with its primary key.
func NewKey(t testing.TB, name string, o KeyOptions) *Key {
	t.Helper()
	if o.Created.IsZero() {
		o.Created = time.Now().Add(-time.Hour)
	}
	created := o.Created.Truncate(time.Second)
	cfg := &packet.Config{Time: func() time.Time { return created }, Algorithm: packet.PubKeyAlgoEdDSA, // what gpgv 2.2 reads
		KeyLifetimeSecs: uint32(o.Lifetime / time.Second)}
	switch {
	case o.V6:
		cfg.Algorithm, cfg.V6Keys = packet.PubKeyAlgoEd25519, true
	case o.RSA:
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 2048
	}
	e, err := openpgp.NewEntity(name, "coinpipe test", name+"@coinpipe.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Entity: e, Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), Created: created}
}

// Config is a packet.Config whose clock says at, for the key's algorithm.
func (k *Key) Config(at time.Time) *packet.Config {
	return &packet.Config{Time: func() time.Time { return at }, Algorithm: k.Entity.PrimaryKey.PubKeyAlgo}
}

// Primary is the primary key's private half.
func (k *Key) Primary() *packet.PrivateKey { return k.Entity.PrivateKey }

// AddSigningSubkey adds a signing subkey (with its cross-signature) made at
// created, expiring after lifetime (0: never), and returns its private half.
func (k *Key) AddSigningSubkey(t testing.TB, created time.Time, lifetime time.Duration) *packet.PrivateKey {
	t.Helper()
	cfg := k.Config(created)
	cfg.KeyLifetimeSecs = uint32(lifetime / time.Second)
	if err := k.Entity.AddSigningSubkey(cfg); err != nil {
		t.Fatal(err)
	}
	return k.Entity.Subkeys[len(k.Entity.Subkeys)-1].PrivateKey
}

// PublicBinary is the transferable public key, binary.
func (k *Key) PublicBinary(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := k.Entity.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Public is the armored public key, as a key file holds it.
func (k *Key) Public(t testing.TB) []byte {
	t.Helper()
	return Armor(t, openpgp.PublicKeyType, k.PublicBinary(t))
}

// SignOptions shapes a signature.
type SignOptions struct {
	Created time.Time
	Hash    crypto.Hash   // zero: SHA-256
	Text    bool          // signature type 0x01 over canonical text
	Expires time.Duration // the signature's own lifetime; zero: none
}

// Sign makes a binary detached signature over content with priv (a
// primary key or subkey), built at the packet level so that tests control
// every field: it also signs after the key expired, with SHA-1, or in the
// future, as go-crypto's high-level API would refuse to.
func Sign(t testing.TB, priv *packet.PrivateKey, content []byte, o SignOptions) []byte {
	t.Helper()
	sig := &packet.Signature{Version: priv.PublicKey.Version, SigType: packet.SigTypeBinary, PubKeyAlgo: priv.PublicKey.PubKeyAlgo,
		Hash: o.Hash, CreationTime: o.Created, IssuerKeyId: &priv.KeyId}
	if sig.Hash == 0 {
		sig.Hash = crypto.SHA256
	}
	if o.Expires > 0 {
		secs := uint32(o.Expires / time.Second)
		sig.SigLifetimeSecs = &secs
	}
	noNotation := false // go-crypto's salt notation has no salt size for SHA-1
	cfg := &packet.Config{Time: func() time.Time { return o.Created }, NonDeterministicSignaturesViaNotation: &noNotation}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = h
	if o.Text {
		sig.SigType = packet.SigTypeText
		w = openpgp.NewCanonicalTextHash(h)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := sig.Sign(h, priv, cfg); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Sign makes an armored detached SHA-256 signature over data by the
// primary key, dated when.
func (k *Key) Sign(t testing.TB, data []byte, when time.Time) []byte {
	t.Helper()
	return Armor(t, openpgp.SignatureType, Sign(t, k.Primary(), data, SignOptions{Created: when}))
}

// Clearsign makes a clearsigned message of text by the primary key, dated when.
func (k *Key) Clearsign(t testing.TB, text []byte, when time.Time) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, k.Primary(), k.Config(when))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Armor wraps data in an armor block of the given type, with a newline after it.
func Armor(t testing.TB, blockType string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// Root is the repository's root folder (where go.mod is).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate internal/testenv")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Vectors is the folder of the real upstream signing material
// (testdata/vectors at the repository root; see its README).
func Vectors(t testing.TB) string {
	t.Helper()
	return filepath.Join(Root(t), "testdata", "vectors")
}

// Vector reads one file of the real upstream material, by its path under
// testdata/vectors.
func Vector(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Vectors(t), filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// WriteFile writes b to path, making its folders.
func WriteFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyTree copies the folder src, with everything in it, to dst (which must
// not hold any of its files yet): a test's own copy of a fixture.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
