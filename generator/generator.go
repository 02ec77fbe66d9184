// Package generator renders a coin manifest into its daemon repository
// (docs/architecture.md §4): Render is pure apart from reading the coin's own key
// and config files, Write puts a coin's files in place atomically, and Check
// reports drift without writing.
package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/templates"
)

// File is one rendered file, Path relative to the daemon repository.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
}

// rendered maps each templated file to its template and mode.
var rendered = []struct {
	path, template string
	mode           fs.FileMode
}{
	{"Dockerfile", "Dockerfile.tmpl", 0o644},
	{"docker-entrypoint.sh", "docker-entrypoint.sh.tmpl", 0o755},
	{"release.sh", "release.sh.tmpl", 0o755},
	{"node@.service", "node@.service.tmpl", 0o644},
	{"README.md", "README.md.tmpl", 0o644},
	{".gitlab-ci.yml", "gitlab-ci.yml.tmpl", 0o644},
	// The height probe: in the image (/usr/local/bin) and on the host.
	{"coinpipe-height", "coinpipe-height.tmpl", 0o755},
	{"coinpipe-health", "coinpipe-health.tmpl", 0o755},
	{"node-height", "node-height.tmpl", 0o755},
	{"node-metrics", "node-metrics.tmpl", 0o755},
}

var tmpl = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"json":    toJSON,
	"shquote": ShellQuote,
	"join":    strings.Join,
	"upper":   strings.ToUpper,
	"replace": strings.ReplaceAll,
}).ParseFS(templates.Docker, "docker/*.tmpl"))

// Render returns the daemon repository of a validated manifest, sorted by path.
func Render(m *manifest.Manifest, opts Options) ([]File, error) {
	return render(m, opts, new(bytes.Buffer))
}

// render is Render executing every template into buf, which the rendered
// files' Data then share: one buffer that a caller rendering many coins
// (Generate) reuses once a coin is written, where a buffer per file grows
// from nothing each time, zeroing and faulting in fresh memory.
func render(m *manifest.Manifest, opts Options, buf *bytes.Buffer) ([]File, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d := newData(m, opts)
	table, err := keyTable(m)
	if err != nil {
		return nil, err
	}
	d.Signatures.KeyTable = table
	// Committed signed material (coins/<coin>/release/) goes into the
	// daemon repository; release.sh then downloads only the artifact.
	committed, err := m.Committed()
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", m.Name, err)
	}
	d.Committed = committed
	// SOURCES.md says where every value comes from and carries the
	// coin's warnings: a reader of the daemon repository needs it there.
	sources, err := m.Sources()
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", m.Name, err)
	}
	d.HasSources = sources != nil
	files := make([]File, 0, len(rendered)+len(m.Release.Signatures.Keys)+len(m.Runtime.Config)+1)
	buf.Reset()
	ends := make([]int, len(rendered))
	for i, r := range rendered {
		if err := tmpl.ExecuteTemplate(buf, r.template, d); err != nil {
			return nil, fmt.Errorf("rendering %s for %s: %w", r.path, m.Name, err)
		}
		ends[i] = buf.Len()
	}
	// Sliced once all are written: growing buf moves what came before.
	out, start := buf.Bytes(), 0
	for i, r := range rendered {
		// Capacity cut at the end: a caller appending to one file copies
		// it rather than writing over the next.
		files = append(files, File{Path: r.path, Data: out[start:ends[i]:ends[i]], Mode: r.mode})
		start = ends[i]
	}
	files = append(files, File{Path: manifest.FileName, Data: m.Source, Mode: 0o644})
	if sources != nil {
		files = append(files, File{Path: manifest.SourcesFile, Data: sources, Mode: 0o644})
	}
	copied := map[string]bool{}
	for _, k := range m.Release.Signatures.Keys {
		copied[path.Clean(k.File)] = true
	}
	for _, c := range m.Runtime.Config {
		copied[path.Clean(c.File)] = true
	}
	for _, rel := range committed {
		copied[manifest.ReleaseDir+rel] = true
	}
	for rel := range copied {
		b, err := m.ReadFile(rel)
		if err != nil {
			return nil, fmt.Errorf("rendering %s: %w", m.Name, err)
		}
		files = append(files, File{Path: rel, Data: b, Mode: 0o644})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// toJSON writes exec-form arrays and quoted values; no HTML escaping, which
// Dockerfile strings would keep as literal \u0026.
func toJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// ShellQuote quotes s for POSIX sh: the one quoting of every shell line
// coinpipe writes (templates, and the rollout's SSM commands).
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
