package generator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// snapshotTarball is a gzipped tar of a small data dir.
func snapshotTarball(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"blocks/blk00000.dat": "block data", "chainstate/CURRENT": "MANIFEST-1", ".cookie-free": "x"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	sort.Strings(names)
	return names
}

// The entry point of a snapshot coin, run for real: it seeds an empty data
// dir only from a checked snapshot, never leaves the daemon partial data,
// refuses a malformed SNAPSHOT_SHA256 before fetching anything, and never
// prints a URL's credentials (userinfo, or a pre-signed URL's query).
func TestEntrypointSnapshotSeeding(t *testing.T) {
	testenv.RequireTools(t, "curl", "tar", "sha256sum", "find", "sed", "tr")
	m := openFixture(t, "bitcoin-guix")
	m.Runtime.Snapshot = true
	var script []byte
	for _, f := range mustRender(t, m) {
		if f.Path == "docker-entrypoint.sh" {
			script = f.Data
		}
	}
	tarball := snapshotTarball(t)
	sum := sha256.Sum256(tarball)
	good := hex.EncodeToString(sum[:])
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.URL.Path != "/snap.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(tarball)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	url := srv.URL + "/snap.tar.gz?X-Amz-Signature=s3cr3t"
	// Basic auth in the userinfo, as an operator might write it.
	withUser := "http://snapuser:t0ken@" + host + "/snap.tar.gz?X-Amz-Credential=AKIA&X-Amz-Signature=s3cr3t"
	missing := "http://snapuser:t0ken@" + host + "/gone.tar.gz?X-Amz-Signature=s3cr3t"
	secrets := []string{"s3cr3t", "t0ken", "snapuser", "AKIA"}
	seeded := []string{".cookie-free", "blocks/blk00000.dat", "chainstate/CURRENT"}
	interrupted := map[string]string{".coinpipe-seeding": "", "blocks/half.dat": "x"}

	tests := []struct {
		name     string
		env      []string
		before   map[string]string // files in the data dir before start
		ok       bool
		want     []string // data dir afterwards
		inStderr string
		noFetch  bool // refused before any download
	}{
		{"no snapshot: the daemon starts", nil, nil, true, nil, "", true},
		{"snapshot with its sha256", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, nil, true, seeded, "snapshot in place", false},
		{"snapshot with its sha256 in upper case", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + strings.ToUpper(good)}, nil, true, seeded, "snapshot in place", false},
		{"snapshot without a sha256 is refused", []string{"SNAPSHOT_URL=" + url}, nil, false, nil, "set it, or SNAPSHOT_INSECURE=1", true},
		{"snapshot without a sha256, risk accepted", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_INSECURE=1"}, nil, true, seeded, "snapshot in place", false},
		{"snapshot with the wrong sha256", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + strings.Repeat("0", 64)}, nil, false, []string{}, "does not match SNAPSHOT_SHA256", false},
		{"a sha256 one digit short is refused", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good[:63]}, nil, false, []string{}, "SNAPSHOT_SHA256 must be exactly 64 hex digits (the snapshot's sha256), not 63; not starting", true},
		{"a sha256 with a prefix is refused", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=sha256:" + good}, nil, false, []string{}, "SNAPSHOT_SHA256 must be exactly 64 hex digits (the snapshot's sha256), not other characters; not starting", true},
		{"a sha256 with a non-hex digit is refused", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good[:63] + "g"}, nil, false, []string{}, "not other characters; not starting", true},
		{"a sha256 with a space is refused", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good + " "}, nil, false, []string{}, "not other characters; not starting", true},
		{"a bad sha256 leaves an interrupted seed untouched", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good[:10]}, interrupted, false, []string{".coinpipe-seeding", "blocks/half.dat"}, "not 10; not starting", true},
		{"credentials in the URL are not printed", []string{"SNAPSHOT_URL=" + withUser, "SNAPSHOT_SHA256=" + good}, nil, true, seeded, "from http://***@" + host + "/snap.tar.gz\n", false},
		{"credentials are not printed when the download fails", []string{"SNAPSHOT_URL=" + missing, "SNAPSHOT_SHA256=" + good}, nil, false, []string{}, "downloading the snapshot failed", false},
		{"a data dir in use is not seeded", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, map[string]string{"blocks/mine.dat": "x"}, true, []string{"blocks/mine.dat"}, "is not empty; not seeding", true},
		{"an interrupted seed without SNAPSHOT_URL: refused", nil, interrupted, false, []string{".coinpipe-seeding", "blocks/half.dat"}, "interrupted snapshot seed", true},
		{"an interrupted seed is started again", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, interrupted, true, seeded, "starting it again", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			for name, body := range tt.before {
				writeFile(t, filepath.Join(data, name), []byte(body))
			}
			entry := filepath.Join(t.TempDir(), "docker-entrypoint.sh")
			writeFile(t, entry, script)
			fetches.Store(0)
			cmd := exec.CommandContext(t.Context(), "sh", entry, "sh", "-c", "echo daemon started")
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + data}, tt.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if started := strings.Contains(stdout.String(), "daemon started"); (err == nil) != tt.ok || started != tt.ok {
				t.Fatalf("err=%v, daemon started=%v, want ok=%v\nstderr:\n%s", err, started, tt.ok, stderr.String())
			}
			if got := listDir(t, data); tt.want != nil && strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("data dir holds %v, want %v", got, tt.want)
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.inStderr, stderr.String())
			}
			if n := fetches.Load(); tt.noFetch && n != 0 {
				t.Errorf("the snapshot server was asked %d times, want none", n)
			}
			for _, secret := range secrets {
				if strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("the URL's credential %q was printed:\n%s%s", secret, stdout.String(), stderr.String())
				}
			}
		})
	}
}
