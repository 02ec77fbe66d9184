package generator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// snapshotTarball is a tar of a small data dir, compressed with compress
// (nil: a plain tar).
func snapshotTarball(t *testing.T, files map[string]string, compress func(io.Writer) io.WriteCloser) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := io.WriteCloser(nopCloser{&buf})
	if compress != nil {
		w = compress(&buf)
	}
	tw := tar.NewWriter(w)
	names := slices.Sorted(maps.Keys(files))
	for _, name := range names {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func gzipped(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }

// compressedWith compresses with an external tool (xz, zstd), as snapshot
// publishers do; Go's library has neither.
func compressedWith(t *testing.T, plain []byte, tool ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), tool[0], tool[1:]...)
	cmd.Stdin = bytes.NewReader(plain)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compressing with %s: %v", tool[0], err)
	}
	return out
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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

// snapshotScript is the rendered entry point of a snapshot coin.
func snapshotScript(t *testing.T) []byte {
	t.Helper()
	m := openFixture(t, "bitcoin-guix")
	m.Runtime.Snapshot = true
	for _, f := range mustRender(t, m) {
		if f.Path == "docker-entrypoint.sh" {
			return f.Data
		}
	}
	t.Fatal("no docker-entrypoint.sh rendered")
	return nil
}

// The entry point of a snapshot coin, run for real against the loopback
// mirror: it streams the download through sha256sum into tar, seeds an
// empty data dir only from a checked snapshot and leaves no archive there,
// never leaves the daemon partial data, refuses a malformed SNAPSHOT_SHA256
// before fetching anything, and never prints a URL's credentials (userinfo,
// or a pre-signed URL's query).
func TestEntrypointSnapshotSeeding(t *testing.T) {
	testenv.RequireTools(t, "curl", "tar", "sha256sum", "find", "sed", "tr", "tee", "mkfifo", "dd", "od", "xz", "zstd")
	script := snapshotScript(t)
	files := map[string]string{"blocks/blk00000.dat": "block data", "chainstate/CURRENT": "MANIFEST-1", ".cookie-free": "x"}
	plain := snapshotTarball(t, files, nil)
	tarball := snapshotTarball(t, files, gzipped)
	good := sha256Hex(tarball)
	// A tampered snapshot is a valid archive too: only the hash tells.
	tampered := snapshotTarball(t, map[string]string{"blocks/blk00000.dat": "evil data", "chainstate/CURRENT": "MANIFEST-1", ".cookie-free": "x"}, gzipped)
	srv := mirror.New(t)
	formats := map[string][]byte{
		"snap.tar":     plain,
		"snap.tar.gz":  tarball,
		"snap.tar.xz":  compressedWith(t, plain, "xz", "-c"),
		"snap.tar.zst": compressedWith(t, plain, "zstd", "-c", "-q"),
		"tampered.gz":  tampered,
		"notatar":      bytes.Repeat([]byte("not a tar archive "), 100),
		"cut1.tar.gz":  tarball,
		"cut3.tar.gz":  tarball,
	}
	for name, body := range formats {
		srv.Put("/"+name, body)
	}
	srv.CutNext("/cut1.tar.gz", 1)
	host := strings.TrimPrefix(srv.URL, "http://")
	at := func(name string) string { return srv.URL + "/" + name + "?X-Amz-Signature=s3cr3t" }
	url := at("snap.tar.gz")
	// Basic auth in the userinfo, as an operator might write it.
	withUser := "http://snapuser:t0ken@" + host + "/snap.tar.gz?X-Amz-Credential=AKIA&X-Amz-Signature=s3cr3t"
	missing := "http://snapuser:t0ken@" + host + "/gone.tar.gz?X-Amz-Signature=s3cr3t"
	secrets := []string{"s3cr3t", "t0ken", "snapuser", "AKIA"}
	seeded := []string{".cookie-free", "blocks/blk00000.dat", "chainstate/CURRENT"}
	interrupted := map[string]string{".coinpipe-seeding": "", "blocks/half.dat": "x"}
	// A seed killed while streaming: the marker, the staging folder with
	// part of the unpacked data and the hash's FIFO.
	killed := map[string]string{".coinpipe-seeding": "", ".coinpipe-seeding.d/data/blocks/blk00000.dat": "blo", ".coinpipe-seeding.d/curl.status": "0\n"}
	withHash := func(u, sum string) []string { return []string{"SNAPSHOT_URL=" + u, "SNAPSHOT_SHA256=" + sum} }

	tests := []struct {
		name     string
		env      []string
		before   map[string]string // files in the data dir before start
		prepare  func()            // mirror switches for this case
		ok       bool
		want     []string // data dir afterwards
		inStderr string
		fetches  int // requests the mirror answered
	}{
		{"no snapshot: the daemon starts", nil, nil, nil, true, nil, "", 0},
		{"snapshot with its sha256", withHash(url, good), nil, nil, true, seeded, "snapshot in place", 1},
		{"snapshot with its sha256 in upper case", withHash(url, strings.ToUpper(good)), nil, nil, true, seeded, "snapshot in place", 1},
		{"a plain tar", withHash(at("snap.tar"), sha256Hex(plain)), nil, nil, true, seeded, "snapshot in place", 1},
		{"an xz tar", withHash(at("snap.tar.xz"), sha256Hex(formats["snap.tar.xz"])), nil, nil, true, seeded, "snapshot in place", 1},
		{"a zstd tar", withHash(at("snap.tar.zst"), sha256Hex(formats["snap.tar.zst"])), nil, nil, true, seeded, "snapshot in place", 1},
		{"a body without Content-Length", withHash(url, good), nil, func() { srv.Unsized("/snap.tar.gz") }, true, seeded, "snapshot in place", 1},
		{"snapshot without a sha256 is refused", []string{"SNAPSHOT_URL=" + url}, nil, nil, false, nil, "set it, or SNAPSHOT_INSECURE=1", 0},
		{"snapshot without a sha256, risk accepted: its sha256 is logged", []string{"SNAPSHOT_URL=" + url, "SNAPSHOT_INSECURE=1"}, nil, nil, true, seeded,
			"the snapshot's sha256 is " + good + " (not checked: SNAPSHOT_INSECURE=1)\n", 1},
		{"snapshot with the wrong sha256", withHash(url, strings.Repeat("0", 64)), nil, nil, false, []string{}, "the snapshot does not match SNAPSHOT_SHA256; the data dir is left empty\n", 1},
		{"a tampered snapshot is unpacked, then thrown away", withHash(at("tampered.gz"), good), nil, nil, false, []string{}, "the snapshot does not match SNAPSHOT_SHA256; the data dir is left empty\n", 1},
		{"not an archive", []string{"SNAPSHOT_URL=" + at("notatar"), "SNAPSHOT_INSECURE=1"}, nil, nil, false, []string{}, "unpacking the snapshot failed; the data dir is left empty\n", 1},
		{"a body cut once is downloaded again", withHash(at("cut1.tar.gz"), good), nil, nil, true, seeded, "downloading the snapshot failed (attempt 1 of 3); starting it again\n", 2},
		{"a body cut every time fails cleanly", withHash(at("cut3.tar.gz"), good), nil, func() { srv.CutNext("/cut3.tar.gz", 3) }, false, []string{},
			"downloading the snapshot failed; the data dir is left empty\n", 3},
		{"a body cut every time, risk accepted, fails cleanly", []string{"SNAPSHOT_URL=" + at("cut3.tar.gz"), "SNAPSHOT_INSECURE=1"}, nil, func() { srv.CutNext("/cut3.tar.gz", 3) }, false, []string{},
			"downloading the snapshot failed; the data dir is left empty\n", 3},
		{"a sha256 one digit short is refused", withHash(url, good[:63]), nil, nil, false, []string{}, "SNAPSHOT_SHA256 must be exactly 64 hex digits (the snapshot's sha256), not 63; not starting", 0},
		{"a sha256 with a prefix is refused", withHash(url, "sha256:"+good), nil, nil, false, []string{}, "SNAPSHOT_SHA256 must be exactly 64 hex digits (the snapshot's sha256), not other characters; not starting", 0},
		{"a sha256 with a non-hex digit is refused", withHash(url, good[:63]+"g"), nil, nil, false, []string{}, "not other characters; not starting", 0},
		{"a sha256 with a space is refused", withHash(url, good+" "), nil, nil, false, []string{}, "not other characters; not starting", 0},
		{"a bad sha256 leaves an interrupted seed untouched", withHash(url, good[:10]), interrupted, nil, false, []string{".coinpipe-seeding", "blocks/half.dat"}, "not 10; not starting", 0},
		{"credentials in the URL are not printed", withHash(withUser, good), nil, nil, true, seeded, "from http://***@" + host + "/snap.tar.gz\n", 1},
		{"credentials are not printed when the download fails", withHash(missing, good), nil, nil, false, []string{}, "downloading the snapshot failed; the data dir is left empty\n", 3},
		{"a data dir in use is not seeded", withHash(url, good), map[string]string{"blocks/mine.dat": "x"}, nil, true, []string{"blocks/mine.dat"}, "is not empty; not seeding", 0},
		{"an interrupted seed without SNAPSHOT_URL: refused", nil, interrupted, nil, false, []string{".coinpipe-seeding", "blocks/half.dat"}, "interrupted snapshot seed", 0},
		{"an interrupted seed is started again", withHash(url, good), interrupted, nil, true, seeded, "starting it again", 1},
		{"a seed killed while streaming is started again", withHash(url, good), killed, nil, true, seeded, "an earlier seed was interrupted; starting it again\n", 1},
		{"a seed killed while streaming, then a tampered snapshot", withHash(at("tampered.gz"), good), killed, nil, false, []string{}, "does not match SNAPSHOT_SHA256", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			for name, body := range tt.before {
				writeFile(t, filepath.Join(data, name), []byte(body))
			}
			if tt.prepare != nil {
				tt.prepare()
			}
			entry := filepath.Join(t.TempDir(), "docker-entrypoint.sh")
			writeFile(t, entry, script)
			asked := len(srv.Requests())
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
			if tt.ok && tt.want != nil {
				// No staging folder, FIFO or status file is left, not even empty.
				if _, err := os.Lstat(filepath.Join(data, ".coinpipe-seeding.d")); err == nil {
					t.Errorf("the staging folder was left in the data dir")
				}
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.inStderr, stderr.String())
			}
			if n := len(srv.Requests()) - asked; n != tt.fetches {
				t.Errorf("the mirror was asked %d times, want %d", n, tt.fetches)
			}
			for _, secret := range secrets {
				if strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("the URL's credential %q was printed:\n%s%s", secret, stdout.String(), stderr.String())
				}
			}
		})
	}
}

