// Package release checks a coin's pinned release against upstream: it
// fetches the checksums and signatures the manifest names, verifies them
// against the pinned keys and threshold (package verify), checks every
// pinned sha256 against the verified checksums and, when asked, hashes the
// artifacts themselves. `coinpipe verify` prints its Report; the watcher
// uses the same checks on a new release.
package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Report is what a verification established, filled as far as it got: on
// failure it holds everything up to the failing step.
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

// Missing is a signer's file that is not there (HTTP 404, or not in --dir).
type Missing struct {
	Signer string
	Err    error
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

// Verify checks m's pinned release, reading files from src. withArtifacts
// also downloads and hashes every artifact (artifact mode always does:
// the signatures cover the artifacts themselves). A failed verification is
// a *verify.Failure.
func Verify(ctx context.Context, m *manifest.Manifest, src Source, withArtifacts bool) (*Report, error) {
	rep := &Report{}
	for _, p := range m.Release.Platforms() {
		rep.Artifacts = append(rep.Artifacts, Artifact{Platform: p, File: m.ArtifactFileName(p), SHA256: m.Release.Artifacts[p].SHA256})
	}
	sig := m.Release.Signatures
	switch sig.Mode {
	case manifest.ModeNone:
		for i := range rep.Artifacts {
			rep.Artifacts[i].Unsigned = true
		}
		rep.Summary = "no signatures to check"
	case manifest.ModeArtifact:
		keys, err := pinnedKeys(m)
		if err != nil {
			return rep, err
		}
		if err := verifyArtifactSignatures(ctx, m, src, keys, rep); err != nil {
			return rep, err
		}
		withArtifacts = false // done: every artifact was downloaded and hashed
		rep.Summary = fmt.Sprintf("every artifact signed by at least %d pinned keys", sig.Threshold)
	default:
		keys, err := pinnedKeys(m)
		if err != nil {
			return rep, err
		}
		atts, err := verifyChecksums(ctx, m, src, keys, rep)
		if err != nil {
			return rep, err
		}
		if err := checkPinnedDigests(m, atts, rep); err != nil {
			return rep, err
		}
		rep.Summary = fmt.Sprintf("%d pinned keys signed (%d required)", len(rep.Checksums.Signers), sig.Threshold)
	}
	if withArtifacts {
		for i := range rep.Artifacts {
			a := &rep.Artifacts[i]
			sum, err := hashArtifact(ctx, m, src, a.Platform, nil)
			if err != nil {
				return rep, err
			}
			if err := a.matches(sum); err != nil {
				return rep, err
			}
			a.Hashed = true
		}
	}
	return rep, nil
}

// pinnedKey is one key of release.signatures.keys, read from its file.
type pinnedKey struct {
	key    *verify.Key
	signer string
}

func pinnedKeys(m *manifest.Manifest) ([]pinnedKey, error) {
	var out []pinnedKey
	for _, k := range m.Release.Signatures.Keys {
		all, err := verify.ReadKeyFile(filepath.Join(m.Dir, filepath.FromSlash(k.File)))
		if err != nil {
			return nil, err
		}
		sel, err := verify.SelectKeys(all, k.Fingerprint)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.File, err)
		}
		out = append(out, pinnedKey{key: sel[0], signer: k.Signer})
	}
	return out, nil
}

func keysOf(pinned []pinnedKey) []*verify.Key {
	keys := make([]*verify.Key, len(pinned))
	for i, k := range pinned {
		keys[i] = k.key
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

func (a *Artifact) matches(sum string) error {
	if sum != a.SHA256 {
		return &verify.Failure{Reason: fmt.Sprintf("%s (%s): downloaded sha256 %s, coin.yaml pins %s", a.File, a.Platform, sum, a.SHA256)}
	}
	return nil
}
