package generator

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// release.sh judges a signature's expiry by the key that made it, from the
// key table rendered into it. Every row of every shipped coin's table must
// say what gpg says of that key: its expiry (a subkey's capped by its
// primary's) and whether it may sign. The real keys include subkeys that
// expired long ago beside current ones (Emzy's, 0xb10c's, willcl-ark's).
func TestKeyTableMatchesGPG(t *testing.T) {
	testenv.RequireTools(t, "gpg")
	row := regexp.MustCompile(`(?m)^([0-9A-F]{40}) ([0-9A-F]{40}) ([0-9]+) (\S+) (sign|nosign)$`)
	coins, err := filepath.Glob("../coins/*/coin.yaml")
	if err != nil || len(coins) == 0 {
		t.Fatalf("no coins: %v", err)
	}
	rows := 0
	for _, c := range coins {
		m, err := manifest.Open(filepath.Dir(c))
		if err != nil {
			t.Fatal(err)
		}
		files, err := Render(m, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		var script string
		for _, f := range files {
			if f.Path == "release.sh" {
				script = string(f.Data)
			}
		}
		want := map[string]string{}
		home := t.TempDir()
		for _, k := range m.Release.Signatures.Keys {
			out, err := exec.Command("gpg", "--batch", "--no-options", "--homedir", home, "--with-colons", "--show-keys", filepath.Join(m.Dir, k.File)).Output()
			if err != nil {
				t.Fatalf("gpg --show-keys %s: %v", k.File, err)
			}
			for fpr, desc := range gpgRows(string(out), k.Fingerprint) {
				want[fpr] = desc
			}
		}
		got := row.FindAllStringSubmatch(script, -1)
		if len(got) != len(want) {
			t.Errorf("%s: %d key table rows, gpg lists %d keys", m.Name, len(got), len(want))
		}
		for _, r := range got {
			rows++
			if desc := r[2] + " " + r[3] + " " + r[5]; want[r[1]] != desc {
				t.Errorf("%s: key %s: release.sh says %q, gpg %q", m.Name, r[1], desc, want[r[1]])
			}
		}
	}
	if rows < 20 {
		t.Errorf("only %d rows checked", rows)
	}
}

// gpgRows describes, from gpg --with-colons, the keys of the pinned primary
// key as release.sh's table must: "PRIMARY EXPIRES sign|nosign", the
// expiry capped by the primary's.
func gpgRows(colons, primary string) map[string]string {
	out := map[string]string{}
	var inKey bool
	var primaryExp int64
	var fields []string
	for _, line := range strings.Split(colons, "\n") {
		f := strings.Split(line, ":")
		switch f[0] {
		case "pub", "sub":
			fields = f
		case "fpr":
			if fields == nil {
				continue
			}
			exp, _ := strconv.ParseInt(fields[6], 10, 64)
			if fields[0] == "pub" {
				inKey, primaryExp = f[9] == primary, exp
			} else if primaryExp != 0 && (exp == 0 || primaryExp < exp) {
				exp = primaryExp
			}
			usable := fields[1] != "r" && strings.Contains(fields[11], "s")
			if inKey {
				sign := "nosign"
				if usable {
					sign = "sign"
				}
				out[f[9]] = primary + " " + strconv.FormatInt(exp, 10) + " " + sign
			}
			fields = nil
		}
	}
	return out
}
