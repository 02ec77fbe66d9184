package release

import (
	"context"
	"errors"
	"io"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// attestArtifacts handles artifact mode: each artifact has its own
// <url>.asc; the artifact is streamed once through the signature check and
// sha256, and that sha256 is what is attested.
func attestArtifacts(ctx context.Context, m *manifest.Manifest, src Source, keys []PinnedKey, att *Attestation) error {
	v := &verify.Verifier{Keys: keysOf(keys), Threshold: m.Release.Signatures.Threshold}
	for i := range att.Artifacts {
		a := &att.Artifacts[i]
		sigs, err := src.Fetch(ctx, m.ExpandVersion(m.Release.Artifacts[a.Platform].URL)+".asc", "")
		if err != nil {
			return notPublished(err, "signatures")
		}
		var vErr error
		sum, err := hashArtifact(ctx, m, src, a.Platform, func(r io.Reader) error {
			a.Signatures, vErr = v.Detached(r, sigs)
			var f *verify.Failure
			if vErr != nil && !errors.As(vErr, &f) {
				return vErr // reading the artifact failed: let the download retry
			}
			return nil
		})
		if err != nil {
			return notPublished(err, a.File)
		}
		if vErr != nil {
			return underThreshold(a.Signatures, vErr)
		}
		a.SHA256, a.Signers = sum, a.Signatures.Signers
	}
	return nil
}
