package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The synthetic coin: every URL is https on a host that does not exist, so
// a build only succeeds by going through DOWNLOAD_MIRROR.
const (
	synthVersion = "1.2.3"
	synthHost    = "releases.synth.example"
	synthUID     = 10042
	synthUser    = "synth"
	// synthBase is the manifest's pinned base; builds override it with the
	// local debootstrap image through BASE_IMAGE.
	synthBase = "docker.io/library/debian:bookworm-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// synthURL is the release URL of one file, before {version} is resolved.
func synthURL(file string) string { return "https://" + synthHost + "/v{version}/" + file }

func resolve(s string) string { return strings.ReplaceAll(s, "{version}", synthVersion) }

var (
	tarballName = resolve("synth-{version}-x86_64-linux-gnu.tar.gz")
	// installed are the archive paths coin.yaml lists under release.binaries.
	installed      = []string{"synth-{version}/bin/synthd", "synth-{version}/bin/synthd-cli"}
	genuineDaemon  = "synthd version v" + synthVersion
	tamperedDaemon = "backdoored synthd"
	// unlisted is in the archive's bin/ too but not listed: it must not be
	// installed. Its content is unique so the image can be searched for it.
	unlisted        = "synth-{version}/bin/synth-wallet"
	unlistedContent = "#!/bin/sh\necho 'synth-wallet: unlisted, must not be installed'\n"
)

// keyTime is when the test keys were made: a little in the past, so gpgv
// never sees a key or signature from the future.
var keyTime = time.Now().Add(-time.Hour).Truncate(time.Second)

// signer is an OpenPGP key made for the test (internal/testenv's key
// helper), with the key that makes its signatures.
type signer struct {
	name string
	key  *testenv.Key
	priv *packet.PrivateKey // the primary key or its signing subkey
}

// newSigner makes a legacy Ed25519 key (what GnuPG 2.2's gpgv reads). With
// signingSubkey the key signs with a subkey, as many release keys do; the
// policy counts its primary key.
func newSigner(t *testing.T, name string, signingSubkey bool) *signer {
	t.Helper()
	k := testenv.NewKey(t, name, testenv.KeyOptions{Created: keyTime})
	priv := k.Primary()
	if signingSubkey {
		priv = k.AddSigningSubkey(t, keyTime, 0)
	}
	return &signer{name: name, key: k, priv: priv}
}

// fingerprint is the primary key's fingerprint as coin.yaml pins it.
func (s *signer) fingerprint() string { return s.key.Fingerprint }

// usesSubkey reports whether signatures come from a subkey.
func (s *signer) usesSubkey() bool { return s.priv.KeyId != s.key.Entity.PrimaryKey.KeyId }

// publicKey is the armored public key, as it is pinned under keys/.
func (s *signer) publicKey(t *testing.T) []byte { return s.key.Public(t) }

// sign makes an armored detached signature over msg at time at.
func (s *signer) sign(t *testing.T, msg []byte, at time.Time) []byte {
	t.Helper()
	return testenv.Armor(t, openpgp.SignatureType, testenv.Sign(t, s.priv, msg, testenv.SignOptions{Created: at}))
}

// signSHA1 makes the signature go-crypto refuses to make: a v4 detached
// signature over a SHA-1 digest, which old release keys still produce.
func (s *signer) signSHA1(t *testing.T, msg []byte, at time.Time) []byte {
	t.Helper()
	return testenv.Armor(t, openpgp.SignatureType, testenv.Sign(t, s.priv, msg, testenv.SignOptions{Created: at, Hash: crypto.SHA1}))
}

// signAll concatenates armored signatures of several signers, as Bitcoin
// Core publishes SHA256SUMS.asc. Each signer signs once per entry, a minute
// apart, so a signer listed twice makes two distinct signatures.
func signAll(t *testing.T, msg []byte, signers []*signer) []byte {
	t.Helper()
	var asc []byte
	for i, s := range signers {
		asc = append(asc, s.sign(t, msg, keyTime.Add(time.Duration(i+1)*time.Minute))...)
	}
	return asc
}

// synthRelease builds the release archive: the listed binaries, an unlisted
// executable beside them and a doc file, all with fixed times and owners.
// daemon is what synthd prints: a tampered release prints something else.
func synthRelease(t *testing.T, daemon string) []byte {
	t.Helper()
	script := func(body string) string { return "#!/bin/sh\n" + body + "\n" }
	return gzipped(t, tarArchive(t, []archiveEntry{
		{"synth-{version}/", "", 0o755},
		{"synth-{version}/bin/", "", 0o755},
		{installed[0], script(`echo "` + daemon + `"`), 0o755},
		{installed[1], script(`case "$1" in getblockcount) echo 42 ;; *) echo "synthd-cli version v` + synthVersion + `" ;; esac`), 0o755},
		{unlisted, unlistedContent, 0o755},
		{"synth-{version}/share/", "", 0o755},
		{"synth-{version}/share/README.synth", "synth " + synthVersion + ": a coin that exists only in coinpipe's e2e tests\n", 0o644},
	}))
}

// archiveEntry is one member of a synthetic release archive; a name ending
// in / is a folder, and {version} is resolved.
type archiveEntry struct {
	name, body string
	mode       int64
}

// tarArchive is an uncompressed tar of entries, with fixed times and owners
// so that the same entries make the same bytes.
func tarArchive(t *testing.T, entries []archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range entries {
		h := &tar.Header{Name: resolve(f.name), Mode: f.mode, ModTime: mtime, Uname: "builder", Gname: "builder", Uid: 1000, Gid: 1000, Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	if _, err := gz.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sha256sums is the checksums file in GNU coreutils format. It lists other
// platforms too, like a real release, so the right line must be picked.
func sha256sums(tarball []byte) []byte {
	return checksumsFile(map[string][]byte{
		resolve("synth-{version}-aarch64-linux-gnu.tar.gz"): []byte("arm64 build"),
		tarballName: tarball,
	})
}

// checksumsFile lists the sha256 of each file, by name, in GNU coreutils
// format (what monero's hashes.txt lists too).
func checksumsFile(files map[string][]byte) []byte {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(&b, "%s  %s\n", sha256Hex(files[name]), name)
	}
	return []byte(b.String())
}

// coinSpec is what varies between the cases' coin folders.
type coinSpec struct {
	threshold int
	pinned    []*signer
	// bundled keys are written into the first pinned key's file without
	// being pinned, as in a project's combined keys file.
	bundled []*signer
	sha256  string // the artifact's pinned sha256
	// packages and debianSnapshot become image.packages and
	// image.debian_snapshot; none by default.
	packages       []string
	debianSnapshot string
}

// writeCoin writes coins/synth/{coin.yaml,keys/,files/} under dir and
// returns the coin folder.
func writeCoin(t *testing.T, dir string, spec coinSpec) string {
	t.Helper()
	coin := filepath.Join(dir, "coins", "synth")
	writeFile(t, filepath.Join(coin, "files", "synth.conf"), []byte("# synth.conf\nrpcbind=127.0.0.1\n"))
	var keys strings.Builder
	for i, s := range spec.pinned {
		key := s.publicKey(t)
		if i == 0 {
			for _, b := range spec.bundled {
				key = append(key, b.publicKey(t)...)
			}
		}
		writeFile(t, filepath.Join(coin, "keys", s.name+".asc"), key)
		fmt.Fprintf(&keys, "      - file: keys/%s.asc\n        fingerprint: %s\n", s.name, s.fingerprint())
	}
	yaml := fmt.Sprintf(`# A coin that exists only in coinpipe's e2e tests.
name: synth
description: Synthetic daemon for the e2e suite
version: %q
upstream:
  github: synth-project/synth
  tag: "v{version}"
release:
  artifacts:
    linux/amd64:
      url: %s
      sha256: %s
  binaries:
%s  checksums:
    url: %s
    format: sha256sum
  signatures:
    mode: detached
    url: %s
    threshold: %d
    keys:
%simage:
  base: %s
%s  user: %s
  uid: %d
runtime:
  command: ["synthd", "-conf=/etc/synth/synth.conf", "-datadir=/node/data"]
  data_dir: /node/data
  config:
    - {file: files/synth.conf, path: /etc/synth/synth.conf, overlay: true}
  ports: {rpc: [18332], p2p: [18333]}
  stop_timeout: 90s
  stop_signal: SIGINT
  height: ["synthd-cli", "getblockcount"]
  stall_after: 3s
deploy:
  ecr_repository: coin-daemons/synth
  instances: {tag: Component, value: nodes/synth}
notify:
  slack_channel: "#coin-nodes"
`, synthVersion, synthURL("synth-{version}-x86_64-linux-gnu.tar.gz"), spec.sha256,
		"    - "+strings.Join(installed, "\n    - ")+"\n",
		synthURL("SHA256SUMS"), synthURL("SHA256SUMS.asc"), spec.threshold, keys.String(),
		synthBase, imageExtras(spec), synthUser, synthUID)
	writeFile(t, filepath.Join(coin, "coin.yaml"), []byte(yaml))
	return coin
}

// imageExtras are coin.yaml's image lines for the spec's packages.
func imageExtras(spec coinSpec) string {
	if len(spec.packages) == 0 {
		return ""
	}
	return fmt.Sprintf("  packages: [%s]\n  debian_snapshot: %s\n", strings.Join(spec.packages, ", "), spec.debianSnapshot)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
