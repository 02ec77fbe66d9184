package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the manifest's name inside a coin folder.
const FileName = "coin.yaml"

// Problem is one mistake in a manifest, printed as
// "coins/<coin>/coin.yaml:LINE:COL: field.path: message".
type Problem struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Line, p.Col)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every mistake found in one or more manifests; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file and position, the order people read them in.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Manifest is a loaded coin.yaml with what it needs to be validated and rendered.
type Manifest struct {
	Coin
	// Dir is the coin's folder; key and config paths are relative to it.
	Dir string
	// File is coin.yaml's path as the user named it, for messages.
	File string
	// Source is coin.yaml's bytes, copied unchanged into the daemon repo.
	Source []byte

	pos  map[string]Pos
	null map[string]bool
}

// Pos returns where a field path's value is, or the closest parent that
// exists (a missing field is reported where its parent is).
func (m *Manifest) Pos(path string) Pos {
	for {
		if p, ok := m.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return m.pos[""]
		}
		path = path[:i]
	}
}

// Has reports whether the field path was written in the file with a value.
func (m *Manifest) Has(path string) bool {
	_, ok := m.pos[path]
	return ok && !m.null[path]
}

// Load reads and strictly decodes dir/coin.yaml. Decoding problems come back
// as Problems; a missing or unreadable file as a plain error.
func Load(dir string) (*Manifest, error) {
	file := filepath.Join(dir, FileName)
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return Parse(file, src)
}

// Parse decodes a manifest from src; file names it in problems and its
// folder is where keys and config files are looked up.
func Parse(file string, src []byte) (*Manifest, error) {
	m := &Manifest{Dir: filepath.Dir(file), File: file, Source: src}
	d := &decoder{file: file, pos: map[string]Pos{}, null: map[string]bool{}}

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{File: file, Msg: "the file is empty"}}
		}
		return nil, Problems{syntaxProblem(file, src, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Problems{{File: file, Line: extra.Line, Col: extra.Column, Msg: "a second YAML document: coin.yaml holds exactly one"}}
	}

	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.decode(root, reflectValue(&m.Coin), "")
	m.pos, m.null = d.pos, d.null
	if len(d.problems) > 0 {
		return m, d.problems
	}
	return m, nil
}

// syntaxProblem turns a yaml.v3 syntax error ("yaml: line 3: ...") into a Problem.
func syntaxProblem(file string, src []byte, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		// yaml.v3 names the line where the enclosing construct starts; a tab
		// is the usual culprit, so point at the tab itself.
		if strings.Contains(msg, "tab character") {
			if l, c, ok := indentTab(src, line); ok {
				return Problem{File: file, Line: l, Col: c, Msg: "invalid YAML: a tab in the indentation; indent with spaces"}
			}
		}
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return Problem{File: file, Line: line, Col: 1, Msg: "invalid YAML: " + msg}
	}
	return Problem{File: file, Msg: "invalid YAML: " + msg}
}

// Open loads dir/coin.yaml and validates it: the one call commands make.
func Open(dir string) (*Manifest, error) {
	m, err := Load(dir)
	var decoding Problems
	if err != nil && (!errors.As(err, &decoding) || m == nil) {
		return nil, err
	}
	if problems := merge(decoding, Validate(m)); len(problems) > 0 {
		return nil, problems
	}
	return m, nil
}

// merge adds validation problems to decoding ones, leaving out those about a
// field that could not be decoded: its zero value would only repeat the news.
func merge(decoding, validation Problems) Problems {
	if len(decoding) == 0 {
		return validation
	}
	out := append(Problems(nil), decoding...)
	for _, v := range validation {
		repeated := false
		for _, d := range decoding {
			if v.Path == d.Path || strings.HasPrefix(v.Path, d.Path+".") || strings.HasPrefix(v.Path, d.Path+"[") {
				repeated = true
				break
			}
		}
		if !repeated {
			out = append(out, v)
		}
	}
	out.Sort()
	return out
}

// Discover lists the coin folders under coinsDir: the named ones, or every
// folder holding a coin.yaml, sorted.
func Discover(coinsDir string, names []string) ([]string, error) {
	if len(names) > 0 {
		dirs := make([]string, len(names))
		for i, name := range names {
			dir := filepath.Join(coinsDir, name)
			if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
				return nil, &NotFoundError{Coin: name, Dir: coinsDir}
			}
			dirs[i] = dir
		}
		return dirs, nil
	}
	entries, err := os.ReadDir(coinsDir)
	if err != nil {
		return nil, fmt.Errorf("listing coins: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		dir := filepath.Join(coinsDir, e.Name())
		if _, err := os.Stat(filepath.Join(dir, FileName)); e.IsDir() && err == nil {
			dirs = append(dirs, dir)
		}
	}
	if len(dirs) == 0 {
		return nil, &NotFoundError{Dir: coinsDir}
	}
	return dirs, nil
}

// NotFoundError is a coin (or any coin) missing from the coins folder: bad input.
type NotFoundError struct{ Coin, Dir string }

func (e *NotFoundError) Error() string {
	if e.Coin == "" {
		return fmt.Sprintf("no coins found: %s holds no <coin>/%s", e.Dir, FileName)
	}
	return fmt.Sprintf("unknown coin %q: %s does not exist", e.Coin, filepath.Join(e.Dir, e.Coin, FileName))
}

// InvalidInput marks manifest mistakes as the input's fault (exit code 2).
func (Problems) InvalidInput() bool { return true }

// InvalidInput marks a missing coin as the input's fault (exit code 2).
func (*NotFoundError) InvalidInput() bool { return true }

// indentTab finds the first tab in a line's indentation at or after line.
func indentTab(src []byte, from int) (line, col int, ok bool) {
	for i, l := range strings.Split(string(src), "\n") {
		if i+1 < from {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if c := strings.IndexByte(indent, '\t'); c >= 0 {
			return i + 1, c + 1, true
		}
	}
	return 0, 0, false
}
