package verify

import (
	"bytes"
	"crypto"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// testNow pins the clock: the vectors were checked with gpgv on this day,
// and the current achow101 and laanwj keys expire in 2027.
var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func readTestFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readTestKeys(t *testing.T, paths ...string) []*Key {
	t.Helper()
	var keys []*Key
	for _, p := range paths {
		k, err := ReadKeyFile(filepath.Join("testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k...)
	}
	return keys
}

const btc = "bitcoin-guix/26.0/"

var (
	btcBuilders  = []string{"achow101", "fanquake", "laanwj"}
	btcKeyFiles  = []string{btc + "keys/achow101.gpg", btc + "keys/fanquake.gpg", btc + "keys/laanwj.gpg"}
	btcHistAchow = btc + "keys/historical/bc4efc7a3c5d/achow101.gpg"
)

const (
	fprAchow     = "152812300785C96444D3334D17565732E08E5E41"
	fprFanquake  = "E777299FC265DD04793070EB944D35F9AC3DB76A"
	fprLaanwj    = "71A3B16735405025D447E8F274810B012346C9A6"
	fprBinary    = "81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92"
	fprFluffy    = "BDA6BD7042B721C467A9759D7455C5E3C0CDCEB9"
	fprPatrick   = "DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F"
	fprAlamshafl = "8D6FC359FDB624D580BB390891512EB4C9B538A9"
	fprMichi     = "6DB466B17BD260F44950F6AF520B53AE29E98861"
)

// btcSums is all.SHA256SUMS (identical for the three builders).
func btcSums(t *testing.T) []byte { return readTestFile(t, btc+"achow101/all.SHA256SUMS") }

// btcSHA256SUMSasc builds the release SHA256SUMS.asc as bitcoincore.org
// does: the builders' armored signatures, concatenated.
func btcSHA256SUMSasc(t *testing.T, builders ...string) []byte {
	t.Helper()
	var b []byte
	for _, n := range builders {
		b = append(b, readTestFile(t, btc+n+"/all.SHA256SUMS.asc")...)
	}
	return b
}

// Dogecoin Gitian: binary detached signatures over the asserts.
var dogeSigners = []struct{ name, key, fpr string }{
	{"patricklodder", "dogecoin-gitian/keys/patricklodder-key.pgp", fprPatrick},
	{"alamshafil", "dogecoin-gitian/keys/alamshafil.pgp", fprAlamshafl},
	{"michilumin", "dogecoin-gitian/keys/michilumin-key.pgp", fprMichi},
}

func dogeAssert(name string) string {
	return "dogecoin-gitian/1.14.6-linux/" + name + "/dogecoin-linux-1.14-build.assert"
}

// genKey is a key generated at test time, with its private half.
type genKey struct {
	e *openpgp.Entity
}

type genOpts struct {
	created  time.Time
	lifetime time.Duration // zero: never expires
	v6       bool
	rsa      bool
}

func newGenKey(t *testing.T, name string, o genOpts) *genKey {
	t.Helper()
	cfg := &packet.Config{
		Time:      func() time.Time { return o.created },
		Algorithm: packet.PubKeyAlgoEdDSA,
	}
	switch {
	case o.v6:
		cfg.Algorithm, cfg.V6Keys = packet.PubKeyAlgoEd25519, true
	case o.rsa:
		cfg.Algorithm, cfg.RSABits = packet.PubKeyAlgoRSA, 2048
	}
	if o.lifetime > 0 {
		cfg.KeyLifetimeSecs = uint32(o.lifetime / time.Second)
	}
	e, err := openpgp.NewEntity(name, "test", name+"@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &genKey{e: e}
}

func (g *genKey) config(at time.Time) *packet.Config {
	return &packet.Config{Time: func() time.Time { return at }, Algorithm: g.e.PrimaryKey.PubKeyAlgo}
}

// public returns the transferable public key, binary.
func (g *genKey) public(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := g.e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (g *genKey) keys(t *testing.T) []*Key {
	t.Helper()
	k, err := ParseKeys(g.public(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (g *genKey) fingerprint() string { return fingerprintHex(g.e.PrimaryKey) }

// addSigningSubkey adds a signing subkey with its cross-signature.
func (g *genKey) addSigningSubkey(t *testing.T, at time.Time) *packet.PrivateKey {
	t.Helper()
	if err := g.e.AddSigningSubkey(g.config(at)); err != nil {
		t.Fatal(err)
	}
	return g.e.Subkeys[len(g.e.Subkeys)-1].PrivateKey
}

type sigOpts struct {
	created time.Time
	hash    crypto.Hash // zero: SHA-256
	text    bool        // signature type 0x01 over canonical text
	expires time.Duration
}

// sign makes a detached signature over content with priv, built at the
// packet level so tests control every field.
func sign(t *testing.T, priv *packet.PrivateKey, content []byte, o sigOpts) []byte {
	t.Helper()
	sig := &packet.Signature{
		Version:      priv.PublicKey.Version,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   priv.PublicKey.PubKeyAlgo,
		Hash:         o.hash,
		CreationTime: o.created,
		IssuerKeyId:  &priv.KeyId,
	}
	if sig.Hash == 0 {
		sig.Hash = crypto.SHA256
	}
	if o.expires > 0 {
		secs := uint32(o.expires / time.Second)
		sig.SigLifetimeSecs = &secs
	}
	noNotation := false // go-crypto's salt notation has no salt size for SHA-1
	cfg := &packet.Config{Time: func() time.Time { return o.created }, NonDeterministicSignaturesViaNotation: &noNotation}
	h, err := sig.PrepareSign(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = h
	if o.text {
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

func armored(t *testing.T, blockType string, data []byte) []byte {
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

func statuses(v *Verdict) []Status {
	if v == nil {
		return nil
	}
	s := make([]Status, len(v.Results))
	for i, r := range v.Results {
		s[i] = r.Status
	}
	return s
}
