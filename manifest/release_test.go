package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// guixCoin copies the generator's Bitcoin Core fixture (detached, three
// builders, committed release/) to <tmp>/coins/bitcoin-guix, the working
// directory's coins/, so messages read as users see them.
func guixCoin(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	testenv.CopyTree(t, "../generator/testdata/coins/bitcoin-guix", filepath.Join(root, "coins/bitcoin-guix"))
	t.Chdir(root)
	return "coins/bitcoin-guix"
}

func writeRel(t *testing.T, dir, rel, content string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644))
}

// The files a coin may commit under release/, per signature mode.
func TestReleaseFiles(t *testing.T) {
	monero := func() *Manifest {
		m, err := Open("testdata/coins/monero")
		must(t, err)
		return m
	}
	doge, err := Open("../generator/testdata/coins/dogecoin-gitian")
	must(t, err)
	guix, err := Open("../generator/testdata/coins/bitcoin-guix")
	must(t, err)
	artifact := monero()
	artifact.Release.Signatures.Mode, artifact.Release.Checksums = ModeArtifact, Checksums{}
	artifact.Release.Artifacts["linux/arm64"] = Artifact{URL: "https://downloads.getmonero.org/cli/monero-linux-armv8-v{version}.tar.bz2?x=1"}
	none := monero()
	none.Release.Signatures = Signatures{Mode: ModeNone}
	for _, tt := range []struct {
		name string
		m    *Manifest
		want []string
	}{
		{"clearsigned", monero(), []string{"hashes.txt"}},
		{"detached", guix, []string{"SHA256SUMS", "SHA256SUMS.asc"}},
		{"per signer", doge, []string{
			"alamshafil/dogecoin-linux-1.14-build.assert", "alamshafil/dogecoin-linux-1.14-build.assert.sig",
			"michilumin/dogecoin-linux-1.14-build.assert", "michilumin/dogecoin-linux-1.14-build.assert.sig",
			"patricklodder/dogecoin-linux-1.14-build.assert", "patricklodder/dogecoin-linux-1.14-build.assert.sig"}},
		{"artifact", artifact, []string{"monero-linux-armv8-v0.18.5.1.tar.bz2", "monero-linux-x64-v0.18.5.1.tar.bz2.asc"}},
		{"none", none, nil},
	} {
		got, err := tt.m.ReleaseFiles()
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: ReleaseFiles() = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// A committed release/ holds exactly the signed files coin.yaml names:
// every mistake is one line.
func TestCommittedRelease(t *testing.T) {
	const (
		link  = "is a symbolic link; coinpipe reads only regular files inside the coin folder"
		names = "(SHA256SUMS, SHA256SUMS.asc)"
	)
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"the fixture as committed", func(*testing.T, string) {}, nil},
		{"no release folder: downloads, as before", func(t *testing.T, dir string) {
			must(t, os.RemoveAll(dir+"/release"))
		}, nil},
		{"an extra file", func(t *testing.T, dir string) {
			writeRel(t, dir, "release/SHA256SUMS.old", "x")
		}, []string{`coins/bitcoin-guix/release/SHA256SUMS.old: is not a signed file of bitcoin-guix 26.0; release/ holds only the files coin.yaml's URLs name ` + names + `: remove it`}},
		{"a file in a folder", func(t *testing.T, dir string) {
			writeRel(t, dir, "release/achow101/SHA256SUMS.asc", "x")
		}, []string{`coins/bitcoin-guix/release/achow101/SHA256SUMS.asc: is not a signed file of bitcoin-guix 26.0; release/ holds only the files coin.yaml's URLs name ` + names + `: remove it`}},
		{"a missing file", func(t *testing.T, dir string) {
			must(t, os.Remove(dir+"/release/SHA256SUMS.asc"))
		}, []string{`coins/bitcoin-guix/release/SHA256SUMS.asc: is missing: release/ must hold every signed file coin.yaml's URLs name for bitcoin-guix 26.0 ` + names}},
		{"a symbolic link", func(t *testing.T, dir string) {
			replaceWithLink(t, dir+"/release/SHA256SUMS", "/proc/self/environ")
		}, []string{"coins/bitcoin-guix/release/SHA256SUMS: " + link}},
		{"the folder is a link", func(t *testing.T, dir string) {
			other := t.TempDir()
			testenv.CopyTree(t, dir+"/release", other)
			replaceWithLink(t, dir+"/release", other)
		}, []string{"coins/bitcoin-guix/release: " + link}},
		{"a file over the cap", func(t *testing.T, dir string) {
			must(t, os.Truncate(dir+"/release/SHA256SUMS", MaxReleaseFileSize+1))
		}, []string{"coins/bitcoin-guix/release/SHA256SUMS: is 16777217 bytes, more than the 16 MiB (16777216 bytes) limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := guixCoin(t)
			tt.setup(t, dir)
			m, err := Open(dir)
			var ps Problems
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Open: %v", err)
			case tt.want == nil:
				return
			case !errors.As(err, &ps):
				t.Fatalf("Open = %v, %v; want problems", m, err)
			}
			if got := ps.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Per signer, a builder who did not sign leaves no files; a signer's files
// come whole, and at least threshold signers' are there.
func TestCommittedPerSigner(t *testing.T) {
	const assert = "dogecoin-linux-1.14-build.assert"
	const base = "coins/dogecoin-gitian/release/"
	tests := []struct {
		name    string
		signers map[string][]string // signer → files written
		want    []string
	}{
		{"two of three signers", map[string][]string{"alamshafil": {assert, assert + ".sig"}, "patricklodder": {assert, assert + ".sig"}}, nil},
		{"a signer's signature missing", map[string][]string{"alamshafil": {assert}, "patricklodder": {assert, assert + ".sig"}}, []string{
			base + "alamshafil/" + assert + ".sig: is missing: release/ must hold every signed file coin.yaml's URLs name for dogecoin-gitian 1.14.6 (" +
				"alamshafil/" + assert + ", alamshafil/" + assert + ".sig, michilumin/" + assert + ", michilumin/" + assert + ".sig, patricklodder/" + assert + ", patricklodder/" + assert + ".sig)"}},
		{"fewer signers than the threshold", map[string][]string{"patricklodder": {assert, assert + ".sig"}}, []string{
			"coins/dogecoin-gitian/release: holds the files of 1 signers, fewer than the threshold of 2"}},
		{"an unpinned signer", map[string][]string{"alamshafil": {assert, assert + ".sig"}, "patricklodder": {assert, assert + ".sig"}, "mallory": {assert}}, []string{
			base + "mallory/" + assert + ": is not a signed file of dogecoin-gitian 1.14.6; release/ holds only the files coin.yaml's URLs name (" +
				"alamshafil/" + assert + ", alamshafil/" + assert + ".sig, michilumin/" + assert + ", michilumin/" + assert + ".sig, patricklodder/" + assert + ", patricklodder/" + assert + ".sig): remove it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "coins/dogecoin-gitian")
			testenv.CopyTree(t, "../generator/testdata/coins/dogecoin-gitian", dir)
			must(t, os.RemoveAll(dir+"/release"))
			for signer, files := range tt.signers {
				for _, f := range files {
					writeRel(t, dir, "release/"+signer+"/"+f, "x")
				}
			}
			t.Chdir(root)
			_, err := Open("coins/dogecoin-gitian")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
		})
	}
}
