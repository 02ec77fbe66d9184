package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The process tests run the real binary, built once: signals reach main,
// not a test.
var (
	buildOnce sync.Once
	bin       string
	buildErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "coinpipe-bin-")
		if err != nil {
			buildErr = err
			return
		}
		bin = filepath.Join(dir, "coinpipe")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin != "" {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// lockedBuffer is a bytes.Buffer the test reads while the process writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// synthCoins writes n coins, copies of the monero test manifest named
// coin-0000…, with description as their description.
func synthCoins(t *testing.T, coins string, n int, description string) {
	t.Helper()
	src := filepath.Join(testenv.Root(t), "manifest", "testdata", "coins", "monero")
	yaml, err := os.ReadFile(filepath.Join(src, "coin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("coin-%04d", i)
		dir := filepath.Join(coins, name)
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
		}
		y := strings.Replace(string(yaml), "name: monero\n", "name: "+name+"\n", 1)
		y = strings.Replace(y, "description: Monero full node\n", "description: "+description+"\n", 1)
		if err := os.WriteFile(filepath.Join(dir, "coin.yaml"), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tree hashes a folder's files (paths, modes, contents).
func tree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, _ := d.Info()
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %v %x\n", rel, info.Mode(), sha256.Sum256(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// interrupt starts cmd, sends sig once ready says the work is under way,
// and returns the exit code and how long the process took to exit.
func interrupt(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, ready func() bool) (int, time.Duration) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the command never got under way")
		}
		time.Sleep(time.Millisecond)
	}
	sent := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(sent)
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), took
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10s after %v", sig)
	}
	return 0, 0
}

// SIGINT during generate over many coins: exit 130 promptly, and every
// out/<coin> is either its previous rendering or its new one, whole.
func TestGenerateInterrupted(t *testing.T) {
	bin := buildBinary(t)
	const n = 60 // about 20 ms each on the CI machine: the signal lands mid-run
	work := t.TempDir()
	coins, out, ref := filepath.Join(work, "coins"), filepath.Join(work, "out"), filepath.Join(work, "ref")
	synthCoins(t, coins, n, "the old description")
	if b, err := exec.Command(bin, "generate", "--coins", coins, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("first generate: %v\n%s", err, b)
	}
	old := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("coin-%04d", i)
		old[name] = tree(t, filepath.Join(out, name))
	}
	synthCoins(t, coins, n, "the new description")

	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "generate", "--coins", coins, "--out", out)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code, took := interrupt(t, cmd, syscall.SIGINT, func() bool {
		// A few coins rewritten: the run is well under way.
		return strings.Count(stdout.String(), "written") >= 3
	})
	t.Logf("SIGINT to exit: %v", took)
	if code != 130 || took > 2*time.Second {
		t.Fatalf("exit %d after %v, want 130 within 2s\nstderr:\n%s", code, took, stderr.String())
	}
	if !strings.HasSuffix(stderr.String(), "coinpipe: interrupted by SIGINT\n") {
		t.Errorf("stderr does not end with the interruption:\n%s", stderr.String())
	}

	if b, err := exec.Command(bin, "generate", "--coins", coins, "--out", ref).CombinedOutput(); err != nil {
		t.Fatalf("reference generate: %v\n%s", err, b)
	}
	var fresh, stale int
	for i := range n {
		name := fmt.Sprintf("coin-%04d", i)
		switch got := tree(t, filepath.Join(out, name)); got {
		case tree(t, filepath.Join(ref, name)):
			fresh++
		case old[name]:
			stale++
		default:
			t.Errorf("out/%s is neither its old nor its new rendering", name)
		}
	}
	t.Logf("%d coins rewritten, %d left as they were", fresh, stale)
	if fresh == 0 || stale == 0 {
		t.Errorf("%d rewritten, %d not: the signal did not land mid-run", fresh, stale)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a cancelled run left %s behind", e.Name())
		}
	}
}

// opened reports whether process pid has path open: it is reading it.
func opened(pid int, path string) bool {
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// SIGTERM while verify-signature hashes a large file: exit 143 promptly.
func TestVerifySignatureTerminated(t *testing.T) {
	bin := buildBinary(t)
	vectors := testenv.Vectors(t)
	big := filepath.Join(t.TempDir(), "big.tar.gz")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 3 GiB that take no disk and seconds to hash.
	if err := f.Truncate(3 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "verify-signature",
		"--key", filepath.Join(vectors, "bitcoin-guix/26.0/keys/fanquake.gpg"),
		"--signature", filepath.Join(vectors, "bitcoin-guix/26.0/fanquake/all.SHA256SUMS.asc"), big)
	cmd.Stderr = &stderr
	code, took := interrupt(t, cmd, syscall.SIGTERM, func() bool { return opened(cmd.Process.Pid, big) })
	t.Logf("SIGTERM to exit: %v", took)
	if code != 143 || took > 2*time.Second {
		t.Fatalf("exit %d after %v, want 143 within 2s\nstderr:\n%s", code, took, stderr.String())
	}
	if stderr.String() != "coinpipe: interrupted by SIGTERM\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}

// SIGINT while verify waits on a mirror that stopped sending: exit 130
// at once, not after the download's timeouts.
func TestVerifyInterruptedDownload(t *testing.T) {
	bin := buildBinary(t)
	coins := filepath.Join(t.TempDir(), "coins")
	synthCoins(t, coins, 1, "a coin")
	const hashes = "https://www.getmonero.org/downloads/hashes.txt"
	m := mirror.New(t)
	m.Put(hashes, []byte("a clearsigned file that never arrives"))
	m.Stall(hashes)
	var stderr lockedBuffer
	cmd := exec.Command(bin, "verify", "--coins", coins, "coin-0000")
	cmd.Env = append(os.Environ(), "COINPIPE_DOWNLOAD_MIRROR="+m.URL, "CI=")
	cmd.Stderr = &stderr
	code, took := interrupt(t, cmd, syscall.SIGINT, func() bool { return m.Count(hashes) > 0 })
	t.Logf("SIGINT to exit: %v", took)
	if code != 130 || took > 2*time.Second {
		t.Fatalf("exit %d after %v, want 130 within 2s\nstderr:\n%s", code, took, stderr.String())
	}
	if !strings.HasSuffix(stderr.String(), "\ncoinpipe: interrupted by SIGINT\n") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}
