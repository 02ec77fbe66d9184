package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sparse makes a file of size bytes that takes no disk space.
func sparse(t *testing.T, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

// Every way a command line can be wrong, through the command: the exit
// code says whose fault it is (docs/architecture.md §5) and stderr says what.
func TestExitCodes(t *testing.T) {
	sums := btcDir + "achow101/all.SHA256SUMS"
	asc := btcDir + "achow101/all.SHA256SUMS.asc"
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	bigKey, bigSig := sparse(t, 2<<20), sparse(t, 2<<20)
	bigText, bigArchive := sparse(t, 65<<20), sparse(t, 5<<30)
	notADir := sums
	coins := t.TempDir()
	writeCoin(t, coins, "btc", "26.0", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA),
		map[string][]byte{"achow101.asc": mustRead(t, histAchow), "fanquake.asc": mustRead(t, fanquake)})
	emptyDir := t.TempDir()
	vs := func(args ...string) []string { return append([]string{"verify-signature"}, args...) }

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // the whole of stderr
	}{
		// Missing or wrong folders: typos, not failed verifications.
		{"verify --dir missing", []string{"verify", "--coins", coins, "--dir", "/nonexistent", "btc"}, ExitInvalidInput,
			"coinpipe: --dir /nonexistent: no such folder\n"},
		{"verify --dir a file", []string{"verify", "--coins", coins, "--dir", notADir, "btc"}, ExitInvalidInput,
			"coinpipe: --dir " + notADir + ": is a regular file, not a folder\n"},
		{"verify --dir without the checksums", []string{"verify", "--coins", coins, "--dir", emptyDir, "btc"}, ExitInvalidInput,
			"coinpipe: reading SHA256SUMS for --dir: " + emptyDir + "/SHA256SUMS does not exist\n"},
		{"validate --coins missing", []string{"validate", "--coins", "/nonexistent"}, ExitInvalidInput,
			"coinpipe: --coins /nonexistent: no such folder\n"},
		{"generate --coins missing", []string{"generate", "--coins", "/nonexistent", "--out", t.TempDir()}, ExitInvalidInput,
			"coinpipe: --coins /nonexistent: no such folder\n"},

		// Local inputs that are not regular files, or too large: refused
		// before a byte is read.
		{"signature from /dev/zero", vs("--key", fanquake, "--signature", "/dev/zero", sums), ExitInvalidInput,
			"coinpipe: --signature: /dev/zero is a character device, not a regular file; name a regular file\n"},
		{"FILE is /dev/zero, detached", vs("--key", fanquake, "--signature", asc, "/dev/zero"), ExitInvalidInput,
			"coinpipe: /dev/zero is a character device, not a regular file; name a regular file\n"},
		{"FILE is /dev/zero, clearsigned", vs("--key", fanquake, "/dev/zero"), ExitInvalidInput,
			"coinpipe: /dev/zero is a character device, not a regular file; name a regular file\n"},
		{"key from /dev/zero", vs("--key", "/dev/zero", sums), ExitInvalidInput,
			"coinpipe: --key: /dev/zero is a character device, not a regular file; name a regular file\n"},
		{"FILE is a named pipe", vs("--key", fanquake, "--signature", asc, fifo), ExitInvalidInput,
			"coinpipe: " + fifo + " is a named pipe (FIFO), not a regular file; name a regular file\n"},
		{"FILE is a folder", vs("--key", fanquake, "--signature", asc, emptyDir), ExitInvalidInput,
			"coinpipe: " + emptyDir + " is a directory, not a regular file; name a regular file\n"},
		{"key file over 1 MiB", vs("--key", bigKey, sums), ExitInvalidInput,
			"coinpipe: --key: " + bigKey + " is 2 MiB, more than the 1 MiB limit\n"},
		{"signature file over 1 MiB", vs("--key", fanquake, "--signature", bigSig, sums), ExitInvalidInput,
			"coinpipe: --signature: " + bigSig + " is 2 MiB, more than the 1 MiB limit\n"},
		{"clearsigned FILE over 64 MiB", vs("--key", fanquake, bigText), ExitInvalidInput,
			"coinpipe: " + bigText + " is 65 MiB, more than the 64 MiB limit\n"},
		{"signed FILE over 4 GiB", vs("--key", fanquake, "--signature", asc, bigArchive), ExitInvalidInput,
			"coinpipe: " + bigArchive + " is 5 GiB, more than the 4 GiB limit\n"},
		{"missing FILE", vs("--key", fanquake, "--signature", asc, "/nonexistent"), ExitInvalidInput,
			"coinpipe: /nonexistent does not exist\n"},

		// Flag values.
		{"threshold not a number", vs("--key", fanquake, "--threshold", "two", sums), ExitInvalidInput,
			`coinpipe: invalid argument "two" for "--threshold" flag: strconv.ParseInt: parsing "two": invalid syntax` + "\n"},
		{"threshold above the keys", vs("--key", fanquake, "--threshold", "5", "--signature", asc, sums), ExitInvalidInput,
			"coinpipe: --threshold 5 can never be met: the --key files hold 1 distinct key\n"},

		// Verbs and help.
		{"a typo in a verb", []string{"verfy"}, ExitInvalidInput, `coinpipe: unknown command "verfy"; did you mean "verify"?` + "\n"},
		{"an unknown verb", []string{"frobnicate"}, ExitInvalidInput, `coinpipe: unknown command "frobnicate"; run coinpipe --help` + "\n"},
		{"help on an unknown verb", []string{"help", "frobnicate"}, ExitInvalidInput, `coinpipe: unknown help topic "frobnicate"; run coinpipe help` + "\n"},
		{"help on a typo", []string{"help", "genrate"}, ExitInvalidInput, `coinpipe: unknown help topic "genrate"; did you mean "generate"?` + "\n"},
		{"help on a verb", []string{"help", "verify"}, ExitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code || stderr != tt.stderr {
				t.Errorf("exit %d, want %d\nstderr: %q\nwant:   %q\nstdout:\n%s", code, tt.code, stderr, tt.stderr, stdout)
			}
			// Refused without reading: /dev/zero and 5 GiB take no time.
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

// Downloads that fail are operational failures (1), with a message naming
// the URL; a mirror dripping a byte at a time cannot keep verify alive.
func TestVerifyDownloadFailures(t *testing.T) {
	keys := map[string][]byte{"achow101.asc": mustRead(t, histAchow), "fanquake.asc": mustRead(t, fanquake)}
	sums := mustRead(t, btcDir+"achow101/all.SHA256SUMS")
	const sumsURL = "https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS"
	tests := []struct {
		name   string
		setup  func(m interface{ Fail(string, int) }, slow func(string, time.Duration), stall func(string))
		stderr string // last line of stderr, after "coinpipe: "
	}{
		{"server error", func(m interface{ Fail(string, int) }, _ func(string, time.Duration), _ func(string)) {
			m.Fail(sumsURL, 500)
		},
			"GET {mirror}/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS: HTTP 500 Internal Server Error"},
		{"one byte every 10ms", func(_ interface{ Fail(string, int) }, slow func(string, time.Duration), _ func(string)) {
			slow(sumsURL, 10*time.Millisecond)
		},
			"downloading {mirror}/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS: took longer than 300ms"},
		{"stalls", func(_ interface{ Fail(string, int) }, _ func(string, time.Duration), stall func(string)) {
			stall(sumsURL)
		},
			"downloading {mirror}/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS: no data for 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, env := upstream(t, map[string][]byte{"bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS": sums})
			tt.setup(m, m.SlowDrip, m.Stall)
			coins := t.TempDir()
			writeCoin(t, coins, "btc", "26.0", btcRelease2("bitcoin-{version}-x86_64-linux-gnu.tar.gz", btcSHA), keys)
			start := time.Now()
			code, _, stderr := runDeps(t.Context(), env, func(d *deps) {
				d.downloads.Attempts, d.downloads.Backoff = 2, time.Millisecond
				d.downloads.IdleTimeout, d.downloads.FetchTimeout = 50*time.Millisecond, 300*time.Millisecond
			}, "verify", "--coins", coins, "btc")
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			want := "coinpipe: " + strings.ReplaceAll(tt.stderr, "{mirror}", m.URL)
			if code != ExitFailure || lines[len(lines)-1] != want {
				t.Errorf("exit %d, want 1\nstderr: %s\nwant last line: %s", code, stderr, want)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}
