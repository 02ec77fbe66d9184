package release

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Attestation is what upstream's signatures establish about one version of
// a coin, whatever the manifest pins: the watcher attests a new version
// with it, and Verify compares the pinned one with its pins.
type Attestation struct {
	Version string
	// Missing are per-signer files upstream did not publish; the threshold
	// decides whether enough signers remain.
	Missing []Missing
	// Checksums is the combined verdict over the checksums file(s), in
	// detached and clearsigned modes: one result per signature, with
	// signatures that policy refuses (another signer's file, a damaged
	// file) reported as not counted.
	Checksums *verify.Verdict
	// Artifacts are in platform order.
	Artifacts []Attested
}

// Attested is one platform's artifact as attested.
type Attested struct {
	Platform, File string
	// SHA256 is taken from the verified checksums text; in artifact mode
	// and mode none it is the sha256 of the downloaded artifact.
	SHA256 string
	// Signers are the pinned primary fingerprints whose verified checksums
	// list SHA256 (artifact mode: who signed the artifact).
	Signers []string
	// Signatures is the artifact's own verdict, in artifact mode.
	Signatures *verify.Verdict
	// Unsigned: upstream signs nothing (mode none); only a pin protects it.
	Unsigned bool
}

// Missing is a signer's file that is not there (HTTP 404, or not in --dir).
type Missing struct {
	Signer string
	Err    error
}

// Attest fetches the checksums and signatures of version from src (URLs
// from m's templates), verifies them against m's pinned keys and threshold
// (docs/architecture.md §7) and returns each platform's sha256 taken from the
// verified text. The pinned keys are read once. The attestation is returned
// as far as it got, also with an error; a failed verification is a
// *verify.Failure.
func Attest(ctx context.Context, m *manifest.Manifest, version string, src Source) (*Attestation, error) {
	mv := *m // the manifest's URL helpers expand {version} from the copy
	mv.Version = version
	att := &Attestation{Version: version}
	for _, p := range m.Release.Platforms() {
		att.Artifacts = append(att.Artifacts, Attested{Platform: p, File: mv.ArtifactFileName(p)})
	}
	if mv.Release.Signatures.Mode == manifest.ModeNone {
		for i := range att.Artifacts {
			a := &att.Artifacts[i]
			a.Unsigned = true
			sum, err := hashArtifact(ctx, &mv, src, a.Platform, nil)
			if err != nil {
				return att, err
			}
			a.SHA256 = sum
		}
		return att, nil
	}
	keys, err := PinnedKeys(m)
	if err != nil {
		return att, err
	}
	if mv.Release.Signatures.Mode == manifest.ModeArtifact {
		return att, attestArtifacts(ctx, &mv, src, keys, att)
	}
	files, err := verifyChecksums(ctx, &mv, src, keys, att)
	if err != nil {
		return att, err
	}
	return att, attestListed(mv.Release.Signatures.Threshold, files, att)
}

// attestListed takes each artifact's sha256 from the verified checksums
// files. A file whose signers' checksums do not list the artifact does not
// count for it; two signed files listing different digests fail.
func attestListed(threshold int, files []signedFile, att *Attestation) error {
	for i := range att.Artifacts {
		a := &att.Artifacts[i]
		var unlisted []string
		by := map[string][]string{} // digest -> signers
		for _, f := range files {
			sum, listed, err := f.sums.Lookup(a.File)
			if err != nil {
				return err
			}
			if !listed {
				unlisted = append(unlisted, f.signers...)
				continue
			}
			by[sum] = append(by[sum], f.signers...)
		}
		if len(by) > 1 {
			var says []string
			for _, sum := range slices.Sorted(maps.Keys(by)) {
				says = append(says, fmt.Sprintf("the checksums signed by %s say %s", strings.Join(by[sum], ", "), sum))
			}
			return &verify.Failure{Reason: fmt.Sprintf("%s (%s): %s", a.File, a.Platform, strings.Join(says, "; "))}
		}
		for sum, signers := range by {
			a.SHA256, a.Signers = sum, dedupe(signers)
		}
		if len(a.Signers) < threshold {
			reason := fmt.Sprintf("%s (%s): only %d of the %d required pinned keys signed checksums listing it", a.File, a.Platform, len(a.Signers), threshold)
			if len(unlisted) > 0 {
				reason += fmt.Sprintf("; the checksums signed by %s list no %s", strings.Join(dedupe(unlisted), ", "), a.File)
			}
			return &verify.Failure{Reason: reason}
		}
	}
	return nil
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
