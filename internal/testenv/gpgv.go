package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GpgvSig is what gpgv's status lines say about one signature.
type GpgvSig struct {
	Status  string // GOODSIG, EXPKEYSIG, EXPSIG, REVKEYSIG, BADSIG, ERRSIG
	KeyID   string
	UID     string
	Primary string // from VALIDSIG
}

// Gpgv runs the real gpgv on a detached signature (content non-nil) or a
// clearsigned message, with keys (armored or binary key files) as its
// keyring, and returns its report per signature. gpgv has no clock
// override: it judges at the current time.
func Gpgv(t testing.TB, keys [][]byte, sig, content []byte) []GpgvSig {
	t.Helper()
	RequireTools(t, "gpg", "gpgv")
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	var ring []byte
	for _, k := range keys {
		if len(k) > 0 && k[0]&0x80 == 0 { // armored: gpgv reads binary keyrings only
			cmd := exec.Command("gpg", "--batch", "--no-options", "--homedir", home, "--dearmor")
			cmd.Stdin = bytes.NewReader(k)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("gpg --dearmor: %v", err)
			}
			k = out
		}
		ring = append(ring, k...)
	}
	keyring, sigFile := filepath.Join(dir, "keyring.gpg"), filepath.Join(dir, "sig")
	for name, b := range map[string][]byte{keyring: ring, sigFile: sig} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--homedir", home, "--status-fd", "1", "--keyring", keyring, sigFile}
	if content != nil {
		dataFile := filepath.Join(dir, "data")
		if err := os.WriteFile(dataFile, content, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, dataFile)
	}
	cmd := exec.Command("gpgv", args...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+home, "LC_ALL=C")
	out, _ := cmd.Output() // gpgv exits non-zero for anything but all good; the status lines tell
	var sigs []GpgvSig
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "[GNUPG:] "))
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "NEWSIG":
			sigs = append(sigs, GpgvSig{})
		case "GOODSIG", "EXPKEYSIG", "EXPSIG", "REVKEYSIG", "BADSIG", "ERRSIG":
			if len(sigs) == 0 {
				sigs = append(sigs, GpgvSig{})
			}
			s := &sigs[len(sigs)-1]
			if s.Status == "" {
				s.Status, s.KeyID = f[0], f[1]
				if f[0] != "ERRSIG" {
					s.UID = strings.Join(f[2:], " ")
				}
			}
		case "VALIDSIG":
			if len(sigs) > 0 && len(f) >= 11 {
				sigs[len(sigs)-1].Primary = f[10]
			}
		}
	}
	return sigs
}
