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
// and never prints a pre-signed URL's credentials.
func TestEntrypointSnapshotSeeding(t *testing.T) {
	testenv.RequireTools(t, "curl", "tar", "sha256sum", "find")
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) }))
	defer srv.Close()
	url := srv.URL + "/snap.tar.gz?X-Amz-Signature=s3cr3t"
	seeded := []string{".cookie-free", "blocks/blk00000.dat", "chainstate/CURRENT"}

	tests := []struct {
		name     string
		env      []string
		before   map[string]string // files in the data dir before start
		ok       bool
		want     []string // data dir afterwards
		inStderr string
	}{
		{"no snapshot: the daemon starts", nil, nil, true, nil, ""},
		{"snapshot with its sha256", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, nil, true, seeded, "snapshot in place"},
		{"snapshot without a sha256 is refused", []string{"SNAPSHOT_URL=" + url}, nil, false, nil, "set it, or SNAPSHOT_INSECURE=1"},
		{"snapshot without a sha256, risk accepted", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_INSECURE=1"}, nil, true, seeded, "snapshot in place"},
		{"snapshot with the wrong sha256", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + strings.Repeat("0", 64)}, nil, false, []string{}, "does not match SNAPSHOT_SHA256"},
		{"a data dir in use is not seeded", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, map[string]string{"blocks/mine.dat": "x"}, true, []string{"blocks/mine.dat"}, "is not empty; not seeding"},
		{"an interrupted seed without SNAPSHOT_URL: refused", nil, map[string]string{".coinpipe-seeding": "", "blocks/half.dat": "x"}, false, []string{".coinpipe-seeding", "blocks/half.dat"}, "interrupted snapshot seed"},
		{"an interrupted seed is started again", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_SHA256=" + good}, map[string]string{".coinpipe-seeding": "", "blocks/half.dat": "x"}, true, seeded, "starting it again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			for name, body := range tt.before {
				writeFile(t, filepath.Join(data, name), []byte(body))
			}
			entry := filepath.Join(t.TempDir(), "docker-entrypoint.sh")
			writeFile(t, entry, script)
			cmd := exec.Command("sh", entry, "sh", "-c", "echo daemon started")
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
			if strings.Contains(stderr.String(), "s3cr3t") {
				t.Errorf("the pre-signed URL's credential was printed:\n%s", stderr.String())
			}
		})
	}
}
