// Package testenv holds what the tests of several packages share: the rule
// for tests that drive real tools, and OpenPGP keys made at test time.
package testenv

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
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

// Key is an OpenPGP key made for a test, with its armored public key.
type Key struct {
	Entity      *openpgp.Entity
	Public      []byte // armored public key, as a key file holds it
	Fingerprint string // primary fingerprint, 40 upper-case hex digits
	Created     time.Time
}

// NewKey makes a key created at created that expires after lifetime
// (0: never).
func NewKey(t testing.TB, name string, created time.Time, lifetime time.Duration) *Key {
	t.Helper()
	created = created.Truncate(time.Second)
	cfg := &packet.Config{Time: func() time.Time { return created }, KeyLifetimeSecs: uint32(lifetime / time.Second)}
	e, err := openpgp.NewEntity(name, "coinpipe test", name+"@coinpipe.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	w, err := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return &Key{Entity: e, Public: pub.Bytes(), Fingerprint: fmt.Sprintf("%X", e.PrimaryKey.Fingerprint), Created: created}
}

// Sign makes an armored detached signature over data, dated when. It signs
// at the packet level, so it also signs after the key expired, as someone
// holding a retired key could (go-crypto's high-level API refuses).
func (k *Key) Sign(t testing.TB, data []byte, when time.Time) []byte {
	t.Helper()
	cfg := &packet.Config{Time: func() time.Time { return when }}
	sig := &packet.Signature{Version: 4, SigType: packet.SigTypeBinary, PubKeyAlgo: k.Entity.PrimaryKey.PubKeyAlgo,
		Hash: crypto.SHA256, CreationTime: when, IssuerKeyId: &k.Entity.PrimaryKey.KeyId}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(data)
	if err := sig.Sign(h, k.Entity.PrivateKey, cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := armor.Encode(&out, "PGP SIGNATURE", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sig.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return out.Bytes()
}
