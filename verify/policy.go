package verify

import (
	"crypto"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// judge returns the result for one signature. With several candidate keys
// (a key ID shared by two pinned keys) the first that verifies is the signer.
func judge(e *sigEntry, checks []*sigCheck, now time.Time) Result {
	r := Result{Created: e.sig.CreationTime, Hash: e.sig.Hash, KeyID: issuerKeyID(e.sig)}
	if !isDocumentSig(e.sig.SigType) {
		r.Status, r.Reason = StatusNotCounted, fmt.Sprintf("signature of type 0x%02x is not a signature over a file", uint8(e.sig.SigType))
		return r
	}
	if len(checks) == 0 {
		r.Status = StatusUnknownKey
		return r
	}
	s := checks[0].signer
	r.Fingerprint, r.UserID, r.KeyID = s.key.Fingerprint, s.key.UserID, s.pub().KeyIdString()
	if e.refusal != "" {
		r.Status, r.Reason = StatusNotCounted, e.refusal
		return r
	}
	var badErr, prepErr error
	for _, c := range checks {
		if c.err != nil {
			prepErr = c.err
			continue
		}
		err := c.signer.pub().VerifySignature(c.hash, e.sig)
		if err == nil {
			return policy(r, e.sig, c.signer, now)
		}
		if badErr == nil {
			badErr = err
		}
	}
	if badErr == nil {
		// Could not be checked at all (e.g. a digest this build lacks):
		// that is not evidence of tampering, but it cannot count either.
		r.Status, r.Reason = StatusNotCounted, fmt.Sprintf("cannot check the signature: %v", prepErr)
		return r
	}
	r.Status, r.Reason = StatusBad, fmt.Sprintf("signature does not verify: %v", badErr)
	return r
}

// policy applies docs/architecture.md §7 to a cryptographically good signature.
func policy(r Result, sig *packet.Signature, s signer, now time.Time) Result {
	k := s.key
	r.Fingerprint, r.UserID, r.KeyID = k.Fingerprint, k.UserID, s.pub().KeyIdString()
	notCounted := func(format string, args ...any) Result {
		r.Status, r.Reason = StatusNotCounted, fmt.Sprintf(format, args...)
		return r
	}
	expires := signingExpiry(k, s.sub)
	switch {
	case sig.Hash == crypto.MD5 || sig.Hash == crypto.SHA1:
		return notCounted("%s signatures never count", hashName(sig.Hash))
	case k.Revoked:
		return notCounted("the key is revoked")
	case s.sub != nil && s.sub.Revoked:
		return notCounted("signing subkey %s is revoked", s.sub.KeyID)
	case s.sub == nil && !k.CanSign:
		return notCounted("the primary key is not allowed to sign (key flags)")
	case s.sub != nil && !s.sub.CanSign:
		return notCounted("subkey %s is not a signing subkey, or does not cross-certify its primary key", s.sub.KeyID)
	case s.pub().CreationTime.After(sig.CreationTime):
		return notCounted("the signature is older than the key that made it")
	case sig.CreationTime.After(now):
		return notCounted("the signature is dated in the future (%s)", sig.CreationTime.UTC().Format(time.RFC3339))
	case sig.SigExpired(now):
		return notCounted("the signature itself has expired")
	case !expires.IsZero() && sig.CreationTime.After(expires):
		return notCounted("the key had expired on %s, before it made this signature", day(expires))
	case !expires.IsZero() && now.After(expires):
		r.Status, r.Reason, r.ExpiredSince = StatusGoodExpiredSince, "expired since "+day(expires), expires
		return r
	}
	r.Status = StatusGood
	return r
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA-1"
	}
	return h.String()
}
