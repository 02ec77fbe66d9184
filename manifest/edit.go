package manifest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// SetRelease returns src (a coin.yaml) with version and each platform's
// release.artifacts.<platform>.sha256 replaced, and every other byte
// unchanged: comments, key order, quoting style, blank lines, line endings.
// sha256 must name exactly the platforms the file lists.
//
// The values are located with yaml.v3 (Node.Line/Column) and spliced into
// the original bytes, so that the diff a reviewer sees in the merge request
// is the version and hash lines and nothing else. A value keeps its quoting
// style; a plain value that would no longer read back as the same string
// (32.0 is a float, 1e5 too) is written double-quoted instead.
//
// A new version starts its builds over: its image.revision line, if any,
// is removed (the tag of the new version is the version alone,
// docs/architecture.md §3).
func SetRelease(src []byte, version string, sha256 map[string]string) ([]byte, error) {
	if err := editable("version", version); err != nil {
		return nil, err
	}
	for _, platform := range sortedKeys(sha256) {
		if err := editable(join("release.artifacts", platform)+".sha256", sha256[platform]); err != nil {
			return nil, err
		}
	}
	targets, err := releaseNodes(src)
	if err != nil {
		return nil, err
	}
	for _, platform := range sortedKeys(sha256) {
		if _, ok := targets.sha256[platform]; !ok {
			return nil, fmt.Errorf("editing coin.yaml: a new sha256 was given for %s, which release.artifacts does not list", platform)
		}
	}
	for _, platform := range sortedKeys(targets.sha256) {
		if _, ok := sha256[platform]; !ok {
			return nil, fmt.Errorf("editing coin.yaml: release.artifacts lists %s but no new sha256 was given for it", platform)
		}
	}

	lines := lineStarts(src)
	var edits []splice
	add := func(path string, n *yaml.Node, value string) error {
		e, err := scalarSplice(src, lines, path, n, value)
		if err != nil {
			return err
		}
		edits = append(edits, e)
		return nil
	}
	if err := add("version", targets.version, version); err != nil {
		return nil, err
	}
	if targets.revision != nil && targets.version.Value != version {
		e, err := lineRemoval(src, lines, "image.revision", targets.revision)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	for _, platform := range sortedKeys(sha256) {
		if err := add(join("release.artifacts", platform)+".sha256", targets.sha256[platform], sha256[platform]); err != nil {
			return nil, err
		}
	}
	// Applied from the end of the file, so earlier offsets stay valid.
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	out := bytes.Clone(src)
	for _, e := range edits {
		out = append(out[:e.from:e.from], append([]byte(e.text), out[e.to:]...)...)
	}

	// The edited file must read back as exactly the values asked for: a
	// splice that went wrong is an error here, never a damaged manifest.
	check, err := releaseNodes(out)
	if err != nil {
		return nil, fmt.Errorf("editing coin.yaml: the edited file does not read back: %w", err)
	}
	if !isString(check.version, version) {
		return nil, fmt.Errorf("editing coin.yaml: version does not read back as %q", version)
	}
	if check.revision != nil && targets.version.Value != version {
		return nil, fmt.Errorf("editing coin.yaml: image.revision is still there after the version changed")
	}
	for platform, sum := range sha256 {
		if !isString(check.sha256[platform], sum) {
			return nil, fmt.Errorf("editing coin.yaml: release.artifacts.%s.sha256 does not read back as %q", platform, sum)
		}
	}
	return out, nil
}

// editable refuses values no single-line scalar can hold.
func editable(path, value string) error {
	switch {
	case value == "":
		return fmt.Errorf("editing coin.yaml: the new %s is empty", path)
	case !utf8.ValidString(value):
		return fmt.Errorf("editing coin.yaml: the new %s is not UTF-8", path)
	case strings.ContainsFunc(value, unicode.IsControl), strings.ContainsAny(value, "\u2028\u2029"):
		return fmt.Errorf("editing coin.yaml: the new %s %q holds a control character or line break", path, excerpt(value))
	}
	return nil
}

// releaseTargets are the scalar nodes SetRelease replaces.
type releaseTargets struct {
	version *yaml.Node
	sha256  map[string]*yaml.Node // by platform
	// revision is image.revision's key and value, nil when it is not
	// written: a version bump removes it.
	revision *[2]*yaml.Node
}

// releaseNodes finds version and every release.artifacts.<platform>.sha256.
func releaseNodes(src []byte) (*releaseTargets, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("editing coin.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("editing coin.yaml: the file is not a mapping")
	}
	root := doc.Content[0]
	t := &releaseTargets{sha256: map[string]*yaml.Node{}}
	var err error
	if t.version, err = child(root, "", "version"); err != nil {
		return nil, err
	}
	release, err := child(root, "", "release")
	if err != nil {
		return nil, err
	}
	artifacts, err := child(release, "release", "artifacts")
	if err != nil {
		return nil, err
	}
	if artifacts.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("editing coin.yaml: release.artifacts (line %d) is not a mapping", artifacts.Line)
	}
	for i := 0; i+1 < len(artifacts.Content); i += 2 {
		platform := artifacts.Content[i].Value
		if _, dup := t.sha256[platform]; dup {
			return nil, fmt.Errorf("editing coin.yaml: release.artifacts lists %s twice (line %d)", platform, artifacts.Content[i].Line)
		}
		sum, err := child(artifacts.Content[i+1], join("release.artifacts", platform), "sha256")
		if err != nil {
			return nil, err
		}
		t.sha256[platform] = sum
	}
	if t.revision, err = optionalEntry(root, "image", "revision"); err != nil {
		return nil, err
	}
	return t, nil
}

