package verify

import (
	"errors"
	"strings"
	"testing"
)

const (
	hexA = "9cf64f42c72d8a96892aa1e2ec9cbca6f3b7094148a8261127390bc6fb4d20c4"
	hexB = "22a7dda7b0cb699fdd6b7674c3b4a4465b337cc98a54983523b759e1e7cc9958"
)

func TestParseChecksums(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		text   string
		lookup string
		want   string
	}{
		{"sha256sum text mode", FormatSHA256Sum, hexA + "  a.tar.gz\n" + hexB + "  b.tar.gz\n", "b.tar.gz", hexB},
		{"sha256sum binary mode", FormatSHA256Sum, hexA + " *a.tar.gz\n", "a.tar.gz", hexA},
		{"sha256sum CRLF, upper-case hex, blank lines", FormatSHA256Sum, "\r\n" + strings.ToUpper(hexA) + "  a.tar.gz\r\n\r\n", "a.tar.gz", hexA},
		{"sha256sum name with spaces", FormatSHA256Sum, hexA + "  my file.tar.gz\n", "my file.tar.gz", hexA},
		{"sha256sum escaped name", FormatSHA256Sum, `\` + hexA + `  dir\\name` + "\n", `dir\name`, hexA},
		{"sha256sum same entry twice", FormatSHA256Sum, hexA + "  a.tar.gz\n" + hexA + "  a.tar.gz\n", "a.tar.gz", hexA},
		{"monero current", FormatMonero, "# comment\n#\n## CLI\n" + hexB + "  monero-linux-x64-v0.18.5.1.tar.bz2\n", "monero-linux-x64-v0.18.5.1.tar.bz2", hexB},
		{"monero 2019 with prose and a repeated line", FormatMonero,
			"This GPG-signed message exists to confirm the SHA256 sums.\n\nmonero-linux-x64-v0.14.1.2.tar.bz2, " + hexA + "\nmonero-linux-x64-v0.14.1.2.tar.bz2, " + hexA + "\n",
			"monero-linux-x64-v0.14.1.2.tar.bz2", hexA},
		{"gitian assert", FormatGitianAssert, "--- !!omap\n- out_manifest: |\n    " + hexA + "  coin-1.0-x86_64-linux-gnu.tar.gz\n    " + hexB + "  src/coin-1.0.tar.gz\n- in_manifest: |-\n    " + hexB + "  desc.yml\n",
			"coin-1.0.tar.gz", hexB},
		{"gitian assert as a plain mapping", FormatGitianAssert, "out_manifest: |\n  " + hexA + "  coin.tar.gz\n", "coin.tar.gz", hexA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseChecksums(tt.format, []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			got, listed, err := c.Lookup(tt.lookup)
			if err != nil || !listed || got != tt.want {
				t.Errorf("Lookup(%q) = %q, %v; want %q", tt.lookup, got, err, tt.want)
			}
		})
	}
}

func TestParseChecksumsRejects(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		text   string
		want   string
	}{
		{"same file, different hashes", FormatSHA256Sum, hexA + "  a.tar.gz\n" + hexB + "  a.tar.gz\n", "line 2: a.tar.gz is listed twice with different digests"},
		{"monero: same file, different hashes", FormatMonero, "a.tar.bz2, " + hexA + "\n" + hexB + "  a.tar.bz2\n", "listed twice with different digests"},
		{"gitian: same file, different hashes", FormatGitianAssert, "- out_manifest: |\n    " + hexA + "  a.tar.gz\n    " + hexB + "  a.tar.gz\n", "line 3: a.tar.gz is listed twice"},
		{"short digest", FormatSHA256Sum, hexA[:63] + "  a.tar.gz\n", `line 1: "` + hexA[:20]},
		{"one space", FormatSHA256Sum, hexA + " a.tar.gz\n", "is not a \"<sha256>  <file>\" line"},
		{"not hex", FormatSHA256Sum, strings.Repeat("g", 64) + "  a.tar.gz\n", "is not a SHA-256 digest"},
		{"monero: digest in a malformed line", FormatMonero, "a.tar.bz2 = " + hexA + "\n", "holds a digest but is neither"},
		{"empty", FormatSHA256Sum, "\n\n", "list no file"},
		{"gitian: no out_manifest", FormatGitianAssert, "- in_manifest: |\n    " + hexA + "  a\n", "no out_manifest"},
		{"gitian: out_manifest twice", FormatGitianAssert, "- out_manifest: |\n    " + hexA + "  a\n- out_manifest: |\n    " + hexB + "  a\n", "out_manifest appears 2 times"},
		{"gitian: not YAML", FormatGitianAssert, "out_manifest: [\n", "not a YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChecksums(tt.format, []byte(tt.text))
			checkOutcome(t, err, tt.want)
		})
	}
}

func TestChecksumsLookup(t *testing.T) {
	c, err := ParseChecksums(FormatSHA256Sum, []byte(hexA+"  linux/coin.tar.gz\n"+hexB+"  mac/coin.tar.gz\n"+hexA+"  coin-src.tar.gz\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Lookup("coin.tar.gz")
	checkOutcome(t, err, "matches several listed files (linux/coin.tar.gz, mac/coin.tar.gz)")
	if got, listed, err := c.Lookup("other.tar.gz"); err != nil || listed || got != "" {
		t.Errorf("unlisted name: %q, %v, %v", got, listed, err)
	}
	if got, _, err := c.Lookup("mac/coin.tar.gz"); err != nil || got != hexB {
		t.Errorf("exact path: %q, %v", got, err)
	}
}

func TestParseChecksumsUnknownFormat(t *testing.T) {
	_, err := ParseChecksums("md5sum", []byte(hexA+"  a\n"))
	var f *Failure
	if err == nil || errors.As(err, &f) || !strings.Contains(err.Error(), "sha256sum, monero, gitian-assert") {
		t.Fatalf("err = %v: want a plain error listing the known formats", err)
	}
}
