package e2e

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The unit's docker run, as buildah run applies it on this machine (chroot
// isolation: no OCI runtime, so no published port, health scheduler or
// memory cgroup). Every flag of the rendered ExecStart is either applied or
// named here as not applicable, so a new hardening flag in the unit fails
// the e2e until it is applied or listed (and e2e/README.md says which).
var unitFlagsNotRun = map[string]string{
	"--rm":                  "buildah rm at the end of the test",
	"--name":                "one working container per test",
	"--env-file":            "empty, as ExecStartPre creates it",
	"--publish":             "no OCI runtime here: generator's TestRPCAnswersWherePublished checks the rendered config against the published ports",
	"--health-cmd":          "coinpipe-health is run directly, as the health check runs it",
	"--health-interval":     "no health scheduler",
	"--health-timeout":      "no health scheduler",
	"--health-retries":      "no health scheduler",
	"--health-start-period": "no health scheduler",
	"--stop-signal":         "the synthetic daemon exits by itself",
	"--stop-timeout":        "the synthetic daemon exits by itself",
	"--log-driver":          "output is read from buildah run",
	"--memory":              "no cgroup limit under chroot isolation",
}

// unitBoolFlags take no value.
var unitBoolFlags = map[string]bool{"--rm": true, "--read-only": true}

// hardened is a working container run the way node@.service runs it.
type hardened struct {
	c          *container
	flags      []string          // buildah run flags
	noNewPrivs bool              // run buildah under setpriv --no-new-privs
	tmpfs      map[string]string // container path -> the host tmpfs behind it
	// unrestricted is /proc/self/status in the container without the
	// unit's flags.
	unrestricted map[string]string
}

// unitExecStart is the words of the unit's ExecStart, continuation lines
// joined.
func unitExecStart(t *testing.T, unit []byte) []string {
	t.Helper()
	joined := strings.ReplaceAll(string(unit), "\\\n", " ")
	var starts []string
	for _, line := range strings.Split(joined, "\n") {
		if rest, ok := strings.CutPrefix(line, "ExecStart="); ok {
			starts = append(starts, rest)
		}
	}
	if len(starts) != 1 {
		t.Fatalf("node@.service has %d ExecStart lines, want 1", len(starts))
	}
	words := strings.Fields(starts[0])
	if len(words) < 3 || words[0] != "/usr/bin/docker" || words[1] != "run" {
		t.Fatalf("ExecStart is not docker run: %s", starts[0])
	}
	return words[2:]
}

// runAsUnit makes a working container of tag and applies the rendered
// unit's docker run flags to it. hostFiles maps the unit's --volume host
// paths to the test's stand-ins.
func (s *suite) runAsUnit(t *testing.T, tag string, unit []byte, hostFiles map[string]string) *hardened {
	t.Helper()
	h := &hardened{c: s.b.fromImage(s.ctx, t, tag), tmpfs: map[string]string{}}
	words := unitExecStart(t, unit)
	image := words[len(words)-1]
	if strings.HasPrefix(image, "-") {
		t.Fatalf("ExecStart ends with flag %s, not the image", image)
	}
	readOnly := false
	var mountpoints []string // what the runtime creates before the root turns read-only
	for i := 0; i < len(words)-1; i++ {
		flag, value := words[i], ""
		if !unitBoolFlags[flag] {
			if i+1 >= len(words)-1 {
				t.Fatalf("ExecStart flag %s has no value", flag)
			}
			i++
			value = words[i]
		}
		switch flag {
		case "--cap-drop", "--cap-add":
			h.flags = append(h.flags, flag, value)
		case "--security-opt":
			// buildah 1.28 refuses it ("no-new-privileges is not supported"),
			// but the flag is inherited: buildah started with it set passes
			// it to the container.
			if value != "no-new-privileges" {
				t.Errorf("node@.service runs with --security-opt %s, which this test cannot apply", value)
			}
			h.noNewPrivs = true
		case "--read-only":
			readOnly = true
		case "--tmpfs":
			// buildah's tmpfs takes no uid/gid: a tmpfs mounted on the host
			// with the unit's options is bound in instead.
			path, opts, _ := strings.Cut(value, ":")
			h.tmpfs[path] = mountTmpfs(t, opts)
			h.flags = append(h.flags, "--volume", h.tmpfs[path]+":"+path)
			mountpoints = append(mountpoints, path+"/")
		case "--volume":
			parts := strings.Split(value, ":")
			host, ok := hostFiles[parts[0]]
			if !ok || len(parts) < 2 {
				t.Fatalf("node@.service mounts %s, for which the test has no stand-in", value)
			}
			parts[0] = host
			h.flags = append(h.flags, "--volume", strings.Join(parts, ":"))
			if info, err := os.Stat(host); err == nil && info.IsDir() {
				mountpoints = append(mountpoints, parts[1]+"/")
			} else {
				mountpoints = append(mountpoints, parts[1])
			}
		default:
			if _, ok := unitFlagsNotRun[flag]; !ok {
				t.Errorf("node@.service runs docker with %s %s, which this test neither applies nor lists in unitFlagsNotRun", flag, value)
			}
		}
	}
	// A first run without the unit's flags lets buildah create its own
	// mountpoints (/etc/hosts, ...), which it opens for writing even when
	// they exist; docker too creates every mountpoint before it makes the
	// root read-only. buildah removes /run/.containerenv after each run.
	h.unrestricted = procStatus(h.c.exec(s.ctx, "cat", "/proc/self/status").must(t))
	if readOnly {
		makeMountpoints(t, h.c.root, append(mountpoints, "/run/.containerenv"))
		bindReadOnly(t, h.c.root)
	} else {
		t.Error("node@.service does not run the container with --read-only")
	}
	return h
}

