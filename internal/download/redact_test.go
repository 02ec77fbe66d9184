package download

import (
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The same table runs against the generated scripts' redact() in generator.
func TestRedact(t *testing.T) {
	for _, c := range testenv.RedactCases {
		got := Redact(c.URL)
		if got != c.Want {
			t.Errorf("Redact(%q) = %q, want %q", c.URL, got, c.Want)
		}
		if c.Secret != "" && strings.Contains(got, c.Secret) {
			t.Errorf("Redact(%q) = %q still holds %q", c.URL, got, c.Secret)
		}
	}
}
