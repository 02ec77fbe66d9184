package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A coin removed from coins/ leaves out/<coin>: --check reports it, a full
// generate removes it, and nothing that coinpipe did not render is touched.
func TestGenerateRemovedCoin(t *testing.T) {
	coins, out := copyCoin(t), t.TempDir()
	if code, _, stderr := run(t, "generate", "--coins", coins, "--out", out); code != ExitOK {
		t.Fatalf("generate: %d %s", code, stderr)
	}
	// A coin generated earlier, since removed from coins/: the same files
	// under another name.
	gone := filepath.Join(out, "oldcoin")
	if err := os.CopyFS(gone, os.DirFS(filepath.Join(out, "monero"))); err != nil {
		t.Fatal(err)
	}
	// What is not coinpipe's: a folder of notes, a coin.yaml without a
	// rendered Dockerfile, a rendered folder someone made a checkout of.
	keep := map[string]string{
		"notes/todo.txt":           "x",
		"handmade/coin.yaml":       "name: handmade\n",
		"handmade/Dockerfile":      "FROM scratch\n",
		"checkout/.git/HEAD":       "ref: refs/heads/main\n",
		"checkout/coin.yaml":       "name: checkout\n",
		"checkout/Dockerfile":      string(mustRead(t, filepath.Join(out, "monero", "Dockerfile"))),
		"symlinked-elsewhere/keep": "x",
	}
	for p, body := range keep {
		os.MkdirAll(filepath.Join(out, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(out, p), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(gone, filepath.Join(out, "alias")); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run(t, "generate", "--check", "--coins", coins, "--out", out)
	want := filepath.Join(out, "monero") + ": up to date\n" + gone + ": no " + filepath.Join(coins, "oldcoin") + "; would be removed\n"
	if code != ExitFailure || stdout != want || !strings.Contains(stderr, "1 file out of date") {
		t.Fatalf("--check: exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}
	if _, err := os.Stat(gone); err != nil {
		t.Fatal("--check removed a folder")
	}
	// Naming coins renders just those: nothing is pruned.
	if code, stdout, _ := run(t, "generate", "--coins", coins, "--out", out, "monero"); code != ExitOK || strings.Contains(stdout, "removed") {
		t.Fatalf("generate monero: exit %d, stdout %q", code, stdout)
	}

	code, stdout, _ = run(t, "generate", "--coins", coins, "--out", out)
	want = filepath.Join(out, "monero") + ": up to date\n" + gone + ": removed (no " + filepath.Join(coins, "oldcoin") + ")\n"
	if code != ExitOK || stdout != want {
		t.Fatalf("generate: exit %d\nstdout %q\nwant   %q", code, stdout, want)
	}
	if _, err := os.Lstat(gone); !os.IsNotExist(err) {
		t.Errorf("%s is still there: %v", gone, err)
	}
	for p, body := range keep {
		if b, err := os.ReadFile(filepath.Join(out, p)); err != nil || string(b) != body {
			t.Errorf("%s was touched: %v", p, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "alias")); err != nil {
		t.Errorf("the symlink was removed: %v", err)
	}
	if code, _, _ := run(t, "generate", "--check", "--coins", coins, "--out", out); code != ExitOK {
		t.Errorf("--check after generate: exit %d", code)
	}
}

// Staging folders a killed run left behind are listed by --check as drift,
// and removed (or, for a previous output stranded mid-swap, put back) by
// the next generate, which says so on stderr. Other hidden entries stay.
func TestGenerateStaleStaging(t *testing.T) {
	coins, out := copyCoin(t), t.TempDir()
	if code, _, stderr := run(t, "generate", "--coins", coins, "--out", out); code != ExitOK {
		t.Fatalf("generate: %d %s", code, stderr)
	}
	past := time.Now().Add(-time.Hour)
	mkdir := func(name string) string {
		p := filepath.Join(out, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "Dockerfile"), []byte("half written"), 0o644)
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
		return p
	}
	staged, old := mkdir(".monero.new-123456"), mkdir(".monero.new-123456.old")
	others := []string{mkdir(".monero.new-abc"), mkdir(".cache"), mkdir(".other.new-1.bak")}

	code, stdout, stderr := run(t, "generate", "--check", "--coins", coins, "--out", out)
	want := staged + ": left by an interrupted run; would be removed\n" + old + ": left by an interrupted run; would be removed\n" +
		filepath.Join(out, "monero") + ": up to date\n"
	if code != ExitFailure || stdout != want || !strings.Contains(stderr, "2 files out of date") {
		t.Fatalf("--check: exit %d\nstdout %q\nwant   %q\nstderr %q", code, stdout, want, stderr)
	}

	code, stdout, stderr = run(t, "generate", "--coins", coins, "--out", out)
	if code != ExitOK || stdout != filepath.Join(out, "monero")+": up to date\n" {
		t.Fatalf("generate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, p := range []string{staged, old} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
		if !strings.Contains(stderr, `msg="removed a staging folder left by an interrupted run" path=`+p+"\n") {
			t.Errorf("stderr does not report %s:\n%s", p, stderr)
		}
	}
	for _, p := range others {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s, not a staging folder, was removed", p)
		}
	}

	// Killed between the swap's two renames: out/monero is gone and its
	// previous output waits under the .old name. It is put back.
	prev := filepath.Join(out, ".monero.new-42.old")
	if err := os.Rename(filepath.Join(out, "monero"), prev); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(prev, past, past)
	code, stdout, stderr = run(t, "generate", "--coins", coins, "--out", out)
	if code != ExitOK || stdout != filepath.Join(out, "monero")+": up to date\n" ||
		!strings.Contains(stderr, `msg="restored the previous output from a staging folder left by an interrupted run" path=`+prev) {
		t.Fatalf("generate after a cut swap: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