// statusMarker starts the line that carries the command's exit status.
const statusMarker = "coinpipe-e2e: exit status "

// exec runs argv in the container with the unit's restrictions. After the
// command, buildah 1.28 removes its /run/.containerenv, which the read-only
// root refuses, and exits 2 (a nil logger panics on that error). So a
// shell prints the command's own exit status, which decides; without that
// line the command never ran.
func (h *hardened) exec(ctx context.Context, argv ...string) cmdResult {
	args := append(h.c.b.storageArgs(), "run", "--isolation", "chroot")
	args = append(append(append(args, h.flags...), h.c.name, "--", "sh", "-c", `"$@"; echo "`+statusMarker+`$?"`, "sh"), argv...)
	var res cmdResult
	if h.noNewPrivs {
		res = run(ctx, quickTimeout, "setpriv", append([]string{"--no-new-privs", "buildah"}, args...)...)
	} else {
		res = run(ctx, quickTimeout, "buildah", args...)
	}
	i := strings.LastIndex(res.Output, statusMarker)
	if i < 0 {
		if res.Err == nil {
			res.Err = errors.New("no exit status: the command did not run")
		}
		return res
	}
	status, _, _ := strings.Cut(res.Output[i+len(statusMarker):], "\n")
	res.Output, res.Err = res.Output[:i], nil
	if status != "0" {
		res.Err = fmt.Errorf("exit status %s", status)
	}
	return res
}

// mountTmpfs mounts a tmpfs with docker --tmpfs options (rw, noexec,
// nosuid, size=, uid=, gid=, mode=) on a new folder; Cleanup unmounts it.
func mountTmpfs(t *testing.T, opts string) string {
	t.Helper()
	dir := t.TempDir()
	var flags uintptr
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch {
		case o == "rw":
		case o == "noexec":
			flags |= syscall.MS_NOEXEC
		case o == "nosuid":
			flags |= syscall.MS_NOSUID
		case strings.HasPrefix(o, "size="), strings.HasPrefix(o, "uid="), strings.HasPrefix(o, "gid="), strings.HasPrefix(o, "mode="):
			data = append(data, o)
		default:
			t.Fatalf("--tmpfs option %q: this test does not know it", o)
		}
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, strings.Join(data, ",")); err != nil {
		t.Fatalf("mounting a tmpfs with %s: %v", opts, err)
	}
	t.Cleanup(func() { unmount(t, dir) })
	return dir
}

