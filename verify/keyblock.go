package verify

import (
	"fmt"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// keyBlock is the packets of one transferable public key (RFC 9580 §10.1):
// the primary key, the signatures directly on it, then user IDs and
// subkeys, each followed by its signatures.
type keyBlock struct {
	primary rawPacket
	direct  []rawPacket
	uids    []component
	subkeys []component
}

type component struct {
	packet rawPacket
	sigs   []rawPacket
}

// splitKeyBlocks groups packets by primary key. Packets before the first
// primary key, user attributes (photo IDs) with their signatures, and
// packets of other types (trust, marker) are dropped, as GnuPG drops them.
func splitKeyBlocks(packets []rawPacket) []*keyBlock {
	var blocks []*keyBlock
	var cur *keyBlock
	var sigs *[]rawPacket
	var discard []rawPacket
	for _, p := range packets {
		switch p.Tag {
		case tagPublicKey, tagSecretKey:
			cur = &keyBlock{primary: p}
			blocks = append(blocks, cur)
			sigs = &cur.direct
		case tagUserID, tagPublicSubkey, tagSecretSubkey:
			if cur == nil {
				continue
			}
			list := &cur.uids
			if p.Tag != tagUserID {
				list = &cur.subkeys
			}
			*list = append(*list, component{packet: p})
			sigs = &(*list)[len(*list)-1].sigs
		case tagUserAttribute:
			discard = discard[:0]
			sigs = &discard
		case tagSignature:
			if sigs != nil {
				*sigs = append(*sigs, p)
			}
		}
	}
	return blocks
}

// build checks every self-signature and returns the key as GnuPG would use it.
func (b *keyBlock) build() (*Key, error) {
	if b.primary.Tag == tagSecretKey {
		return nil, fmt.Errorf("packet at byte %d is a secret key: key files must hold public keys only", b.primary.Offset)
	}
	p, err := b.primary.parse()
	if err != nil {
		return nil, fmt.Errorf("unreadable primary key at byte %d: %w", b.primary.Offset, err)
	}
	pk, ok := p.(*packet.PublicKey)
	if !ok || pk.IsSubkey {
		return nil, fmt.Errorf("unreadable primary key at byte %d", b.primary.Offset)
	}
	k := &Key{
		Fingerprint: fingerprintHex(pk),
		KeyID:       pk.KeyIdString(),
		Created:     pk.CreationTime,
		pub:         pk,
	}

	direct := newestDirectSig(pk, b.direct, &k.Revoked)
	uids := selfCertifiedUIDs(pk, b.uids)
	if direct == nil && len(uids) == 0 {
		return nil, fmt.Errorf("key %s has no valid self-signature: GnuPG would not use it either", k.Fingerprint)
	}
	k.UserID = primaryUID(uids)
	k.UserIDs = []string{k.UserID}
	for _, u := range uids {
		if u.id != k.UserID {
			k.UserIDs = append(k.UserIDs, u.id)
		}
	}
	k.CanSign = primaryCanSign(pk, direct, uids)
	k.Expires = primaryExpiry(pk, direct, uids)

	for _, c := range b.subkeys {
		if c.packet.Tag == tagSecretSubkey {
			return nil, fmt.Errorf("packet at byte %d is a secret subkey: key files must hold public keys only", c.packet.Offset)
		}
		if sub := bindSubkey(pk, c); sub != nil {
			k.Subkeys = append(k.Subkeys, sub)
		}
	}
	return k, nil
}

// parseSignature returns nil for a signature go-crypto cannot read: such a
// signature is skipped, never trusted.
func parseSignature(p rawPacket) *packet.Signature {
	pkt, err := p.parse()
	if err != nil {
		return nil
	}
	sig, _ := pkt.(*packet.Signature)
	return sig
}
