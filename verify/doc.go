// Package verify checks upstream release signatures against pinned OpenPGP
// keys with a threshold, and reads checksum files, the way gpgv would judge
// them (ARCHITECTURE §7).
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
// Policy, for each signature:
//
//   - It counts when it is good, made by a pinned primary key or one of its
//     signing subkeys, and the key was created before it, was not expired
//     when it was made, and is not revoked (any revocation, as in GnuPG).
//   - A key that has expired since still counts, with a warning
//     (StatusGoodExpiredSince, GnuPG's EXPKEYSIG). A signature made after
//     the key expired does not count; gpgv would accept it with EXPKEYSIG.
//   - Each pinned primary key counts once however many signatures it made.
//   - A bad signature by a pinned key fails the whole verification.
//   - Signatures by other keys are reported and ignored.
//   - MD5 and SHA-1 signatures never count.
//
// Where this policy is stricter than gpgv, on purpose (the gpgv oracle
// tests pin each case): a signature made after its key expired (gpgv:
// EXPKEYSIG), dated in the future (GOODSIG), made with SHA-1 (GOODSIG), or
// whose digest a clearsigned message's Hash header does not announce
// (ERRSIG), does not count. Everything else is judged as gpgv judges it.
//
// Clearsigned messages: only the signed text is returned. Anything but
// blank space before the message or after its signature block, a second
// message included, fails verification rather than being ignored, so
// unsigned text can never be mistaken for signed checksums.
//
// Checksums (ParseChecksums) must be read from verified text only: the
// content given to Verifier.Detached, or the text Verifier.Clearsigned returns.
package verify