// optionalEntry returns the key and value of parent.key in the mapping n,
// or nil when either is not written.
func optionalEntry(n *yaml.Node, parent, key string) (*[2]*yaml.Node, error) {
	var p *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == parent {
			p = n.Content[i+1]
		}
	}
	if p == nil || p.Kind != yaml.MappingNode {
		return nil, nil
	}
	var found *[2]*yaml.Node
	for i := 0; i+1 < len(p.Content); i += 2 {
		if p.Content[i].Kind != yaml.ScalarNode || p.Content[i].Value != key {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("editing coin.yaml: %s.%s is written twice (line %d)", parent, key, p.Content[i].Line)
		}
		found = &[2]*yaml.Node{p.Content[i], p.Content[i+1]}
	}
	return found, nil
}

// lineRemoval is the edit that removes the line holding the mapping entry
// kv, which must be alone on its line (a trailing comment goes with it).
func lineRemoval(src []byte, lines []int, path string, kv *[2]*yaml.Node) (splice, error) {
	key, value := kv[0], kv[1]
	fail := func(why string) (splice, error) {
		return splice{}, fmt.Errorf("editing coin.yaml: %s (line %d) %s; write it as \"revision: N\" on a line of its own under image", path, key.Line, why)
	}
	if value.Kind != yaml.ScalarNode || value.Line != key.Line || value.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return fail("is not a single value on the key's line")
	}
	if key.Line < 1 || key.Line > len(lines) {
		return fail("could not be located in the file")
	}
	from := lines[key.Line-1]
	to := len(src)
	if key.Line < len(lines) {
		to = lines[key.Line]
	}
	keyAt, ok := offset(src, lines, key.Line, key.Column)
	if !ok || strings.TrimLeft(string(src[from:keyAt]), " ") != "" {
		return fail("shares its line with other fields")
	}
	valueAt, ok := offset(src, lines, value.Line, value.Column)
	if !ok {
		return fail("could not be located in the file")
	}
	end := valueAt + len(value.Value)
	if value.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		if end, ok = quotedEnd(src, valueAt, src[valueAt]); !ok {
			return fail("is a quoted value spanning lines")
		}
	}
	if end > to {
		return fail("spans lines")
	}
	if rest := strings.TrimSpace(string(src[end:to])); rest != "" && !strings.HasPrefix(rest, "#") {
		return fail("shares its line with other fields")
	}
	return splice{from, to, ""}, nil
}

// child returns the value of key in the mapping n, written once, as a
// plain scalar, not an alias: the only shape SetRelease can edit in place.
func child(n *yaml.Node, path, key string) (*yaml.Node, error) {
	where := join(path, key)
	if n.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("editing coin.yaml: %s (line %d) is an alias; write the value out", orRoot(path), n.Line)
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("editing coin.yaml: %s (line %d) is not a mapping", orRoot(path), n.Line)
	}
	var found *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind != yaml.ScalarNode || n.Content[i].Value != key {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("editing coin.yaml: %s is written twice (line %d)", where, n.Content[i].Line)
		}
		found = n.Content[i+1]
	}
	if found == nil {
		return nil, fmt.Errorf("editing coin.yaml: %s is missing", where)
	}
	if found.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("editing coin.yaml: %s (line %d) is an alias; write the value out", where, found.Line)
	}
	return found, nil
}

