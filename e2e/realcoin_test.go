package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// derivedCoin is a shipped coin whose upstream release is replaced by a
// synthetic one, so that its daemon repository builds offline.
type derivedCoin struct {
	name string
	root string // a toolkit tree holding coins/<name>/ alone
	// files are what upstream serves for the synthetic release, keyed by
	// https URL: the artifact, the checksums and the signatures.
	files   map[string][]byte
	signers []*signer
}

// dir is the coin's folder.
func (c derivedCoin) dir() string { return filepath.Join(c.root, "coins", c.name) }

// realCoinWithSyntheticRelease copies coins/<coin>/ of this tree and
// replaces only what an offline build cannot have: the version becomes
// synthVersion, the artifacts' sha256 that of a synthetic archive holding a
// stand-in executable at every path release.binaries lists, and the pinned
// keys (keys/ and their fingerprints) test signers' keys, as many as the
// coin pins, of which threshold sign the checksums. URLs, checksum format,
// signature mode, threshold, image, runtime, deploy and notify stay the
// shipped ones, so the daemon repository is the real coin's with another
// release. It serves the archive under each platform's URL, the checksums
// in the coin's format and the signatures in its mode, through the mirror
// by those URLs, as the buildah suite's synthetic release is served.
func realCoinWithSyntheticRelease(t *testing.T, coin string) derivedCoin {
	t.Helper()
	real := filepath.Join(testenv.Root(t), "coins", coin)
	m, err := manifest.Open(real)
	if err != nil {
		t.Fatalf("the shipped %s coin is invalid: %v", coin, err)
	}
	rel := m.Release
	sig := rel.Signatures
	// Only what the shipped coins that verify a signed checksums file use:
	// one checksums file for every signer, signed in it (clearsigned) or
	// beside it (detached).
	switch {
	case sig.Mode != "detached" && sig.Mode != "clearsigned":
		t.Fatalf("%s: signatures.mode %s: a synthetic release is made only for detached or clearsigned checksums", coin, sig.Mode)
	case rel.Checksums.Format != "sha256sum" && rel.Checksums.Format != "monero":
		t.Fatalf("%s: checksums.format %s: a synthetic release is made only in the sha256sum or monero format", coin, rel.Checksums.Format)
	case strings.Contains(rel.Checksums.URL+sig.URL, "{signer}"):
		t.Fatalf("%s: a file per signer: a synthetic release is made only with one checksums file for all signers", coin)
	case sig.Mode == "clearsigned" && sig.Threshold != 1:
		t.Fatalf("%s: a clearsigned checksums file with threshold %d: a synthetic one carries one signature", coin, sig.Threshold)
	}

	c := derivedCoin{name: coin, root: t.TempDir(), files: map[string][]byte{}}
	dir := c.dir()
	testenv.CopyTree(t, real, dir)
	// The shipped keys and any committed upstream files belong to the real
	// release: none of them may stay beside the synthetic one.
	for _, p := range []string{"keys", "release"} {
		if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}

	archive := syntheticArchive(t, coin, rel.Binaries, m.Runtime.Height)
	listed := map[string][]byte{}
	shas := map[string]string{}
	for platform, a := range rel.Artifacts {
		url := resolve(a.URL)
		body := compressedAs(t, path.Base(url), archive)
		c.files[url] = body
		listed[path.Base(url)] = body
		shas[platform] = sha256Hex(body)
	}
	// Another file is listed, as in every real checksums file, so the
	// right line must be picked.
	listed["coinpipe-e2e-other-platform.tar.gz"] = []byte("another platform's build")
	sums := checksumsFile(listed)
	if rel.Checksums.Format == "monero" {
		sums = append([]byte("# This GPG-signed message exists to confirm the SHA256 sums of the synthetic release.\n#\n## CLI\n"), sums...)
	}

	src, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if src, err = manifest.SetRelease(src, synthVersion, shas); err != nil {
		t.Fatal(err)
	}
	for i, k := range sig.Keys {
		s := newSigner(t, fmt.Sprintf("%s-signer-%d", coin, i+1), false)
		c.signers = append(c.signers, s)
		file := "keys/" + s.name + ".asc"
		src = replaceOnce(t, src, "file: "+k.File, "file: "+file)
		src = replaceOnce(t, src, k.Fingerprint, s.fingerprint())
		writeFile(t, filepath.Join(dir, filepath.FromSlash(file)), s.publicKey(t))
	}
	writeFile(t, filepath.Join(dir, manifest.FileName), src)

	switch sig.Mode {
	case "detached":
		c.files[resolve(rel.Checksums.URL)] = sums
		c.files[resolve(sig.URL)] = signAll(t, sums, c.signers[:sig.Threshold])
	case "clearsigned":
		c.files[resolve(rel.Checksums.URL)] = c.signers[0].key.Clearsign(t, sums, keyTime.Add(time.Minute))
	}

	if _, err := manifest.Open(dir); err != nil {
		t.Fatalf("%s with the synthetic release is invalid:\n%v", coin, err)
	}
	return c
}