// makeMountpoints creates what a runtime creates before making the root
// read-only: folders for paths ending in /, empty files for the others.
func makeMountpoints(t *testing.T, root string, paths []string) {
	t.Helper()
	for _, p := range paths {
		full := filepath.Join(root, p)
		if _, err := os.Lstat(full); err == nil {
			continue
		}
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// bindReadOnly makes root a read-only bind mount of itself: buildah run
// binds the container's root recursively, so the container sees it
// read-only. Cleanup unmounts it before the container is removed.
func bindReadOnly(t *testing.T, root string) {
	t.Helper()
	if err := syscall.Mount(root, root, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("binding the container's root: %v", err)
	}
	t.Cleanup(func() { unmount(t, root) })
	if err := syscall.Mount("", root, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("making the container's root read-only: %v", err)
	}
}

func unmount(t *testing.T, dir string) {
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
		t.Errorf("unmounting %s: %v", dir, err)
	}
}

// procStatus reads the fields of /proc/self/status.
func procStatus(out string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// capSetuid is CAP_SETUID's bit: buildah's chroot isolation keeps it in the
// bounding set (never in the effective, permitted, inheritable or ambient
// sets) to switch to the image's user; docker's --cap-drop ALL does not.
const capSetuid = 1 << 7

// checkCapabilities fails unless the status shows no capability, the
// bounding set aside from what buildah keeps, and no privilege gain.
func checkCapabilities(t *testing.T, status map[string]string) {
	t.Helper()
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		if status[set] != "0000000000000000" {
			t.Errorf("%s is %q, want none", set, status[set])
		}
	}
	bnd, err := strconv.ParseUint(status["CapBnd"], 16, 64)
	if err != nil || bnd&^capSetuid != 0 {
		t.Errorf("CapBnd is %q, want none but CAP_SETUID (buildah's)", status["CapBnd"])
	}
	if status["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs is %q, want 1", status["NoNewPrivs"])
	}
}

// writeProbe tries to create a file in each folder and prints one line per
// folder: "<dir>: writable" or "<dir>: <why not>".
const writeProbe = `for d; do if err=$(touch "$d/.coinpipe-probe" 2>&1); then rm -f "$d/.coinpipe-probe"; echo "$d: writable"; else echo "$d: ${err##*: }"; fi; done`

// mountOptions are the per-mount options of each mount point in
// /proc/self/mountinfo (the last mount of a path wins).
func mountOptions(mountinfo string) map[string][]string {
	opts := map[string][]string{}
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) > 5 {
			opts[f[4]] = strings.Split(f[5], ",")
		}
	}
	return opts
}

