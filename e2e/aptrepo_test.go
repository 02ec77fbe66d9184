package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// aptRepo is a real, Debian-signed state of the archive, served on the
// mirror where the generated Dockerfile looks for snapshot.debian.org
// (https://snapshot.debian.org/archive/<archive>/<stamp>/...), which this
// machine cannot reach: InRelease files as Debian signed them, their
// Packages indexes and the .debs of the wanted packages. apt in the build
// checks them with the base image's debian-archive-keyring, as it would
// the real snapshot.
type aptRepo struct {
	stamp string            // image.debian_snapshot: the main suite's Date
	files map[string][]byte // keyed by the https URL the build fetches
}

// aptSuite is one Debian suite the Dockerfile's sources name.
type aptSuite struct {
	archive string // debian or debian-security: snapshot.debian.org's archive name
	suite   string
}

func aptSuites() []aptSuite {
	return []aptSuite{{"debian", baseSuite}, {"debian", baseSuite + "-updates"}, {"debian-security", baseSuite + "-security"}}
}

const aptFetchTimeout = 5 * time.Minute

// ensureAptRepo fetches the suites' InRelease and amd64 Packages indexes
// from the host's Debian mirrors and the .debs of want (with what they
// depend on that the base lacks), once: they are kept under the cache, a
// consistent set that stays valid (the build ignores Valid-Until, as it
// must for a snapshot), so later runs need no network.
func ensureAptRepo(ctx context.Context, t *testing.T, cache string, baseStatus []byte, want []string) aptRepo {
	t.Helper()
	dir := filepath.Join(cache, "apt-"+baseSuite+"-"+strings.Join(want, "-"))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		fetchAptRepo(ctx, t, dir, baseStatus, want)
		writeFile(t, filepath.Join(dir, "complete"), nil)
	}
	repo := aptRepo{files: map[string][]byte{}}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "complete" {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		body, err := os.ReadFile(p)
		repo.files[filepath.ToSlash(rel)] = body
		return err
	})
	if err != nil {
		t.Fatalf("reading the cached Debian archive: %v", err)
	}
	main := repo.files["debian/dists/"+baseSuite+"/InRelease"]
	date, err := time.Parse(time.RFC1123, field(string(main), "Date"))
	if err != nil {
		t.Fatalf("the cached %s InRelease has no Date: %v", baseSuite, err)
	}
	repo.stamp = date.UTC().Format("20060102T150405Z")
	return repo
}

// serve lays the archive out at the snapshot.debian.org URLs of its stamp.
func (r aptRepo) serve() map[string][]byte {
	out := make(map[string][]byte, len(r.files))
	for rel, body := range r.files {
		archive, rest, _ := strings.Cut(rel, "/")
		out["https://snapshot.debian.org/archive/"+archive+"/"+r.stamp+"/"+rest] = body
	}
	return out
}

// fetchAptRepo writes <archive>/dists/<suite>/... and <archive>/pool/...
// under dir.
func fetchAptRepo(ctx context.Context, t *testing.T, dir string, baseStatus []byte, want []string) {
	t.Helper()
	testenv.RequireTools(t, "xz")
	installed := map[string]bool{}
	for _, st := range stanzas(baseStatus) {
		if strings.HasPrefix(st["Status"], "install ok installed") {
			installed[st["Package"]] = true
		}
	}
	type pkg struct{ archive, mirror, filename, sha256 string }
	available := map[string][]pkg{}
	depends := map[string][]string{}
	for _, s := range aptSuites() {
		mirror := debianMirror(t, s.suite)
		inRelease := httpGet(ctx, t, mirror+"/dists/"+s.suite+"/InRelease")
		writeFile(t, filepath.Join(dir, s.archive, "dists", s.suite, "InRelease"), inRelease)
		sums := releaseSHA256(inRelease)
		// apt fetches the xz index (by hash); the test reads it with xz.
		rel := "main/binary-amd64/Packages.xz"
		sum, ok := sums[rel]
		if !ok {
			t.Fatalf("%s %s lists no %s", mirror, s.suite, rel)
		}
		body := httpGet(ctx, t, mirror+"/dists/"+s.suite+"/"+rel)
		if got := sha256Hex(body); got != sum {
			t.Fatalf("%s/dists/%s/%s has sha256 %s, its InRelease says %s (the mirror changed while fetching? run again)", mirror, s.suite, rel, got, sum)
		}
		for _, p := range []string{rel, "main/binary-amd64/by-hash/SHA256/" + sum} {
			writeFile(t, filepath.Join(dir, s.archive, "dists", s.suite, p), body)
		}
		xz := exec.CommandContext(ctx, "xz", "-dc")
		xz.Stdin = bytes.NewReader(body)
		index, err := xz.Output()
		if err != nil {
			t.Fatalf("decompressing %s %s %s: %v", mirror, s.suite, rel, err)
		}
		for _, st := range stanzas(index) {
			available[st["Package"]] = append(available[st["Package"]], pkg{s.archive, mirror, st["Filename"], st["SHA256"]})
			depends[st["Package"]] = append(depends[st["Package"]], dependencyNames(st["Pre-Depends"]+","+st["Depends"], installed)...)
		}
	}
	// The wanted packages and, recursively, the first alternative of each
	// dependency the base does not satisfy. Every version any suite has is
	// fetched: apt chooses.
	queue := append([]string(nil), want...)
	seen := map[string]bool{}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] || installed[name] {
			continue
		}
		seen[name] = true
		versions := available[name]
		if len(versions) == 0 {
			t.Fatalf("no suite of %s has package %s", baseSuite, name)
		}
		for _, v := range versions {
			deb := httpGet(ctx, t, v.mirror+"/"+v.filename)
			if got := sha256Hex(deb); got != v.sha256 {
				t.Fatalf("%s/%s has sha256 %s, the signed index says %s", v.mirror, v.filename, got, v.sha256)
			}
			writeFile(t, filepath.Join(dir, v.archive, v.filename), deb)
		}
		queue = append(queue, depends[name]...)
	}
}

// dependencyNames are the packages of a Depends field that apt must add:
// per group, nothing when an alternative is installed, else the first.
func dependencyNames(field string, installed map[string]bool) []string {
	var out []string
	for _, group := range strings.Split(field, ",") {
		var first string
		satisfied := false
		for _, alt := range strings.Split(group, "|") {
			name := strings.Fields(alt)
			if len(name) == 0 {
				continue
			}
			n, _, _ := strings.Cut(name[0], ":")
			if first == "" {
				first = n
			}
			satisfied = satisfied || installed[n]
		}
		if !satisfied && first != "" {
			out = append(out, first)
		}
	}
	return out
}

// stanzas splits a deb822 file (Packages, dpkg's status) into its stanzas'
// single-line fields.
func stanzas(src []byte) []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
		case line[0] == ' ' || line[0] == '\t':
		default:
			if k, v, ok := strings.Cut(line, ":"); ok {
				cur[k] = strings.TrimSpace(v)
			}
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// field is one top-level field of a Release or InRelease file.
func field(src, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `: *(.*)$`).FindStringSubmatch(src)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}

// releaseSHA256 reads the SHA256 list of a Release file: path → sha256.
func releaseSHA256(src []byte) map[string]string {
	sums := map[string]string{}
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case line == "SHA256:":
			in = true
		case in && strings.HasPrefix(line, " "):
			if f := strings.Fields(line); len(f) == 3 {
				sums[f[2]] = f[0]
			}
		default:
			in = false
		}
	}
	return sums
}

func httpGet(ctx context.Context, t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, aptFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("fetching %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fetching %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("fetching %s: %v", url, err)
	}
	return body
}
