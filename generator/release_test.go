package generator

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/policytest"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

var writeFile = testenv.WriteFile

// releaseDir renders a coin and lays out what release.sh verify reads, as
// the Dockerfile's builder stage does: release.sh, keys/, artifact.sha256
// and the files `release.sh download` fetched (checksums.<unit>,
// checksums.<unit>.sig or checksums.<unit>.asc).
func releaseDir(t *testing.T, c *policytest.Case) string {
	t.Helper()
	m, err := manifest.Open(c.WriteCoin(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := Render(m, DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range rendered {
		if f.Path == "release.sh" || strings.HasPrefix(f.Path, "keys/") {
			writeFile(t, filepath.Join(dir, f.Path), f.Data)
		}
	}
	writeFile(t, filepath.Join(dir, "artifact.sha256"), []byte(c.SHA256+"  "+c.Artifact+"\n"))
	for _, u := range c.Units {
		unit := u.Signer
		if unit == "" {
			unit = "all"
		}
		if c.Mode == policytest.Clearsigned {
			writeFile(t, filepath.Join(dir, "checksums."+unit+".asc"), u.Sums)
			continue
		}
		writeFile(t, filepath.Join(dir, "checksums."+unit), u.Sums)
		writeFile(t, filepath.Join(dir, "checksums."+unit+".sig"), u.Sig)
	}
	return dir
}

// signatureLine is release.sh's line for one signature.
var signatureLine = regexp.MustCompile(`: signature in (\S+): (good \(key expired since [0-9-]+\)|good|unknown key|BAD|not counted) ([0-9A-F]+)(: (.*))?$`)

var shStatus = map[string]verify.Status{"good": verify.StatusGood, "unknown key": verify.StatusUnknownKey, "BAD": verify.StatusBad, "not counted": verify.StatusNotCounted}

// The policy table (internal/policytest) through the rendered release.sh
// with the real gpgv, as every image build runs it, and each signature
// through gpgv itself. release's tests run the same table through the Go
// verifier: the two must agree on every case.
func TestPolicyTableReleaseScript(t *testing.T) {
	testenv.RequireTools(t, "gpgv", "gpg", "awk", "base64", "od")
	for _, c := range policytest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			dir := releaseDir(t, &c)
			cmd := exec.Command("sh", "release.sh", "verify")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.OK {
				t.Fatalf("release.sh verify: err = %v, want ok = %v\n%s", err, c.OK, out)
			}
			if !c.OK && !strings.Contains(strings.ToLower(string(out)), strings.ToLower(c.Why)) {
				t.Errorf("output does not say %q:\n%s", c.Why, out)
			}
			var got [][]string
			for _, line := range strings.Split(string(out), "\n") {
				if m := signatureLine.FindStringSubmatch(line); m != nil {
					got = append(got, m)
				}
			}
			judged := c.Judged()
			if len(got) != len(judged) {
				t.Fatalf("%d signatures judged, want %d:\n%s", len(got), len(judged), out)
			}
			for i, want := range judged {
				m := got[i]
				status, ok := shStatus[m[2]]
				if strings.HasPrefix(m[2], "good (") {
					status, ok = verify.StatusGoodExpiredSince, true
				}
				unit := want.Unit
				if unit == "" {
					unit = "all"
				}
				if !ok || status != want.Status || m[3] != want.ID || m[1] != unit {
					t.Errorf("signature %d: %q, want %v %s in %s's file", i, m[0], want.Status, want.ID, unit)
				}
				if want.Status == verify.StatusNotCounted && want.Unit != "" && !want.Damaged && m[5] != "in "+want.Unit+"'s file" {
					t.Errorf("signature %d: %q, want the reason %q", i, m[0], "in "+want.Unit+"'s file")
				}
				if want.Damaged && !strings.Contains(m[5], want.Unit+"'s file: signature file damaged") {
					t.Errorf("signature %d: %q does not say %s's file is damaged", i, m[0], want.Unit)
				}
			}
		})
	}
}

// The per-signature part of the policy table against gpgv itself: every
// verdict is gpgv's, except where the policy is stricter on purpose and the
// case says what gpgv reports (Sig.Gpgv), and where a signature file is
// refused whole (Case.GpgvDamaged).
func TestPolicyTableGpgv(t *testing.T) {
	testenv.RequireTools(t, "gpgv", "gpg")
	for _, c := range policytest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			var keys [][]byte
			for _, k := range c.Keys {
				keys = append(keys, k.Data)
			}
			for _, u := range c.Units {
				var got []testenv.GpgvSig
				if c.Mode == policytest.Clearsigned {
					got = testenv.Gpgv(t, keys, u.Sums, nil)
				} else {
					got = testenv.Gpgv(t, keys, u.Sig, u.Sums)
				}
				var want []string
				var wantIDs []string
				for _, s := range c.Judged() {
					if s.Unit != u.Signer {
						continue
					}
					if s.Damaged {
						want = nil
						break
					}
					st := s.Gpgv
					if st == "" {
						st = policytest.GpgvStatus(s.Status)
					}
					want, wantIDs = append(want, st), append(wantIDs, s.ID)
				}
				if d, ok := c.GpgvDamaged[u.Signer]; ok {
					want, wantIDs = d, nil
				}
				var statuses []string
				for _, g := range got {
					statuses = append(statuses, g.Status)
				}
				if strings.Join(statuses, " ") != strings.Join(want, " ") {
					t.Errorf("%s's file: gpgv says %q, the table %q", u.Signer, statuses, want)
					continue
				}
				for i, id := range wantIDs {
					g := got[i]
					if g.Primary != id && !strings.HasSuffix(id, g.KeyID) && !strings.HasSuffix(g.KeyID, id) {
						t.Errorf("%s's file, signature %d: gpgv names %s (primary %s), the table %s", u.Signer, i, g.KeyID, g.Primary, id)
					}
				}
			}
		})
	}
}
