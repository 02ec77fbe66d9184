package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// attestation is one verified checksums file and the pinned keys that signed it.
type attestation struct {
	signers []string
	sums    *verify.Checksums
}

// verifyChecksums verifies the checksums file(s) of detached and
// clearsigned modes into rep.Checksums. Per-signer URLs give one file (and
// signature) per signer: each is verified on its own, then the verdicts are
// combined, so each pinned key still counts once.
func verifyChecksums(ctx context.Context, m *manifest.Manifest, src Source, keys []pinnedKey, rep *Report) ([]attestation, error) {
	r := m.Release
	signers, threshold := []string{""}, r.Signatures.Threshold
	if r.PerSigner() {
		signers, threshold = nil, 1
		for _, k := range keys {
			signers = append(signers, k.signer)
		}
	}
	var (
		atts     []attestation
		verdicts []*verify.Verdict
	)
	for _, signer := range signers {
		text, verdict, err := verifySignedFile(ctx, m, src, signer, &verify.Verifier{Keys: keysOf(keys), Threshold: threshold})
		var f *verify.Failure
		switch {
		case r.PerSigner() && NotPublished(err):
			// Not every pinned builder attests every release: the
			// threshold decides whether enough did.
			rep.Missing = append(rep.Missing, Missing{Signer: signer, Err: err})
			continue
		case errors.As(err, &f) && f.Verdict != nil && r.PerSigner():
			// One signer's file failing is judged with the others below:
			// a bad signature still fails everything, a missing one may not.
			verdict = f.Verdict
		case err != nil:
			rep.Checksums = verdictOf(verdict, err)
			return nil, err
		}
		verdicts = append(verdicts, verdict)
		if text == nil {
			continue
		}
		sums, err := verify.ParseChecksums(verify.Format(r.Checksums.Format), text)
		if err != nil {
			return nil, err
		}
		atts = append(atts, attestation{signers: goodSigners(verdict), sums: sums})
	}
	combined, err := verify.Combine(r.Signatures.Threshold, verdicts...)
	rep.Checksums = verdictOf(combined, err)
	return atts, err
}

// verdictOf is the verdict to report: the one given, or a failure's.
func verdictOf(v *verify.Verdict, err error) *verify.Verdict {
	var f *verify.Failure
	if v == nil && errors.As(err, &f) {
		return f.Verdict
	}
	return v
}

// verifySignedFile fetches and verifies one checksums file; the verified
// text is returned only when verification passed.
func verifySignedFile(ctx context.Context, m *manifest.Manifest, src Source, signer string, v *verify.Verifier) ([]byte, *verify.Verdict, error) {
	r := m.Release
	data, err := src.Fetch(ctx, m.Expand(r.Checksums.URL, signer), signer)
	if err != nil {
		return nil, nil, err
	}
	if r.Signatures.Mode == manifest.ModeClearsigned {
		return v.Clearsigned(data)
	}
	sigs, err := src.Fetch(ctx, m.Expand(r.Signatures.URL, signer), signer)
	if err != nil {
		return nil, nil, err
	}
	verdict, err := v.Detached(bytes.NewReader(data), sigs)
	if err != nil {
		return nil, verdict, err
	}
	return data, verdict, nil
}

func goodSigners(v *verify.Verdict) []string {
	var out []string
	for _, r := range v.Results {
		if r.Good() {
			out = append(out, r.Fingerprint)
		}
	}
	return out
}

// checkPinnedDigests checks each artifact's pinned sha256 against every
// verified checksums file that lists it: any disagreement fails, and the
// pinned keys behind the files that agree must reach the threshold.
func checkPinnedDigests(m *manifest.Manifest, atts []attestation, rep *Report) error {
	threshold := m.Release.Signatures.Threshold
	for i := range rep.Artifacts {
		a := &rep.Artifacts[i]
		vouching := map[string]bool{}
		var lookupErr error
		for _, att := range atts {
			sum, err := att.sums.Lookup(a.File)
			if err != nil {
				lookupErr = err
				continue
			}
			if sum != a.SHA256 {
				return &verify.Failure{Reason: fmt.Sprintf("%s (%s): coin.yaml pins sha256 %s, but checksums signed by %s say %s",
					a.File, a.Platform, a.SHA256, strings.Join(att.signers, ", "), sum)}
			}
			for _, s := range att.signers {
				vouching[s] = true
			}
		}
		if len(vouching) == 0 && lookupErr != nil {
			return lookupErr
		}
		if len(vouching) < threshold {
			return &verify.Failure{Reason: fmt.Sprintf("%s (%s): only %d of the %d required pinned keys signed checksums listing it", a.File, a.Platform, len(vouching), threshold)}
		}
		a.Listed = true
	}
	return nil
}
