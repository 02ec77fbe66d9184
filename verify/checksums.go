package verify

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Format names a checksum file format (coin.yaml release.checksums.format).
type Format string

// Checksum file formats.
const (
	// FormatSHA256Sum is GNU coreutils output: "<hex>  <file>" or "<hex> *<file>".
	FormatSHA256Sum Format = "sha256sum"
	// FormatMonero is Monero's hashes.txt: "<hex>  <file>" lines with "#"
	// comments, or the 2019 style "<file>, <hex>" under a free-text header.
	FormatMonero Format = "monero"
	// FormatGitianAssert is the out_manifest block of a Gitian build assert.
	FormatGitianAssert Format = "gitian-assert"
)

// Formats lists the supported formats, for help texts and validation.
var Formats = []Format{FormatSHA256Sum, FormatMonero, FormatGitianAssert}

// Checksums maps file names to SHA-256 digests (64 lower-case hex digits).
// Build it only from verified text.
type Checksums struct {
	sums map[string]string
}

// ParseChecksums reads verified text in the given format. A name listed
// twice with different digests is an error: which one counts would be
// anyone's guess.
func ParseChecksums(format Format, text []byte) (*Checksums, error) {
	c := &Checksums{sums: map[string]string{}}
	var err error
	switch format {
	case FormatSHA256Sum:
		err = parseSHA256Sum(c, string(text), 0)
	case FormatMonero:
		err = parseMonero(c, string(text))
	case FormatGitianAssert:
		err = parseGitianAssert(c, text)
	default:
		return nil, fmt.Errorf("unknown checksum format %q (known: %s)", format, formatList())
	}
	if err != nil {
		return nil, &Failure{Reason: fmt.Sprintf("reading %s checksums: %v", format, err)}
	}
	if len(c.sums) == 0 {
		return nil, failf("the %s checksums list no file", format)
	}
	return c, nil
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// add records one entry; line is for messages.
func (c *Checksums) add(name, sum string, line int) error {
	sum = strings.ToLower(sum)
	if !isSHA256Hex(sum) {
		return fmt.Errorf("line %d: %q is not a SHA-256 digest", line, sum)
	}
	if name == "" {
		return fmt.Errorf("line %d: no file name", line)
	}
	if old, ok := c.sums[name]; ok && old != sum {
		return fmt.Errorf("line %d: %s is listed twice with different digests (%s and %s)", line, name, old, sum)
	}
	c.sums[name] = sum
	return nil
}

// Lookup returns the digest listed for name, and whether it is listed. A
// name without a directory also matches a listed path with that base name
// (Gitian lists "src/<tarball>"); several such paths are an error.
func (c *Checksums) Lookup(name string) (string, bool, error) {
	if sum, ok := c.sums[name]; ok {
		return sum, true, nil
	}
	var found []string
	if !strings.Contains(name, "/") {
		for n := range c.sums {
			if path.Base(n) == name {
				found = append(found, n)
			}
		}
	}
	switch len(found) {
	case 1:
		return c.sums[found[0]], true, nil
	case 0:
		return "", false, nil
	}
	sort.Strings(found)
	return "", false, failf("%s matches several listed files (%s): name the path", name, strings.Join(found, ", "))
}

// Names returns every listed name, sorted.
func (c *Checksums) Names() []string {
	names := make([]string, 0, len(c.sums))
	for n := range c.sums {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
