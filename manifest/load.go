package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"gitlab.com/coinpipe/coinpipe/internal/readcap"
	"gitlab.com/coinpipe/coinpipe/internal/workpool"
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
	// read holds what ReadFile read, shared by copies of the manifest.
	read *readMemo
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

// Load reads and strictly decodes dir/coin.yaml. Decoding problems, and a
// manifest that is missing, misnamed, a link, not a regular file or over
// MaxManifestSize, come back as Problems; an unreadable file as a plain error.
func Load(dir string) (*Manifest, error) {
	file := filepath.Join(dir, FileName)
	if p, ok := fileProblem(dir, file); ok {
		return nil, Problems{p}
	}
	src, err := readcap.ReadFileNoLink(file, MaxManifestSize)
	var refused *readcap.Error
	switch {
	case errors.As(err, &refused):
		return nil, Problems{{File: file, Msg: refused.Reason}}
	case err != nil:
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	return Parse(file, src)
}

// fileProblem checks the coin folder is a real folder holding coin.yaml
// under that exact name, not as a link.
func fileProblem(dir, file string) (Problem, bool) {
	info, err := os.Lstat(filepath.Clean(dir))
	switch {
	case err != nil:
		return Problem{File: file, Msg: "does not exist"}, true
	case info.Mode()&fs.ModeSymlink != 0:
		// A linked coin folder could lead anywhere, and its name would not
		// be the coin's: refused outright, like every link.
		return Problem{File: dir, Msg: "the coin folder is a symbolic link; a coin folder must be a real folder inside the coins folder"}, true
	case !info.IsDir():
		return Problem{File: dir, Msg: "is " + readcap.Kind(info.Mode()) + ", not a coin folder"}, true
	}
	switch name := manifestName(dir); name {
	case FileName:
	case "":
		return Problem{File: file, Msg: "does not exist"}, true
	default:
		return Problem{File: filepath.Join(dir, name), Msg: "coinpipe reads only coin.yaml; rename this file to coin.yaml"}, true
	}
	if info, err := os.Lstat(file); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return Problem{File: file, Msg: linkReason}, true
	}
	return Problem{}, false
}

// manifestName is the name of dir's manifest: coin.yaml when present under
// exactly that name, else a misspelling people make (coin.yml, Coin.yaml),
// else "". Listing the folder rather than opening coin.yaml tells them apart
// on case-insensitive file systems too.
func manifestName(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	variant := ""
	for _, e := range entries {
		switch name := e.Name(); {
		case name == FileName:
			return name
		case variant == "" && (strings.EqualFold(name, FileName) || strings.EqualFold(name, "coin.yml")):
			variant = name
		}
	}
	return variant
}

// Parse decodes a manifest from src; file names it in problems and its
// folder is where keys and config files are looked up.
func Parse(file string, src []byte) (*Manifest, error) {
	m := &Manifest{Dir: filepath.Dir(file), File: file, Source: src, read: &readMemo{files: map[string][]byte{}}}
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
	// Some of yaml.v3's messages quote the file (an anchor's name): bounded
	// like every quote of it.
	if len(msg) > 3*ExcerptLimit {
		msg = strings.ToValidUTF8(msg[:3*ExcerptLimit], "") + "..."
	}
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		// yaml.v3 names the line where the enclosing construct starts; a tab
		// is the usual culprit, so point at the tab itself.
		if strings.Contains(msg, "tab character") {
			if l, c, ok := indentTab(src, line); ok {
				return Problem{File: file, Line: l, Col: c, Msg: "invalid YAML: a tab in the indentation; indent with spaces"}
			}
		}
		if l, c, m, ok := misindented(src, line); ok {
			return Problem{File: file, Line: l, Col: c, Msg: m}
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

// OpenAll opens every folder in dirs on every core (keys shared between
// coins are parsed once, see verify.ParseKeys) and returns the manifests in
// dirs' order. Problems of every manifest are collected, in dirs' order,
// before failing; any other error is the first in dirs' order.
func OpenAll(ctx context.Context, dirs []string) ([]*Manifest, error) {
	ms := make([]*Manifest, len(dirs))
	errs := make([]error, len(dirs))
	if err := workpool.Run(ctx, len(dirs), func(i int) {
		ms[i], errs[i] = Open(dirs[i])
	}); err != nil {
		return nil, err
	}
	var all Problems
	for _, err := range errs {
		var ps Problems
		switch {
		case errors.As(err, &ps):
			all = append(all, ps...)
		case err != nil:
			return nil, err
		}
	}
	if len(all) > 0 {
		return nil, all
	}
	return ms, nil
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
// folder holding a coin.yaml (or a misnamed one, which Load reports),
// sorted. Linked folders are listed too, so that Load refuses them rather
// than they vanish silently.
func Discover(coinsDir string, names []string) ([]string, error) {
	if len(names) > 0 {
		dirs := make([]string, len(names))
		for i, name := range names {
			dir := filepath.Join(coinsDir, name)
			if manifestName(dir) == "" {
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
		if (e.IsDir() || e.Type()&fs.ModeSymlink != 0) && manifestName(dir) != "" {
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
