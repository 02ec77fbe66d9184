// Package verify checks upstream release signatures against pinned OpenPGP
// keys with a threshold, and reads checksum files, the way gpgv would judge
// them (docs/architecture.md §7).
//
// Keys are read packet by packet (ParseKeys, ReadKeyFile) rather than with
// go-crypto's keyring readers: v1 cannot read keys that have third-party
// certifications after a subkey (laanwj's) and checks expiry against the
// current time, and v2 rejects a signature older than every self-signature
// of the key (achow101's renewed key). Like GnuPG, this package takes each
// key's properties from its newest valid self-signatures, checks subkey
// bindings and cross-certifications, and skips third-party certifications
// and packets it cannot parse.
//
// Policy, for each signature (docs/architecture.md §7; the generated release.sh
// applies the same policy, and one table of cases, internal/policytest,
// holds both to it):
//
//   - It counts when it is good, made by a pinned primary key or one of its
//     signing subkeys, and that signing key was created before it, was not
//     expired when it was made, and is not revoked (any revocation, as in
//     GnuPG).
//   - Expiry is the signing key's own, capped by its primary key's
//     (Key.SignerKeys); other, expired subkeys are irrelevant. A key that
//     has expired since still counts, with a warning
//     (StatusGoodExpiredSince, GnuPG's EXPKEYSIG). A signature made after
//     its signing key expired does not count.
//   - A signature dated after the verifier's clock does not count.
//   - Each pinned primary key counts once however many signatures it made.
//   - A bad signature by a pinned key fails the whole verification.
//   - Signatures by other keys are reported and ignored, also keys bundled
//     in a pinned key file without being pinned.
//   - MD5 and SHA-1 signatures never count.
//   - A signature file that is not entirely well-formed signature material
//     (a truncated block, a missing END line, a CRC-24 mismatch, corrupt
//     base64, a block of another type such as an appended public key,
//     packets that do not frame or parse) counts nothing: it is refused
//     whole ("signature file damaged: …"). Text outside armor blocks is
//     ignored, as GnuPG does.
//
// Where this policy is stricter than gpgv, on purpose (the oracle tests pin
// each case): a signature made after its key expired (gpgv: EXPKEYSIG),
// dated in the future (GOODSIG), made with SHA-1 (GOODSIG), or whose digest
// a clearsigned message's Hash header does not announce (ERRSIG), does not
// count; and a damaged signature file counts nothing, where gpgv may judge
// the blocks before the damage. Everything else is judged as gpgv judges it.
//
// Clearsigned messages: only the signed text is returned. Anything but
// blank space before the message or after its signature block, a second
// message included, fails verification rather than being ignored, so
// unsigned text can never be mistaken for signed checksums.
//
// Checksums (ParseChecksums) must be read from verified text only: the
// content given to Verifier.Detached, or the text Verifier.Clearsigned returns.
package verify
