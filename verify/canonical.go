package verify

import "io"

// textWriter canonicalises text for signatures of type 0x01 the way gpgv
// does (GnuPG's text filter): every line loses its trailing CRs, and a line
// that ended in LF ends in CRLF; a last line without LF gets no line end.
// go-crypto's own canonical hash keeps stray CRs, and agreeing with gpgv is
// the contract.
type textWriter struct {
	w   io.Writer
	crs int // CRs seen but not yet written: dropped if a LF follows
	err error
}

var crlf = []byte("\r\n")

func (t *textWriter) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	start := 0
	for i, c := range p {
		switch c {
		case '\r':
			if t.crs == 0 {
				t.write(p[start:i])
			}
			t.crs++
			start = i + 1
		case '\n':
			if t.crs == 0 {
				t.write(p[start:i])
			}
			t.crs = 0
			t.write(crlf)
			start = i + 1
		default:
			if t.crs > 0 {
				t.flushCRs()
				start = i
			}
		}
	}
	if t.crs == 0 {
		t.write(p[start:])
	}
	if t.err != nil {
		return 0, t.err
	}
	return len(p), nil
}

// Close drops CRs that ended the input, as GnuPG trims every line.
func (t *textWriter) Close() error {
	t.crs = 0
	return t.err
}

func (t *textWriter) flushCRs() {
	for ; t.crs > 0; t.crs-- {
		t.write([]byte{'\r'})
	}
}

func (t *textWriter) write(b []byte) {
	if t.err == nil && len(b) > 0 {
		_, t.err = t.w.Write(b)
	}
}
