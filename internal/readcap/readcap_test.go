package readcap

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := write("small", "0123456789")
	big := filepath.Join(dir, "big")
	// Sparse: 3.1 GiB announced, nothing written, nothing read.
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 3328599654); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		path     string
		max      int64
		noLink   bool
		appendTo string // AppendFileNoLink onto these bytes instead
		want     string // content, when it is read
		wantErr  string
		// wantType is Error.Type: the type of a file refused as irregular.
		wantType fs.FileMode
	}{
		{name: "regular file", path: small, max: 16 << 20, want: "0123456789"},
		{name: "exactly at the cap", path: small, max: 10, want: "0123456789"},
		{name: "one byte over the cap", path: small, max: 9, wantErr: small + " is 10 bytes, more than the 9 bytes limit"},
		{name: "one byte over a round cap", path: big, max: 3328599653, wantErr: big + " is 3328599654 bytes, more than the 3.1 GiB (3328599653 bytes) limit"},
		{name: "sparse 3.1 GiB file", path: big, max: 16 << 20, wantErr: big + " is 3.1 GiB, more than the 16 MiB limit"},
		{name: "device", path: "/dev/zero", max: 16 << 20, wantErr: "/dev/zero is a character device, not a regular file; name a regular file", wantType: fs.ModeDevice | fs.ModeCharDevice},
		{name: "named pipe", path: fifo, max: 16 << 20, wantErr: fifo + " is a named pipe (FIFO), not a regular file; name a regular file", wantType: fs.ModeNamedPipe},
		{name: "directory", path: dir, max: 16 << 20, wantErr: dir + " is a directory, not a regular file; name a regular file", wantType: fs.ModeDir},
		{name: "missing", path: filepath.Join(dir, "nope"), max: 16 << 20, wantErr: filepath.Join(dir, "nope") + " does not exist"},
		{name: "under a file", path: filepath.Join(small, "x"), max: 16 << 20, wantErr: filepath.Join(small, "x") + " does not exist (a parent is not a folder)"},
		{name: "link followed", path: link, max: 16 << 20, want: "0123456789"},
		{name: "link refused", path: link, max: 16 << 20, noLink: true, wantErr: link + " is a symbolic link, not a regular file; name a regular file", wantType: fs.ModeSymlink},
		// Appending: the cap is on the file, not on what the buffer held.
		{name: "appended", path: small, max: 10, appendTo: "held:", want: "held:0123456789"},
		{name: "appended over the cap", path: small, max: 9, appendTo: "held:", wantErr: small + " is 10 bytes, more than the 9 bytes limit"},
		{name: "appended through a link", path: link, max: 16 << 20, appendTo: "held:", wantErr: link + " is a symbolic link, not a regular file; name a regular file", wantType: fs.ModeSymlink},
		{name: "appended past its stat", path: "/proc/self/status", max: 8, appendTo: "held:", wantErr: "/proc/self/status is more than the 8 bytes limit"},
		// /proc files say they are empty: the cap holds while reading.
		{name: "file larger than its stat", path: "/proc/self/status", max: 8, wantErr: "/proc/self/status is more than the 8 bytes limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := ReadFile
			if tt.noLink {
				read = ReadFileNoLink
			}
			if tt.appendTo != "" {
				read = func(path string, max int64) ([]byte, error) {
					return AppendFileNoLink([]byte(tt.appendTo), path, max)
				}
			}
			done := make(chan struct{})
			var got []byte
			var err error
			go func() {
				defer close(done)
				got, err = read(tt.path, tt.max)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ReadFile blocked")
			}
			if tt.wantErr == "" {
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error = %v\nwant    %s", err, tt.wantErr)
			}
			var invalid interface{ InvalidInput() bool }
			if !errors.As(err, &invalid) || !invalid.InvalidInput() {
				t.Errorf("%T is not invalid input (exit 2)", err)
			}
			var refused *Error
			if errors.As(err, &refused) && refused.Type != tt.wantType {
				t.Errorf("Type = %v, want %v", refused.Type, tt.wantType)
			}
		})
	}
}

func TestMissingIsNotExist(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope"), 1)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 1: "1 byte", 1023: "1023 bytes", 1024: "1 KiB", 1536: "1.5 KiB",
		16 << 20: "16 MiB", 256 << 10: "256 KiB", 3328599654: "3.1 GiB", 1 << 40: "1 TiB",
	} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// Open applies ReadFile's checks and stops a stream at the cap.
func TestOpen(t *testing.T) {
	if _, err := Open("/dev/zero", 1<<20); err == nil || err.Error() != "/dev/zero is a character device, not a regular file; name a regular file" {
		t.Fatalf("Open(/dev/zero) error = %v", err)
	}
	// /proc/self/status says it is empty and holds more than 8 bytes.
	r, err := Open("/proc/self/status", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err == nil || err.Error() != "/proc/self/status is more than the 8 bytes limit" || len(data) > 8 {
		t.Fatalf("read %d bytes, error %v", len(data), err)
	}
}
