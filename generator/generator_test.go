package generator

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../out")

func openFixture(t testing.TB, name string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Open(filepath.Join("testdata/coins", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRenderIsDeterministic(t *testing.T) {
	m := openFixture(t, "bitcoin-guix")
	first, err := Render(m, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // map iteration order differs run to run
		again, _ := Render(m, DefaultOptions)
		if fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatal("two renders of the same manifest differ")
		}
	}
}

func TestRenderResolvesVersion(t *testing.T) {
	for _, f := range mustRender(t, openFixture(t, "dogecoin-gitian")) {
		if f.Path != manifest.FileName && bytes.Contains(f.Data, []byte("{version}")) {
			t.Errorf("%s still holds {version}", f.Path)
		}
	}
}

func mustRender(t testing.TB, m *manifest.Manifest) []File {
	t.Helper()
	files, err := Render(m, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestWriteThenCheck(t *testing.T) {
	out := t.TempDir()
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	changes, err := Write(t.Context(), out, "monero-clearsigned", files)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(files) {
		t.Errorf("first write: %d changes, want %d (all added)", len(changes), len(files))
	}
	for _, f := range files {
		info, err := os.Stat(filepath.Join(out, "monero-clearsigned", f.Path))
		if err != nil || info.Mode().Perm() != f.Mode {
			t.Errorf("%s: %v, mode %v, want %v", f.Path, err, info.Mode().Perm(), f.Mode)
		}
	}
	if info, _ := os.Stat(filepath.Join(out, "monero-clearsigned")); info.Mode().Perm() != 0o755 {
		t.Errorf("coin folder mode %v, want 0755", info.Mode().Perm())
	}
	if changes, _ := Check(t.Context(), out, "monero-clearsigned", files); len(changes) != 0 {
		t.Errorf("check after write: %v", changes)
	}
}

// A second write of unchanged output touches no file; a changed one
// rewrites only what changed and removes what is no longer rendered.
func TestWriteTouchesOnlyChanges(t *testing.T) {
	out := t.TempDir()
	dir := filepath.Join(out, "monero-clearsigned")
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	if _, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, f := range files {
		os.Chtimes(filepath.Join(dir, f.Path), old, old)
	}
	if changes, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil || len(changes) != 0 {
		t.Fatalf("second write: %v, %v", changes, err)
	}
	os.WriteFile(filepath.Join(dir, "stale.txt"), []byte("left over"), 0o644)
	files[0].Data = append([]byte(nil), files[0].Data...)
	files[0].Data = append(files[0].Data, "# changed\n"...)
	changes, err := Write(t.Context(), out, "monero-clearsigned", files)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]Change{{files[0].Path, "changed"}, {"stale.txt", "removed"}})
	if fmt.Sprint(changes) != want {
		t.Errorf("changes %v, want %v", changes, want)
	}
	for _, f := range files[1:] {
		info, _ := os.Stat(filepath.Join(dir, f.Path))
		if !info.ModTime().Equal(old.Truncate(time.Microsecond)) && info.ModTime().After(old.Add(time.Second)) {
			t.Errorf("%s was rewritten although unchanged", f.Path)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stale.txt")); !os.IsNotExist(err) {
		t.Error("a file no longer rendered was kept")
	}
}

// A write that fails part-way leaves the previous output as it was and no
// staging folder behind.
func TestWriteFailureKeepsPreviousOutput(t *testing.T) {
	out := t.TempDir()
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	if _, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, filepath.Join(out, "monero-clearsigned"))
	broken := append([]File(nil), files...)
	broken[0].Data = []byte("new content")
	// A file nested under a path that is another file cannot be staged.
	broken = append(broken, File{Path: "Dockerfile/nested", Data: []byte("x"), Mode: 0o644})
	if _, err := Write(t.Context(), out, "monero-clearsigned", broken); err == nil {
		t.Fatal("write of an impossible tree succeeded")
	}
	if after := snapshot(t, filepath.Join(out, "monero-clearsigned")); after != before {
		t.Errorf("previous output changed after a failed write:\nbefore %s\nafter  %s", before, after)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 {
		t.Errorf("staging left behind: %v", entries)
	}
}

func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, "%s:%x;", p, data)
		}
		return nil
	})
	return b.String()
}

// BenchmarkRender is the CPU part of generate: templates and file copies,
// no writes.
func BenchmarkRender(b *testing.B) {
	m := openFixture(b, "bitcoin-guix")
	b.ReportAllocs()
	for n := 0; n < b.N; n++ {
		mustRender(b, m)
	}
}

// A checkout's .git is not drift for Check; Write refuses the folder rather
// than lose or move it, and leaves everything as it was.
func TestWriteRefusesForeignEntries(t *testing.T) {
	out := t.TempDir()
	dir := filepath.Join(out, "monero-clearsigned")
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	if _, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, ".git", "objects"), 0o755)
	os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644)
	if changes, _ := Check(t.Context(), out, "monero-clearsigned", files); len(changes) != 0 {
		t.Fatalf(".git counted as drift: %v", changes)
	}
	before := snapshot(t, dir)
	changed := append([]File(nil), files...)
	changed[0].Data = []byte("changed\n")
	_, err := Write(t.Context(), out, "monero-clearsigned", changed)
	var unsafe *UnsafeOutputError
	if !errors.As(err, &unsafe) || !strings.Contains(err.Error(), "it holds .git, which coinpipe did not render") {
		t.Fatalf("Write into a checkout: %v", err)
	}
	if snapshot(t, dir) != before {
		t.Fatal("a refused write changed the folder")
	}
}

// A symlinked output folder is never replaced by a real one.
func TestWriteRefusesSymlinkedFolder(t *testing.T) {
	out, target := t.TempDir(), t.TempDir()
	os.Symlink(target, filepath.Join(out, "monero-clearsigned"))
	_, err := Write(t.Context(), out, "monero-clearsigned", mustRender(t, openFixture(t, "monero-clearsigned")))
	if err == nil || !strings.Contains(err.Error(), "it is a symbolic link") {
		t.Fatalf("Write through a symlink: %v", err)
	}
	if info, _ := os.Lstat(filepath.Join(out, "monero-clearsigned")); info.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced")
	}
}
