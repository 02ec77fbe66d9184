package release

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Fixture coins shipped with the generator's tests; real vectors in testdata/vectors.
const coins = "../generator/testdata/coins/"

var write = testenv.WriteFile

func open(t *testing.T, coin string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Open(coins + coin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// bitcoinDir lays out Bitcoin Core 26.0 as bitcoincore.org publishes it
// (three builders' signatures concatenated) under dir/sub.
func bitcoinDir(t *testing.T, dir, sub string) {
	btc := "bitcoin-guix/26.0/"
	write(t, filepath.Join(dir, sub, "SHA256SUMS"), testenv.Vector(t, btc+"achow101/all.SHA256SUMS"))
	write(t, filepath.Join(dir, sub, "SHA256SUMS.asc"), bytes.Join([][]byte{
		testenv.Vector(t, btc+"achow101/all.SHA256SUMS.asc"),
		testenv.Vector(t, btc+"fanquake/all.SHA256SUMS.asc"),
		testenv.Vector(t, btc+"laanwj/all.SHA256SUMS.asc"),
	}, nil))
}

// A failure keeps what was established: the verdict that failed.
func TestVerifyBelowThresholdReportsVerdict(t *testing.T) {
	m := open(t, "bitcoin-guix")
	m.Release.Signatures.Keys = m.Release.Signatures.Keys[:2] // laanwj no longer pinned
	m.Release.Signatures.Threshold = 3
	dir := t.TempDir()
	bitcoinDir(t, dir, "")
	rep, err := Verify(t.Context(), m, Dir(dir), false)
	var f *verify.Failure
	if !errors.As(err, &f) || f.Reason != "only 2 of the 3 required pinned keys made a good signature" ||
		rep.Checksums == nil || rep.Checksums.OK() || len(rep.Checksums.Signers) != 2 || rep.Artifacts[0].Listed {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

// Attest judges the version it is given, whatever the manifest pins (the
// watcher's question about a new release), with digests taken from the
// verified text.
func TestAttestGivenVersion(t *testing.T) {
	m := open(t, "bitcoin-guix")
	m.Version = "25.0" // the pin is not what is attested
	dir := t.TempDir()
	bitcoinDir(t, dir, "")
	src := &recording{Source: Dir(dir)}
	att, err := Attest(t.Context(), m, "26.0", src)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS", "https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS.asc"}
	if !slices.Equal(src.urls, want) {
		t.Errorf("fetched %q, want %q", src.urls, want)
	}
	a := att.Artifacts[0]
	if a.File != "bitcoin-26.0-x86_64-linux-gnu.tar.gz" || a.SHA256 != "23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab" ||
		len(a.Signers) != 3 || a.Unsigned || len(att.Checksums.Signers) != 3 {
		t.Errorf("attested %+v", a)
	}

	// The 26.0 files list no 27.0 archive: nothing is attested for it.
	_, err = Attest(t.Context(), m, "27.0", &recording{Source: Dir(dir)})
	var f *verify.Failure
	if !errors.As(err, &f) || f.Reason != "bitcoin-27.0-x86_64-linux-gnu.tar.gz (linux/amd64): only 0 of the 3 required pinned keys signed checksums listing it; "+
		"the checksums signed by 152812300785C96444D3334D17565732E08E5E41, E777299FC265DD04793070EB944D35F9AC3DB76A, 71A3B16735405025D447E8F274810B012346C9A6 list no bitcoin-27.0-x86_64-linux-gnu.tar.gz" {
		t.Errorf("attesting 27.0: %v", err)
	}
}

// recording is a Source that notes every URL fetched.
type recording struct {
	Source
	urls []string
}

func (r *recording) Fetch(ctx context.Context, rawURL, signer string) ([]byte, error) {
	r.urls = append(r.urls, rawURL)
	return r.Source.Fetch(ctx, rawURL, signer)
}
