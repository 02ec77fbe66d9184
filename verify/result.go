package verify

import (
	"crypto"
	"fmt"
	"strings"
	"time"
)

// Status is what became of one signature.
type Status int

const (
	// StatusGood: a good signature by a pinned key that was valid when it signed.
	StatusGood Status = iota
	// StatusGoodExpiredSince: as StatusGood, but the key has expired since;
	// it still counts (GnuPG's EXPKEYSIG) and is reported as a warning.
	StatusGoodExpiredSince
	// StatusUnknownKey: made by a key that is not pinned; reported and ignored.
	StatusUnknownKey
	// StatusBad: a pinned key's signature that does not verify. It fails
	// the whole verification.
	StatusBad
	// StatusNotCounted: verified or unreadable, but policy refuses to
	// count it (weak hash, revoked or expired key, …); Reason says why.
	StatusNotCounted
)

func (s Status) String() string {
	switch s {
	case StatusGood:
		return "good"
	case StatusGoodExpiredSince:
		return "good (key expired since)"
	case StatusUnknownKey:
		return "unknown key"
	case StatusBad:
		return "BAD"
	case StatusNotCounted:
		return "not counted"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the judgement on one signature.
type Result struct {
	Status Status
	// Reason explains StatusBad and StatusNotCounted, and the warning of
	// StatusGoodExpiredSince.
	Reason string
	// Fingerprint is the pinned primary key's fingerprint, when the signer is known.
	Fingerprint string
	// KeyID is the signing key's ID (a subkey's when a subkey signed), or
	// the issuer named by the signature when the key is unknown.
	KeyID string
	// UserID is the primary user ID of the signer, when known.
	UserID string
	// Created is the signature's creation time.
	Created time.Time
	// Hash is the signature's digest algorithm.
	Hash crypto.Hash
	// ExpiredSince is when the key expired, for StatusGoodExpiredSince.
	ExpiredSince time.Time
	// Counted is set on the one result that counts its key towards the
	// threshold; a second good signature by the same key is not counted.
	Counted bool
}

// Good reports whether the signature is good and counts under the policy.
func (r Result) Good() bool {
	return r.Status == StatusGood || r.Status == StatusGoodExpiredSince
}

// Verdict is the outcome of a verification: every signature's result and
// which pinned keys count towards the threshold.
type Verdict struct {
	Results []Result
	// Signers are the fingerprints of the distinct pinned keys that signed, in order.
	Signers   []string
	Threshold int
}

// Combine judges signatures spread over several files as one set, for
// upstreams that publish one signed file per signer (Gitian asserts, BCHN):
// verify each file with a threshold of 1, then combine their verdicts with
// the real threshold. Each pinned key still counts once.
func Combine(threshold int, verdicts ...*Verdict) (*Verdict, error) {
	if threshold < 1 {
		return nil, fmt.Errorf("signature threshold must be at least 1, not %d", threshold)
	}
	all := &Verdict{Threshold: threshold}
	for _, v := range verdicts {
		all.Results = append(all.Results, v.Results...)
	}
	return all.tally()
}

// tally marks the result that counts each pinned key and applies the threshold.
func (v *Verdict) tally() (*Verdict, error) {
	v.Signers = nil
	seen := map[string]bool{}
	for i := range v.Results {
		r := &v.Results[i]
		r.Counted = r.Good() && !seen[r.Fingerprint]
		if r.Counted {
			seen[r.Fingerprint] = true
			v.Signers = append(v.Signers, r.Fingerprint)
		}
	}
	if reason := v.failure(); reason != "" {
		return v, &Failure{Reason: reason}
	}
	return v, nil
}

// OK reports whether the threshold is met and no pinned key signed badly.
func (v *Verdict) OK() bool {
	return v.failure() == ""
}

// Warnings lists what a person should know although verification passed.
func (v *Verdict) Warnings() []string {
	var w []string
	for _, r := range v.Results {
		if r.Status == StatusGoodExpiredSince {
			w = append(w, fmt.Sprintf("key %s %s", r.Fingerprint, r.Reason))
		}
	}
	return w
}

// Summary is a one-line verdict for people.
func (v *Verdict) Summary() string {
	if reason := v.failure(); reason != "" {
		return "FAILED: " + reason
	}
	return fmt.Sprintf("OK: %d pinned keys signed (%d required)", len(v.Signers), v.Threshold)
}

func (v *Verdict) failure() string {
	var bad []string
	for _, r := range v.Results {
		if r.Status == StatusBad {
			bad = append(bad, fmt.Sprintf("%s (%s): %s", r.Fingerprint, r.UserID, r.Reason))
		}
	}
	if len(bad) > 0 {
		return "bad signature by pinned key " + strings.Join(bad, "; ")
	}
	if len(v.Signers) < v.Threshold {
		return fmt.Sprintf("only %d of the %d required pinned keys made a good signature", len(v.Signers), v.Threshold)
	}
	return ""
}

// Failure is the error for verification that failed: a bad signature, a
// threshold not met, unreadable or tampered signature material, or
// checksums that do not match. Commands map it to exit code 3. It carries
// no Verdict: the functions that judge signatures return theirs beside it.
type Failure struct {
	Reason string
}

func (f *Failure) Error() string { return "verification failed: " + f.Reason }

// VerificationFailed tells commands to exit with code 3.
func (*Failure) VerificationFailed() bool { return true }

func failf(format string, args ...any) *Failure {
	return &Failure{Reason: fmt.Sprintf(format, args...)}
}
