package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The base image stands in for the manifest's pinned debian:bookworm-slim,
// which this machine cannot pull. It holds what the builder stage needs, so
// the build never has to apt-get anything.
const (
	baseSuite   = "bookworm"
	baseVariant = "minbase"
)

// baseInclude is what debootstrap adds to minbase: the builder stage's
// download and verification tools. minbase already has passwd (useradd,
// groupadd), tar, gzip and coreutils; ensureBaseImage checks them.
var baseInclude = []string{"ca-certificates", "curl", "gpgv", "bzip2", "xz-utils"}

// baseTools are the files the base image must hold; a missing one fails
// the setup instead of a confusing build.
var baseTools = []string{
	"usr/sbin/useradd", "usr/sbin/groupadd", "usr/bin/curl", "usr/bin/gpgv",
	"usr/bin/sha256sum", "bin/tar", "bin/gzip", "bin/bzip2", "usr/bin/xz",
	"etc/ssl/certs/ca-certificates.crt",
}

const debootstrapTimeout = 15 * time.Minute

// baseRepo is where base images are kept in the suite's storage.
const baseRepo = "localhost/coinpipe-e2e/base"

// cacheDir is where the suite keeps its base image between runs:
// $COINPIPE_E2E_CACHE, else $XDG_CACHE_HOME/coinpipe-e2e, else
// ~/.cache/coinpipe-e2e.
func cacheDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("COINPIPE_E2E_CACHE")
	if dir == "" {
		user, err := os.UserCacheDir()
		if err != nil {
			t.Fatalf("finding the cache directory: %v (set COINPIPE_E2E_CACHE)", err)
		}
		dir = filepath.Join(user, "coinpipe-e2e")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("making the cache directory: %v", err)
	}
	return dir
}

// baseKey names one base image: it changes whenever what debootstrap is
// asked for changes, so an old cached image is never reused by mistake.
func baseKey() string {
	sum := sha256.Sum256([]byte(strings.Join([]string{baseVariant, baseSuite, runtime.GOARCH, strings.Join(baseInclude, ",")}, " ")))
	return hex.EncodeToString(sum[:6])
}

// baseRef is the current base image's reference.
func baseRef() string { return baseRepo + ":" + baseKey() }

// ensureBaseImage returns the local base image, making it with debootstrap
// the first time.
func ensureBaseImage(ctx context.Context, t *testing.T, b *buildah, cache string) string {
	t.Helper()
	key := baseKey()
	ref := baseRef()
	if b.imageExists(ctx, ref) {
		t.Logf("reusing base image %s", ref)
		return ref
	}
	start := time.Now()
	rootfs := filepath.Join(cache, "rootfs-"+key)
	debootstrap(ctx, t, rootfs)
	defer removeRootfs(t, rootfs) // the committed image is the cache
	commitRootfs(ctx, t, b, rootfs, ref)
	t.Logf("made base image %s in %s", ref, time.Since(start).Round(time.Second))
	return ref
}

