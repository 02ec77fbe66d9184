package generator

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The generated scripts' redact() against the table Go's download.Redact
// passes too: one rule, two implementations.
func TestShellRedact(t *testing.T) {
	testenv.RequireTools(t, "sh", "sed")
	var fn bytes.Buffer
	if err := tmpl.ExecuteTemplate(&fn, "sh-redact", nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"release.sh.tmpl", "docker-entrypoint.sh.tmpl"} {
		if !strings.Contains(tmpl.Lookup(name).Tree.Root.String(), `{{template "sh-redact"}}`) {
			t.Errorf("%s does not use the shared redact()", name)
		}
	}
	for _, c := range testenv.RedactCases {
		out, err := exec.CommandContext(t.Context(), "sh", "-c", fn.String()+"\nredact \"$1\"", "sh", c.URL).CombinedOutput()
		got := strings.TrimSuffix(string(out), "\n")
		if err != nil || got != c.Want {
			t.Errorf("redact %q = %q (%v), want %q", c.URL, got, err, c.Want)
		}
		if c.Secret != "" && strings.Contains(got, c.Secret) {
			t.Errorf("redact %q = %q still holds %q", c.URL, got, c.Secret)
		}
	}
}
