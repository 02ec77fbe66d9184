package verify

import "github.com/ProtonMail/go-crypto/openpgp/packet"

// bindSubkey returns the subkey if the primary key bound it with a valid
// signature; the newest valid binding decides its flags and expiry.
func bindSubkey(pk *packet.PublicKey, c component) *Subkey {
	p, err := c.packet.parse()
	if err != nil {
		return nil
	}
	sub, ok := p.(*packet.PublicKey)
	if !ok || !sub.IsSubkey {
		return nil
	}
	var binding *packet.Signature
	revoked := false
	for _, sp := range c.sigs {
		sig := selfSignature(pk, sp)
		if sig == nil || sig.CreationTime.Before(sub.CreationTime) {
			continue
		}
		switch sig.SigType {
		case packet.SigTypeSubkeyRevocation:
			// GnuPG: a subkey revocation stands whatever its date.
			if pk.VerifySubkeyRevocationSignature(sig, sub) == nil {
				revoked = true
			}
		case packet.SigTypeSubkeyBinding:
			if newerOrEqual(sig, binding) && verifyBinding(pk, sub, sig, false) {
				binding = sig
			}
		}
	}
	if binding == nil {
		return nil
	}
	s := &Subkey{
		Fingerprint: fingerprintHex(sub),
		KeyID:       sub.KeyIdString(),
		Created:     sub.CreationTime,
		Revoked:     revoked,
		pub:         sub,
	}
	if t, ok := keyExpiry(sub, binding); ok {
		s.Expires = t
	}
	maySign := sub.CanSign() && (!binding.FlagsValid || binding.FlagSign)
	s.CanSign = maySign && verifyBinding(pk, sub, binding, true)
	return s
}

// verifyBinding checks a subkey binding signature and, with backSig, the
// subkey's embedded cross-signature too. go-crypto checks the
// cross-signature only when the binding has the sign flag; GnuPG also wants
// it when the binding has no flags and the algorithm can sign, so the flag is
// set on a copy to ask for it. The flag is not part of what was hashed.
func verifyBinding(pk, sub *packet.PublicKey, sig *packet.Signature, backSig bool) bool {
	c := *sig
	c.FlagSign = backSig
	return pk.VerifyKeySignature(sub, &c) == nil
}