func orRoot(path string) string {
	if path == "" {
		return "the file"
	}
	return path
}

func isString(n *yaml.Node, want string) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value == want
}

// splice replaces src[from:to] by text.
type splice struct {
	from, to int
	text     string
}

// scalarSplice is the edit that writes value over the scalar n, in n's style.
func scalarSplice(src []byte, lines []int, path string, n *yaml.Node, value string) (splice, error) {
	fail := func(why string) (splice, error) {
		return splice{}, fmt.Errorf("editing coin.yaml: %s (line %d) %s", path, n.Line, why)
	}
	if n.Kind != yaml.ScalarNode {
		return fail("is not a single value")
	}
	if n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return fail("carries an anchor or a tag; write the plain value")
	}
	from, ok := offset(src, lines, n.Line, n.Column)
	if !ok {
		return fail("could not be located in the file")
	}
	var to int
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		to, ok = quotedEnd(src, from, '"')
		if !ok {
			return fail("is a double-quoted value spanning lines; write it on one line")
		}
		return splice{from, to, doubleQuote(value)}, nil
	case n.Style&yaml.SingleQuotedStyle != 0:
		to, ok = quotedEnd(src, from, '\'')
		if !ok {
			return fail("is a single-quoted value spanning lines; write it on one line")
		}
		return splice{from, to, "'" + strings.ReplaceAll(value, "'", "''") + "'"}, nil
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return fail("is a block scalar (| or >); write it on one line")
	}
	// A plain scalar on one line is written exactly as its value.
	to = from + len(n.Value)
	if to > len(src) || string(src[from:to]) != n.Value {
		return fail("is a plain value spanning lines; write it on one line")
	}
	if !staysPlainString(value) {
		return splice{from, to, doubleQuote(value)}, nil
	}
	return splice{from, to, value}, nil
}

// staysPlainString reports whether value, written plain, reads back as the
// same string: 32.0, 1e5, true, null, "a #b" or "a: b" do not. Both block
// and flow context are tried ("a,b" is fine in one only), so the answer
// holds wherever the value sits.
func staysPlainString(value string) bool {
	for _, doc := range []string{"k: " + value + "\n", "{k: " + value + "}\n"} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			return false
		}
		if len(n.Content) != 1 || len(n.Content[0].Content) != 2 {
			return false
		}
		if v := n.Content[0].Content[1]; v.Style != 0 || !isString(v, value) {
			return false
		}
	}
	return true
}

// doubleQuote writes value as a YAML double-quoted scalar. editable has
// ruled out control characters, so only \ and " need escaping.
func doubleQuote(value string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`
}

// quotedEnd returns the offset just past the quoted scalar opening at
// src[from], or false when it does not close on the same line.
func quotedEnd(src []byte, from int, quote byte) (int, bool) {
	if from >= len(src) || src[from] != quote {
		return 0, false
	}
	for i := from + 1; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n' || c == '\r':
			return 0, false
		case quote == '"' && c == '\\':
			i++ // the escaped character, whatever it is
		case c == quote && quote == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i++ // '' is an escaped quote
		case c == quote:
			return i + 1, true
		}
	}
	return 0, false
}

// lineStarts returns the byte offset where each line starts (index 0 is
// line 1), breaking lines where yaml.v3 does: CR LF, LF, CR, NEL, LS, PS.
func lineStarts(src []byte) []int {
	start := 0
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		start = 3 // yaml.v3 drops the byte order mark before counting columns
	}
	starts := []int{start}
	for i := start; i < len(src); {
		switch {
		case src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n':
			i += 2
		case src[i] == '\r' || src[i] == '\n':
			i++
		case bytes.HasPrefix(src[i:], []byte("\u0085")), bytes.HasPrefix(src[i:], []byte("\u2028")), bytes.HasPrefix(src[i:], []byte("\u2029")):
			_, size := utf8.DecodeRune(src[i:])
			i += size
		default:
			_, size := utf8.DecodeRune(src[i:])
			i += size
			continue
		}
		starts = append(starts, i)
	}
	return starts
}

// offset turns yaml.v3's 1-based line and column, which count characters,
// into a byte offset.
func offset(src []byte, lines []int, line, col int) (int, bool) {
	if line < 1 || line > len(lines) || col < 1 {
		return 0, false
	}
	i := lines[line-1]
	for range col - 1 {
		if i >= len(src) || src[i] == '\n' || src[i] == '\r' {
			return 0, false
		}
		_, size := utf8.DecodeRune(src[i:])
		i += size
	}
	return i, true
}
