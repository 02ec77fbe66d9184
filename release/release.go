// Package release attests and checks a coin's releases against upstream.
// Attest fetches the checksums and signatures of a given version (URLs from
// the manifest's templates), verifies them against the pinned keys and
// threshold (package verify, docs/architecture.md §7) and returns each platform's
// sha256 taken from the verified text: the watcher's question about a new
// release. Verify is the pin check built on it: it attests the pinned
// version and compares every pinned sha256 and, when asked, hashes the
// artifacts themselves. `coinpipe verify` prints its Report.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Report is what a verification of the pinned release established, filled
// as far as it got: on failure it holds everything up to the failing step.
type Report struct {
	// Missing are per-signer files upstream did not publish; the threshold
	// decides whether enough signers remain.
	Missing []Missing
	// Checksums is the combined verdict over the checksums file(s), in
	// detached and clearsigned modes.
	Checksums *verify.Verdict
	// Artifacts are in platform order.
	Artifacts []Artifact
	// Summary says what was verified, once everything passed.
	Summary string
}

// Artifact is what was established about one platform's artifact.
type Artifact struct {
	Platform, File, SHA256 string
	// Signatures is the artifact's own verdict, in artifact mode.
	Signatures *verify.Verdict
	// Listed: verified checksums list the pinned sha256.
	Listed bool
	// Hashed: the artifact was downloaded and hashes to the pinned sha256.
	Hashed bool
	// Unsigned: upstream signs nothing (mode none).
	Unsigned bool
}

// Verify checks m's pinned release, reading files from src: it attests
// m.Version (Attest) and compares each platform's attested sha256 with the
// pinned one. withArtifacts also downloads and hashes every artifact
// (artifact mode always does: the signatures cover the artifacts
// themselves). A failed verification is a *verify.Failure.
func Verify(ctx context.Context, m *manifest.Manifest, src Source, withArtifacts bool) (*Report, error) {
	rep := &Report{}
	for _, p := range m.Release.Platforms() {
		rep.Artifacts = append(rep.Artifacts, Artifact{Platform: p, File: m.ArtifactFileName(p), SHA256: m.Release.Artifacts[p].SHA256})
	}
	sig := m.Release.Signatures
	if sig.Mode == manifest.ModeNone && !withArtifacts {
		// Nothing is signed: there is nothing to attest without downloading.
		for i := range rep.Artifacts {
			rep.Artifacts[i].Unsigned = true
		}
		rep.Summary = "no signatures to check"
		return rep, nil
	}
	att, err := Attest(ctx, m, m.Version, src)
	if p, ok := err.(*Pending); ok {
		// The pinned version was proposed once verified: what is missing
		// or under the threshold now is a failure (or a 404), as it is.
		err = p.Cause
	}
	rep.Missing, rep.Checksums = att.Missing, att.Checksums
	for i := range rep.Artifacts {
		rep.Artifacts[i].Signatures = att.Artifacts[i].Signatures
		rep.Artifacts[i].Unsigned = att.Artifacts[i].Unsigned
	}
	if err != nil {
		return rep, err
	}
	downloaded := sig.Mode == manifest.ModeNone || sig.Mode == manifest.ModeArtifact
	for i := range rep.Artifacts {
		a, got := &rep.Artifacts[i], att.Artifacts[i]
		if err := a.matches(got, downloaded); err != nil {
			return rep, err
		}
		a.Listed, a.Hashed = !downloaded, downloaded
	}
	switch sig.Mode {
	case manifest.ModeNone:
		rep.Summary = "no signatures to check"
	case manifest.ModeArtifact:
		rep.Summary = fmt.Sprintf("every artifact signed by at least %d pinned keys", sig.Threshold)
	default:
		rep.Summary = fmt.Sprintf("%d pinned keys signed (%d required)", len(rep.Checksums.Signers), sig.Threshold)
	}
	if withArtifacts && !downloaded {
		for i := range rep.Artifacts {
			a := &rep.Artifacts[i]
			sum, err := hashArtifact(ctx, m, src, a.Platform, nil)
			if err != nil {
				return rep, err
			}
			if err := a.matches(Attested{SHA256: sum}, true); err != nil {
				return rep, err
			}
			a.Hashed = true
		}
	}
	return rep, nil
}

// matches compares an attested sha256 with the pin.
func (a *Artifact) matches(got Attested, downloaded bool) error {
	switch {
	case got.SHA256 == a.SHA256:
		return nil
	case downloaded:
		return &verify.Failure{Reason: fmt.Sprintf("%s (%s): downloaded sha256 %s, coin.yaml pins %s", a.File, a.Platform, got.SHA256, a.SHA256)}
	}
	return &verify.Failure{Reason: fmt.Sprintf("%s (%s): coin.yaml pins sha256 %s, but checksums signed by %s say %s",
		a.File, a.Platform, a.SHA256, strings.Join(got.Signers, ", "), got.SHA256)}
}

// PinnedKey is one key of release.signatures.keys, read from its file.
type PinnedKey struct {
	Key    *verify.Key
	Signer string // per-signer mode: whose files it signs
}

// PinnedKeys reads m's pinned keys through the coin folder's reader (no
// links, size-capped), keeping only the pinned fingerprints of each file:
// a key bundled in a pinned key file without being pinned never counts.
// Callers read them once per manifest.
func PinnedKeys(m *manifest.Manifest) ([]PinnedKey, error) {
	var out []PinnedKey
	for _, k := range m.Release.Signatures.Keys {
		data, err := m.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("reading key file: %w", err)
		}
		all, err := verify.ParseKeys(data)
		if err != nil {
			return nil, fmt.Errorf("reading key file %s: %w", k.File, err)
		}
		sel, err := verify.SelectKeys(all, k.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.File, err)
		}
		out = append(out, PinnedKey{Key: sel[0], Signer: k.Signer})
	}
	return out, nil
}

func keysOf(pinned []PinnedKey) []*verify.Key {
	keys := make([]*verify.Key, len(pinned))
	for i, k := range pinned {
		keys[i] = k.Key
	}
	return keys
}

// hashArtifact streams a platform's artifact through sha256 and, when
// also is set, through it too (a signature check reading the same bytes).
func hashArtifact(ctx context.Context, m *manifest.Manifest, src Source, platform string, also func(io.Reader) error) (string, error) {
	var sum string
	err := src.Stream(ctx, m.ExpandVersion(m.Release.Artifacts[platform].URL), "", func(r io.Reader) error {
		h := sha256.New()
		tee := io.TeeReader(r, h)
		if also != nil {
			if err := also(tee); err != nil {
				return err
			}
		}
		if _, err := io.Copy(h, r); err != nil { // what also did not read
			return err
		}
		sum = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return sum, err
}
