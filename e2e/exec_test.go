package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// requireTools skips the test when a tool it drives is missing or the test
// does not run as root (debootstrap and buildah's vfs driver need root),
// except in CI (CI=true), where either fails it.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	testenv.RequireTools(t, tools...)
	if os.Geteuid() != 0 {
		const reason = "e2e: must run as root: debootstrap and buildah's vfs storage need it"
		if os.Getenv("CI") == "true" {
			t.Fatal(reason + " (CI=true: the suite must run, not skip)")
		}
		t.Skip(reason)
	}
}

// cmdResult is a finished command: its combined output and exit error.
type cmdResult struct {
	Line   string // the command line, for messages
	Output string // stdout and stderr interleaved, as a person would see them
	Err    error
}

// run runs a command with a deadline and returns what it printed. A
// command still running at the deadline is killed and reported as timed out.
func run(ctx context.Context, timeout time.Duration, name string, args ...string) cmdResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return cmdResult{Line: name + " " + strings.Join(args, " "), Output: out.String(), Err: err}
}

// must fails the test when the command failed, showing its output.
func (r cmdResult) must(t *testing.T) string {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: %v\n%s", r.Line, r.Err, tail(r.Output, 60))
	}
	return r.Output
}

// tail keeps the last n lines of s: what matters in a long build log.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[... %d lines ...]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}
