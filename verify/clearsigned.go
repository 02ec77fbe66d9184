package verify

import (
	"bytes"
	"crypto"
	"fmt"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

const (
	clearsignBegin = "-----BEGIN PGP SIGNED MESSAGE-----"
	clearsignSig   = "-----BEGIN PGP SIGNATURE-----"
)

// Clearsigned verifies a clearsigned message (RFC 9580 §7) and returns its
// signed text, with LF line endings and without the dash-escaping. Only
// that text is authenticated: parse checksums from it, never from message.
//
// Anything but blank space before the message or after its signature block
// — a comment, a second clearsigned message — is unsigned text a reader could
// mistake for signed text, so it is rejected rather than ignored. The text is
// returned only when verification passes; the Verdict is returned whenever
// signatures were judged, also when err is a *Failure.
func (v *Verifier) Clearsigned(message []byte) ([]byte, *Verdict, error) {
	if err := v.check(); err != nil {
		return nil, nil, err
	}
	msg := bytes.TrimLeft(message, " \t\r\n")
	if !bytes.HasPrefix(msg, []byte(clearsignBegin)) {
		if bytes.Contains(msg, []byte(clearsignBegin)) {
			return nil, nil, failf("text before the clearsigned message is not signed")
		}
		return nil, nil, failf("not a clearsigned message (no %s line)", clearsignBegin)
	}
	block, rest := clearsign.Decode(msg)
	if block == nil {
		return nil, nil, failf("signature file damaged: malformed clearsigned message: bad header, or no complete signature block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, nil, failf("text after the signature block is not signed (%d bytes, %q…)", len(bytes.TrimSpace(rest)), firstLine(rest))
	}
	armored, err := clearsignedSignature(msg, len(msg)-len(rest))
	if err != nil {
		return nil, nil, &Failure{Reason: "signature file damaged: " + err.Error()}
	}
	sigs, err := readSignatures(armored)
	if err != nil {
		return nil, nil, &Failure{Reason: "signature file damaged: " + err.Error()}
	}
	announced := block.Headers.Values("Hash")
	for _, e := range sigs {
		if len(announced) > 0 && !slices.Contains(announced, openpgpHashName(e.sig.Hash)) {
			// GnuPG refuses a digest the Hash header did not announce.
			e.refusal = fmt.Sprintf("its digest %s is not announced in the Hash header (%s)", openpgpHashName(e.sig.Hash), strings.Join(announced, ", "))
		}
	}
	checks := v.prepare(sigs, true)
	if err := hashContent(bytes.NewReader(block.Bytes), checks); err != nil {
		return nil, nil, fmt.Errorf("hashing the signed text: %w", err)
	}
	verdict, err := v.conclude(sigs, checks)
	if err != nil {
		return nil, verdict, err
	}
	return block.Plaintext, verdict, nil
}

// clearsignedSignature returns the armored signature of a clearsigned
// message: from the first line that is exactly the BEGIN PGP SIGNATURE
// line, where go-crypto's decoder ends the text too, up to end.
func clearsignedSignature(msg []byte, end int) ([]byte, error) {
	off := 0
	for off < end {
		line := msg[off:end]
		next := len(line)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], i+1
		}
		if string(bytes.TrimSuffix(line, []byte("\r"))) == clearsignSig {
			return msg[off:end], nil
		}
		off += next
	}
	return nil, fmt.Errorf("no signature block")
}

func firstLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return string(bytes.TrimSpace(b))
}

// openpgpHashName is a digest's name as a clearsigned Hash header writes it.
func openpgpHashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA1:
		return "SHA1"
	case crypto.SHA3_256:
		return "SHA3-256"
	case crypto.SHA3_512:
		return "SHA3-512"
	}
	return strings.ReplaceAll(h.String(), "-", "")
}
