package verify

import (
	"bytes"
	"testing"
)

func TestTextWriter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\r\nb", "a\r\nb"},
		{"a\r\r\nb\r", "a\r\nb"},
		{"a\rb\n", "a\rb\r\n"},
		{"\r\r", ""},
		{"", ""},
	}
	for _, tt := range tests {
		// Whole, and one byte at a time: io.Copy may split the input anywhere.
		for _, chunk := range []int{len(tt.in) + 1, 1} {
			var out bytes.Buffer
			w := &textWriter{w: &out}
			for in := []byte(tt.in); len(in) > 0; {
				n := min(chunk, len(in))
				if _, err := w.Write(in[:n]); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("%q in chunks of %d: got %q, want %q", tt.in, chunk, out.String(), tt.want)
			}
		}
	}
}