// syntheticArchive is an uncompressed tar holding a stand-in executable at
// every listed path: it prints its name and the synthetic version, and 42
// when asked for the height as the manifest's height command asks.
func syntheticArchive(t *testing.T, coin string, binaries, height []string) []byte {
	t.Helper()
	heightArg := "height" // no height command: nothing asks
	if len(height) > 0 {
		heightArg = height[len(height)-1]
	}
	var entries []archiveEntry
	dirs := map[string]bool{}
	for _, b := range binaries {
		for d := path.Dir(b); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			entries = append(entries, archiveEntry{d + "/", "", 0o755})
		}
		name := path.Base(b)
		body := fmt.Sprintf("#!/bin/sh\n# %s %s: a synthetic release made by coinpipe's e2e tests.\nfor a; do [ \"$a\" = %s ] && { echo 42; exit 0; }; done\necho \"%s version v%s\"\n",
			name, synthVersion, shellQuote(heightArg), name, synthVersion)
		entries = append(entries, archiveEntry{b, body, 0o755})
	}
	// Parents before their children, as tar writes them.
	slices.SortFunc(entries, func(a, b archiveEntry) int { return strings.Compare(a.name, b.name) })
	return tarArchive(t, entries)
}

// compressedAs compresses a tar the way the artifact's name says: the
// build's tar reads what the bytes are, so the name must not lie.
func compressedAs(t *testing.T, name string, tarball []byte) []byte {
	t.Helper()
	var tool string
	switch {
	case strings.HasSuffix(name, ".tar.gz"), strings.HasSuffix(name, ".tgz"):
		return gzipped(t, tarball)
	case strings.HasSuffix(name, ".tar.bz2"):
		tool = "bzip2"
	case strings.HasSuffix(name, ".tar.xz"):
		tool = "xz"
	default:
		t.Fatalf("%s: a synthetic release is made only as .tar.gz, .tar.bz2 or .tar.xz", name)
	}
	testenv.RequireTools(t, tool)
	cmd := exec.CommandContext(t.Context(), tool, "-c")
	cmd.Stdin = bytes.NewReader(tarball)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -c: %v: %s", tool, err, stderr.String())
	}
	return out.Bytes()
}

// replaceOnce replaces old, which must occur exactly once, in src.
func replaceOnce(t *testing.T, src []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(src, []byte(old)); n != 1 {
		t.Fatalf("coin.yaml holds %q %d times, want once", old, n)
	}
	return bytes.Replace(src, []byte(old), []byte(new), 1)
}

// TestRealCoinWithSyntheticRelease checks the derived coin is the shipped
// one but for its release pins, and that the real coin's rendered
// release.sh downloads, verifies and extracts the synthetic release through
// the mirror, as the image build runs it.
func TestRealCoinWithSyntheticRelease(t *testing.T) {
	testenv.RequireTools(t, "bzip2", "curl", "gpgv", "tar", "sha256sum")
	c := realCoinWithSyntheticRelease(t, "monero")
	shipped, err := manifest.Open(filepath.Join(testenv.Root(t), "coins", "monero"))
	if err != nil {
		t.Fatal(err)
	}
	derived, err := manifest.Open(c.dir())
	if err != nil {
		t.Fatal(err)
	}
	if derived.Version != synthVersion {
		t.Errorf("version %q, want %q", derived.Version, synthVersion)
	}
	// Put the shipped pins back: nothing else may differ.
	got := derived.Coin
	got.Version = shipped.Version
	got.Release.Artifacts = maps.Clone(got.Release.Artifacts)
	for p, a := range got.Release.Artifacts {
		a.SHA256 = shipped.Release.Artifacts[p].SHA256
		got.Release.Artifacts[p] = a
	}
	got.Release.Signatures.Keys = shipped.Release.Signatures.Keys
	if !reflect.DeepEqual(got, shipped.Coin) {
		t.Errorf("the derived coin differs from the shipped one beyond version, sha256 and keys:\n%+v\nwant\n%+v", got, shipped.Coin)
	}
	for i, k := range derived.Release.Signatures.Keys {
		if k.Fingerprint != c.signers[i].fingerprint() {
			t.Errorf("key %d is pinned as %s, want the test signer's %s", i, k.Fingerprint, c.signers[i].fingerprint())
		}
	}
	keys, err := os.ReadDir(filepath.Join(c.dir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(c.signers) {
		t.Errorf("keys/ holds %d files, want the %d test signers' keys alone", len(keys), len(c.signers))
	}

	files, err := generator.Render(derived, generator.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := generator.Write(t.Context(), out, derived.Name, files); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(out, derived.Name)
	mirror := newMirror(t).publish("release", c.files)
	var log strings.Builder
	for _, step := range [][]string{{"download"}, {"verify"}, {"extract", filepath.Join(work, "root")}} {
		cmd := exec.CommandContext(t.Context(), "sh", append([]string{"release.sh"}, step...)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "DOWNLOAD_MIRROR="+mirror, "TARGETARCH=amd64")
		b, err := cmd.CombinedOutput()
		log.Write(b)
		if err != nil {
			t.Fatalf("release.sh %s: %v\n%s", step[0], err, log.String())
		}
	}
	if want := "monero " + synthVersion + ": 1 pinned keys signed (threshold 1)"; !strings.Contains(log.String(), want) {
		t.Errorf("release.sh did not say %q:\n%s", want, log.String())
	}
	cmd := exec.CommandContext(t.Context(), filepath.Join(work, "root", "usr", "local", "bin", "monerod"), "--version")
	if b, err := cmd.CombinedOutput(); err != nil || string(b) != "monerod version v"+synthVersion+"\n" {
		t.Errorf("the installed monerod --version: %q (%v), want the synthetic release's", b, err)
	}
	height := derived.Runtime.Height[1:] // argv after monerod
	cmd = exec.CommandContext(t.Context(), filepath.Join(work, "root", "usr", "local", "bin", "monerod"), height...)
	if b, err := cmd.CombinedOutput(); err != nil || string(b) != "42\n" {
		t.Errorf("the installed monerod asked for the height as the manifest asks (%q): %q (%v), want 42", height, b, err)
	}
}
