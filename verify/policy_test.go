package verify

import (
	"bytes"
	"crypto"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

var (
	keyBirth = testNow.AddDate(-2, 0, 0)
	signedAt = testNow.AddDate(-1, 0, 0)
)

// resignUID replaces a generated key's user ID self-signature with one made
// at the given time and changed by edit.
func resignUID(t *testing.T, g *testenv.Key, at time.Time, edit func(*packet.Signature)) {
	t.Helper()
	for id, ident := range g.Entity.Identities {
		sig := &packet.Signature{
			Version: g.Entity.PrimaryKey.Version, SigType: packet.SigTypePositiveCert, PubKeyAlgo: g.Entity.PrimaryKey.PubKeyAlgo,
			Hash: crypto.SHA256, CreationTime: at, IssuerKeyId: &g.Entity.PrimaryKey.KeyId,
			FlagsValid: true, FlagSign: true, FlagCertify: true,
		}
		edit(sig)
		if err := sig.SignUserId(id, g.Entity.PrimaryKey, g.Primary(), g.Config(at)); err != nil {
			t.Fatal(err)
		}
		ident.Signatures = []*packet.Signature{sig}
		ident.SelfSignature = sig
	}
}

// policyCase is one generated situation: keys, signatures, content, and
// what the policy must make of each signature.
type policyCase struct {
	name    string
	keys    [][]byte // key files (binary)
	sigs    []byte   // detached signatures, binary, concatenated
	content []byte
	// gpgv is what gpgv reports for each signature when the policy is
	// deliberately stricter than GnuPG ("" when gpgv must agree).
	gpgv []string
	want []Status
	why  string // part of the reason of the first signature
}

var policyContent = []byte("d2a8f1b1f4c0c6c19c2d3a8f7e0b5a4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a  coin-1.0-x86_64-linux-gnu.tar.gz\n")

func policyCases(t *testing.T) []policyCase {
	t.Helper()
	c := policyContent
	good := testenv.NewKey(t, "good", testenv.KeyOptions{Created: keyBirth})
	rsa := testenv.NewKey(t, "rsa", testenv.KeyOptions{Created: keyBirth, RSA: true})
	stranger := testenv.NewKey(t, "stranger", testenv.KeyOptions{Created: keyBirth})
	expiring := testenv.NewKey(t, "expiring", testenv.KeyOptions{Created: keyBirth, Lifetime: 400 * 24 * time.Hour})
	revoked := testenv.NewKey(t, "revoked", testenv.KeyOptions{Created: keyBirth})
	if err := revoked.Entity.RevokeKey(packet.KeyCompromised, "lost", revoked.Config(signedAt.AddDate(0, 1, 0))); err != nil {
		t.Fatal(err)
	}
	certifyOnly := testenv.NewKey(t, "certify-only", testenv.KeyOptions{Created: keyBirth})
	resignUID(t, certifyOnly, keyBirth.Add(time.Hour), func(s *packet.Signature) { s.FlagSign = false })

	withSub := testenv.NewKey(t, "with-subkey", testenv.KeyOptions{Created: keyBirth})
	sub := withSub.AddSigningSubkey(t, keyBirth.Add(time.Hour), 0)

	noBacksig := testenv.NewKey(t, "no-backsig", testenv.KeyOptions{Created: keyBirth})
	nbSub := noBacksig.AddSigningSubkey(t, keyBirth.Add(time.Hour), 0)
	nb := &noBacksig.Entity.Subkeys[len(noBacksig.Entity.Subkeys)-1]
	nb.Sig.EmbeddedSignature = nil
	if err := nb.Sig.SignKey(nb.PublicKey, noBacksig.Primary(), noBacksig.Config(keyBirth.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}

	revokedSub := testenv.NewKey(t, "revoked-subkey", testenv.KeyOptions{Created: keyBirth})
	rsSub := revokedSub.AddSigningSubkey(t, keyBirth.Add(time.Hour), 0)
	rs := &revokedSub.Entity.Subkeys[len(revokedSub.Entity.Subkeys)-1]
	if err := revokedSub.Entity.RevokeSubkey(rs, packet.KeyRetired, "", revokedSub.Config(keyBirth.Add(2*time.Hour))); err != nil {
		t.Fatal(err)
	}

	young := testenv.NewKey(t, "young", testenv.KeyOptions{Created: signedAt.Add(time.Hour)})

	at := func(d time.Time) testenv.SignOptions { return testenv.SignOptions{Created: d} }
	crlf := bytes.ReplaceAll(c, []byte("\n"), []byte("\r\n"))
	return []policyCase{
		{name: "good, primary key", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, at(signedAt)), content: c,
			want: []Status{StatusGood}},
		{name: "good, RSA primary key", keys: [][]byte{rsa.PublicBinary(t)}, sigs: testenv.Sign(t, rsa.Primary(), c, at(signedAt)), content: c,
			want: []Status{StatusGood}},
		{name: "good, SHA-512", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, testenv.SignOptions{Created: signedAt, Hash: crypto.SHA512}), content: c,
			want: []Status{StatusGood}},
		{name: "good, signing subkey", keys: [][]byte{withSub.PublicBinary(t)}, sigs: testenv.Sign(t, sub, c, at(signedAt)), content: c,
			want: []Status{StatusGood}},
		{name: "text signature, content with CRLF", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, testenv.SignOptions{Created: signedAt, Text: true}), content: crlf,
			want: []Status{StatusGood}},
		{name: "binary signature, line endings changed", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, at(signedAt)), content: crlf,
			want: []Status{StatusBad}, why: "does not verify"},
		{name: "unknown key", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, stranger.Primary(), c, at(signedAt)), content: c,
			want: []Status{StatusUnknownKey}},
		{name: "one good, one unknown", keys: [][]byte{good.PublicBinary(t)},
			sigs: append(testenv.Sign(t, stranger.Primary(), c, at(signedAt)), testenv.Sign(t, good.Primary(), c, at(signedAt))...), content: c,
			want: []Status{StatusUnknownKey, StatusGood}},
		{name: "key expired since", keys: [][]byte{expiring.PublicBinary(t)}, sigs: testenv.Sign(t, expiring.Primary(), c, at(keyBirth.AddDate(0, 6, 0))), content: c,
			want: []Status{StatusGoodExpiredSince}, why: "expired since " + day(keyBirth.Add(400*24*time.Hour))},
		{name: "key had expired when it signed", keys: [][]byte{expiring.PublicBinary(t)}, sigs: testenv.Sign(t, expiring.Primary(), c, at(signedAt.AddDate(0, 3, 0))), content: c,
			gpgv: []string{"EXPKEYSIG"}, want: []Status{StatusNotCounted}, why: "had expired on"},
		{name: "revoked key", keys: [][]byte{revoked.PublicBinary(t)}, sigs: testenv.Sign(t, revoked.Primary(), c, at(signedAt)), content: c,
			gpgv: []string{"REVKEYSIG"}, want: []Status{StatusNotCounted}, why: "revoked"},
		{name: "revoked signing subkey", keys: [][]byte{revokedSub.PublicBinary(t)}, sigs: testenv.Sign(t, rsSub, c, at(signedAt)), content: c,
			gpgv: []string{"REVKEYSIG"}, want: []Status{StatusNotCounted}, why: "revoked"},
		{name: "subkey without cross-signature", keys: [][]byte{noBacksig.PublicBinary(t)}, sigs: testenv.Sign(t, nbSub, c, at(signedAt)), content: c,
			gpgv: []string{"ERRSIG"}, want: []Status{StatusNotCounted}, why: "cross-certify"},
		{name: "primary key not allowed to sign", keys: [][]byte{certifyOnly.PublicBinary(t)}, sigs: testenv.Sign(t, certifyOnly.Primary(), c, at(signedAt)), content: c,
			gpgv: []string{"ERRSIG"}, want: []Status{StatusNotCounted}, why: "not allowed to sign"},
		{name: "SHA-1 signature", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, testenv.SignOptions{Created: signedAt, Hash: crypto.SHA1}), content: c,
			gpgv: []string{"GOODSIG"}, want: []Status{StatusNotCounted}, why: "SHA-1 signatures never count"},
		{name: "signature older than its key", keys: [][]byte{young.PublicBinary(t)}, sigs: testenv.Sign(t, young.Primary(), c, at(signedAt)), content: c,
			gpgv: []string{"ERRSIG"}, want: []Status{StatusNotCounted}, why: "older than the key"},
		// Future relative to the pinned clock and to the real one the oracle uses.
		{name: "signature dated in the future", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, at(time.Now().AddDate(50, 0, 0))), content: c,
			gpgv: []string{"GOODSIG"}, want: []Status{StatusNotCounted}, why: "dated in the future"},
		{name: "signature itself expired", keys: [][]byte{good.PublicBinary(t)}, sigs: testenv.Sign(t, good.Primary(), c, testenv.SignOptions{Created: signedAt, Expires: 24 * time.Hour}), content: c,
			gpgv: []string{"EXPSIG"}, want: []Status{StatusNotCounted}, why: "signature itself has expired"},
	}
}

