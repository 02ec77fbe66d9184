package manifest

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds the loader arbitrary bytes: it must never panic, and
// whatever it rejects must come back as problems that name the file, with
// a position inside it.
func FuzzParse(f *testing.F) {
	base := readFixture(f)
	f.Add([]byte(base))
	f.Add([]byte(strings.Replace(base, "uid: 10002", "uid: [1, 2]", 1)))
	f.Add([]byte(strings.Replace(base, "upstream:", "upstream: &a\n  x: *a\nfoo:", 1)))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("? [a, b]\n: c\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Add([]byte("---\n...\n"))
	lines := strings.Count(base, "\n") + 1
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := Parse(fixture, src)
		var ps Problems
		if err != nil && !errors.As(err, &ps) {
			t.Fatalf("Parse returned a non-Problems error: %v", err)
		}
		if m != nil {
			ps = merge(ps, Validate(m))
		}
		n := strings.Count(string(src), "\n") + 1
		for _, p := range ps {
			if p.File != fixture || p.Msg == "" || p.Line < 0 || p.Line > max(n, lines)+1 || !strings.HasPrefix(p.String(), fixture+":") {
				t.Fatalf("malformed problem %#v", p)
			}
		}
	})
}