// runnableEntrypoint is the rendered entry point of m with the paths of its
// config overlay moved under dir: the image's base (written with base), the
// host's overlay mount and the tmpfs file, which a test cannot create at
// their real places. Each path line must be there exactly once.
func runnableEntrypoint(t *testing.T, m *manifest.Manifest, dir string, base []byte) (script string, overlay, config string) {
	t.Helper()
	for _, f := range mustRender(t, m) {
		if f.Path == "docker-entrypoint.sh" {
			script = string(f.Data)
		}
	}
	var oc *manifest.ConfigFile
	for i := range m.Runtime.Config {
		if m.Runtime.Config[i].Overlay {
			oc = &m.Runtime.Config[i]
		}
	}
	if oc == nil {
		return script, "", ""
	}
	overlay, config = filepath.Join(dir, "host", "overlay.conf"), filepath.Join(dir, "run", path.Base(oc.Path))
	imageBase := filepath.Join(dir, "image", path.Base(oc.Path)+".base")
	writeFile(t, imageBase, base)
	if err := os.MkdirAll(filepath.Dir(overlay), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(config), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]string{
		{"\nbase=" + oc.Path + ".base\n", "\nbase=" + imageBase + "\n"},
		{"\noverlay=/etc/coinpipe/overlay.conf\n", "\noverlay=" + overlay + "\n"},
		{"\nconfig=/run/coinpipe/" + path.Base(oc.Path) + "\n", "\nconfig=" + config + "\n"},
	} {
		if strings.Count(script, r[0]) != 1 {
			t.Fatalf("the entry point does not set %q once:\n%s", strings.TrimSpace(r[0]), script)
		}
		script = strings.Replace(script, r[0], r[1], 1)
	}
	return script, overlay, config
}

