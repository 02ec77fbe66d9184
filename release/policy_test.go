package release

import (
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/policytest"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// The policy table (internal/policytest) through the Go verifier as
// `coinpipe verify --dir` and the watcher use it: release.Verify on a coin
// folder and a release.Dir, so per-signer and artifact-listing rules are
// judged too. generator's tests run the same table through release.sh.
func TestPolicyTable(t *testing.T) {
	for _, c := range policytest.Cases(t) {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := manifest.Open(c.WriteCoin(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			rel := filepath.Join(dir, "release")
			c.WriteRelease(t, rel)
			rep, err := Verify(t.Context(), m, Dir(rel), false)
			if (err == nil) != c.OK {
				t.Fatalf("Verify: err = %v, want ok = %v", err, c.OK)
			}
			if err != nil {
				if _, isFailure := err.(*verify.Failure); !isFailure {
					t.Errorf("%T is not a *verify.Failure: %v", err, err)
				}
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(c.Why)) {
					t.Errorf("error %q does not say %q", err, c.Why)
				}
			}
			var got []verify.Result
			if rep.Checksums != nil {
				got = rep.Checksums.Results
			}
			if len(got) != len(c.Sigs) {
				t.Fatalf("%d signatures judged, want %d: %+v", len(got), len(c.Sigs), got)
			}
			for i, want := range c.Sigs {
				r := got[i]
				id := r.Fingerprint
				if r.Status == verify.StatusUnknownKey {
					id = r.KeyID
				}
				if r.Status != want.Status || id != want.ID {
					t.Errorf("signature %d: %v %s (%s), want %v %s", i, r.Status, id, r.Reason, want.Status, want.ID)
				}
				if want.Status == verify.StatusNotCounted && want.Unit != "" && !want.Damaged && r.Reason != "in "+want.Unit+"'s file" {
					t.Errorf("signature %d: reason %q, want %q", i, r.Reason, "in "+want.Unit+"'s file")
				}
				if want.Damaged && !strings.Contains(r.Reason, want.Unit+"'s file: signature file damaged") {
					t.Errorf("signature %d: reason %q does not say %s's file is damaged", i, r.Reason, want.Unit)
				}
			}
			if c.OK {
				if a := rep.Artifacts[0]; !a.Listed || a.SHA256 != c.SHA256 {
					t.Errorf("artifact %+v not listed with the pinned sha256", a)
				}
			}
		})
	}
}