func TestPolicy(t *testing.T) {
	for _, tt := range policyCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			var keys []*Key
			for _, k := range tt.keys {
				parsed, err := ParseKeys(k)
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, parsed...)
			}
			v := &Verifier{Keys: keys, Threshold: 1, Now: testNow}
			verdict, err := v.Detached(bytes.NewReader(tt.content), tt.sigs)
			got := statuses(verdict)
			if len(got) != len(tt.want) {
				t.Fatalf("statuses %v (err %v), want %v", got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("signature %d: %v (%s), want %v", i, got[i], verdict.Results[i].Reason, tt.want[i])
				}
			}
			if tt.why != "" && !strings.Contains(verdict.Results[0].Reason, tt.why) {
				t.Errorf("reason %q, want it to mention %q", verdict.Results[0].Reason, tt.why)
			}
			counts := false
			for _, s := range tt.want {
				counts = counts || s == StatusGood || s == StatusGoodExpiredSince
			}
			if (err == nil) != counts {
				t.Errorf("err = %v, but a counted signature is %v", err, counts)
			}
		})
	}
}

func TestV6KeySignature(t *testing.T) {
	// v6 signatures hash a salt first; gpg 2.2 cannot read v6 keys, so this
	// one is checked without the oracle.
	g := testenv.NewKey(t, "v6", testenv.KeyOptions{Created: keyBirth, V6: true})
	keys := parsed(t, g)
	if len(keys[0].Fingerprint) != 64 {
		t.Fatalf("v6 fingerprint %q", keys[0].Fingerprint)
	}
	sig := testenv.Sign(t, g.Primary(), policyContent, testenv.SignOptions{Created: signedAt})
	v := &Verifier{Keys: keys, Threshold: 1, Now: testNow}
	if _, err := v.Detached(bytes.NewReader(policyContent), testenv.Armor(t, "PGP SIGNATURE", sig)); err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte{}, policyContent...)
	tampered[0] ^= 1
	verdict, err := v.Detached(bytes.NewReader(tampered), sig)
	checkOutcome(t, err, "bad signature")
	if verdict.Results[0].Status != StatusBad {
		t.Errorf("tampered content: %v", verdict.Results[0])
	}
}

