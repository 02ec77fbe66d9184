// Package policytest is test support, imported only from _test files: the
// one table of verification policy cases (docs/architecture.md §7) that both
// verifiers are judged by. release's tests run every case through
// release.Verify (the Go verifier, as `coinpipe verify` and the watcher
// use it), generator's tests through the rendered release.sh with the real
// gpgv (the image build), and each signature through gpgv itself, which
// must agree except where the policy is stricter on purpose (Sig.Gpgv).
package policytest

import (
	"bytes"
	"crypto"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Mode is how upstream publishes its signatures.
type Mode string

const (
	Detached    Mode = "detached"    // one checksums file, detached signatures
	Clearsigned Mode = "clearsigned" // one clearsigned checksums file
	PerSigner   Mode = "per-signer"  // one checksums file and detached signature per signer
)

// Key is one pinned key: its key file (which may bundle unpinned keys),
// fingerprint and, per signer, signer name.
type Key struct {
	File        string // under keys/
	Data        []byte
	Fingerprint string
	Signer      string
}

// Unit is one signed checksums file: Sums is the checksums file (the whole
// clearsigned message in that mode), Sig its detached signatures.
type Unit struct {
	Signer string // per signer; "" otherwise
	Sums   []byte
	Sig    []byte
}

// Sig is the verdict expected on one signature, in file order, per unit.
type Sig struct {
	Unit   string // the signer whose file holds it; "" in single-file modes
	Status verify.Status
	// ID is the pinned primary fingerprint, or the key ID of an unknown key.
	ID string
	// Gpgv is what gpgv reports where the policy is stricter on purpose
	// (GOODSIG, EXPKEYSIG, ERRSIG); "" when gpgv must agree.
	Gpgv string
	// Damaged marks the verdict on a refused signature file (per signer):
	// there is no signature for gpgv to judge.
	Damaged bool
}

// Case is one policy case.
type Case struct {
	Name      string
	Mode      Mode
	Format    string // verify.Format
	Keys      []Key
	Threshold int
	Artifact  string // file name the checksums list
	SHA256    string // the pinned sha256
	// Units are the published files; a pinned signer without one is
	// missing (not published).
	Units []Unit
	OK    bool
	// Sigs are the expected verdicts, in order over the units. gpgv stops
	// judging a file at its first bad signature, and so does release.sh,
	// which reads gpgv's verdicts: those judges are held to the verdicts up
	// to the first BAD in each file (Judged).
	Sigs []Sig
	// GpgvDamaged is what gpgv reports (one status per signature) on a
	// signature file the policy refuses whole, per unit.
	GpgvDamaged map[string][]string
	// Why is part of the failure message both verifiers give.
	Why string
}

// URLs of the case's coin; release.Dir and release.sh read the base names.
const (
	ArtifactBase = "https://releases.policy.invalid/v{version}/"
	Version      = "1.0"
)

// ChecksumsURL and SignaturesURL are the templates the case's coin names.
func (c *Case) ChecksumsURL() string {
	switch c.Mode {
	case PerSigner:
		return ArtifactBase + "{signer}/checksums"
	case Clearsigned:
		return ArtifactBase + "hashes.txt"
	}
	return ArtifactBase + "SHA256SUMS"
}

func (c *Case) SignaturesURL() string {
	switch c.Mode {
	case PerSigner:
		return ArtifactBase + "{signer}/checksums.sig"
	case Clearsigned:
		return ""
	}
	return ArtifactBase + "SHA256SUMS.asc"
}

// WriteCoin writes the case's coin folder (coin.yaml, keys/, files/) into
// dir and returns it.
func (c *Case) WriteCoin(t testing.TB, dir string) string {
	t.Helper()
	coin := filepath.Join(dir, "policy")
	write(t, filepath.Join(coin, "files", "node.conf"), []byte("# node.conf\n"))
	var keys strings.Builder
	for _, k := range c.Keys {
		write(t, filepath.Join(coin, "keys", k.File), k.Data)
		fmt.Fprintf(&keys, "      - {file: keys/%s, fingerprint: %s", k.File, k.Fingerprint)
		if k.Signer != "" {
			fmt.Fprintf(&keys, ", signer: %s", k.Signer)
		}
		keys.WriteString("}\n")
	}
	mode := string(c.Mode)
	if c.Mode == PerSigner {
		mode = string(Detached)
	}
	sigURL := ""
	if c.SignaturesURL() != "" {
		sigURL = "\n    url: " + c.SignaturesURL()
	}
	yaml := fmt.Sprintf(`name: policy
description: policy table case
version: %q
upstream:
  github: policy/policy
  tag: "v{version}"
release:
  artifacts:
    linux/amd64:
      url: %s%s
      sha256: %s
  binaries:
    - policy/bin/policyd
  checksums:
    url: %s
    format: %s
  signatures:
    mode: %s%s
    threshold: %d
    keys:
%simage:
  base: docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
  user: node
  uid: 10100
runtime:
  command: ["policyd"]
  data_dir: /node/data
  config:
    - {file: files/node.conf, path: /node/node.conf}
  ports: {rpc: [18332], p2p: [18333]}
  stop_timeout: 10m
deploy:
  ecr_repository: coin-daemons/policy
  instances: {tag: Component, value: nodes/policy}
`, Version, ArtifactBase, c.Artifact, c.SHA256, c.ChecksumsURL(), c.Format, mode, sigURL, c.Threshold, keys.String())
	write(t, filepath.Join(coin, "coin.yaml"), []byte(yaml))
	return coin
}

// WriteRelease lays the published files out as release.Dir reads them:
// DIR/<file name>, or DIR/<signer>/<file name>.
func (c *Case) WriteRelease(t testing.TB, dir string) {
	t.Helper()
	base := func(u string) string { return u[strings.LastIndex(u, "/")+1:] }
	for _, u := range c.Units {
		write(t, filepath.Join(dir, u.Signer, base(c.ChecksumsURL())), u.Sums)
		if c.Mode != Clearsigned {
			write(t, filepath.Join(dir, u.Signer, base(c.SignaturesURL())), u.Sig)
		}
	}
}

var write = testenv.WriteFile

// Judged is the part of Sigs a judge that reads gpgv sees: in each file,
// the verdicts up to its first bad signature.
func (c *Case) Judged() []Sig {
	var out []Sig
	stopped := map[string]bool{}
	for _, s := range c.Sigs {
		if stopped[s.Unit] {
			continue
		}
		out = append(out, s)
		stopped[s.Unit] = s.Status == verify.StatusBad
	}
	return out
}

// GpgvStatus is what gpgv must report for a signature judged s, where the
// policy does not differ on purpose.
func GpgvStatus(s verify.Status) string {
	switch s {
	case verify.StatusGood:
		return "GOODSIG"
	case verify.StatusGoodExpiredSince:
		return "EXPKEYSIG"
	case verify.StatusBad:
		return "BADSIG"
	case verify.StatusUnknownKey:
		return "ERRSIG"
	}
	return "a policy refusal (set Sig.Gpgv)"
}

// Real material.
const (
	fprAchow    = "152812300785C96444D3334D17565732E08E5E41"
	fprFanquake = "E777299FC265DD04793070EB944D35F9AC3DB76A"
	fprLaanwj   = "71A3B16735405025D447E8F274810B012346C9A6"
	idLaanwj    = "1E4AED62986CD25D" // laanwj's signing subkey
	fprBinary   = "81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92"
	fprPatrick  = "DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F"
	fprAlam     = "8D6FC359FDB624D580BB390891512EB4C9B538A9"
	fprMichi    = "6DB466B17BD260F44950F6AF520B53AE29E98861"

	btcArtifact  = "bitcoin-26.0-x86_64-linux-gnu.tar.gz"
	btcSHA256    = "23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab"
	xmrArtifact  = "monero-linux-x64-v0.18.5.1.tar.bz2"
	xmrSHA256    = "22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958"
	dogeArtifact = "dogecoin-1.14.6-x86_64-linux-gnu.tar.gz"
	dogeSHA256   = "fe9c9cdab946155866a5bd5a5127d2971a9eed3e0b65fb553fe393ad1daaebb0"
	dogeAssert   = "dogecoin-gitian/1.14.6-linux/%s/dogecoin-linux-1.14-build.assert"
	synthFile    = "policy-1.0-x86_64-linux-gnu.tar.gz"
	synthSHA256  = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// damaged records what gpgv reports on the single signature file that c's
// policy refuses whole: gpgv judges damaged files inconsistently (it may
// count the blocks before the damage, or ignore a missing END line).
func damaged(c Case, gpgv ...string) Case {
	c.GpgvDamaged = map[string][]string{"": gpgv}
	return c
}

// realStatus is the verdict on a real upstream signature by the key (or
// subkey) whose ID is signingKeyID: good, or good with "expired since" once
// that key has expired, so the table stays true as real keys reach their
// expiry dates (the judges run on the real clock). The expiry comes from
// verify's key reader, which TestOracleKeys holds to gpg's view.
func realStatus(t testing.TB, keyFile []byte, signingKeyID string) verify.Status {
	t.Helper()
	keys, err := verify.ParseKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		for _, sk := range k.SignerKeys() {
			if strings.HasSuffix(sk.Fingerprint, signingKeyID) {
				if !sk.Expires.IsZero() && time.Now().After(sk.Expires) {
					return verify.StatusGoodExpiredSince
				}
				return verify.StatusGood
			}
		}
	}
	t.Fatalf("no key %s in the key file", signingKeyID)
	return verify.StatusGood
}

// Cases builds the table. Keys made here are dated relative to the current
// time, because gpgv has no clock override; every judge uses the real clock.
func Cases(t testing.TB) []Case {
	t.Helper()
	v := func(p string) []byte { return testenv.Vector(t, p) }
	btc := "bitcoin-guix/26.0/"
	sums := v(btc + "achow101/all.SHA256SUMS")
	achow, fanquake, laanwj := v(btc+"achow101/all.SHA256SUMS.asc"), v(btc+"fanquake/all.SHA256SUMS.asc"), v(btc+"laanwj/all.SHA256SUMS.asc")
	btcKeys := []Key{
		{File: "achow101.gpg", Data: v(btc + "keys/achow101.gpg"), Fingerprint: fprAchow},
		{File: "fanquake.gpg", Data: v(btc + "keys/fanquake.gpg"), Fingerprint: fprFanquake},
		{File: "laanwj.gpg", Data: v(btc + "keys/laanwj.gpg"), Fingerprint: fprLaanwj},
	}
	bitcoin := func(name string, threshold int, keys []Key, sums, sigs []byte, ok bool, why string, want ...Sig) Case {
		return Case{Name: "bitcoin 26.0: " + name, Mode: Detached, Format: "sha256sum", Keys: keys, Threshold: threshold,
			Artifact: btcArtifact, SHA256: btcSHA256, Units: []Unit{{Sums: sums, Sig: sigs}}, OK: ok, Why: why, Sigs: want}
	}
	// achow101 signs with his primary key, fanquake and laanwj with
	// subkeys; laanwj's expires in February 2027, achow101's in August.
	signingKey := map[string]string{fprAchow: "17565732E08E5E41", fprFanquake: "2EEB9F5CC09526C1", fprLaanwj: idLaanwj, fprBinary: "2593838EABB1F655"}
	keyData := map[string][]byte{fprAchow: btcKeys[0].Data, fprFanquake: btcKeys[1].Data, fprLaanwj: btcKeys[2].Data, fprBinary: v("monero/keys/binaryfate.asc")}
	good := func(fpr string) Sig {
		return Sig{Status: realStatus(t, keyData[fpr], signingKey[fpr]), ID: fpr}
	}
	threeGood := []Sig{good(fprAchow), good(fprFanquake), good(fprLaanwj)}

	monero := v("monero/v0.18.5.1/hashes.txt")
	xmrKeys := []Key{{File: "binaryfate.asc", Data: v("monero/keys/binaryfate.asc"), Fingerprint: fprBinary}}
	clearsigned := func(name string, msg []byte, ok bool, why string, want ...Sig) Case {
		return Case{Name: "monero 0.18.5.1: " + name, Mode: Clearsigned, Format: "monero", Keys: xmrKeys, Threshold: 1,
			Artifact: xmrArtifact, SHA256: xmrSHA256, Units: []Unit{{Sums: msg}}, OK: ok, Why: why, Sigs: want}
	}

	dogeKeys := []Key{
		{File: "patricklodder.pgp", Data: v("dogecoin-gitian/keys/patricklodder-key.pgp"), Fingerprint: fprPatrick, Signer: "patricklodder"},
		{File: "alamshafil.pgp", Data: v("dogecoin-gitian/keys/alamshafil.pgp"), Fingerprint: fprAlam, Signer: "alamshafil"},
		{File: "michilumin.pgp", Data: v("dogecoin-gitian/keys/michilumin-key.pgp"), Fingerprint: fprMichi, Signer: "michilumin"},
	}
	gitian := func(signer string) Unit {
		return Unit{Signer: signer, Sums: v(fmt.Sprintf(dogeAssert, signer)), Sig: v(fmt.Sprintf(dogeAssert, signer) + ".sig")}
	}
	dogecoin := func(name string, units []Unit, ok bool, why string, want ...Sig) Case {
		return Case{Name: "dogecoin 1.14.6: " + name, Mode: PerSigner, Format: "gitian-assert", Keys: dogeKeys, Threshold: 2,
			Artifact: dogeArtifact, SHA256: dogeSHA256, Units: units, OK: ok, Why: why, Sigs: want}
	}
	patrick := Sig{Unit: "patricklodder", Status: verify.StatusGoodExpiredSince, ID: fprPatrick}
	alam := Sig{Unit: "alamshafil", Status: verify.StatusGood, ID: fprAlam}
	michi := Sig{Unit: "michilumin", Status: verify.StatusGood, ID: fprMichi}

	// Keys made now, for what no real vector shows.
	now := time.Now().Truncate(time.Second)
	day := 24 * time.Hour
	alice := testenv.NewKey(t, "alice", testenv.KeyOptions{Created: now.Add(-30 * day)})
	bob := testenv.NewKey(t, "bob", testenv.KeyOptions{Created: now.Add(-30 * day)})
	mallory := testenv.NewKey(t, "mallory", testenv.KeyOptions{Created: now.Add(-30 * day)})
	// A key that expired since, whose older signing subkey had expired
	// before the primary key signed: only the primary's expiry matters.
	veteran := testenv.NewKey(t, "veteran", testenv.KeyOptions{Created: now.Add(-100 * day), Lifetime: 90 * day})
	veteran.AddSigningSubkey(t, now.Add(-100*day), 10*day)
	// A valid key with an expired signing subkey, signing with its primary.
	renewed := testenv.NewKey(t, "renewed", testenv.KeyOptions{Created: now.Add(-100 * day)})
	renewed.AddSigningSubkey(t, now.Add(-100*day), 10*day)
	// A key that signs with a subkey that expired since.
	subbed := testenv.NewKey(t, "subbed", testenv.KeyOptions{Created: now.Add(-100 * day)})
	shortSub := subbed.AddSigningSubkey(t, now.Add(-100*day), 20*day)

	pinned := func(k *testenv.Key, signer string, bundled ...*testenv.Key) Key {
		data := k.Public(t)
		for _, b := range bundled {
			data = append(data, b.Public(t)...)
		}
		return Key{File: strings.ToLower(k.Entity.PrimaryIdentity().UserId.Name) + ".asc", Data: data, Fingerprint: k.Fingerprint, Signer: signer}
	}
	synthSums := []byte(synthSHA256 + "  " + synthFile + "\n" + strings.Repeat("1", 64) + "  policy-1.0-aarch64-linux-gnu.tar.gz\n")
	otherSums := []byte(strings.Repeat("1", 64) + "  policy-1.0-aarch64-linux-gnu.tar.gz\n")
	synth := func(name string, threshold int, keys []Key, units []Unit, ok bool, why string, want ...Sig) Case {
		mode := Detached
		if units[0].Signer != "" {
			mode = PerSigner
		}
		return Case{Name: "generated: " + name, Mode: mode, Format: "sha256sum", Keys: keys, Threshold: threshold,
			Artifact: synthFile, SHA256: synthSHA256, Units: units, OK: ok, Why: why, Sigs: want}
	}
	signed := func(k *testenv.Key, content []byte, o testenv.SignOptions) []byte {
		return testenv.Armor(t, "PGP SIGNATURE", testenv.Sign(t, k.Primary(), content, o))
	}
	at := func(d time.Duration) testenv.SignOptions { return testenv.SignOptions{Created: now.Add(d)} }
	one := func(k *testenv.Key, content []byte, d time.Duration) []Unit {
		return []Unit{{Sums: content, Sig: signed(k, content, at(d))}}
	}
	g := func(k *testenv.Key) Sig { return Sig{Status: verify.StatusGood, ID: k.Fingerprint} }

	// Damaged armor, made from real blocks.
	lines := strings.Split(string(achow), "\n")
	crc := append([]string{}, lines...)
	crc[4] = crc[4][:20] + "AAAA" + crc[4][24:]
	badCRC := []byte(strings.Join(crc, "\n"))
	noEnd := bytes.Replace(fanquake, []byte("-----END PGP SIGNATURE-----"), nil, 1)
	twice := bytes.Replace(synthSums, []byte(synthSHA256+"  "+synthFile+"\n"), []byte(synthSHA256+"  "+synthFile+"\n"+strings.Repeat("2", 64)+"  "+synthFile+"\n"), 1)
	truncatedDoge := gitian("alamshafil")
	truncatedDoge.Sig = truncatedDoge.Sig[:len(truncatedDoge.Sig)-20]
	edited := gitian("michilumin")
	edited.Sums = bytes.Replace(edited.Sums, []byte("fe9c9cdab9"), []byte("fe9c9cdab8"), 1)
	swapped := gitian("patricklodder")
	swapped.Signer = "alamshafil"

	return []Case{
		// Real vectors.
		bitcoin("three builders, threshold 3", 3, btcKeys, sums, cat(achow, fanquake, laanwj), true, "", threeGood...),
		clearsigned("clearsigned hashes.txt by binaryFate", monero, true, "", good(fprBinary)),
		dogecoin("three Gitian builders per signer, patricklodder's key expired since", []Unit{gitian("patricklodder"), gitian("alamshafil"), gitian("michilumin")},
			true, "", patrick, alam, michi),
		dogecoin("michilumin published nothing: missing, the other two suffice", []Unit{gitian("patricklodder"), gitian("alamshafil")},
			true, "", patrick, alam),

		// Existing attacks.
		bitcoin("one changed hash byte", 1, btcKeys, bytes.Replace(sums, []byte("9cf64f42"), []byte("9cf64f43"), 1), cat(achow, fanquake, laanwj), false, "bad signature",
			Sig{Status: verify.StatusBad, ID: fprAchow}, Sig{Status: verify.StatusBad, ID: fprFanquake}, Sig{Status: verify.StatusBad, ID: fprLaanwj}),
		bitcoin("laanwj's key not pinned", 2, btcKeys[:2], sums, cat(achow, laanwj), false, "only 1 of the 2 required",
			good(fprAchow), Sig{Status: verify.StatusUnknownKey, ID: idLaanwj}),
		bitcoin("the same builder pasted twice", 2, btcKeys, sums, cat(achow, achow), false, "only 1 of the 2 required",
			good(fprAchow), good(fprAchow)),
		damaged(bitcoin("truncated armor", 1, btcKeys, sums, cat(achow, fanquake, laanwj[:len(laanwj)-40]), false, "signature file damaged"), "GOODSIG", "GOODSIG"),
		bitcoin("garbled armor: CRC-24 mismatch", 1, btcKeys, sums, badCRC, false, "signature file damaged"),
		damaged(clearsigned("text appended after the signature", cat(monero, []byte(strings.Repeat("6", 64)+"  "+xmrArtifact+"\n")), false, "text after the signature block is not signed"), "GOODSIG"),
		clearsigned("signed text edited", bytes.Replace(monero, []byte("22a7dda7"), []byte("66a7dda7"), 1), false, "bad signature",
			Sig{Status: verify.StatusBad, ID: fprBinary}),
		damaged(clearsigned("text before the message", cat([]byte(strings.Repeat("6", 64)+"  "+xmrArtifact+"\n"), monero), false, "text before the clearsigned message is not signed"), "GOODSIG"),
		damaged(clearsigned("a second clearsigned message appended", cat(monero, v("monero/v0.14.1.2/hashes.txt")), false, "text after the signature block is not signed"), "GOODSIG"),
		clearsigned("a signed line removed", bytes.Replace(monero, []byte("## CLI\n"), nil, 1), false, "bad signature",
			Sig{Status: verify.StatusBad, ID: fprBinary}),
		clearsigned("the Hash header names another digest", bytes.Replace(monero, []byte("Hash: SHA256"), []byte("Hash: SHA512"), 1), false, "only 0 of the 1 required",
			Sig{Status: verify.StatusNotCounted, ID: fprBinary, Gpgv: "ERRSIG"}),
		damaged(clearsigned("the signature block cut off", monero[:len(monero)-60], false, "signature file damaged")),
		damaged(bitcoin("a key file instead of signatures", 1, btcKeys, sums, v("upstream-keys/bitcoin/fanquake.asc"), false, "signature file damaged")),
		damaged(bitcoin("no signature at all", 1, btcKeys, sums, []byte("nothing to see\n"), false, "signature file damaged")),
		synth("artifact listed twice with different hashes", 1, []Key{pinned(alice, "")}, one(alice, twice, -day), false, "",
			g(alice)),
		bitcoin("a bad signature by a pinned key among enough good ones", 3, append(append([]Key{}, btcKeys...), pinned(alice, "")), sums,
			cat(achow, fanquake, laanwj, signed(alice, []byte("other content\n"), at(-day))), false, "bad signature",
			append(append([]Sig{}, threeGood...), Sig{Status: verify.StatusBad, ID: alice.Fingerprint})...),
		synth("SHA-1 signature", 1, []Key{pinned(alice, "")}, []Unit{{Sums: synthSums, Sig: signed(alice, synthSums, testenv.SignOptions{Created: now.Add(-day), Hash: crypto.SHA1})}},
			false, "only 0 of the 1 required", Sig{Status: verify.StatusNotCounted, ID: alice.Fingerprint, Gpgv: "GOODSIG"}),
		synth("a key bundled in a pinned key file, not pinned", 1, []Key{pinned(alice, "", mallory)}, one(mallory, synthSums, -day),
			false, "only 0 of the 1 required", Sig{Status: verify.StatusUnknownKey, ID: mallory.Entity.PrimaryKey.KeyIdString(), Gpgv: "GOODSIG"}),

		// Where the verifiers disagreed before issue 6.
		synth("key expired since, with a signing subkey that had expired before it signed", 1, []Key{pinned(veteran, "")}, one(veteran, synthSums, -50*day),
			true, "", Sig{Status: verify.StatusGoodExpiredSince, ID: veteran.Fingerprint}),
		synth("valid key with an expired signing subkey signs with its primary", 1, []Key{pinned(renewed, "")}, one(renewed, synthSums, -day),
			true, "", g(renewed)),
		synth("signing subkey expired since", 1, []Key{pinned(subbed, "")},
			[]Unit{{Sums: synthSums, Sig: testenv.Armor(t, "PGP SIGNATURE", testenv.Sign(t, shortSub, synthSums, at(-90*day)))}},
			true, "", Sig{Status: verify.StatusGoodExpiredSince, ID: subbed.Fingerprint}),
		synth("signing subkey had expired when it signed", 1, []Key{pinned(subbed, "")},
			[]Unit{{Sums: synthSums, Sig: testenv.Armor(t, "PGP SIGNATURE", testenv.Sign(t, shortSub, synthSums, at(-day)))}},
			false, "only 0 of the 1 required", Sig{Status: verify.StatusNotCounted, ID: subbed.Fingerprint, Gpgv: "EXPKEYSIG"}),
		synth("signature dated in the future", 1, []Key{pinned(alice, "")}, one(alice, synthSums, 2*day),
			false, "only 0 of the 1 required", Sig{Status: verify.StatusNotCounted, ID: alice.Fingerprint, Gpgv: "GOODSIG"}),
		dogecoin("patricklodder's signed assert placed under alamshafil's name", []Unit{gitian("patricklodder"), swapped},
			false, "only 1 of the 2 required", patrick, Sig{Unit: "alamshafil", Status: verify.StatusNotCounted, ID: fprPatrick, Gpgv: "EXPKEYSIG"}),
		synth("per signer: bob's checksums do not list the artifact", 2, []Key{pinned(alice, "alice"), pinned(bob, "bob")},
			[]Unit{{Signer: "alice", Sums: synthSums, Sig: signed(alice, synthSums, at(-day))}, {Signer: "bob", Sums: otherSums, Sig: signed(bob, otherSums, at(-day))}},
			false, "list no "+synthFile, Sig{Unit: "alice", Status: verify.StatusGood, ID: alice.Fingerprint}, Sig{Unit: "bob", Status: verify.StatusGood, ID: bob.Fingerprint}),
		synth("per signer: an unlisting signer is not needed at threshold 1", 1, []Key{pinned(alice, "alice"), pinned(bob, "bob")},
			[]Unit{{Signer: "alice", Sums: synthSums, Sig: signed(alice, synthSums, at(-day))}, {Signer: "bob", Sums: otherSums, Sig: signed(bob, otherSums, at(-day))}},
			true, "", Sig{Unit: "alice", Status: verify.StatusGood, ID: alice.Fingerprint}, Sig{Unit: "bob", Status: verify.StatusGood, ID: bob.Fingerprint}),
		synth("the checksums do not list the artifact", 1, []Key{pinned(alice, "")}, one(alice, otherSums, -day),
			false, "list no "+synthFile, g(alice)),
		damaged(bitcoin("a public key block appended to the signatures", 1, btcKeys, sums, cat(achow, v("upstream-keys/bitcoin/fanquake.asc")), false, "signature file damaged"), "GOODSIG"),
		damaged(bitcoin("a damaged second armor block after a good one", 1, btcKeys, sums, cat(achow, badCRC), false, "signature file damaged"), "GOODSIG"),
		damaged(bitcoin("the second armor block has no END line", 1, btcKeys, sums, cat(achow, noEnd), false, "signature file damaged"), "GOODSIG", "GOODSIG"),
		dogecoin("michilumin's assert edited: a bad signature in any file fails everything", []Unit{gitian("patricklodder"), gitian("alamshafil"), edited},
			false, "bad signature", patrick, alam, Sig{Unit: "michilumin", Status: verify.StatusBad, ID: fprMichi}),
		dogecoin("alamshafil's binary signature truncated: only that file is refused", []Unit{gitian("patricklodder"), truncatedDoge, gitian("michilumin")},
			true, "", patrick, Sig{Unit: "alamshafil", Status: verify.StatusNotCounted, ID: fprAlam, Damaged: true}, michi),
	}
}
