package verify

import (
	"hash"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// sigCheck is one attempt to verify a signature with one candidate key,
// with the hash that content is written to.
type sigCheck struct {
	entry  *sigEntry
	signer signer
	hash   hash.Hash
	sink   io.Writer
	err    error // set when the hash could not be prepared
}

// prepare sets up one hash per signature and candidate key. clearsigned
// text is always hashed as canonical text, whatever the signature type.
func (v *Verifier) prepare(sigs []*sigEntry, clearsigned bool) []*sigCheck {
	var checks []*sigCheck
	for _, e := range sigs {
		if !isDocumentSig(e.sig.SigType) {
			continue
		}
		for _, s := range v.signersOf(e.sig) {
			c := &sigCheck{entry: e, signer: s}
			c.hash, c.err = e.sig.PrepareVerify()
			if c.err == nil {
				c.sink = c.hash
				if clearsigned || e.sig.SigType == packet.SigTypeText {
					c.sink = &textWriter{w: c.hash}
				}
			}
			checks = append(checks, c)
		}
	}
	return checks
}

func isDocumentSig(t packet.SignatureType) bool {
	return t == packet.SigTypeBinary || t == packet.SigTypeText
}

// hashContent streams content once through every prepared hash.
func hashContent(content io.Reader, checks []*sigCheck) error {
	var sinks []io.Writer
	for _, c := range checks {
		if c.sink != nil {
			sinks = append(sinks, c.sink)
		}
	}
	if _, err := io.Copy(io.MultiWriter(sinks...), content); err != nil {
		return err
	}
	for _, c := range checks {
		if t, ok := c.sink.(*textWriter); ok {
			if err := t.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}
