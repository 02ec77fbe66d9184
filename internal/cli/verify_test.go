package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// coinTemplate is a valid manifest around a release block.
const coinTemplate = `name: %[1]s
description: test coin
version: "%[2]s"
upstream:
  github: example/%[1]s
  tag: "v{version}"
release:
%[3]s
  binaries:
    - coin-{version}/bin/coind
image:
  base: docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251
  user: coin
  uid: 10001
runtime:
  command: ["coind"]
  data_dir: /node/data
  stop_timeout: 1m
deploy:
  ecr_repository: coin-daemons/%[1]s
  instances: {tag: Component, value: nodes/%[1]s}
`

// writeCoin writes coins/<name>/coin.yaml and its keys (name in keys/ → content).
func writeCoin(t *testing.T, coins, name, version, release string, keys map[string][]byte) {
	t.Helper()
	dir := filepath.Join(coins, name)
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	for file, data := range keys {
		if err := os.WriteFile(filepath.Join(dir, "keys", file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yaml := fmt.Sprintf(coinTemplate, name, version, release)
	if err := os.WriteFile(filepath.Join(dir, "coin.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upstream serves files (by "host/path") on the loopback mirror and returns
// the environment that makes it the download mirror, so the manifest's real
// https URLs are fetched from loopback.
func upstream(t *testing.T, files map[string][]byte) (*mirror.Server, map[string]string) {
	t.Helper()
	m := mirror.New(t)
	for path, b := range files {
		m.Put("https://"+path, b)
	}
	return m, map[string]string{download.MirrorEnv: m.URL}
}

const (
	btcSHA      = "23e5ab226d9e01ffaadef5ffabe8868d0db23db952b90b0593652993680bb8ab"
	btcRelease  = "https://bitcoincore.org/bin/bitcoin-core-{version}/"
	achowLine   = "good (key expired since 2024-08-20)\t152812300785C96444D3334D17565732E08E5E41\tAndrew Chow <andrew@achow101.com>\n"
	fanqLine    = "good\tE777299FC265DD04793070EB944D35F9AC3DB76A\tMichael Ford (bitcoin-otc) <fanquake@gmail.com>\n"
	laanwjLine  = "unknown key\t1E4AED62986CD25D\t\tnot pinned: ignored\n"
	patrickLine = "good (key expired since 2024-07-16)\tDC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F\tPatrick Lodder <patricklodder@users.noreply.github.com>\n"
	shafilLine  = "good\t8D6FC359FDB624D580BB390891512EB4C9B538A9\tShafil Alam <alamshafil@pm.me>\n"
	dogeSHA     = "fe9c9cdab946155866a5bd5a5127d2971a9eed3e0b65fb553fe393ad1daaebb0"
)

func btcRelease2(artifact, sha string) string {
	return `  artifacts:
    linux/amd64:
      url: ` + btcRelease + artifact + `
      sha256: ` + sha + `
  checksums:
    url: ` + btcRelease + `SHA256SUMS
    format: sha256sum
  signatures:
    mode: detached
    url: ` + btcRelease + `SHA256SUMS.asc
    threshold: 2
    keys:
      - file: keys/achow101.asc
        fingerprint: 152812300785C96444D3334D17565732E08E5E41
      - file: keys/fanquake.asc
        fingerprint: E777299FC265DD04793070EB944D35F9AC3DB76A`
}

func TestVerifyBitcoin(t *testing.T) {
	sums := mustRead(t, btcDir+"achow101/all.SHA256SUMS")
	asc := mustRead(t, concat(t, btcDir+"achow101/all.SHA256SUMS.asc", btcDir+"fanquake/all.SHA256SUMS.asc", btcDir+"laanwj/all.SHA256SUMS.asc"))
	keys := map[string][]byte{"achow101.asc": mustRead(t, histAchow), "fanquake.asc": mustRead(t, fanquake)}
	_, env := upstream(t, map[string][]byte{
		"bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS":     sums,
		"bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS.asc": asc,
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644)
	os.WriteFile(filepath.Join(dir, "SHA256SUMS.asc"), asc, 0o644)
	const okOut = achowLine + fanqLine + laanwjLine +
		"checksum ok\tlinux/amd64\tbitcoin-26.0-x86_64-linux-gnu.tar.gz\t" + btcSHA + "\n" +
		"OK: btc 26.0 verified: 2 pinned keys signed (2 required)\n"
	wrongSHA := strings.Repeat("ab", 32)

	tests := []struct {
		name     string
		release  string
		args     []string
		code     int
		stdout   string
		inStderr string
	}{
		{"downloaded through the mirror", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA), nil, ExitOK, okOut, "expired since 2024-08-20"},
		{"from --dir", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA), []string{"--dir", dir}, ExitOK, okOut, ""},
		{"pinned sha256 differs from the signed one", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", wrongSHA), nil, ExitVerification, "",
			"coin.yaml pins sha256 " + wrongSHA + ", but checksums signed by 152812300785C96444D3334D17565732E08E5E41, E777299FC265DD04793070EB944D35F9AC3DB76A say " + btcSHA},
		{"artifact not in the signed checksums", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.xz", btcSHA), nil, ExitVerification, "",
			"list no bitcoin-26.0-x86_64-linux-gnu.tar.xz"},
		{"checksums missing upstream", strings.Replace(btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA), "SHA256SUMS\n", "SHA256SUMS.txt\n", 1), nil, ExitFailure, "",
			"SHA256SUMS.txt: HTTP 404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coins := t.TempDir()
			writeCoin(t, coins, "btc", "26.0", tt.release, keys)
			code, stdout, stderr := runEnv(t, env, append(append([]string{"verify", "--coins", coins}, tt.args...), "btc")...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if tt.stdout != "" && stdout != tt.stdout {
				t.Errorf("stdout\n%s\nwant\n%s", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tt.inStderr)
			}
		})
	}
}

func TestVerifyMoneroClearsigned(t *testing.T) {
	coins, dir := t.TempDir(), t.TempDir()
	writeCoin(t, coins, "xmr", "0.18.5.1", `  artifacts:
    linux/amd64:
      url: https://downloads.getmonero.org/cli/monero-linux-x64-v{version}.tar.bz2
      sha256: 22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958
  checksums:
    url: https://www.getmonero.org/downloads/hashes.txt
    format: monero
  signatures:
    mode: clearsigned
    threshold: 1
    keys:
      - file: keys/binaryfate.asc
        fingerprint: 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92`, map[string][]byte{"binaryfate.asc": mustRead(t, vectors+"monero/keys/binaryfate.asc")})
	hashes := mustRead(t, vectors+"monero/v0.18.5.1/hashes.txt")
	os.WriteFile(filepath.Join(dir, "hashes.txt"), hashes, 0o644)
	code, stdout, stderr := run(t, "verify", "--coins", coins, "--dir", dir, "xmr")
	want := "good\t81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92\tbinaryFate <binaryfate@getmonero.org>\n" +
		"checksum ok\tlinux/amd64\tmonero-linux-x64-v0.18.5.1.tar.bz2\t22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958\n" +
		"OK: xmr 0.18.5.1 verified: 1 pinned keys signed (1 required)\n"
	if code != ExitOK || stdout != want {
		t.Fatalf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}

	// A line appended after the signature can never supply a checksum.
	evil := append(append([]byte{}, hashes...), "6666666666666666666666666666666666666666666666666666666666666666  monero-linux-x64-v0.18.5.1.tar.bz2\n"...)
	os.WriteFile(filepath.Join(dir, "hashes.txt"), evil, 0o644)
	code, _, stderr = run(t, "verify", "--coins", coins, "--dir", dir, "xmr")
	if code != ExitVerification || !strings.Contains(stderr, "text after the signature block is not signed") {
		t.Fatalf("appended text: exit %d, stderr %q", code, stderr)
	}
}

func dogeRelease(threshold int) string {
	const base = "https://raw.githubusercontent.com/dogecoin/gitian.sigs/master/{version}-linux/{signer}/dogecoin-linux-1.14-build.assert"
	return fmt.Sprintf(`  artifacts:
    linux/amd64:
      url: https://github.com/dogecoin/dogecoin/releases/download/v{version}/dogecoin-{version}-x86_64-linux-gnu.tar.gz
      sha256: %s
  checksums:
    url: %s
    format: gitian-assert
  signatures:
    mode: detached
    url: %s.sig
    threshold: %d
    keys:
      - file: keys/patricklodder.asc
        fingerprint: DC6EF4A8BF9F1B1E4DE1EE522D3A345B98D0DC1F
        signer: patricklodder
      - file: keys/alamshafil.asc
        fingerprint: 8D6FC359FDB624D580BB390891512EB4C9B538A9
        signer: alamshafil
      - file: keys/michilumin.asc
        fingerprint: 6DB466B17BD260F44950F6AF520B53AE29E98861
        signer: michilumin`, dogeSHA, base, base, threshold)
}

func TestVerifyDogecoinPerSigner(t *testing.T) {
	gitian := vectors + "dogecoin-gitian/"
	keys := map[string][]byte{
		"patricklodder.asc": mustRead(t, gitian+"keys/patricklodder-key.pgp"),
		"alamshafil.asc":    mustRead(t, gitian+"keys/alamshafil.pgp"),
		"michilumin.asc":    mustRead(t, gitian+"keys/michilumin-key.pgp"),
	}
	assert := func(signer string) []byte {
		return mustRead(t, gitian+"1.14.6-linux/"+signer+"/dogecoin-linux-1.14-build.assert")
	}
	sig := func(signer string) []byte {
		return mustRead(t, gitian+"1.14.6-linux/"+signer+"/dogecoin-linux-1.14-build.assert.sig")
	}
	const path = "raw.githubusercontent.com/dogecoin/gitian.sigs/master/1.14.6-linux/"
	// michilumin published nothing for this test: two of three signers.
	files := map[string][]byte{
		path + "patricklodder/dogecoin-linux-1.14-build.assert":     assert("patricklodder"),
		path + "patricklodder/dogecoin-linux-1.14-build.assert.sig": sig("patricklodder"),
		path + "alamshafil/dogecoin-linux-1.14-build.assert":        assert("alamshafil"),
		path + "alamshafil/dogecoin-linux-1.14-build.assert.sig":    sig("alamshafil"),
	}
	m, env := upstream(t, files)

	coins := t.TempDir()
	writeCoin(t, coins, "doge", "1.14.6", dogeRelease(2), keys)
	code, stdout, stderr := runEnv(t, env, "verify", "--coins", coins, "doge")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := strings.SplitAfter(stdout, "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "missing\t-\tmichilumin\tGET ") || !strings.Contains(lines[0], "HTTP 404") ||
		strings.Join(lines[1:], "") != patrickLine+shafilLine+"checksum ok\tlinux/amd64\tdogecoin-1.14.6-x86_64-linux-gnu.tar.gz\t"+dogeSHA+"\nOK: doge 1.14.6 verified: 2 pinned keys signed (2 required)\n" {
		t.Errorf("stdout:\n%s", stdout)
	}

	writeCoin(t, coins, "doge", "1.14.6", dogeRelease(3), keys)
	code, _, stderr = runEnv(t, env, "verify", "--coins", coins, "doge")
	if code != ExitVerification || !strings.Contains(stderr, "only 2 of the 3 required") {
		t.Errorf("threshold 3: exit %d, stderr %q", code, stderr)
	}

	// alamshafil's signature over patricklodder's assert: a bad signature
	// by a pinned key fails everything, even with the threshold met.
	m.Put("https://"+path+"alamshafil/dogecoin-linux-1.14-build.assert", assert("patricklodder"))
	writeCoin(t, coins, "doge", "1.14.6", dogeRelease(1), keys)
	code, stdout, stderr = runEnv(t, env, "verify", "--coins", coins, "doge")
	if code != ExitVerification || !strings.Contains(stdout, "BAD\t8D6FC359FDB624D580BB390891512EB4C9B538A9") || !strings.Contains(stderr, "bad signature by pinned key 8D6FC359") {
		t.Errorf("swapped assert: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// genRelease is a release made at test time: an artifact, its checksums,
// and a key that signs them.
type genRelease struct {
	key      *testenv.Key
	pub      []byte
	artifact []byte
	sha      string
}

func newGenRelease(t *testing.T) *genRelease {
	t.Helper()
	key := testenv.NewKey(t, "builder", testenv.KeyOptions{Created: time.Now().Add(-time.Hour)})
	art := []byte("#!/bin/sh\necho coind\n")
	sum := sha256.Sum256(art)
	return &genRelease{key: key, pub: key.Public(t), artifact: art, sha: hex.EncodeToString(sum[:])}
}

func (g *genRelease) sign(t *testing.T, data []byte) []byte {
	t.Helper()
	return g.key.Sign(t, data, time.Now().Add(-30*time.Minute))
}

func TestVerifyArtifacts(t *testing.T) {
	g := newGenRelease(t)
	fpr := g.key.Fingerprint
	const url = "https://dl.example.org/coin-{version}/coin-{version}.tar.gz"
	sums := []byte(g.sha + "  coin-1.0.tar.gz\n")
	keysBlock := "\n    threshold: 1\n    keys:\n      - file: keys/builder.asc\n        fingerprint: " + fpr
	artifacts := "  artifacts:\n    linux/amd64:\n      url: " + url + "\n      sha256: " + g.sha + "\n"
	detached := artifacts + `  checksums:
    url: https://dl.example.org/coin-{version}/SHA256SUMS
    format: sha256sum
  signatures:
    mode: detached
    url: https://dl.example.org/coin-{version}/SHA256SUMS.asc` + keysBlock
	artifactMode := artifacts + "  signatures:\n    mode: artifact" + keysBlock
	none := artifacts + "  signatures:\n    mode: none"

	tampered := append([]byte("# evil\n"), g.artifact...)
	served := func(artifact []byte) map[string][]byte {
		return map[string][]byte{
			"dl.example.org/coin-1.0/coin-1.0.tar.gz":     artifact,
			"dl.example.org/coin-1.0/coin-1.0.tar.gz.asc": g.sign(t, g.artifact),
			"dl.example.org/coin-1.0/SHA256SUMS":          sums,
			"dl.example.org/coin-1.0/SHA256SUMS.asc":      g.sign(t, sums),
		}
	}
	artifactOK := "artifact ok\tlinux/amd64\tcoin-1.0.tar.gz\t" + g.sha + "\n"
	tests := []struct {
		name     string
		release  string
		artifact []byte
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"detached, --artifacts", detached, g.artifact, []string{"--artifacts"}, ExitOK, "checksum ok\tlinux/amd64\tcoin-1.0.tar.gz\t" + g.sha + "\n" + artifactOK, ""},
		{"detached, --artifacts, mirror serves another archive", detached, tampered, []string{"--artifacts"}, ExitVerification, "", "coin-1.0.tar.gz (linux/amd64): downloaded sha256"},
		{"detached without --artifacts downloads no archive", detached, tampered, nil, ExitOK, "OK: gen 1.0 verified: 1 pinned keys signed (1 required)", ""},
		{"artifact mode", artifactMode, g.artifact, nil, ExitOK, "good\t" + fpr + "\tbuilder (coinpipe test) <builder@coinpipe.invalid>\nOK: 1 pinned keys signed (1 required)\n" + artifactOK, ""},
		{"artifact mode, tampered archive", artifactMode, tampered, nil, ExitVerification, "BAD\t" + fpr, "bad signature by pinned key " + fpr},
		{"mode none", none, tampered, nil, ExitOK, "unsigned\tlinux/amd64\tcoin-1.0.tar.gz\tupstream signs nothing", ""},
		{"mode none, --artifacts", none, g.artifact, []string{"--artifacts"}, ExitOK, artifactOK, ""},
		{"mode none, --artifacts, tampered archive", none, tampered, []string{"--artifacts"}, ExitVerification, "", "downloaded sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, env := upstream(t, served(tt.artifact))
			coins := t.TempDir()
			writeCoin(t, coins, "gen", "1.0", tt.release, map[string][]byte{"builder.asc": g.pub})
			code, stdout, stderr := runEnv(t, env, append(append([]string{"verify", "--coins", coins}, tt.args...), "gen")...)
			if code != tt.code || !strings.Contains(stdout, tt.inStdout) || !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nwant in it: %q\nstderr:\n%s\nwant in it: %q", code, tt.code, stdout, tt.inStdout, stderr, tt.inStderr)
			}
		})
	}
}

func TestVerifyInvocation(t *testing.T) {
	coins := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--coins", coins}, "takes 1 argument(s)"},
		{[]string{"verify", "--coins", coins, "a", "b"}, "takes 1 argument(s)"},
		{[]string{"verify", "--coins", coins, "nosuchcoin"}, "nosuchcoin"},
		{[]string{"verify", "--coins", coins, "--artefacts", "x"}, "unknown flag"},
	} {
		code, _, stderr := run(t, tt.args...)
		if code != ExitInvalidInput || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, stderr)
		}
	}
	for _, verb := range []string{"verify", "verify-signature"} {
		code, out, _ := run(t, verb, "--help")
		if code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "coinpipe "+verb) {
			t.Errorf("%s --help: exit %d, no examples in:\n%s", verb, code, out)
		}
	}
}

// A coin that commits its signed files is verified from them, offline;
// --upstream downloads them instead.
func TestVerifyCommitted(t *testing.T) {
	sums := mustRead(t, btcDir+"achow101/all.SHA256SUMS")
	asc := mustRead(t, concat(t, btcDir+"achow101/all.SHA256SUMS.asc", btcDir+"fanquake/all.SHA256SUMS.asc", btcDir+"laanwj/all.SHA256SUMS.asc"))
	keys := map[string][]byte{"achow101.asc": mustRead(t, histAchow), "fanquake.asc": mustRead(t, fanquake)}
	coins := t.TempDir()
	writeCoin(t, coins, "btc", "26.0", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA), keys)
	testenv.WriteFile(t, filepath.Join(coins, "btc/release/SHA256SUMS"), sums)
	testenv.WriteFile(t, filepath.Join(coins, "btc/release/SHA256SUMS.asc"), asc)
	const verified = achowLine + fanqLine + laanwjLine +
		"checksum ok\tlinux/amd64\tbitcoin-26.0-x86_64-linux-gnu.tar.gz\t" + btcSHA + "\n" +
		"OK: btc 26.0 verified: 2 pinned keys signed (2 required)\n"
	used := "using the committed release files in " + filepath.ToSlash(coins) + "/btc/release/ (--upstream downloads them instead)\n"
	tests := []struct {
		name     string
		served   bool // upstream serves the files
		args     []string
		code     int
		stdout   string
		requests int
		inStderr string
	}{
		{"committed files, upstream gone", false, nil, ExitOK, used + verified, 0, ""},
		{"--upstream downloads", true, []string{"--upstream"}, ExitOK, verified, 2, ""},
		{"--upstream, upstream gone", false, []string{"--upstream"}, ExitFailure, "", 1, "SHA256SUMS: HTTP 404 Not Found"},
		{"--upstream with --dir", true, []string{"--upstream", "--dir", t.TempDir()}, ExitInvalidInput, "", 0, "--dir and --upstream cannot be used together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			if tt.served {
				files["bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS"] = sums
				files["bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS.asc"] = asc
			}
			srv, env := upstream(t, files)
			code, stdout, stderr := runEnv(t, env, append(append([]string{"verify", "--coins", coins}, tt.args...), "btc")...)
			if code != tt.code || tt.stdout != "" && stdout != tt.stdout || !strings.Contains(stderr, tt.inStderr) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, tt.code, stdout, tt.stdout, stderr)
			}
			if n := len(srv.Requests()); n != tt.requests {
				t.Errorf("%d requests upstream, want %d: %+v", n, tt.requests, srv.Requests())
			}
		})
	}

	// Committed files that do not verify fail as downloaded ones do.
	testenv.WriteFile(t, filepath.Join(coins, "btc/release/SHA256SUMS"), append(append([]byte{}, sums...), '\n'))
	_, env := upstream(t, nil)
	code, stdout, stderr := runEnv(t, env, "verify", "--coins", coins, "btc")
	if code != ExitVerification || !strings.HasPrefix(stdout, used) || !strings.Contains(stderr, "bad signature by pinned key") {
		t.Errorf("tampered committed checksums: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
