package verify

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is one public key (a primary key with its user IDs and subkeys) as
// GnuPG sees it once every self-signature has been checked.
type Key struct {
	// Fingerprint is the primary key's fingerprint in upper-case hex: 40
	// digits for v4 keys, 64 for v6 keys.
	Fingerprint string
	// UserID is the primary user ID, chosen as GnuPG chooses it, for people
	// reading results.
	UserID string
	// UserIDs holds every user ID with a valid, unrevoked self-signature:
	// the primary one first, then the others in file order, as gpg lists them.
	UserIDs []string
	// KeyID is the primary key's 64-bit key ID in upper-case hex.
	KeyID string
	// Created is the primary key's creation time.
	Created time.Time
	// Expires is when the primary key expires, from its newest
	// self-signature; zero means never.
	Expires time.Time
	// Revoked is set when the key carries a valid revocation by itself.
	// GnuPG treats every key revocation as final whatever its reason or
	// date, and so does this package.
	Revoked bool
	// CanSign reports whether the primary key may make data signatures.
	CanSign bool
	// Subkeys holds the subkeys with a valid binding signature.
	Subkeys []*Subkey

	pub *packet.PublicKey
}

// Subkey is a subkey bound to its primary key by a valid binding signature.
type Subkey struct {
	Fingerprint string
	KeyID       string
	Created     time.Time
	// Expires is the subkey's own expiry (zero: never); the primary key's
	// expiry applies on top of it.
	Expires time.Time
	Revoked bool
	// CanSign is set when the binding allows signing and the subkey
	// cross-certifies its primary key (the embedded back-signature that
	// stops anyone from claiming another person's signing subkey).
	CanSign bool

	pub *packet.PublicKey
}

// ReadKeyFile reads every public key in a key file: armored (one or more
// blocks, LF or CRLF) or binary.
func ReadKeyFile(path string) ([]*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	return keys, nil
}

// ParseKeys reads every public key in data, armored or binary.
//
// It is as lenient as GnuPG with what surrounds a key: third-party
// certifications are not checked, and packets that cannot be parsed (an
// unknown algorithm, a garbled certification, a subkey of an unsupported
// type) are skipped. It fails on what would leave a key unusable or
// misread: broken framing, an unreadable primary key, a key without any
// valid self-signature, or secret key material.
//
// The same bytes are parsed and checked once per process (see keycache.go):
// every call returns its own copies, which the caller may keep or change.
func ParseKeys(data []byte) ([]*Key, error) {
	return parsedKeys.parse(data)
}

// parseKeys is ParseKeys without the cache.
func parseKeys(data []byte) ([]*Key, error) {
	packets, err := decodePackets(data, "PGP PUBLIC KEY BLOCK")
	if err != nil {
		return nil, err
	}
	var keys []*Key
	for _, block := range splitKeyBlocks(packets) {
		k, err := block.build()
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no public key found")
	}
	return keys, nil
}

// SelectKeys returns the keys whose primary fingerprint is one of
// fingerprints (any case, spaces ignored), and an error naming any
// fingerprint that matches no key.
func SelectKeys(keys []*Key, fingerprints ...string) ([]*Key, error) {
	var out []*Key
	var missing []string
	for _, fp := range fingerprints {
		want := normalizeFingerprint(fp)
		found := false
		for _, k := range keys {
			if k.Fingerprint == want {
				out = append(out, k)
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("no key with fingerprint %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func normalizeFingerprint(fp string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(strings.TrimSpace(fp), "0x"), " ", ""))
}

func fingerprintHex(pk *packet.PublicKey) string {
	return fmt.Sprintf("%X", pk.Fingerprint)
}

// SignerKey is the primary key or one subkey of a pinned key, as a
// signature made by it is judged.
type SignerKey struct {
	// Fingerprint is this key's own fingerprint (gpgv's VALIDSIG first
	// field), Primary its primary key's.
	Fingerprint, Primary string
	// Expires is this key's expiry capped by its primary key's (zero:
	// never). It is the only expiry that matters for a signature the key
	// made (docs/architecture.md §7): other, expired subkeys are irrelevant.
	Expires time.Time
	// CanSign: the key may make signatures that count (allowed to sign,
	// cross-certified, and neither it nor its primary key revoked).
	CanSign bool
}

// SignerKeys lists k's primary key and bound subkeys with the expiry that
// applies to their signatures. The generated release.sh judges gpgv's
// VALIDSIG lines against this list, because gpgv's KEYEXPIRED status lines
// do not say which key expired.
func (k *Key) SignerKeys() []SignerKey {
	out := []SignerKey{{Fingerprint: k.Fingerprint, Primary: k.Fingerprint, Expires: k.Expires, CanSign: k.CanSign && !k.Revoked}}
	for _, s := range k.Subkeys {
		out = append(out, SignerKey{Fingerprint: s.Fingerprint, Primary: k.Fingerprint, Expires: signingExpiry(k, s), CanSign: s.CanSign && !s.Revoked && !k.Revoked})
	}
	return out
}

// signingExpiry is when a signature by s (nil: the primary key) stops
// being possible: its own expiry, capped by the primary key's.
func signingExpiry(k *Key, s *Subkey) time.Time {
	expires := k.Expires
	if s != nil && !s.Expires.IsZero() && (expires.IsZero() || s.Expires.Before(expires)) {
		expires = s.Expires
	}
	return expires
}
