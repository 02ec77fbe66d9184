package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// buildDir lays out what the Dockerfile's builder stage copies in:
// release.sh, keys/ and, when the coin commits them, release/.
func buildDir(t *testing.T, files []File) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		if f.Path == "release.sh" || strings.HasPrefix(f.Path, "keys/") || strings.HasPrefix(f.Path, "release/") {
			writeFile(t, filepath.Join(dir, f.Path), f.Data)
		}
	}
	return dir
}

// runStep runs `sh release.sh ARGS` in dir as the builder stage does.
func runStep(t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", append([]string{"release.sh"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A coin that commits its signed files builds from them: the mirror
// serves only the artifact (the checksums and signatures are 404), yet
// download succeeds, and verify passes with the real gpgv. The same coin
// without release/ downloads them, and fails here as it would upstream.
func TestCommittedReleaseScript(t *testing.T) {
	testenv.RequireTools(t, "gpgv", "curl", "awk", "base64", "od", "sha256sum")
	tests := []struct {
		coin string
		used []string // "using the committed ..." lines, in order
		ok   string   // verify's last line
	}{
		{"bitcoin-guix", []string{"SHA256SUMS", "SHA256SUMS.asc"}, "3 pinned keys signed (threshold 3)"},
		{"monero-clearsigned", []string{"hashes.txt"}, "1 pinned keys signed (threshold 1)"},
		{"dogecoin-gitian", []string{"patricklodder/dogecoin-linux-1.14-build.assert", "patricklodder/dogecoin-linux-1.14-build.assert.sig",
			"alamshafil/dogecoin-linux-1.14-build.assert", "alamshafil/dogecoin-linux-1.14-build.assert.sig"}, "2 pinned keys signed (threshold 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.coin, func(t *testing.T) {
			m := openFixture(t, tt.coin)
			srv := mirror.New(t)
			artifact := m.ExpandVersion(m.Release.Artifacts["linux/amd64"].URL)
			// Not the real archive: verify judges the pinned sha256 against
			// the signed checksums; sha256sum -c is the Dockerfile's step.
			srv.Put(artifact, []byte("archive stand-in\n"))
			env := []string{"DOWNLOAD_MIRROR=" + srv.URL, "TARGETARCH=amd64", "TARGETVARIANT="}

			files := mustRender(t, m)
			dir := buildDir(t, files)
			out, err := runStep(t, dir, env, "download")
			if err != nil {
				t.Fatalf("download: %v\n%s", err, out)
			}
			var used []string
			for _, line := range strings.Split(out, "\n") {
				if _, rel, ok := strings.Cut(line, ": using the committed "); ok {
					used = append(used, rel)
				}
			}
			if !slices.Equal(used, tt.used) {
				t.Errorf("used %q, want %q:\n%s", used, tt.used, out)
			}
			if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Path != strings.TrimPrefix(srv.For(artifact), srv.URL) {
				t.Errorf("requests %+v, want only the artifact", reqs)
			}
			out, err = runStep(t, dir, env, "verify")
			if err != nil || !strings.HasSuffix(strings.TrimSpace(out), tt.ok) {
				t.Fatalf("verify: %v\n%s", err, out)
			}

			// Without release/ the signed files are fetched: 404 here.
			m.Dir = t.TempDir()
			copyCoin(t, openFixture(t, tt.coin).Dir, m.Dir, false)
			files = mustRender(t, m)
			dir = buildDir(t, files)
			out, err = runStep(t, dir, env, "download")
			if tt.coin != "dogecoin-gitian" && (err == nil || !strings.Contains(out, "could not fetch the checksums or signatures")) {
				t.Errorf("download without committed files: %v\n%s", err, out)
			}
			if strings.Contains(out, "using the committed") {
				t.Errorf("no committed files, yet:\n%s", out)
			}
		})
	}
}

// copyCoin copies a coin folder, with or without its release/
func copyCoin(t *testing.T, src, dst string, withRelease bool) {
	t.Helper()
	testenv.CopyTree(t, src, dst)
	if !withRelease {
		if err := os.RemoveAll(filepath.Join(dst, "release")); err != nil {
			t.Fatal(err)
		}
	}
}

// Artifact mode commits <artifact>.asc: download fetches the archive
// only, and the whole builder stage passes.
func TestCommittedArtifactSignature(t *testing.T) {
	testenv.RequireTools(t, "gpgv", "curl", "awk", "base64", "od", "sha256sum")
	key := testenv.NewKey(t, "builder", testenv.KeyOptions{})
	art := []byte("gen archive\n")
	sum := sha256.Sum256(art)
	const url = "https://dl.example.org/gen-1.0/gen-1.0.tar.gz"
	dir := filepath.Join(t.TempDir(), "gen")
	writeFile(t, filepath.Join(dir, "keys/builder.asc"), key.Public(t))
	writeFile(t, filepath.Join(dir, "release/gen-1.0.tar.gz.asc"), key.Sign(t, art, time.Now().Add(-time.Minute)))
	writeFile(t, filepath.Join(dir, "coin.yaml"), []byte(`name: gen
description: generated coin
version: "1.0"
upstream: {github: example/gen, tag: "v{version}"}
release:
  artifacts:
    linux/amd64:
      url: https://dl.example.org/gen-{version}/gen-{version}.tar.gz
      sha256: `+hex.EncodeToString(sum[:])+`
  binaries: ["gen-{version}/bin/gend"]
  signatures:
    mode: artifact
    threshold: 1
    keys:
      - {file: keys/builder.asc, fingerprint: `+key.Fingerprint+`}
image:
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
	srv := mirror.New(t)
	srv.Put(url, art)
	build := buildDir(t, mustRender(t, m))
	env := []string{"DOWNLOAD_MIRROR=" + srv.URL, "TARGETARCH=amd64"}
	out, err := runStep(t, build, env, "download")
	if err != nil || !strings.Contains(out, "gen 1.0: using the committed gen-1.0.tar.gz.asc\n") || len(srv.Requests()) != 1 {
		t.Fatalf("download: %v, %d requests\n%s", err, len(srv.Requests()), out)
	}
	cmd := exec.Command("sha256sum", "-c", "artifact.sha256")
	cmd.Dir = build
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sha256sum -c: %v\n%s", err, b)
	}
	if out, err := runStep(t, build, env, "verify"); err != nil || !strings.Contains(out, "1 pinned keys signed (threshold 1)") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}

// The daemon repository carries the committed files, and its Dockerfile
// copies them only when there are some.
func TestRenderCommitted(t *testing.T) {
	for _, c := range shippedCoins(t) {
		committed, err := c.m.Committed()
		if err != nil {
			t.Fatal(err)
		}
		var copied []string
		for p := range c.files {
			if rel, ok := strings.CutPrefix(p, "release/"); ok {
				copied = append(copied, rel)
			}
		}
		slices.Sort(copied)
		if !slices.Equal(copied, committed) {
			t.Errorf("%s: release/ holds %q, the coin commits %q", c.m.Name, copied, committed)
		}
		copies := strings.Contains(string(c.files["Dockerfile"]), "\nCOPY release/ ./release/\n")
		if copies != (len(committed) > 0) {
			t.Errorf("%s: Dockerfile copies release/: %v, committed files: %d", c.m.Name, copies, len(committed))
		}
		for _, rel := range committed {
			want, _ := os.ReadFile(filepath.Join(c.m.Dir, "release", rel))
			if string(c.files["release/"+rel]) != string(want) {
				t.Errorf("%s: release/%s differs from the committed file", c.m.Name, rel)
			}
		}
	}
}