// debootstrap makes a minimal Debian root filesystem in dir from the host's
// own Debian mirror, the only one this network reaches.
func debootstrap(ctx context.Context, t *testing.T, dir string) {
	t.Helper()
	mirror := debianMirror(t, baseSuite)
	removeRootfs(t, dir) // a failed run's leftovers
	t.Logf("debootstrap %s from %s into %s (about a minute)", baseSuite, mirror, dir)
	run(ctx, debootstrapTimeout, "debootstrap", "--variant="+baseVariant, "--include="+strings.Join(baseInclude, ","),
		baseSuite, dir, mirror).must(t)
	for _, tool := range baseTools {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			t.Fatalf("the debootstrapped base lacks /%s; add its package to baseInclude", tool)
		}
	}
	unmountUnder(t, dir)
	// What a slim image leaves out: downloaded packages, package lists and
	// the device nodes debootstrap made (the runtime provides /dev).
	for _, pattern := range []string{"var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "dev/*", "proc/*", "sys/*"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if filepath.Base(m) == "partial" || filepath.Base(m) == "lock" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// commitRootfs turns a root filesystem into an image: a scratch container,
// mounted, filled with cp -a (which keeps owners, modes and hard links,
// unlike buildah add), then committed.
func commitRootfs(ctx context.Context, t *testing.T, b *buildah, rootfs, ref string) {
	t.Helper()
	name := strings.TrimSpace(b.run(ctx, quickTimeout, "from", "--name", "coinpipe-e2e-base-"+baseKey(), "scratch").must(t))
	committed := false
	defer func() {
		if !committed {
			b.run(context.WithoutCancel(ctx), quickTimeout, "rm", name)
		}
	}()
	mnt := strings.TrimSpace(b.run(ctx, quickTimeout, "mount", name).must(t))
	run(ctx, buildTimeout, "cp", "-a", rootfs+"/.", mnt+"/").must(t)
	b.run(ctx, quickTimeout, "config", "--os", "linux", "--arch", runtime.GOARCH,
		"--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--cmd", "bash", "--label", "org.opencontainers.image.title=coinpipe-e2e debootstrap "+baseSuite, name).must(t)
	b.run(ctx, quickTimeout, "umount", name).must(t)
	b.run(ctx, quickTimeout, "commit", "--rm", "--timestamp", "0", name, ref).must(t)
	committed = true
}

// removeRootfs deletes a debootstrap target, never through a mount left
// inside it (debootstrap mounts /proc and /sys in the target and an
// interrupted run may leave them there).
func removeRootfs(t *testing.T, dir string) {
	t.Helper()
	unmountUnder(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatalf("removing %s: %v", dir, err)
	}
}

// unmountUnder unmounts everything mounted below dir, deepest first, and
// fails the test if something stays mounted.
func unmountUnder(t *testing.T, dir string) {
	t.Helper()
	mounts := func() []string {
		src, err := os.ReadFile("/proc/self/mounts")
		if err != nil {
			t.Fatalf("reading mounts: %v", err)
		}
		var under []string
		for _, line := range strings.Split(string(src), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
				under = append(under, f[1])
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(under)))
		return under
	}
	for _, m := range mounts() {
		syscall.Unmount(m, syscall.MNT_DETACH)
	}
	if left := mounts(); len(left) > 0 {
		t.Fatalf("cannot unmount %s; remove them by hand before the next run", strings.Join(left, ", "))
	}
}

// debianMirror is the Debian mirror the host's apt uses for suite
// ($COINPIPE_E2E_DEBIAN_MIRROR overrides it for the base suite).
func debianMirror(t *testing.T, suite string) string {
	t.Helper()
	if m := os.Getenv("COINPIPE_E2E_DEBIAN_MIRROR"); m != "" && suite == baseSuite {
		return m
	}
	files := []string{"/etc/apt/sources.list"}
	for _, pattern := range []string{"/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorFromSources(string(src), strings.HasSuffix(f, ".sources"), suite); m != "" {
			return m
		}
	}
	t.Fatalf("no deb source for %s in /etc/apt/sources.list(.d); set COINPIPE_E2E_DEBIAN_MIRROR", suite)
	return ""
}

// mirrorFromSources finds the first "deb" URI serving suite in a one-line
// style sources.list or a deb822 .sources file.
func mirrorFromSources(src string, deb822 bool, suite string) string {
	if !deb822 {
		sc := bufio.NewScanner(strings.NewReader(src))
		for sc.Scan() {
			f := strings.Fields(strings.SplitN(sc.Text(), "#", 2)[0])
			if len(f) > 1 && strings.HasPrefix(f[1], "[") { // deb [arch=amd64 signed-by=...] URI suite ...
				end := slices.IndexFunc(f, func(s string) bool { return strings.HasSuffix(s, "]") })
				f = append(f[:1], f[end+1:]...)
			}
			if len(f) >= 3 && f[0] == "deb" && f[2] == suite {
				return f[1]
			}
		}
		return ""
	}
	for _, stanza := range strings.Split(src, "\n\n") {
		fields := map[string][]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(k)] = strings.Fields(v)
			}
		}
		if !slices.Contains(fields["types"], "deb") || !slices.Contains(fields["suites"], suite) || len(fields["uris"]) == 0 {
			continue
		}
		if e := fields["enabled"]; len(e) == 1 && e[0] == "no" {
			continue
		}
		return fields["uris"][0]
	}
	return ""
}

// lockCache keeps the cache to one run at a time, until the test ends:
// runs share the base image and sweep each other's leftovers.
func lockCache(t *testing.T, cache string) {
	t.Helper()
	t.Cleanup(lockFile(t, filepath.Join(cache, "lock")))
}

// lockFile takes an exclusive lock on path and returns its release.
func lockFile(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("locking %s: %v", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking %s: %v", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
