package verify

import (
	"bytes"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// selfSignature parses p and returns it when it claims to be made by pk,
// without checking it cryptographically. Third-party certifications are
// dropped here, unchecked, which is what lets keys with hundreds of
// them (laanwj's) load quickly and keys with unreadable ones load at all.
func selfSignature(pk *packet.PublicKey, p rawPacket) *packet.Signature {
	sig := parseSignature(p)
	if sig == nil {
		return nil
	}
	switch {
	case sig.IssuerFingerprint != nil:
		if !bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint) {
			return nil
		}
	case sig.IssuerKeyId != nil:
		if *sig.IssuerKeyId != pk.KeyId {
			return nil
		}
	}
	// A self-signature older than the key is invalid (GnuPG: "key is newer
	// than signature").
	if sig.CreationTime.Before(pk.CreationTime) {
		return nil
	}
	return sig
}

// newestDirectSig returns the newest valid direct-key self-signature and
// records a valid key revocation.
func newestDirectSig(pk *packet.PublicKey, sigs []rawPacket, revoked *bool) *packet.Signature {
	var newest *packet.Signature
	for _, p := range sigs {
		sig := selfSignature(pk, p)
		if sig == nil {
			continue
		}
		switch sig.SigType {
		case packet.SigTypeKeyRevocation:
			if pk.VerifyRevocationSignature(sig) == nil {
				*revoked = true
			}
		case packet.SigTypeDirectSignature:
			if !newerOrEqual(sig, newest) {
				continue
			}
			if pk.VerifyDirectKeySignature(sig) == nil {
				newest = sig
			}
		}
	}
	return newest
}

// certifiedUID is a user ID whose newest self-signature is a valid certification.
type certifiedUID struct {
	id  string
	sig *packet.Signature
}

// selfCertifiedUIDs returns the user IDs whose newest valid self-signature
// certifies them (not revokes them), in file order.
func selfCertifiedUIDs(pk *packet.PublicKey, comps []component) []certifiedUID {
	var out []certifiedUID
	for _, c := range comps {
		p, err := c.packet.parse()
		if err != nil {
			continue
		}
		uid, ok := p.(*packet.UserId)
		if !ok {
			continue
		}
		var newest *packet.Signature
		for _, sp := range c.sigs {
			sig := selfSignature(pk, sp)
			if sig == nil || !isUIDSelfSigType(sig.SigType) || !newerOrEqual(sig, newest) {
				continue
			}
			if pk.VerifyUserIdSignature(uid.Id, pk, sig) == nil {
				newest = sig
			}
		}
		// A newer certification may follow a revocation: GnuPG lets it
		// restore the user ID (an address can become valid again).
		if newest != nil && newest.SigType != packet.SigTypeCertificationRevocation {
			out = append(out, certifiedUID{id: uid.Id, sig: newest})
		}
	}
	return out
}

func isUIDSelfSigType(t packet.SignatureType) bool {
	switch t {
	case packet.SigTypeGenericCert, packet.SigTypePersonaCert, packet.SigTypeCasualCert,
		packet.SigTypePositiveCert, packet.SigTypeCertificationRevocation:
		return true
	}
	return false
}

// newerOrEqual: on equal dates the later packet wins, as in GnuPG.
func newerOrEqual(sig, than *packet.Signature) bool {
	return than == nil || !sig.CreationTime.Before(than.CreationTime)
}

// primaryUID picks the user ID GnuPG shows: the newest one flagged primary,
// else the newest; equal dates are broken by GnuPG's arbitrary but stable
// comparison (longer first, then bytewise).
func primaryUID(uids []certifiedUID) string {
	pick := func(onlyPrimary bool) string {
		var best *certifiedUID
		for i := range uids {
			u := &uids[i]
			if onlyPrimary && (u.sig.IsPrimaryId == nil || !*u.sig.IsPrimaryId) {
				continue
			}
			if best == nil || u.sig.CreationTime.After(best.sig.CreationTime) ||
				(u.sig.CreationTime.Equal(best.sig.CreationTime) && compareUIDs(u.id, best.id) > 0) {
				best = u
			}
		}
		if best == nil {
			return ""
		}
		return best.id
	}
	if id := pick(true); id != "" {
		return id
	}
	return pick(false)
}

func compareUIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return bytes.Compare([]byte(a), []byte(b))
}

// primaryCanSign follows GnuPG: key flags from the direct-key signature,
// else from the user ID with the newest self-signature carrying flags,
// else whatever the algorithm can do.
func primaryCanSign(pk *packet.PublicKey, direct *packet.Signature, uids []certifiedUID) bool {
	if !pk.CanSign() {
		return false
	}
	if direct != nil && direct.FlagsValid {
		return direct.FlagSign
	}
	var newest *packet.Signature
	for _, u := range uids {
		if u.sig.FlagsValid && (newest == nil || u.sig.CreationTime.After(newest.CreationTime)) {
			newest = u.sig
		}
	}
	if newest != nil {
		return newest.FlagSign
	}
	return true
}

// primaryExpiry follows GnuPG: the direct-key signature's expiry if it has
// one, else the expiry on the newest user ID self-signature that has one.
func primaryExpiry(pk *packet.PublicKey, direct *packet.Signature, uids []certifiedUID) time.Time {
	if t, ok := keyExpiry(pk, direct); ok {
		return t
	}
	var when time.Time
	var newest *packet.Signature
	for _, u := range uids {
		t, ok := keyExpiry(pk, u.sig)
		if ok && (newest == nil || u.sig.CreationTime.After(newest.CreationTime)) {
			newest, when = u.sig, t
		}
	}
	return when
}

// keyExpiry reads a key-expiration subpacket; zero seconds means none.
func keyExpiry(pk *packet.PublicKey, sig *packet.Signature) (time.Time, bool) {
	if sig == nil || sig.KeyLifetimeSecs == nil || *sig.KeyLifetimeSecs == 0 {
		return time.Time{}, false
	}
	return pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second), true
}
