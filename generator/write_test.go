package generator

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A cancelled Write changes nothing: the previous output stays as it was
// and no staging folder is left behind.
func TestWriteCancelledKeepsPreviousOutput(t *testing.T) {
	out := t.TempDir()
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	if _, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	changed := append([]File(nil), files...)
	for i := range changed {
		changed[i].Data = append([]byte("# changed\n"), changed[i].Data...)
	}
	stop := errors.New("interrupted by SIGINT")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(stop)
	if _, err := Write(ctx, out, "monero-clearsigned", changed); !errors.Is(err, stop) {
		t.Fatalf("Write on a cancelled context: %v, want the cause", err)
	}
	if after := snapshot(t, out); after != before {
		t.Fatal("a cancelled Write changed the output folder")
	}
}

// Only the generator's own staging names, older than the run, are stale.
func TestStaleStaging(t *testing.T) {
	out := t.TempDir()
	start := time.Now()
	past := start.Add(-time.Minute)
	for name, old := range map[string]bool{
		".bitcoin.new-1":        true,
		".bitcoin-cash.new-2":   true,
		".bitcoin.new-3.old":    true,
		".bitcoin.new-4":        false, // this run's own
		".bitcoin.new-x":        true,
		".Bitcoin.new-5":        true,
		"bitcoin.new-6":         true,
		".bitcoin.new-7.backup": true,
		".git":                  true,
	} {
		p := filepath.Join(out, name)
		os.Mkdir(p, 0o755)
		// Set both ways: the file system's clock is coarser than time.Now.
		when := start.Add(time.Minute)
		if old {
			when = past
		}
		os.Chtimes(p, when, when)
	}
	os.WriteFile(filepath.Join(out, ".bitcoin.new-8"), nil, 0o644) // a file, not a folder
	os.Chtimes(filepath.Join(out, ".bitcoin.new-8"), past, past)

	got, err := StaleStaging(out, start)
	want := []string{filepath.Join(out, ".bitcoin-cash.new-2"), filepath.Join(out, ".bitcoin.new-1"), filepath.Join(out, ".bitcoin.new-3.old")}
	if err != nil || len(got) != len(want) {
		t.Fatalf("StaleStaging = %v, %v; want %v", got, err, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("StaleStaging[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := StaleStaging(filepath.Join(out, "missing"), start); err != nil {
		t.Errorf("a missing output folder: %v", err)
	}
}

// writeNew makes a file of exactly the rendered mode whatever the umask,
// and never writes through or over what is already at its path: in a
// staging folder, that is not the generator's.
func TestWriteNew(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0o077))
	tests := []struct {
		name    string
		setup   func(t *testing.T, path, target string)
		mode    fs.FileMode
		wantErr bool
	}{
		{"new script", func(*testing.T, string, string) {}, 0o755, false},
		{"new file", func(*testing.T, string, string) {}, 0o644, false},
		{"a link there", func(t *testing.T, path, target string) {
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, 0o644, true},
		{"a file there", func(t *testing.T, path, _ string) {
			if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 0o644, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, target := filepath.Join(dir, "release.sh"), filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte("target\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, path, target)
			before := snapshot(t, dir)
			err := writeNew(path, []byte("#!/bin/sh\n"), tt.mode)
			if tt.wantErr {
				if !errors.Is(err, fs.ErrExist) {
					t.Fatalf("writeNew over an existing entry: %v, want it refused", err)
				}
				if after := snapshot(t, dir); after != before {
					t.Fatalf("a refused writeNew changed the folder:\nbefore %s\nafter  %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Lstat(path)
			if err != nil || info.Mode() != tt.mode {
				t.Fatalf("mode %v, %v; want %v", info.Mode(), err, tt.mode)
			}
			if data, _ := os.ReadFile(path); string(data) != "#!/bin/sh\n" {
				t.Errorf("content %q", data)
			}
		})
	}
}

// TestCheckModesAsGitRecordsThem: a checkout made under umask 0000 (GitLab's
// Docker runners) has 0666 and 0777 files; Check, which compares what git
// can record, sees no drift there, but does see an execute bit lost.
func TestCheckModesAsGitRecordsThem(t *testing.T) {
	m := openFixture(t, "bitcoin-guix")
	files := mustRender(t, m)
	out := t.TempDir()
	if _, err := Write(t.Context(), out, m.Name, files); err != nil {
		t.Fatal(err)
	}
	var script string
	for _, f := range files {
		p := filepath.Join(out, m.Name, filepath.FromSlash(f.Path))
		mode := os.FileMode(0o666)
		if f.Mode&0o111 != 0 {
			mode, script = 0o777, f.Path
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if changes, err := Check(t.Context(), out, m.Name, files); err != nil || len(changes) != 0 {
		t.Fatalf("a checkout under umask 0000: %v, %v; want no drift", changes, err)
	}
	if err := os.Chmod(filepath.Join(out, m.Name, filepath.FromSlash(script)), 0o666); err != nil {
		t.Fatal(err)
	}
	changes, err := Check(t.Context(), out, m.Name, files)
	if err != nil || len(changes) != 1 || changes[0] != (Change{script, "changed"}) {
		t.Fatalf("execute bit lost on %s: %v, %v", script, changes, err)
	}
}
