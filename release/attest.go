package release

import (
	"context"
	"errors"
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
	// Files are exactly the fetched files that were verified, in the
	// layout of Dir and of a coin's committed release/ folder
	// (manifest.ReleaseFiles), sorted by Path: what the watcher commits
	// with a bump. Per signer, only the files of signers whose own key
	// counted; none in mode none. Set only when the attestation passed.
	Files []File
}

// File is one release file: Path in Dir layout (<file name>, or
// <signer>/<file name>), Data its bytes as verified.
type File struct {
	Path string
	Data []byte
}

// Pending means upstream has not (fully) published or signed the release
// yet: checksums, signatures or an artifact not found (HTTP 404, or missing
// from a Dir), or fewer pinned keys signed than the threshold while no
// signature is bad. The watcher retries next run; it is never a
// *verify.Failure, so a release under the threshold is not an alert.
type Pending struct {
	// Reason is what is awaited: "checksums not published yet",
	// "signatures not published yet", "<file> not published yet", or
	// "waiting for signatures (2 of 3)".
	Reason string
	// Signed and Required: distinct pinned keys that signed so far, and
	// the threshold (0, 0 when a file is not published).
	Signed, Required int
	// Cause is what was found: the 404, or the threshold *verify.Failure.
	// It is not unwrapped, so errors.As(err, *verify.Failure) never
	// mistakes a pending release for a failed one; Verify, judging the
	// pinned version, reports Cause itself.
	Cause error
}

func (p *Pending) Error() string { return p.Reason }

// notPublished turns a 404 of what (a file name, or "checksums" /
// "signatures") into a Pending.
func notPublished(err error, what string) error {
	if err != nil && NotPublished(err) {
		return &Pending{Reason: what + " not published yet", Cause: err}
	}
	return err
}

// underThreshold turns a verdict that failed only because too few pinned
// keys signed (no bad signature) into a Pending.
func underThreshold(v *verify.Verdict, err error) error {
	var f *verify.Failure
	if v == nil || !errors.As(err, &f) || len(v.Signers) >= v.Threshold ||
		slices.ContainsFunc(v.Results, func(r verify.Result) bool { return r.Status == verify.StatusBad }) {
		return err
	}
	reason := fmt.Sprintf("waiting for signatures (%d of %d)", len(v.Signers), v.Threshold)
	// A pinned key's signature that policy refused (made after its key
	// expired, SHA-1, another signer's file, …) is not something more time
	// cures: say so, or the release would wait in silence for ever.
	var refused []string
	for _, r := range v.Results {
		if r.Status == verify.StatusNotCounted && r.Fingerprint != "" {
			refused = append(refused, fmt.Sprintf("%s: %s", r.Fingerprint, r.Reason))
		}
	}
	if len(refused) > 0 {
		reason += "; not counted: " + strings.Join(refused, "; ")
	}
	return &Pending{Reason: reason, Signed: len(v.Signers), Required: v.Threshold, Cause: err}
}

// recorder notes every file fetched, in Dir layout, per signer.
type recorder struct {
	Source
	files map[string][]File // signer -> files
}

func (r *recorder) Fetch(ctx context.Context, rawURL, signer string) ([]byte, error) {
	data, err := r.Source.Fetch(ctx, rawURL, signer)
	if err == nil {
		r.files[signer] = append(r.files[signer], File{Path: layoutPath(rawURL, signer), Data: data})
	}
	return data, err
}

// verified returns the recorded files of the given signers, sorted.
func (r *recorder) verified(signers []string) []File {
	var out []File
	for _, s := range signers {
		out = append(out, r.files[s]...)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(out, func(a, b File) bool { return a.Path == b.Path })
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
// as far as it got, also with an error: *Pending when upstream has not
// published or signed enough yet, *verify.Failure when verification
// failed (a bad signature by a pinned key, damaged files, conflicting
// digests), anything else for I/O. On success Files holds the verified
// files.
func Attest(ctx context.Context, m *manifest.Manifest, version string, src Source) (*Attestation, error) {
	rec := &recorder{Source: src, files: map[string][]File{}}
	att, signers, err := attest(ctx, m, version, rec)
	if err == nil {
		att.Files = rec.verified(signers)
	}
	return att, err
}

// attest is Attest without the record of files; it returns the signers
// ("" for single-file modes) whose files were verified.
func attest(ctx context.Context, m *manifest.Manifest, version string, src Source) (*Attestation, []string, error) {
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
				return att, nil, notPublished(err, a.File)
			}
			a.SHA256 = sum
		}
		return att, nil, nil
	}
	keys, err := PinnedKeys(m)
	if err != nil {
		return att, nil, err
	}
	if mv.Release.Signatures.Mode == manifest.ModeArtifact {
		return att, []string{""}, attestArtifacts(ctx, &mv, src, keys, att)
	}
	files, err := verifyChecksums(ctx, &mv, src, keys, att)
	if err != nil {
		return att, nil, err
	}
	var signers []string
	for _, f := range files {
		signers = append(signers, f.signer)
	}
	return att, signers, attestListed(mv.Release.Signatures.Threshold, files, att)
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
