package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// signedFile is one verified checksums file and the pinned keys it counts for.
type signedFile struct {
	signer  string // per-signer mode: whose file; "" otherwise
	signers []string
	sums    *verify.Checksums
}

// verifyChecksums verifies the checksums file(s) of detached and
// clearsigned modes into att.Checksums. Per-signer URLs give one file (and
// signature) per signer (docs/architecture.md §7): a file counts only for its own
// signer's pinned key; signatures by other pinned keys in it are not
// counted, a bad one fails everything; a damaged file counts nothing; an
// unpublished one is reported missing. Each pinned key counts once.
func verifyChecksums(ctx context.Context, m *manifest.Manifest, src Source, keys []PinnedKey, att *Attestation) ([]signedFile, error) {
	r := m.Release
	all := keysOf(keys)
	if !r.PerSigner() {
		v := &verify.Verifier{Keys: all, Threshold: r.Signatures.Threshold}
		text, verdict, err := verifySignedFile(ctx, m, src, "", v)
		att.Checksums = verdict
		if err != nil {
			return nil, underThreshold(verdict, err)
		}
		sums, err := verify.ParseChecksums(verify.Format(r.Checksums.Format), text)
		if err != nil {
			return nil, err
		}
		return []signedFile{{signers: verdict.Signers, sums: sums}}, nil
	}
	var (
		files    []signedFile
		verdicts []*verify.Verdict
	)
	for _, signer := range signerNames(keys) {
		own := ownKeys(keys, signer)
		// Threshold 1 over every pinned key: each file is judged alone,
		// then the verdicts are combined with the real threshold.
		text, verdict, err := verifySignedFile(ctx, m, src, signer, &verify.Verifier{Keys: all, Threshold: 1})
		var (
			f *verify.Failure
			p *Pending
		)
		switch {
		case errors.As(err, &p):
			// Not every pinned builder attests every release: the
			// threshold decides whether enough did.
			att.Missing = append(att.Missing, Missing{Signer: signer, Err: p.Cause})
			continue
		case errors.As(err, &f) && verdict == nil:
			// A damaged file counts nothing; the others may still do.
			verdict = &verify.Verdict{Threshold: 1, Results: []verify.Result{{
				Status: verify.StatusNotCounted, Fingerprint: own[0].Fingerprint, UserID: own[0].UserID, KeyID: own[0].KeyID,
				Reason: fmt.Sprintf("%s's file: %s", signer, f.Reason)}}}
		case err != nil && !errors.As(err, &f):
			return nil, err
		}
		counted := onlyOwn(verdict, own, signer)
		verdicts = append(verdicts, verdict)
		if len(counted) == 0 {
			continue
		}
		if text == nil { // a clearsigned text is returned only when it verified
			return nil, fmt.Errorf("verifying %s's checksums: no signed text", signer)
		}
		sums, err := verify.ParseChecksums(verify.Format(r.Checksums.Format), text)
		if err != nil {
			return nil, err
		}
		files = append(files, signedFile{signer: signer, signers: counted, sums: sums})
	}
	combined, err := verify.Combine(r.Signatures.Threshold, verdicts...)
	att.Checksums = combined
	if len(verdicts) == 0 { // no signer published anything yet
		return nil, &Pending{Reason: "checksums not published yet", Cause: err}
	}
	if err != nil {
		return files, underThreshold(combined, err)
	}
	return files, nil
}

// onlyOwn refuses, in one signer's file, every good signature by a pinned
// key that is not that signer's own, and returns the own keys that signed.
func onlyOwn(v *verify.Verdict, own []*verify.Key, signer string) []string {
	var counted []string
	for i := range v.Results {
		r := &v.Results[i]
		if !r.Good() {
			continue
		}
		if !slices.ContainsFunc(own, func(k *verify.Key) bool { return k.Fingerprint == r.Fingerprint }) {
			r.Status, r.Reason, r.Counted = verify.StatusNotCounted, fmt.Sprintf("in %s's file", signer), false
			continue
		}
		if !slices.Contains(counted, r.Fingerprint) {
			counted = append(counted, r.Fingerprint)
		}
	}
	return counted
}

// signerNames lists the signers of per-signer files, in key order.
func signerNames(keys []PinnedKey) []string {
	var names []string
	for _, k := range keys {
		if !slices.Contains(names, k.Signer) {
			names = append(names, k.Signer)
		}
	}
	return names
}

func ownKeys(keys []PinnedKey, signer string) []*verify.Key {
	var own []*verify.Key
	for _, k := range keys {
		if k.Signer == signer {
			own = append(own, k.Key)
		}
	}
	return own
}

// verifySignedFile fetches and verifies one checksums file; the verified
// text is returned only when verification passed. A file not published is
// a *Pending wrapping the 404 (NotPublished still sees it).
func verifySignedFile(ctx context.Context, m *manifest.Manifest, src Source, signer string, v *verify.Verifier) ([]byte, *verify.Verdict, error) {
	r := m.Release
	data, err := src.Fetch(ctx, m.Expand(r.Checksums.URL, signer), signer)
	if err != nil {
		return nil, nil, notPublished(err, "checksums")
	}
	if r.Signatures.Mode == manifest.ModeClearsigned {
		return v.Clearsigned(data)
	}
	sigs, err := src.Fetch(ctx, m.Expand(r.Signatures.URL, signer), signer)
	if err != nil {
		return nil, nil, notPublished(err, "signatures")
	}
	verdict, err := v.Detached(bytes.NewReader(data), sigs)
	if err != nil {
		return nil, verdict, err
	}
	return data, verdict, nil
}