// The entry point's run-time settings, run for real: COINPIPE_DAEMON_ARGS
// is appended to the command split at spaces (never globbed), refused with
// quotes, backslashes or control characters before anything else happens;
// the overlay config is the image's base plus the host's overlay, mode
// 0600, and neither file nor any setting is ever printed.
func TestEntrypointArgsAndOverlay(t *testing.T) {
	m := openFixture(t, "bitcoin-guix")
	m.Runtime.Config[0].Overlay = true
	const (
		base   = "server=1\nlisten=1" // no final newline: the overlay still starts a line
		secret = "rpcauth=alice:f00dfeedsalt$0a1b2c3d4e5f"
	)
	overlayText := "maxmempool=300\n" + secret + "\n"
	assembled := base + "\n# Appended at start from the host's /etc/coinpipe/bitcoin-guix.conf:\n" + overlayText
	refused := "COINPIPE_DAEMON_ARGS must be arguments separated by spaces, without quotes, backslashes, tabs or newlines; not starting"
	tests := []struct {
		name     string
		args     string                       // COINPIPE_DAEMON_ARGS; "" unset
		overlay  func(t *testing.T, p string) // the host's overlay at its mount
		ok       bool
		daemon   []string // the daemon's arguments
		config   string   // the assembled config; "" not written
		inStderr string
	}{
		{"no overlay, no args: the base alone", "", nil, true, []string{"-printtoconsole"}, base, ""},
		{"an empty overlay: the base alone", "", func(t *testing.T, p string) { writeFile(t, p, nil) }, true, []string{"-printtoconsole"}, base, ""},
		{"the overlay is appended", "", func(t *testing.T, p string) { writeFile(t, p, []byte(overlayText)) }, true, []string{"-printtoconsole"}, assembled, ""},
		{"args are appended, split at spaces, not globbed", " -dbcache=4000  -rpcallowip=10.* -par=2 ", nil, true,
			[]string{"-printtoconsole", "-dbcache=4000", "-rpcallowip=10.*", "-par=2"}, base, "arguments appended from COINPIPE_DAEMON_ARGS: 3\n"},
		{"args and the overlay together", "-dbcache=4000", func(t *testing.T, p string) { writeFile(t, p, []byte(overlayText)) }, true,
			[]string{"-printtoconsole", "-dbcache=4000"}, assembled, "arguments appended from COINPIPE_DAEMON_ARGS: 1\n"},
		{"double quotes are refused", `-rpcpassword="f00dfeedsalt"`, nil, false, nil, "", refused},
		{"single quotes are refused", `-uacomment='a b'`, nil, false, nil, "", refused},
		{"a backslash is refused", `-datadir=C:\node`, nil, false, nil, "", refused},
		{"a newline is refused", "-dbcache=4000\n-par=2", nil, false, nil, "", refused},
		{"a tab is refused", "-dbcache=4000\t-par=2", nil, false, nil, "", refused},
		{"a carriage return is refused", "-dbcache=4000\r", nil, false, nil, "", refused},
		{"bad args are refused before the config is written", `-x="y"`, func(t *testing.T, p string) { writeFile(t, p, []byte(overlayText)) }, false, nil, "", refused},
		{"an overlay docker made a folder of is refused", "", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, false, nil, "", "overlay.conf is not a file uid 10100 can read: the host's /etc/coinpipe/bitcoin-guix.conf must be a file, mode 0640, group 10100; not starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script, overlay, config := runnableEntrypoint(t, m, dir, []byte(base))
			if tt.overlay != nil {
				tt.overlay(t, overlay)
			}
			entry := filepath.Join(dir, "docker-entrypoint.sh")
			writeFile(t, entry, []byte(script))
			// A file the glob in the arguments would match if it were expanded.
			cwd := filepath.Join(dir, "cwd")
			writeFile(t, filepath.Join(cwd, "-rpcallowip=10.0.0.1"), nil)
			cmd := exec.CommandContext(t.Context(), "sh", entry, "sh", "-c", `printf 'arg %s\n' "$@"; echo daemon started`, "daemon", "-printtoconsole")
			cmd.Dir = cwd
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir()}
			if tt.args != "" {
				cmd.Env = append(cmd.Env, "COINPIPE_DAEMON_ARGS="+tt.args)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			out := stdout.String() + stderr.String()
			if started := strings.Contains(stdout.String(), "daemon started"); (err == nil) != tt.ok || started != tt.ok {
				t.Fatalf("err=%v, daemon started=%v, want ok=%v\n%s", err, started, tt.ok, out)
			}
			var got []string
			for _, line := range strings.Split(stdout.String(), "\n") {
				if a, ok := strings.CutPrefix(line, "arg "); ok {
					got = append(got, a)
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.daemon, "|") {
				t.Errorf("the daemon got %q, want %q", got, tt.daemon)
			}
			if !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.inStderr, stderr.String())
			}
			b, err := os.ReadFile(config)
			switch {
			case tt.config == "" && err == nil:
				t.Errorf("%s was written though the container did not start", config)
			case tt.config != "" && err != nil:
				t.Errorf("reading the assembled config: %v", err)
			case tt.config != "" && string(b) != tt.config:
				t.Errorf("the assembled config is\n%q\nwant\n%q", b, tt.config)
			}
			if info, err := os.Stat(config); err == nil && info.Mode().Perm() != 0o600 {
				t.Errorf("the assembled config has mode %v, want 0600", info.Mode().Perm())
			}
			for _, s := range []string{"f00dfeedsalt", "rpcauth", "maxmempool", "server=1"} {
				if strings.Contains(out, s) {
					t.Errorf("%q was printed:\n%s", s, out)
				}
			}
			if _, err := os.Stat(config + ".new"); err == nil {
				t.Errorf("%s.new was left behind", config)
			}
		})
	}
}

