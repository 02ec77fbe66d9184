package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The real upstream vectors live in testdata/vectors at the repository root.
const vectors = "../../testdata/vectors/"

const (
	btcDir    = vectors + "bitcoin-guix/26.0/"
	histAchow = btcDir + "keys/historical/bc4efc7a3c5d/achow101.gpg"
	fanquake  = btcDir + "keys/fanquake.gpg"
	// binaryfate signs Monero, never Bitcoin Core: a pinned key that did
	// not sign.
	binaryfate = vectors + "monero/keys/binaryfate.asc"
)

// concat writes the files one after the other into a temporary file.
func concat(t *testing.T, files ...string) string {
	t.Helper()
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	out := filepath.Join(t.TempDir(), "combined")
	if err := os.WriteFile(out, all, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifySignature(t *testing.T) {
	// Keys whose verdict does not change with the date: the historical
	// achow101 key has expired for good, fanquake's never expires.
	sums := btcDir + "achow101/all.SHA256SUMS"
	sha256sumsAsc := concat(t, btcDir+"achow101/all.SHA256SUMS.asc", btcDir+"fanquake/all.SHA256SUMS.asc", btcDir+"laanwj/all.SHA256SUMS.asc")
	tampered := concat(t, sums)
	b, _ := os.ReadFile(tampered)
	os.WriteFile(tampered, []byte(strings.Replace(string(b), "9cf64f42", "9cf64f43", 1)), 0o600)
	doge := vectors + "dogecoin-gitian/1.14.6-linux/alamshafil/dogecoin-linux-1.14-build.assert"

	const (
		achowLine    = "good (key expired since 2024-08-20)\t152812300785C96444D3334D17565732E08E5E41\tAndrew Chow <andrew@achow101.com>\n"
		fanquakeLine = "good\tE777299FC265DD04793070EB944D35F9AC3DB76A\tMichael Ford (bitcoin-otc) <fanquake@gmail.com>\n"
		laanwjLine   = "unknown key\t1E4AED62986CD25D\t\tnot pinned: ignored\n"
	)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"bitcoin, threshold 2", []string{"--key", histAchow, "--key", fanquake, "--threshold", "2", "--signature", sha256sumsAsc, sums},
			ExitOK, achowLine + fanquakeLine + laanwjLine + "OK: 2 pinned keys signed (2 required)\n", "expired since 2024-08-20"},
		{"bitcoin, threshold 3", []string{"--key", histAchow, "--key", fanquake, "--key", binaryfate, "--threshold", "3", "--signature", sha256sumsAsc, sums},
			ExitVerification, achowLine + fanquakeLine + laanwjLine + "FAILED: only 2 of the 3 required pinned keys made a good signature\n",
			"coinpipe: verification failed: only 2 of the 3 required"},
		{"threshold above the keys given", []string{"--key", histAchow, "--key", fanquake, "--threshold", "3", "--signature", sha256sumsAsc, sums},
			ExitInvalidInput, "", "coinpipe: --threshold 3 can never be met: the --key files hold 2 distinct keys\n"},
		{"the same key twice counts once", []string{"--key", fanquake, "--key", fanquake, "--threshold", "2", "--signature", sha256sumsAsc, sums},
			ExitInvalidInput, "", "coinpipe: --threshold 2 can never be met: the --key files hold 1 distinct key\n"},
		{"bitcoin, one hash changed", []string{"--key", histAchow, "--key", fanquake, "--signature", sha256sumsAsc, tampered},
			ExitVerification, "", "bad signature by pinned key 152812300785C96444D3334D17565732E08E5E41"},
		{"monero, clearsigned", []string{"--key", vectors + "monero/keys/binaryfate.asc", vectors + "monero/v0.18.5.1/hashes.txt"},
			ExitOK, "good\t81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92\tbinaryFate <binaryfate@getmonero.org>\nOK: 1 pinned keys signed (1 required)\n", ""},
		{"monero, wrong key", []string{"--key", vectors + "monero/keys/fluffypony.asc", vectors + "monero/v0.18.5.1/hashes.txt"},
			ExitVerification, "unknown key\tF0AF4D462A0BDF92\t\tnot pinned: ignored\nFAILED: only 0 of the 1 required pinned keys made a good signature\n", ""},
		{"dogecoin, binary signature", []string{"--key", vectors + "dogecoin-gitian/keys/alamshafil.pgp", "--signature", doge + ".sig", doge},
			ExitOK, "good\t8D6FC359FDB624D580BB390891512EB4C9B538A9\tShafil Alam <alamshafil@pm.me>\nOK: 1 pinned keys signed (1 required)\n", ""},
		{"detached signatures given as clearsigned", []string{"--key", fanquake, sha256sumsAsc},
			ExitVerification, "", "not a clearsigned message"},
		{"no key", []string{"--signature", sha256sumsAsc, sums}, ExitInvalidInput, "", "at least one --key"},
		{"threshold 0", []string{"--key", fanquake, "--threshold", "0", sums}, ExitInvalidInput, "", "--threshold must be at least 1"},
		{"two files", []string{"--key", fanquake, sums, sums}, ExitInvalidInput, "", "takes 1 argument(s)"},
		{"missing key file", []string{"--key", "nope.asc", sums}, ExitInvalidInput, "", "nope.asc"},
		{"unreadable key file", []string{"--key", sums, sums}, ExitInvalidInput, "", `no "PGP PUBLIC KEY BLOCK" armor block found`},
		{"missing signature file", []string{"--key", fanquake, "--signature", "nope.asc", sums}, ExitInvalidInput, "", "--signature"},
		{"unknown flag", []string{"--keys", fanquake, sums}, ExitInvalidInput, "", "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"verify-signature"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout, stderr)
			}
			if tt.stdout != "" && stdout != tt.stdout {
				t.Errorf("stdout\n%s\nwant\n%s", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to mention %q", stderr, tt.stderr)
			}
		})
	}
}