func TestEachKeyCountsOnce(t *testing.T) {
	a := testenv.NewKey(t, "a", testenv.KeyOptions{Created: keyBirth})
	b := testenv.NewKey(t, "b", testenv.KeyOptions{Created: keyBirth})
	keys := append(parsed(t, a), parsed(t, b)...)
	twiceByA := append(testenv.Sign(t, a.Primary(), policyContent, testenv.SignOptions{Created: signedAt}),
		testenv.Sign(t, a.Primary(), policyContent, testenv.SignOptions{Created: signedAt.Add(time.Minute)})...)
	v := &Verifier{Keys: keys, Threshold: 2, Now: testNow}
	verdict, err := v.Detached(bytes.NewReader(policyContent), twiceByA)
	checkOutcome(t, err, "only 1 of the 2 required")
	if !verdict.Results[0].Counted || verdict.Results[1].Counted {
		t.Errorf("counted flags %v %v", verdict.Results[0].Counted, verdict.Results[1].Counted)
	}
	byBoth := append(twiceByA, testenv.Sign(t, b.Primary(), policyContent, testenv.SignOptions{Created: signedAt})...)
	if _, err := v.Detached(bytes.NewReader(policyContent), byBoth); err != nil {
		t.Errorf("two keys, threshold 2: %v", err)
	}
}

func TestVerifierInput(t *testing.T) {
	keys := parsed(t, testenv.NewKey(t, "k", testenv.KeyOptions{Created: keyBirth}))
	for _, v := range []*Verifier{{Keys: keys}, {Threshold: 1}} {
		if _, err := v.Detached(bytes.NewReader(nil), nil); err == nil {
			t.Errorf("%+v: no error", v)
		} else if _, isFailure := err.(*Failure); isFailure {
			t.Errorf("bad input reported as a verification failure: %v", err)
		}
	}
}
