package manifest

import (
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// ExcerptLimit is how many bytes of a value from coin.yaml a message quotes
// at most: enough to recognise the value, too little to dump a file's worth
// of whatever a hostile manifest points at into a CI log.
const ExcerptLimit = 64

// excerpt is a value read from coin.yaml on its way into a message: %q
// quotes and escapes at most ExcerptLimit bytes of it, %s writes them
// as they are (for values already checked to be plain), and both mark a cut
// with "..." outside the quotes.
type excerpt string

func (e excerpt) Format(f fmt.State, verb rune) {
	s, cut := clip(string(e))
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	io.WriteString(f, s)
	if cut {
		io.WriteString(f, "...")
	}
}

// clip cuts s to at most ExcerptLimit bytes on a character boundary.
func clip(s string) (string, bool) {
	if len(s) <= ExcerptLimit {
		return s, false
	}
	n := ExcerptLimit
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// keyText is a mapping key as it appears in a field path: as written when
// it is short and printable, else quoted and clipped.
func keyText(k string) string {
	plain := len(k) > 0 && len(k) <= ExcerptLimit
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || r == '"' {
			plain = false
			break
		}
	}
	if plain {
		return k
	}
	return fmt.Sprintf("%q", excerpt(k))
}
