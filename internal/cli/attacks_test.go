package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The attacks of the verification issue, each through the command a person
// or the watcher runs: every one must exit 3 with a reason that says what
// is wrong. (verify/ tests them against the library too.)
func TestAttacksExit3(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sums := read(btcDir + "achow101/all.SHA256SUMS")
	achow := read(btcDir + "achow101/all.SHA256SUMS.asc")
	all := read(concat(t, btcDir+"achow101/all.SHA256SUMS.asc", btcDir+"fanquake/all.SHA256SUMS.asc", btcDir+"laanwj/all.SHA256SUMS.asc"))
	hashes := read(vectors + "monero/v0.18.5.1/hashes.txt")
	btcKeys := []string{"--key", btcDir + "keys/achow101.gpg", "--key", btcDir + "keys/fanquake.gpg", "--key", btcDir + "keys/laanwj.gpg"}
	monero := []string{"--key", vectors + "monero/keys/binaryfate.asc"}
	garbled := strings.Split(string(all), "\n")
	// Swap one base64 letter for another: still base64, so only the armor's
	// CRC-24 can tell.
	swap := "A"
	if garbled[4][2] == 'A' {
		swap = "B"
	}
	garbled[4] = garbled[4][:2] + swap + garbled[4][3:]

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"one changed hash byte", append(btcKeys, "--signature", write("all.asc", all), write("sums-edited", []byte(strings.Replace(string(sums), "23e5ab22", "23e5ab23", 1)))),
			"bad signature by pinned key"},
		{"a signature from a key that is not pinned", []string{"--key", btcDir + "keys/achow101.gpg", "--key", binaryfate, "--threshold", "2", "--signature", write("all2.asc", all), btcDir + "achow101/all.SHA256SUMS"},
			"only 1 of the 2 required pinned keys made a good signature"},
		{"the same builder's block pasted twice", append(btcKeys, "--threshold", "2", "--signature", write("twice.asc", append(append([]byte{}, achow...), achow...)), btcDir+"achow101/all.SHA256SUMS"),
			"only 1 of the 2 required pinned keys made a good signature"},
		{"a truncated armor block", append(btcKeys, "--signature", write("cut.asc", all[:len(all)/2]), btcDir+"achow101/all.SHA256SUMS"),
			"the file is truncated"},
		{"a garbled armor block", append(btcKeys, "--signature", write("garbled.asc", []byte(strings.Join(garbled, "\n"))), btcDir+"achow101/all.SHA256SUMS"),
			"the block is corrupted"},
		{"text appended after a clearsigned message", append(monero, write("appended.txt", append(append([]byte{}, hashes...), "0000000000000000000000000000000000000000000000000000000000000000  monero-linux-x64-v0.18.5.1.tar.bz2\n"...))),
			"text after the signature block is not signed"},
		{"a clearsigned message whose plaintext was edited", append(monero, write("edited.txt", []byte(strings.Replace(string(hashes), "22a7dda7", "22a7dda8", 1)))),
			"bad signature by pinned key 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"verify-signature"}, tt.args...)...)
			if code != ExitVerification || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want 3 with %q; stderr:\n%s", code, tt.want, stderr)
			}
		})
	}
}

// A validly signed checksums file that lists the artifact twice with
// different hashes fails `coinpipe verify`.
func TestVerifyArtifactListedTwice(t *testing.T) {
	g := newGenRelease(t)
	sums := []byte(g.sha + "  coin-1.0.tar.gz\n" + strings.Repeat("0", 64) + "  coin-1.0.tar.gz\n")
	_, env := upstream(t, map[string][]byte{
		"dl.example.org/coin-1.0/SHA256SUMS":     sums,
		"dl.example.org/coin-1.0/SHA256SUMS.asc": g.sign(t, sums),
	})
	coins := t.TempDir()
	writeCoin(t, coins, "gen", "1.0", `  artifacts:
    linux/amd64:
      url: https://dl.example.org/coin-{version}/coin-{version}.tar.gz
      sha256: `+g.sha+`
  checksums:
    url: https://dl.example.org/coin-{version}/SHA256SUMS
    format: sha256sum
  signatures:
    mode: detached
    url: https://dl.example.org/coin-{version}/SHA256SUMS.asc
    threshold: 1
    keys:
      - file: keys/builder.asc
        fingerprint: `+g.key.Fingerprint, map[string][]byte{"builder.asc": g.pub})
	code, _, stderr := runEnv(t, env, "verify", "--coins", coins, "gen")
	if code != ExitVerification || !strings.Contains(stderr, "coin-1.0.tar.gz") || !strings.Contains(stderr, "twice") {
		t.Errorf("exit %d, want 3 naming the file listed twice; stderr:\n%s", code, stderr)
	}
}
