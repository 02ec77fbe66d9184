package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Fixture coins and real upstream vectors shipped with the generator's tests.
const (
	coins   = "../generator/testdata/coins/"
	vectors = "../generator/testdata/vectors/"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	os.MkdirAll(filepath.Dir(name), 0o755)
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func open(t *testing.T, coin string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Open(coins + coin)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Bitcoin Core 26.0: three builders' concatenated signatures.
func bitcoinDir(t *testing.T) Dir {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "SHA256SUMS"), read(t, vectors+"bitcoin-guix/achow101/all.SHA256SUMS"))
	write(t, filepath.Join(dir, "SHA256SUMS.asc"), bytes.Join([][]byte{
		read(t, vectors+"bitcoin-guix/achow101/all.SHA256SUMS.asc"),
		read(t, vectors+"bitcoin-guix/fanquake/all.SHA256SUMS.asc"),
		read(t, vectors+"bitcoin-guix/laanwj/all.SHA256SUMS.asc"),
	}, nil))
	return Dir(dir)
}

func TestVerifyDetached(t *testing.T) {
	m := open(t, "bitcoin-guix")
	rep, err := Verify(context.Background(), m, bitcoinDir(t), false)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Artifacts[0]
	if len(rep.Checksums.Signers) != 3 || !a.Listed || a.Hashed || a.File != "bitcoin-26.0-x86_64-linux-gnu.tar.gz" ||
		rep.Summary != "3 pinned keys signed (3 required)" {
		t.Fatalf("report %+v, artifact %+v", rep, a)
	}
}

// A failure keeps what was established: the verdict that failed.
func TestVerifyBelowThresholdReportsVerdict(t *testing.T) {
	m := open(t, "bitcoin-guix")
	m.Release.Signatures.Keys = m.Release.Signatures.Keys[:2] // laanwj no longer pinned
	m.Release.Signatures.Threshold = 3
	rep, err := Verify(context.Background(), m, bitcoinDir(t), false)
	var f *verify.Failure
	if !errors.As(err, &f) || rep.Checksums == nil || rep.Checksums.OK() || len(rep.Checksums.Signers) != 2 || rep.Artifacts[0].Listed {
		t.Fatalf("err %v, report %+v", err, rep)
	}
}

// Per-signer files: a builder who published nothing is reported missing,
// and the others can still reach the threshold.
func TestVerifyPerSignerWithOneMissing(t *testing.T) {
	m := open(t, "dogecoin-gitian")
	dir := t.TempDir()
	for _, s := range []string{"patricklodder", "alamshafil"} {
		for _, suffix := range []string{"", ".sig"} {
			name := "dogecoin-linux-1.14-build.assert" + suffix
			write(t, filepath.Join(dir, s, name), read(t, vectors+"dogecoin-gitian/"+s+"/"+name))
		}
	}
	rep, err := Verify(context.Background(), m, Dir(dir), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 1 || rep.Missing[0].Signer != "michilumin" || !NotPublished(rep.Missing[0].Err) ||
		len(rep.Checksums.Signers) != 2 || !rep.Artifacts[0].Listed {
		t.Fatalf("report %+v", rep)
	}
}
