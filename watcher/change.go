package watcher

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
)

// bump is the change that upgrades a coin: its coin.yaml with the new
// version and sha256s, the verified checksums and signatures committed
// under the coin's release/ folder, and its re-rendered daemon repository
// under out/. Paths are the toolkit project's, as in the checkout.
type bump struct {
	Actions []gitlab.Action
	// Manifest is the upgraded manifest, validated and rendered.
	Manifest *manifest.Manifest
}

// Layout says where coins live in the toolkit checkout the watcher runs
// from, and where the same paths are in the GitLab project.
type Layout struct {
	// CoinsDir and OutDir are folders of the checkout.
	CoinsDir, OutDir string
	// CoinsPath and OutPath are the same folders relative to the project's
	// root, with slashes: what commit actions name.
	CoinsPath, OutPath string
	Render             generator.Options
}

// makeBump builds the upgrade of m to att's version. Nothing is written to
// the checkout: the new coin folder is assembled in a temporary folder,
// validated and rendered there, and compared with the checkout.
func makeBump(ctx context.Context, l Layout, m *manifest.Manifest, att *release.Attestation) (*bump, error) {
	sums := map[string]string{}
	for _, a := range att.Artifacts {
		sums[a.Platform] = a.SHA256
	}
	coinYAML, err := manifest.SetRelease(m.Source, att.Version, sums)
	if err != nil {
		return nil, fmt.Errorf("editing %s: %w", m.File, err)
	}
	tmp, err := os.MkdirTemp("", "coinpipe-watch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, m.Name)
	files := map[string][]byte{manifest.FileName: coinYAML}
	for _, k := range m.Release.Signatures.Keys {
		if files[path.Clean(k.File)], err = m.ReadFile(path.Clean(k.File)); err != nil {
			return nil, err
		}
	}
	for _, c := range m.Runtime.Config {
		if files[path.Clean(c.File)], err = m.ReadFile(path.Clean(c.File)); err != nil {
			return nil, err
		}
	}
	released := map[string][]byte{}
	for _, f := range att.Files {
		released[manifest.ReleaseDir+f.Path] = f.Data
	}
	for rel, data := range released {
		files[rel] = data
	}
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, err
		}
	}
	nm, err := manifest.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("the upgraded %s does not validate: %w", m.File, err)
	}
	rendered, err := generator.Render(nm, l.Render)
	if err != nil {
		return nil, err
	}

	b := &bump{Manifest: nm}
	coinPath := path.Join(l.CoinsPath, m.Name)
	b.Actions = append(b.Actions, gitlab.Action{Op: "update", Path: path.Join(coinPath, manifest.FileName), Content: coinYAML})
	// The previous release/ folder is replaced whole: a file upstream no
	// longer publishes must not linger beside the new ones.
	committed, err := m.Committed()
	if err != nil {
		return nil, err
	}
	old := map[string][]byte{}
	for _, rel := range committed {
		p := manifest.ReleaseDir + rel
		if old[p], err = m.ReadFile(p); err != nil {
			return nil, err
		}
	}
	for _, rel := range slices.Sorted(maps.Keys(released)) {
		op := "create"
		if prev, ok := old[rel]; ok {
			if bytes.Equal(prev, released[rel]) {
				continue
			}
			op = "update"
		}
		b.Actions = append(b.Actions, gitlab.Action{Op: op, Path: path.Join(coinPath, rel), Content: released[rel]})
	}
	for _, rel := range slices.Sorted(maps.Keys(old)) {
		if _, ok := released[rel]; !ok {
			b.Actions = append(b.Actions, gitlab.Action{Op: "delete", Path: path.Join(coinPath, rel)})
		}
	}

	changes, err := generator.Check(ctx, l.OutDir, m.Name, rendered)
	if err != nil {
		return nil, err
	}
	byPath := map[string]generator.File{}
	for _, f := range rendered {
		byPath[f.Path] = f
	}
	outPath := path.Join(l.OutPath, m.Name)
	for _, c := range changes {
		f := byPath[c.Path]
		a := gitlab.Action{Path: path.Join(outPath, c.Path), Content: f.Data, Executable: f.Mode&0o111 != 0}
		switch c.Kind {
		case "added":
			a.Op = "create"
		case "changed":
			a.Op = "update"
		case "removed":
			a = gitlab.Action{Op: "delete", Path: a.Path}
		default:
			return nil, fmt.Errorf("rendering %s: unexpected change %q", m.Name, c.Kind)
		}
		b.Actions = append(b.Actions, a)
	}
	return b, nil
}
