package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// ciTools is where .ci/run installs gitlab-ci-local and Node 22 (npm).
const ciTools = "../.ci/tools/node_modules/.bin"

// TestDaemonPipelineConformance runs the conformance job of
// templates/ci/daemon.yml for real with gitlab-ci-local, in a daemon
// repository rendered from coins/monero: it passes on fresh output and fails,
// naming the file, after a hand edit.
func TestDaemonPipelineConformance(t *testing.T) {
	if abs, err := filepath.Abs(ciTools); err == nil {
		t.Setenv("PATH", abs+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	requireTools(t, "gitlab-ci-local", "node", "git", "rsync", "go")
	ctx := context.Background()

	// The job installs coinpipe unless it is on PATH: put this tree's there.
	bin := t.TempDir()
	run(ctx, 5*time.Minute, "go", "build", "-o", filepath.Join(bin, "coinpipe"), "../cmd/coinpipe").must(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	out := t.TempDir()
	m, err := manifest.Open("../coins/monero")
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Render(m, generator.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := generator.Write(t.Context(), out, m.Name, files); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(out, m.Name)
	// The generated .gitlab-ci.yml includes daemon.yml from the toolkit
	// project, which is not reachable here: run this tree's copy directly.
	// A hidden folder is not the generator's, so it is not drift.
	daemonYML, err := os.ReadFile("../templates/ci/daemon.yml")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(repo, ".under-test"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, ".under-test", "daemon.yml"), daemonYML, 0o644); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		full := append([]string{"-C", repo, "-c", "user.name=coinpipe", "-c", "user.email=e2e@coinpipe.invalid"}, args...)
		run(ctx, time.Minute, "git", full...).must(t)
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "rendered by coinpipe")

	conformance := func() cmdResult {
		cmd := exec.CommandContext(ctx, "gitlab-ci-local", "--force-shell-executor", "--file", ".under-test/daemon.yml",
			"--variable", "COIN="+m.Name, "--variable", "COIN_VERSION="+m.Version, "conformance")
		cmd.Dir = repo
		b, err := cmd.CombinedOutput()
		return cmdResult{Line: strings.Join(cmd.Args, " "), Output: string(b), Err: err}
	}

	if r := conformance(); r.Err != nil || !strings.Contains(r.Output, "/monero: up to date") || !strings.Contains(r.Output, "PASS  conformance") {
		t.Fatalf("conformance of a fresh daemon repo: %v\n%s", r.Err, tail(r.Output, 40))
	}

	f, _ := os.OpenFile(filepath.Join(repo, "Dockerfile"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("RUN echo edited by hand\n")
	f.Close()
	r := conformance()
	if r.Err == nil || !strings.Contains(r.Output, "/monero/Dockerfile: would be changed") || !strings.Contains(r.Output, "FAIL  conformance") {
		t.Fatalf("conformance after a hand edit should fail naming the Dockerfile: %v\n%s", r.Err, tail(r.Output, 40))
	}
}
