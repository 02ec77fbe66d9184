package verify

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseSHA256Sum reads GNU sha256sum lines; firstLine numbers lines when
// the text is a block inside a larger file.
func parseSHA256Sum(c *Checksums, text string, firstLine int) error {
	for i, line := range strings.Split(text, "\n") {
		n := firstLine + i + 1
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		sum, name, ok := sha256sumLine(line)
		if !ok {
			return fmt.Errorf("line %d: %q is not a \"<sha256>  <file>\" line", n, clip(line))
		}
		if err := c.add(name, sum, n); err != nil {
			return err
		}
	}
	return nil
}

// sha256sumLine splits "<hex>  <file>" (text mode) or "<hex> *<file>"
// (binary mode). GNU prefixes a line with a backslash when the name holds
// a backslash or a newline, and escapes those.
func sha256sumLine(line string) (sum, name string, ok bool) {
	escaped := strings.HasPrefix(line, `\`)
	if escaped {
		line = line[1:]
	}
	if len(line) < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
		return "", "", false
	}
	sum, name = line[:64], line[66:]
	if escaped {
		name = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(name)
	}
	return sum, name, true
}

var (
	// A 64-hex-digit token anywhere on a line: if such a line matches no
	// entry pattern it is a malformed entry, not prose.
	hexToken      = regexp.MustCompile(`(^|[^0-9A-Fa-f])[0-9A-Fa-f]{64}($|[^0-9A-Fa-f])`)
	moneroNewLine = regexp.MustCompile(`^([0-9A-Fa-f]{64})\s+\*?(\S+)$`)
	moneroOldLine = regexp.MustCompile(`^(\S+),\s*([0-9A-Fa-f]{64})$`)
)

// parseMonero reads both layouts of Monero's hashes.txt: "<hex>  <file>"
// with "#" comments (2020 on), and "<file>, <hex>" under a free-text
// header (2019, with some lines repeated). Lines without a digest are prose.
func parseMonero(c *Checksums, text string) error {
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var err error
		if m := moneroNewLine.FindStringSubmatch(line); m != nil {
			err = c.add(m[2], m[1], n)
		} else if m := moneroOldLine.FindStringSubmatch(line); m != nil {
			err = c.add(m[1], m[2], n)
		} else if hexToken.MatchString(line) {
			err = fmt.Errorf("line %d: %q holds a digest but is neither \"<sha256>  <file>\" nor \"<file>, <sha256>\"", n, clip(line))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseGitianAssert reads the out_manifest block of a Gitian build assert:
// a YAML document, an !!omap (a sequence of one-key mappings) or a mapping.
func parseGitianAssert(c *Checksums, text []byte) error {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(text)).Decode(&doc); err != nil {
		return fmt.Errorf("not a YAML document: %w", err)
	}
	// Only the top level is searched: base_manifests nests more manifests.
	var found []*yaml.Node
	look := func(m *yaml.Node) {
		for i := 0; m.Kind == yaml.MappingNode && i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "out_manifest" {
				found = append(found, m.Content[i+1])
			}
		}
	}
	if len(doc.Content) == 1 {
		root := doc.Content[0]
		look(root)
		for _, item := range root.Content {
			if root.Kind == yaml.SequenceNode {
				look(item)
			}
		}
	}
	switch {
	case len(found) == 0:
		return fmt.Errorf("no out_manifest in the assert")
	case len(found) > 1:
		return fmt.Errorf("out_manifest appears %d times (lines %d and %d)", len(found), found[0].Line, found[1].Line)
	case found[0].Kind != yaml.ScalarNode:
		return fmt.Errorf("line %d: out_manifest is not a text block", found[0].Line)
	}
	// Block scalars start on the line after their key.
	return parseSHA256Sum(c, found[0].Value, found[0].Line)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
