package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// maxSignatures bounds the work a signature file can ask for: each
// signature naming a pinned key costs a pass over the content, which may
// be a 2 GiB archive.
const maxSignatures = 256

// readSignatures returns the signatures of a signature file. A file that is
// not entirely well-formed signature material (see decodePackets, and a
// signature packet that cannot be parsed) is refused whole (docs/architecture.md §7):
// the release.sh build refuses the same files, and a damaged file is a sign
// of tampering or a broken mirror, not something to count around.
func readSignatures(data []byte) ([]*sigEntry, error) {
	packets, err := decodePackets(data, "PGP SIGNATURE")
	if err != nil {
		return nil, err
	}
	var sigs []*sigEntry
	for _, p := range packets {
		switch p.Tag {
		case tagSignature:
			pkt, err := p.parse()
			s, ok := pkt.(*packet.Signature)
			if err != nil || !ok {
				return nil, fmt.Errorf("signature packet at byte %d cannot be read: %v", p.Offset, err)
			}
			sigs = append(sigs, &sigEntry{raw: p, sig: s})
		case tagMarker: // ignored by every implementation
		case tagOnePassSignature, tagCompressed, tagLiteralData:
			return nil, fmt.Errorf("this is a signed message, not a detached signature")
		default:
			return nil, fmt.Errorf("packet at byte %d has type %d: a signature file holds only signatures", p.Offset, p.Tag)
		}
	}
	switch {
	case len(sigs) == 0:
		return nil, fmt.Errorf("no signature found")
	case len(sigs) > maxSignatures:
		return nil, fmt.Errorf("%d signatures in one file, more than the %d any release has: refusing to hash the content that often", len(sigs), maxSignatures)
	}
	return sigs, nil
}

// sigEntry is one signature of the file being verified.
type sigEntry struct {
	raw     rawPacket
	sig     *packet.Signature
	refusal string // set when the signature must not count before it is even checked
}

// signer is a pinned key, and the key or subkey of it that may have made a signature.
type signer struct {
	key *Key
	sub *Subkey // nil when the primary key signed
}

func (s signer) pub() *packet.PublicKey {
	if s.sub != nil {
		return s.sub.pub
	}
	return s.key.pub
}

// signersOf finds the pinned keys a signature names as its issuer: by
// fingerprint when the signature carries one, else by key ID.
func (v *Verifier) signersOf(sig *packet.Signature) []signer {
	var out []signer
	match := func(pk *packet.PublicKey) bool {
		if sig.IssuerFingerprint != nil {
			return bytes.Equal(sig.IssuerFingerprint, pk.Fingerprint)
		}
		return sig.IssuerKeyId != nil && *sig.IssuerKeyId == pk.KeyId
	}
	for _, k := range v.Keys {
		if match(k.pub) {
			out = append(out, signer{key: k})
		}
		for _, s := range k.Subkeys {
			if match(s.pub) {
				out = append(out, signer{key: k, sub: s})
			}
		}
	}
	return out
}

// issuerKeyID names the key a signature claims, for reporting unknown keys.
func issuerKeyID(sig *packet.Signature) string {
	switch {
	case sig.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	case len(sig.IssuerFingerprint) == 20: // v4: the key ID is the fingerprint's low 64 bits
		return fmt.Sprintf("%016X", binary.BigEndian.Uint64(sig.IssuerFingerprint[12:]))
	case len(sig.IssuerFingerprint) >= 8: // v6: its high 64 bits
		return fmt.Sprintf("%016X", binary.BigEndian.Uint64(sig.IssuerFingerprint[:8]))
	}
	return ""
}
