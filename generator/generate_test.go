package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Generate spreads coins over the cores; what it writes and reports must
// not depend on that. One worker is the sequential run; eight on this
// machine's two cores interleave coins as much as a run can.
func TestGenerateParallelMatchesSequential(t *testing.T) {
	var dirs []string
	for _, root := range []string{"../coins", "testdata/coins"} {
		d, err := manifest.Discover(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d...)
	}
	ms, err := manifest.OpenAll(t.Context(), dirs)
	if err != nil {
		t.Fatal(err)
	}
	run := func(workers int) (string, string) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
		out := t.TempDir()
		// What a command prints as it goes: each coin once, in order.
		var told strings.Builder
		results, err := GenerateEach(t.Context(), out, ms, DefaultOptions, false, func(r Result) {
			fmt.Fprintf(&told, "%s: %v\n", r.Name, r.Changes)
		})
		if err != nil {
			t.Fatal(err)
		}
		var report strings.Builder
		for _, r := range results {
			if r.Err != nil {
				t.Fatalf("%s: %v", r.Name, r.Err)
			}
			fmt.Fprintf(&report, "%s: %v\n", r.Name, r.Changes)
		}
		if told.String() != report.String() {
			t.Errorf("told as it went:\n%s\nreturned:\n%s", told.String(), report.String())
		}
		return report.String(), tree(t, out)
	}
	seqReport, seqTree := run(1)
	parReport, parTree := run(8)
	if parReport != seqReport {
		t.Errorf("results differ:\nsequential:\n%s\nparallel:\n%s", seqReport, parReport)
	}
	if parTree != seqTree {
		t.Error("parallel output differs from the sequential output")
	}
	for i, m := range ms {
		if !strings.HasPrefix(strings.Split(seqReport, "\n")[i], m.Name+": [added ") {
			t.Errorf("result %d is not %s's first write: %s", i, m.Name, strings.Split(seqReport, "\n")[i])
		}
	}
}

