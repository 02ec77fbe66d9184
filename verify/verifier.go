package verify

import (
	"fmt"
	"io"
	"time"
)

// Verifier checks OpenPGP signatures against pinned keys under the policy
// of docs/architecture.md §7 (see the package documentation).
type Verifier struct {
	// Keys are the pinned keys; every key here counts. Use SelectKeys to
	// keep only the pinned fingerprints of a file holding several keys.
	Keys []*Key
	// Threshold is how many distinct pinned keys must have signed; at least 1.
	Threshold int
	// Now is the time keys are judged at ("expired since"); zero means the
	// current time. Tests pin it: real keys expire.
	Now time.Time
}

// Detached verifies detached signatures over content. signatures may be
// binary or armored, and armored files may hold several blocks one after
// the other (Bitcoin Core's SHA256SUMS.asc is one block per builder); every
// signature is judged on its own.
//
// The Verdict is returned whenever signatures were judged, also when err is
// a *Failure, so that callers can report every signature; it travels only as
// this return value, never inside the error.
func (v *Verifier) Detached(content io.Reader, signatures []byte) (*Verdict, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	sigs, err := readSignatures(signatures)
	if err != nil {
		return nil, &Failure{Reason: "signature file damaged: " + err.Error()}
	}
	checks := v.prepare(sigs, false)
	if err := hashContent(content, checks); err != nil {
		return nil, fmt.Errorf("reading signed content: %w", err)
	}
	return v.conclude(sigs, checks)
}

func (v *Verifier) check() error {
	if v.Threshold < 1 {
		return fmt.Errorf("signature threshold must be at least 1, not %d", v.Threshold)
	}
	if len(v.Keys) == 0 {
		return fmt.Errorf("no pinned keys")
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now.IsZero() {
		return time.Now()
	}
	return v.Now
}

// conclude judges every signature and counts distinct pinned keys.
func (v *Verifier) conclude(sigs []*sigEntry, checks []*sigCheck) (*Verdict, error) {
	now := v.now()
	verdict := &Verdict{Threshold: v.Threshold}
	for _, e := range sigs {
		var mine []*sigCheck
		for _, c := range checks {
			if c.entry == e {
				mine = append(mine, c)
			}
		}
		verdict.Results = append(verdict.Results, judge(e, mine, now))
	}
	return verdict.tally()
}
