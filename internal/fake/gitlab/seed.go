package gitlab

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// FilesFromDir reads every regular file under dir into a tree, each path
// prefixed with prefix ("coins/bitcoin" puts dir's coin.yaml at
// coins/bitcoin/coin.yaml), execute bits kept. Hidden folders (.git) are
// skipped.
func FilesFromDir(dir, prefix string) (map[string]File, error) {
	files := map[string]File{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && len(d.Name()) > 1 && d.Name()[0] == '.' {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[path.Join(prefix, filepath.ToSlash(rel))] = File{Content: b, Executable: info.Mode()&0o111 != 0}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	return files, nil
}

// SeedProject creates the project at path with files in one commit on
// main, its default branch, and returns that commit's SHA: the toolkit
// project a daemon pipeline's conformance job reads
// (files: FilesFromDir("coins", "coins")).
func (s *Server) SeedProject(path string, files map[string]File) string {
	s.AddProject(path, "main", files)
	h, _ := s.Head(path, "main")
	return h.SHA
}
