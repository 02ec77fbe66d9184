package release

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// through returns a Source that downloads through the mirror fake.
func through(srv *mirror.Server) Source {
	return Download{Client: &download.Client{Mirror: srv.URL, Attempts: 1}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

const (
	btc26   = "https://bitcoincore.org/bin/bitcoin-core-26.0/"
	gitian  = "https://raw.githubusercontent.com/dogecoin/gitian.sigs/master/1.14.6-linux/"
	assert  = "dogecoin-linux-1.14-build.assert"
	hashes  = "https://www.getmonero.org/downloads/hashes.txt"
	btcGuix = "bitcoin-guix/26.0/"
)

func guixSigs(t *testing.T, builders ...string) []byte {
	var parts [][]byte
	for _, b := range builders {
		parts = append(parts, testenv.Vector(t, btcGuix+b+"/all.SHA256SUMS.asc"))
	}
	return bytes.Join(parts, nil)
}

func dogeFile(t *testing.T, signer, name string) []byte {
	return testenv.Vector(t, "dogecoin-gitian/1.14.6-linux/"+signer+"/"+name)
}

// Attest hands back exactly the files it verified, in Dir layout, so the
// watcher can commit them: through a mirror, and read back from the coin's
// committed release/ folder the result is the same.
func TestAttestFiles(t *testing.T) {
	sums := testenv.Vector(t, btcGuix+"achow101/all.SHA256SUMS")
	all := guixSigs(t, "achow101", "fanquake", "laanwj")
	tests := []struct {
		coin, version string
		served        map[string][]byte // URL → body
		want          []File
	}{
		{"bitcoin-guix", "26.0", map[string][]byte{btc26 + "SHA256SUMS": sums, btc26 + "SHA256SUMS.asc": all},
			[]File{{"SHA256SUMS", sums}, {"SHA256SUMS.asc", all}}},
		{"monero-clearsigned", "0.18.5.1", map[string][]byte{hashes: testenv.Vector(t, "monero/v0.18.5.1/hashes.txt")},
			[]File{{"hashes.txt", testenv.Vector(t, "monero/v0.18.5.1/hashes.txt")}}},
		// michilumin published nothing: two signers of three, threshold 2.
		{"dogecoin-gitian", "1.14.6", map[string][]byte{
			gitian + "alamshafil/" + assert: dogeFile(t, "alamshafil", assert), gitian + "alamshafil/" + assert + ".sig": dogeFile(t, "alamshafil", assert+".sig"),
			gitian + "patricklodder/" + assert: dogeFile(t, "patricklodder", assert), gitian + "patricklodder/" + assert + ".sig": dogeFile(t, "patricklodder", assert+".sig"),
		}, []File{
			{"alamshafil/" + assert, dogeFile(t, "alamshafil", assert)}, {"alamshafil/" + assert + ".sig", dogeFile(t, "alamshafil", assert+".sig")},
			{"patricklodder/" + assert, dogeFile(t, "patricklodder", assert)}, {"patricklodder/" + assert + ".sig", dogeFile(t, "patricklodder", assert+".sig")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.coin, func(t *testing.T) {
			m := open(t, tt.coin)
			srv := mirror.New(t)
			for u, b := range tt.served {
				srv.Put(u, b)
			}
			for name, src := range map[string]Source{"mirror": through(srv), "committed": Committed{Manifest: m}} {
				att, err := Attest(t.Context(), m, tt.version, src)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !sameFiles(att.Files, tt.want) {
					t.Errorf("%s: files %s, want %s", name, paths(att.Files), paths(tt.want))
				}
				if att.Artifacts[0].SHA256 != m.Release.Artifacts["linux/amd64"].SHA256 {
					t.Errorf("%s: attested %s", name, att.Artifacts[0].SHA256)
				}
			}
			// What Attest returns is what a coin commits: validate's list.
			listed, _ := m.ReleaseFiles()
			for _, f := range tt.want {
				if !strings.Contains(strings.Join(listed, "\n")+"\n", f.Path+"\n") {
					t.Errorf("%s is not one of ReleaseFiles %q", f.Path, listed)
				}
			}
		})
	}
}

func sameFiles(a, b []File) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func paths(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// Not there yet is *Pending, retried next run; a bad signature is a
// *verify.Failure, never Pending, whatever else is missing.
func TestAttestPending(t *testing.T) {
	sums := testenv.Vector(t, btcGuix+"achow101/all.SHA256SUMS")
	tampered := append(append([]byte{}, sums...), "# appended\n"...)
	doge := func(signers ...string) map[string][]byte {
		files := map[string][]byte{}
		for _, s := range signers {
			files[gitian+s+"/"+assert] = dogeFile(t, s, assert)
			files[gitian+s+"/"+assert+".sig"] = dogeFile(t, s, assert+".sig")
		}
		return files
	}
	swapped := doge("patricklodder", "alamshafil")
	swapped[gitian+"alamshafil/"+assert] = dogeFile(t, "patricklodder", assert)
	// patricklodder's files also under michilumin's name: good, but in
	// another signer's file, so refused; no time cures that, and the
	// waiting line must say so.
	misplaced := doge("patricklodder")
	misplaced[gitian+"michilumin/"+assert] = dogeFile(t, "patricklodder", assert)
	misplaced[gitian+"michilumin/"+assert+".sig"] = dogeFile(t, "patricklodder", assert+".sig")
	tests := []struct {
		name, coin string
		threshold  int
		served     map[string][]byte
		pending    string // the Pending's message, or ""
		signed     int
		failure    string // the Failure's reason, when not pending
	}{
		{"checksums not published", "bitcoin-guix", 3, map[string][]byte{btc26 + "SHA256SUMS.asc": guixSigs(t, "achow101")}, "checksums not published yet", 0, ""},
		{"signatures not published", "bitcoin-guix", 3, map[string][]byte{btc26 + "SHA256SUMS": sums}, "signatures not published yet", 0, ""},
		{"2 of 3 builders signed", "bitcoin-guix", 3, map[string][]byte{btc26 + "SHA256SUMS": sums, btc26 + "SHA256SUMS.asc": guixSigs(t, "achow101", "fanquake")},
			"waiting for signatures (2 of 3)", 2, ""},
		{"clearsigned checksums not published", "monero-clearsigned", 1, nil, "checksums not published yet", 0, ""},
		{"per signer, one missing below the threshold", "dogecoin-gitian", 3, doge("patricklodder", "alamshafil"), "waiting for signatures (2 of 3)", 2, ""},
		{"per signer, nobody published yet", "dogecoin-gitian", 2, nil, "checksums not published yet", 0, ""},
		{"per signer, a signature in another signer's file", "dogecoin-gitian", 2, misplaced,
			"waiting for signatures (1 of 2); not counted: DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F: in michilumin's file", 1, ""},
		{"checksums tampered: every signature bad", "bitcoin-guix", 3, map[string][]byte{btc26 + "SHA256SUMS": tampered, btc26 + "SHA256SUMS.asc": guixSigs(t, "achow101", "fanquake")},
			"", 0, "bad signature by pinned key 152812300785C96444D3334D17565732E08E5E41"},
		{"per signer, below the threshold with a bad signature", "dogecoin-gitian", 3, swapped, "", 0, "bad signature by pinned key 8D6FC359FDB624D580BB390891512EB4C9B538A9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := open(t, tt.coin)
			m.Release.Signatures.Threshold = tt.threshold
			srv := mirror.New(t)
			for u, b := range tt.served {
				srv.Put(u, b)
			}
			att, err := Attest(t.Context(), m, m.Version, through(srv))
			var (
				p *Pending
				f *verify.Failure
			)
			switch {
			case tt.pending != "":
				if !errors.As(err, &p) || err.Error() != tt.pending || p.Signed != tt.signed || (tt.signed > 0 && p.Required != tt.threshold) || errors.As(err, &f) {
					t.Fatalf("err = %v (%T %+v), want Pending %q (%d of %d)", err, err, p, tt.pending, tt.signed, tt.threshold)
				}
			case !errors.As(err, &f) || errors.As(err, &p) || !strings.HasPrefix(f.Reason, tt.failure):
				t.Fatalf("err = %v (%T), want a Failure starting %q", err, err, tt.failure)
			}
			if att.Files != nil {
				t.Errorf("files of an unverified release: %s", paths(att.Files))
			}
		})
	}
}

// coinAt writes a generated coin: one artifact signed in the given mode
// by a key made now.
func coinAt(t *testing.T, mode string, key *testenv.Key) *manifest.Manifest {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gen")
	sigs := "    mode: none\n"
	if mode != manifest.ModeNone {
		write(t, filepath.Join(dir, "keys/builder.asc"), key.Public(t))
		sigs = "    mode: " + mode + "\n    threshold: 1\n    keys:\n      - {file: keys/builder.asc, fingerprint: " + key.Fingerprint + "}\n"
	}
	write(t, filepath.Join(dir, "coin.yaml"), []byte(`name: gen
description: generated coin
version: "1.0"
upstream: {github: example/gen, tag: "v{version}"}
release:
  artifacts:
    linux/amd64:
      url: https://dl.example.org/gen-{version}/gen-{version}.tar.gz
      sha256: `+strings.Repeat("0", 64)+`
  binaries: ["gen-{version}/bin/gend"]
  signatures:
`+sigs+`image:
  base: docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
  user: gen
  uid: 10001
runtime: {command: [gend], data_dir: /node/data, stop_timeout: 1m}
deploy:
  ecr_repository: coin-daemons/gen
  instances: {tag: Component, value: nodes/gen}
`))
	m, err := manifest.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Artifact mode attests the downloaded artifact's sha256 and hands back
// its signature; mode none hands back only the sha256, marked unsigned.
func TestAttestArtifactAndNone(t *testing.T) {
	key := testenv.NewKey(t, "builder", testenv.KeyOptions{})
	art := []byte("gen 2.0 archive\n")
	sum := sha256.Sum256(art)
	sha := hex.EncodeToString(sum[:])
	sig := key.Sign(t, art, time.Now().Add(-time.Minute))
	const url = "https://dl.example.org/gen-2.0/gen-2.0.tar.gz"
	tests := []struct {
		name, mode string
		served     map[string][]byte
		pending    string
		files      []File
	}{
		{"artifact", manifest.ModeArtifact, map[string][]byte{url: art, url + ".asc": sig}, "", []File{{"gen-2.0.tar.gz.asc", sig}}},
		{"artifact, signature not published", manifest.ModeArtifact, map[string][]byte{url: art}, "signatures not published yet", nil},
		{"artifact, archive not published", manifest.ModeArtifact, map[string][]byte{url + ".asc": sig}, "gen-2.0.tar.gz not published yet", nil},
		{"none", manifest.ModeNone, map[string][]byte{url: art}, "", nil},
		{"none, archive not published", manifest.ModeNone, nil, "gen-2.0.tar.gz not published yet", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := coinAt(t, tt.mode, key)
			srv := mirror.New(t)
			for u, b := range tt.served {
				srv.Put(u, b)
			}
			att, err := Attest(t.Context(), m, "2.0", through(srv))
			var p *Pending
			if tt.pending != "" {
				if !errors.As(err, &p) || err.Error() != tt.pending {
					t.Fatalf("err = %v, want Pending %q", err, tt.pending)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a := att.Artifacts[0]
			if a.SHA256 != sha || a.Unsigned != (tt.mode == manifest.ModeNone) || !sameFiles(att.Files, tt.files) {
				t.Errorf("attested %+v, files %s", a, paths(att.Files))
			}
		})
	}
}

// Committed material is read through the coin folder's reader: a link in
// release/ is refused, never followed.
func TestCommittedRefusesLinks(t *testing.T) {
	m := open(t, "bitcoin-guix")
	dir := t.TempDir()
	for _, f := range []string{"coin.yaml", "keys/achow101.asc", "keys/fanquake.asc", "keys/laanwj.asc", "files/node.conf", "release/SHA256SUMS"} {
		b, err := os.ReadFile(filepath.Join(m.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, f), b)
	}
	if err := os.Symlink(filepath.Join(testenv.Vectors(t), btcGuix+"achow101/all.SHA256SUMS.asc"), filepath.Join(dir, "release/SHA256SUMS.asc")); err != nil {
		t.Fatal(err)
	}
	m.Dir = dir
	_, err := Attest(t.Context(), m, "26.0", Committed{Manifest: m})
	if err == nil || !strings.Contains(err.Error(), "release/SHA256SUMS.asc is a symbolic link") {
		t.Fatalf("err = %v", err)
	}
}