// testHardened runs the synthetic daemon under the rendered node@.service's
// restrictions and checks each is in effect inside, that the daemon starts
// and answers, and that the host's overlay reaches its config without the
// secret showing.
// spec is the coin tag was built from: its unit is rendered again (the
// build's folder is gone with its subtest).
func (s *suite) testHardened(t *testing.T, tag string, spec coinSpec) {
	t.Helper()
	requireTools(t, "setpriv") // applies no-new-privileges where buildah cannot
	ctx := s.ctx
	unit, err := os.ReadFile(filepath.Join(render(t, spec), "node@.service"))
	if err != nil {
		t.Fatal(err)
	}
	_, img := s.b.inspect(ctx, t, tag)
	uid := strconv.Itoa(synthUID)

	// The host side as ExecStartPre leaves it: the data dir 0750 and the
	// overlay 0640 root:<uid>, here with a secret.
	host := t.TempDir()
	data := filepath.Join(host, "data")
	overlay := filepath.Join(host, "synth.conf")
	secret := rand.Text() // fresh: nothing could print it but the overlay
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	writeFile(t, overlay, []byte("rpcpassword="+secret+"\n"))
	for _, f := range []struct {
		path     string
		uid, gid int
		mode     os.FileMode
	}{{data, synthUID, synthUID, 0o750}, {overlay, 0, synthUID, 0o640}} {
		if err := os.Chown(f.path, f.uid, f.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	h := s.runAsUnit(t, tag, unit, map[string]string{"/var/lib/coinpipe/synth": data, "/etc/coinpipe/synth.conf": overlay})
	runDir, tmp := h.tmpfs["/run/coinpipe"], h.tmpfs["/tmp"]
	if runDir == "" || tmp == "" {
		t.Fatalf("node@.service mounts no tmpfs at /run/coinpipe and /tmp: %v", h.tmpfs)
	}

	// The same container without the unit's flags has capabilities and
	// may gain privileges: what follows proves the flags, not the image.
	plain := h.unrestricted
	if bnd, _ := strconv.ParseUint(plain["CapBnd"], 16, 64); bnd&^capSetuid == 0 || plain["NoNewPrivs"] != "0" {
		t.Errorf("without the unit's flags CapBnd is %q and NoNewPrivs %q: the checks below would prove nothing", plain["CapBnd"], plain["NoNewPrivs"])
	}
	status := procStatus(h.exec(ctx, "cat", "/proc/self/status").must(t))
	t.Logf("hardened: Uid %s, CapEff %s, CapBnd %s, NoNewPrivs %s, Seccomp %s", status["Uid"], status["CapEff"], status["CapBnd"], status["NoNewPrivs"], status["Seccomp"])
	if got := strings.Fields(status["Uid"]); !slices.Equal(got, []string{uid, uid, uid, uid}) {
		t.Errorf("Uid is %q, want the image's user %s", status["Uid"], uid)
	}
	checkCapabilities(t, status)

	// Read-only everywhere but the data dir and the two tmpfs. The
	// kernel says "Read-only file system" before it looks at permissions,
	// so a folder the user may not write anyway still proves the mount.
	dirs := []string{"/", "/usr/local/bin", "/etc/synth", "/node", "/tmp", "/run/coinpipe", "/node/data"}
	want := "/: Read-only file system\n/usr/local/bin: Read-only file system\n/etc/synth: Read-only file system\n/node: Read-only file system\n" +
		"/tmp: writable\n/run/coinpipe: writable\n/node/data: writable\n"
	if got := h.exec(ctx, append([]string{"sh", "-c", writeProbe, "probe"}, dirs...)...).must(t); got != want {
		t.Errorf("writing as the image's user:\n%s\nwant:\n%s", got, want)
	}
	mounts := mountOptions(h.exec(ctx, "cat", "/proc/self/mountinfo").must(t))
	for path, want := range map[string][]string{
		"/": {"ro"}, "/etc/coinpipe/overlay.conf": {"ro"},
		"/tmp": {"rw", "nosuid", "noexec"}, "/run/coinpipe": {"rw", "nosuid", "noexec"},
	} {
		for _, o := range want {
			if !slices.Contains(mounts[path], o) {
				t.Errorf("%s is mounted %q, want %s", path, mounts[path], o)
			}
		}
	}

	// The image's entry point and command, as docker run starts them.
	start := h.exec(ctx, append(slices.Clone(img.Config.Entrypoint), img.Config.Cmd...)...)
	if start.Err != nil || !strings.Contains(start.Output, genuineDaemon) {
		t.Errorf("the entry point did not start the daemon: %v\n%s", start.Err, tail(start.Output, 40))
	}
	assembled := filepath.Join(runDir, "synth.conf")
	info, err := os.Stat(assembled)
	if err != nil {
		t.Fatalf("the entry point wrote no config on the /run/coinpipe tmpfs: %v", err)
	}
	if st := info.Sys().(*syscall.Stat_t); info.Mode().Perm() != 0o600 || st.Uid != synthUID {
		t.Errorf("the assembled config is %s owned by %d, want 0600 owned by %d", info.Mode().Perm(), st.Uid, synthUID)
	}
	conf, err := os.ReadFile(assembled)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`\A# synth.conf\nrpcbind=127.0.0.1\n\n# Appended at start from the host's /etc/coinpipe/synth.conf:\nrpcpassword=` + secret + `\n\z`).Match(conf) {
		t.Errorf("the assembled config is not the image's base followed by the host's overlay:\n%s", conf)
	}
	// The daemon's config path reaches that file (compared by hash: the
	// test prints no secret either).
	if got := h.exec(ctx, "sha256sum", "/etc/synth/synth.conf").must(t); !strings.HasPrefix(got, sha256Hex(conf)+" ") {
		t.Errorf("/etc/synth/synth.conf is not the assembled config: %s", got)
	}

	if out := h.exec(ctx, "coinpipe-height").must(t); out != "42\n" {
		t.Errorf("coinpipe-height printed %q, want \"42\\n\"", out)
	}
	health := h.exec(ctx, "coinpipe-health")
	if health.Err != nil || health.Output != "healthy: height 42 (first answer)\n" {
		t.Errorf("coinpipe-health: %v %q, want healthy", health.Err, health.Output)
	}
	if state, err := os.ReadFile(filepath.Join(tmp, "coinpipe-health")); err != nil || !regexp.MustCompile(`\A42 [0-9]+\n\z`).Match(state) {
		t.Errorf("the health state on the /tmp tmpfs is %q (%v), want \"42 <epoch>\"", state, err)
	}
	for _, r := range []cmdResult{start, health} {
		if strings.Contains(r.Output, secret) {
			t.Errorf("%s printed the overlay's secret", r.Line)
		}
	}
}