// A config written by an earlier start, with a looser mode, is replaced by
// a 0600 one; a tmpfs the daemon's uid cannot write stops the start.
func TestEntrypointConfigFile(t *testing.T) {
	m := openFixture(t, "bitcoin-guix")
	m.Runtime.Config[0].Overlay = true
	for _, tt := range []struct {
		name     string
		prepare  func(t *testing.T, config string)
		ok       bool
		inStderr string
	}{
		{"a stale world-readable config", func(t *testing.T, config string) {
			writeFile(t, config, []byte("rpcauth=old"))
			if err := os.Chmod(config, 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, ""},
		{"no run dir", func(t *testing.T, config string) {
			if err := os.Remove(filepath.Dir(config)); err != nil {
				t.Fatal(err)
			}
		}, false, "cannot write " + "CONFIG" + ": /run/coinpipe must be a folder uid 10100 can write (node@.service mounts a tmpfs there); not starting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script, _, config := runnableEntrypoint(t, m, dir, []byte("server=1\n"))
			tt.prepare(t, config)
			entry := filepath.Join(dir, "docker-entrypoint.sh")
			writeFile(t, entry, []byte(script))
			cmd := exec.CommandContext(t.Context(), "sh", entry, "true")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir()}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); (err == nil) != tt.ok {
				t.Fatalf("err=%v, want ok=%v\n%s", err, tt.ok, stderr.String())
			}
			if want := strings.ReplaceAll(tt.inStderr, "CONFIG", config); !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
			if !tt.ok {
				return
			}
			info, err := os.Stat(config)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Fatalf("config: %v, %v; want mode 0600", info, err)
			}
			if b, _ := os.ReadFile(config); string(b) != "server=1\n" {
				t.Errorf("config holds %q, want the base", b)
			}
		})
	}
}