// Generate renders each coin over the buffer of the one before: every
// coin's folder must still hold exactly what Render returns for it, and
// the files Render returns must not share memory with each other.
func TestGenerateWritesWhatRenderReturns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // one worker, one buffer for all
	ms := []*manifest.Manifest{openFixture(t, "bitcoin-guix"), openFixture(t, "monero-clearsigned"), openFixture(t, "dogecoin-gitian")}
	out := t.TempDir()
	results, err := Generate(t.Context(), out, ms, DefaultOptions, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if results[i].Err != nil {
			t.Fatalf("%s: %v", m.Name, results[i].Err)
		}
		files := mustRender(t, m)
		want := t.TempDir()
		for _, f := range files {
			p := filepath.Join(want, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
		if got := tree(t, filepath.Join(out, m.Name)); got != tree(t, want) {
			t.Errorf("%s: Generate wrote other files than Render returns", m.Name)
		}
		before := make([]string, len(files))
		for j, f := range files {
			before[j] = string(f.Data)
		}
		for j := range files {
			_ = append(files[j].Data, "# appended\n"...)
		}
		for j, f := range files {
			if string(f.Data) != before[j] {
				t.Errorf("%s: appending to another file wrote into %s", m.Name, f.Path)
			}
		}
	}
}

// A coin that fails leaves the others written, and is the one reported.
func TestGenerateKeepsGoingPastAFailedCoin(t *testing.T) {
	out := t.TempDir()
	ms := []*manifest.Manifest{openFixture(t, "bitcoin-guix"), openFixture(t, "dogecoin-gitian"), openFixture(t, "monero-clearsigned")}
	// A symlinked output folder is refused (UnsafeOutputError).
	if err := os.Symlink(t.TempDir(), filepath.Join(out, "dogecoin-gitian")); err != nil {
		t.Fatal(err)
	}
	results, err := Generate(t.Context(), out, ms, DefaultOptions, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch r.Name {
		case "dogecoin-gitian":
			if r.Err == nil || !strings.Contains(r.Err.Error(), "it is a symbolic link") {
				t.Errorf("%s: %v, want the symlink refused", r.Name, r.Err)
			}
		default:
			if r.Err != nil || len(r.Changes) == 0 {
				t.Errorf("%s: %v, %d changes; want written", r.Name, r.Err, len(r.Changes))
			}
			if _, err := os.Stat(filepath.Join(out, r.Name, "release.sh")); err != nil {
				t.Errorf("%s not written: %v", r.Name, err)
			}
		}
	}
}

// A cancelled run starts no coin and says why for each.
func TestGenerateCancelledStartsNothing(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("interrupted by SIGINT")
	cancel(cause)
	results, err := Generate(ctx, out, []*manifest.Manifest{openFixture(t, "bitcoin-guix")}, DefaultOptions, false)
	if !errors.Is(err, cause) || !errors.Is(results[0].Err, cause) {
		t.Fatalf("Generate after Ctrl-C: %v, %v", err, results[0].Err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a cancelled run wrote %v", entries)
	}
}

// tree is every file under dir with its mode and bytes.
func tree(t testing.TB, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %v", rel, info.Mode())
		if !e.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", data)
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The environment under which the test binary, started by
// BenchmarkGenerate, runs one generate and exits instead of testing.
const (
	benchCoinsEnv = "COINPIPE_BENCH_GENERATE_COINS"
	benchOutEnv   = "COINPIPE_BENCH_GENERATE_OUT"
)

func TestMain(m *testing.M) {
	if coins := os.Getenv(benchCoinsEnv); coins != "" {
		os.Exit(generateProcess(coins, os.Getenv(benchOutEnv)))
	}
	os.Exit(m.Run())
}

// generateProcess is `coinpipe generate --coins coins --out out` without
// the command line: what internal/cli's generate runs (manifest.Discover,
// manifest.OpenAll, Generate), in a process of its own so that nothing is
// cached from an earlier run. It prints how many files changed.
func generateProcess(coins, out string) int {
	ctx := context.Background()
	dirs, err := manifest.Discover(coins, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ms, err := manifest.OpenAll(ctx, dirs)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	results, err := Generate(ctx, out, ms, DefaultOptions, false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	changes := 0
	for _, r := range results {
		if r.Err != nil {
			fmt.Fprintln(os.Stderr, r.Err)
			return 1
		}
		changes += len(r.Changes)
	}
	fmt.Println(changes)
	return 0
}

// benchFleet is 200 coins, each a copy of the real coins/bitcoin (15
// pinned keys, 192 KiB of them) under its own name, in a folder on tmpfs
// (/dev/shm) when the machine has one.
func benchFleet(b *testing.B) (root, coins string) {
	b.Helper()
	base := os.TempDir()
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		base = "/dev/shm"
	}
	root, err := os.MkdirTemp(base, "coinpipe-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(root) })
	src, err := os.ReadFile("../coins/bitcoin/coin.yaml")
	if err != nil {
		b.Fatal(err)
	}
	coins = filepath.Join(root, "coins")
	for i := range benchCoins {
		name := fmt.Sprintf("bitcoin%03d", i)
		dir := filepath.Join(coins, name)
		if err := os.CopyFS(dir, os.DirFS("../coins/bitcoin")); err != nil {
			b.Fatal(err)
		}
		renamed := bytes.Replace(src, []byte("\nname: bitcoin\n"), []byte("\nname: "+name+"\n"), 1)
		if bytes.Equal(renamed, src) {
			b.Fatal("coins/bitcoin/coin.yaml has no line `name: bitcoin` to rename")
		}
		if err := os.WriteFile(filepath.Join(dir, manifest.FileName), renamed, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root, coins
}

const benchCoins = 200

// timeGenerate runs generateProcess in a fresh process and returns its
// wall and CPU (user + system) time and the number of files it changed.
func timeGenerate(b *testing.B, coins, out string) (wall, cpu time.Duration, changes int) {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), benchCoinsEnv+"="+coins, benchOutEnv+"="+out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	stdout, err := cmd.Output()
	wall = time.Since(start)
	if err != nil {
		b.Fatalf("generate: %v: %s", err, stderr.String())
	}
	if changes, err = strconv.Atoi(strings.TrimSpace(string(stdout))); err != nil {
		b.Fatalf("generate printed %q", stdout)
	}
	return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), changes
}

// timeCopy is `cp -r from to`: wall and CPU time.
func timeCopy(b *testing.B, from, to string) (wall, cpu time.Duration) {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), "cp", "-r", from, to)
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("cp -r: %v: %s", err, msg)
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// BenchmarkGenerate is issue 10's contract: generate (first write) of 200
// real-shaped coins, each run a fresh process as `coinpipe generate` is,
// against `cp -r` of the tree it wrote, on the same file system, in the
// same run. x-cp is the ratio of wall times (target ≤ 3); cpu-x-cp the
// ratio of CPU times, which other work on the machine disturbs less
// (generate uses every core, cp one). "unchanged" runs generate again over
// its own output, which must write no file.
func BenchmarkGenerate(b *testing.B) {
	root, coins := benchFleet(b)
	b.Run("first", func(b *testing.B) {
		var gen, genCPU, cp, cpCPU time.Duration
		for n := 0; n < b.N; n++ {
			out := filepath.Join(root, fmt.Sprintf("out-%d", n))
			wall, cpu, changes := timeGenerate(b, coins, out)
			if changes == 0 {
				b.Fatal("a first write changed nothing")
			}
			gen, genCPU = gen+wall, genCPU+cpu
			wall, cpu = timeCopy(b, out, out+"-cp")
			cp, cpCPU = cp+wall, cpCPU+cpu
			os.RemoveAll(out)
			os.RemoveAll(out + "-cp")
		}
		perCoin := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*benchCoins) }
		b.ReportMetric(perCoin(gen), "µs/coin")
		b.ReportMetric(perCoin(cp), "cp-µs/coin")
		b.ReportMetric(gen.Seconds()/cp.Seconds(), "x-cp")
		b.ReportMetric(genCPU.Seconds()/cpCPU.Seconds(), "cpu-x-cp")
	})
	b.Run("unchanged", func(b *testing.B) {
		out := filepath.Join(root, "out-unchanged")
		timeGenerate(b, coins, out)
		var gen time.Duration
		for n := 0; n < b.N; n++ {
			wall, _, changes := timeGenerate(b, coins, out)
			if changes != 0 {
				b.Fatalf("unchanged output rewritten: %d changes", changes)
			}
			gen += wall
		}
		b.ReportMetric(float64(gen.Microseconds())/float64(b.N*benchCoins), "µs/coin")
	})
}
