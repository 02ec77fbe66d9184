package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// run drives coinpipe in-process, as a user would from a shell, with an
// empty environment.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runEnv(t, nil, args...)
}

// runEnv is run with the given environment variables, and nothing else.
func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runCtx(t.Context(), env, args...)
}

func runCtx(ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	return runDeps(ctx, env, nil, args...)
}

// runDeps is runCtx with dependencies changed by configure (shorter
// download timeouts).
func runDeps(ctx context.Context, env map[string]string, configure func(*deps), args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	d := newDeps(&out, &errOut, func(k string) string { return env[k] }, time.Now)
	if configure != nil {
		configure(d)
	}
	code = execute(ctx, d, args)
	return code, out.String(), errOut.String()
}

// copyCoin copies the manifest test fixture into a fresh coins folder.
func copyCoin(t testing.TB) string {
	t.Helper()
	coins := t.TempDir()
	testenv.CopyTree(t, "../../manifest/testdata/coins/monero", filepath.Join(coins, "monero"))
	return coins
}

func TestValidate(t *testing.T) {
	coins := copyCoin(t)
	code, out, _ := run(t, "validate", "--coins", coins)
	if code != ExitOK || out != "ok\tmonero\t0.18.5.1\n" {
		t.Fatalf("validate: code %d, stdout %q", code, out)
	}

	file := filepath.Join(coins, "monero", "coin.yaml")
	src, _ := os.ReadFile(file)
	bad := strings.NewReplacer("name: monero", "name: Monero", "uid: 10002", "uid: 0", "format: monero", "format: md5").Replace(string(src))
	os.WriteFile(file, []byte(bad), 0o644)
	code, out, errOut := run(t, "validate", "--coins", coins)
	want := file + `:2:7: name: "Monero" must be lower-case letters, digits and inner dashes ([a-z0-9-]+)
` + file + `:19:13: release.checksums.format: unknown format "md5"; use sha256sum, monero or gitian-assert
` + file + `:31:8: image.uid: must not be 0 (root)
coinpipe: 3 problems
`
	if code != ExitInvalidInput || out != "" || errOut != want {
		t.Fatalf("validate of a broken manifest: code %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

func TestInvalidInvocations(t *testing.T) {
	coins := copyCoin(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--coins", coins, "dogecoin"}, `unknown coin "dogecoin"`},
		{[]string{"validate", "--coins", filepath.Join(coins, "monero", "keys")}, "no coins found"},
		{[]string{"generate", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"version", "extra"}, `coinpipe version takes no arguments, got "extra"`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"; run coinpipe --help`},
	} {
		code, _, errOut := run(t, tt.args...)
		if code != ExitInvalidInput || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: code %d, stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestGenerateAndCheck(t *testing.T) {
	coins, out := copyCoin(t), t.TempDir()
	dir := filepath.Join(out, "monero")

	code, stdout, errOut := run(t, "generate", "--coins", coins, "--out", out)
	if code != ExitOK || stdout != dir+": 14 changes written\n" {
		t.Fatalf("generate: code %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ = run(t, "generate", "--coins", coins, "--out", out); code != ExitOK || stdout != dir+": up to date\n" {
		t.Fatalf("second generate: code %d, stdout %q", code, stdout)
	}
	if code, stdout, _ = run(t, "generate", "--check", "--coins", coins, "--out", out); code != ExitOK || stdout != dir+": up to date\n" {
		t.Fatalf("check of fresh output: code %d, stdout %q", code, stdout)
	}

	// Hand edits are drift: --check lists them, exits 1 and writes nothing.
	dockerfile := filepath.Join(dir, "Dockerfile")
	os.WriteFile(dockerfile, []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644)
	code, stdout, errOut = run(t, "generate", "--check", "--coins", coins, "--out", out)
	wantOut := filepath.Join(dir, "Dockerfile") + ": would be changed\n" + filepath.Join(dir, "extra.txt") + ": would be removed\n"
	if code != ExitFailure || stdout != wantOut || !strings.Contains(errOut, "2 files out of date: run coinpipe generate") {
		t.Fatalf("check with drift: code %d, stdout %q, stderr %q", code, stdout, errOut)
	}
	if b, _ := os.ReadFile(dockerfile); string(b) != "FROM scratch\n" {
		t.Fatal("--check wrote a file")
	}
	if code, _, _ = run(t, "generate", "--coins", coins, "--out", out); code != ExitOK {
		t.Fatal("generate after drift failed")
	}
	if code, _, _ = run(t, "generate", "--check", "--coins", coins, "--out", out); code != ExitOK {
		t.Fatal("generate did not repair the drift")
	}
}

// A broken manifest stops generate before anything is written.
func TestGenerateInvalidWritesNothing(t *testing.T) {
	coins, out := copyCoin(t), t.TempDir()
	file := filepath.Join(coins, "monero", "coin.yaml")
	src, _ := os.ReadFile(file)
	os.WriteFile(file, bytes.Replace(src, []byte("uid: 10002"), []byte("uid: 0"), 1), 0o644)
	if code, _, _ := run(t, "generate", "--coins", coins, "--out", out); code != ExitInvalidInput {
		t.Fatalf("generate of an invalid coin: code %d, want 2", code)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("generate wrote %v for an invalid coin", entries)
	}
}

// --out pointing at the coins folder would replace the manifests with
// their rendering: refused before anything is written.
func TestGenerateRefusesItsOwnInput(t *testing.T) {
	coins := copyCoin(t)
	code, _, errOut := run(t, "generate", "--coins", coins, "--out", coins)
	if code != ExitInvalidInput || !strings.Contains(errOut, "would write over the coin's own folder") {
		t.Fatalf("generate --out = --coins: code %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(coins, "monero", "Dockerfile")); err == nil {
		t.Fatal("generate wrote into the coin's folder")
	}
	// --check writes nothing, so comparing a folder with itself is allowed
	// (the conformance job does it): it reports the missing rendered files.
	if code, stdout, _ := run(t, "generate", "--check", "--coins", coins, "--out", coins); code != ExitFailure || !strings.Contains(stdout, "Dockerfile: would be added") {
		t.Fatalf("generate --check --out = --coins: code %d, stdout %q", code, stdout)
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, verb := range []string{"validate", "generate"} {
		code, out, _ := run(t, verb, "--help")
		if code != ExitOK || !strings.Contains(out, "Examples:") || !strings.Contains(out, "coinpipe "+verb) {
			t.Errorf("%s --help: code %d, no examples in:\n%s", verb, code, out)
		}
	}
}