// Every shipped coin passes COINPIPE_DAEMON_ARGS on to its daemon through
// its own command (zcash's goes through sh -c), with fakes of its binaries.
func TestEntrypointArgsReachEveryDaemon(t *testing.T) {
	for _, c := range renderAll(t, "../coins") {
		t.Run(c.m.Name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			for _, b := range c.m.Release.Binaries {
				writeFile(t, filepath.Join(bin, path.Base(b)), []byte("#!/bin/sh\nprintf 'ran %s:' \"${0##*/}\"; printf ' %s' \"$@\"; echo\n"))
				if err := os.Chmod(filepath.Join(bin, path.Base(b)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			script, _, _ := runnableEntrypoint(t, c.m, dir, []byte("# base\n"))
			entry := filepath.Join(dir, "docker-entrypoint.sh")
			writeFile(t, entry, []byte(script))
			cmd := exec.CommandContext(t.Context(), "sh", append([]string{entry}, c.m.Runtime.Command...)...)
			cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "DATA_DIR=" + t.TempDir(), "COINPIPE_DAEMON_ARGS=--extra-one --extra-two=2"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "ran ") || !strings.HasSuffix(last, " --extra-one --extra-two=2") {
				t.Errorf("the daemon ran as %q, want the command with the two arguments last\n%s", last, out)
			}
		})
	}
}

// dirBytes is the size of the regular files under dir: those under
// staging/data (what tar has unpacked so far) and all the others.
func dirBytes(dir string) (unpacked, other int64) {
	staged := filepath.Join(dir, ".coinpipe-seeding.d", "data") + string(filepath.Separator)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if strings.HasPrefix(p, staged) {
				unpacked += info.Size()
			} else {
				other += info.Size()
			}
		}
		return nil
	})
	return unpacked, other
}

// The download is never stored: while the body is half sent, tar has
// already unpacked part of it into the staging folder and the data dir
// holds nothing else but a few bytes (the archive's first bytes, status
// files). Seeding an archive of N bytes needs the unpacked size, not N more.
func TestEntrypointSnapshotStreams(t *testing.T) {
	testenv.RequireTools(t, "curl", "tar", "sha256sum", "find", "sed", "tr", "tee", "mkfifo", "dd", "od")
	script := snapshotScript(t)
	// Incompressible, so the archive is as large as the data.
	big := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	tarball := snapshotTarball(t, map[string]string{"blocks/blk00000.dat": string(big), "chainstate/CURRENT": "MANIFEST-1"}, gzipped)
	data := t.TempDir()
	var unpacked, other int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(tarball)))
		half := len(tarball) / 2
		w.Write(tarball[:half])
		w.(http.Flusher).Flush()
		// Wait until the pipeline has taken in what was sent.
		for last, stable := int64(-1), 0; stable < 5; {
			time.Sleep(20 * time.Millisecond)
			unpacked, other = dirBytes(data)
			if unpacked == last {
				stable++
			} else {
				last, stable = unpacked, 0
			}
		}
		w.Write(tarball[half:])
	}))
	defer srv.Close()
	entry := filepath.Join(t.TempDir(), "docker-entrypoint.sh")
	writeFile(t, entry, script)
	cmd := exec.CommandContext(t.Context(), "sh", entry, "sh", "-c", "echo daemon started")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATA_DIR=" + data, "SNAPSHOT_URL=" + srv.URL + "/snap.tar.gz", "SNAPSHOT_SHA256=" + sha256Hex(tarball)}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "daemon started") {
		t.Fatalf("the seed failed: %v\n%s", err, out)
	}
	t.Logf("archive %d bytes; with half of it sent: %d bytes unpacked in staging, %d bytes else in the data dir", len(tarball), unpacked, other)
	if unpacked < int64(len(big))/4 {
		t.Errorf("with half of the archive sent, tar had unpacked %d bytes: the download is not streamed", unpacked)
	}
	if other > 64 {
		t.Errorf("with half of the archive sent, the data dir held %d bytes outside the staging data: the download is stored", other)
	}
	if got := listDir(t, data); strings.Join(got, ",") != "blocks/blk00000.dat,chainstate/CURRENT" {
		t.Errorf("data dir holds %v", got)
	}
}
