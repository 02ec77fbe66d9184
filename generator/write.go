package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Change is one file that differs between the rendered and the written repo.
type Change struct {
	Path string
	Kind string // "added", "changed" or "removed"
}

func (c Change) String() string { return c.Kind + " " + c.Path }

// Check compares outDir/<name> with files and lists what Write would change.
// It writes nothing.
func Check(outDir, name string, files []File) ([]Change, error) {
	return diff(filepath.Join(outDir, name), files)
}

// Write makes outDir/<name> hold exactly files. Nothing is touched when
// nothing changed. Otherwise the new tree is staged beside the old one
// (unchanged files hard-linked, so they keep their inode and mtime) and
// swapped in with renames, so a failure leaves the previous output whole.
// Files it did not render are removed: the folder must be the generator's
// own. Write refuses a folder holding hidden entries it does not render (the
// .git of a checkout, a CI tool's state) and a symlinked folder, rather than
// lose or move what is not its own; Check accepts both.
func Write(outDir, name string, files []File) ([]Change, error) {
	dir := filepath.Join(outDir, name)
	if err := ownedByGenerator(dir, files); err != nil {
		return nil, err
	}
	changes, err := diff(dir, files)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	staged, err := os.MkdirTemp(outDir, "."+name+".new-")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	defer os.RemoveAll(staged)                      // gone after a successful swap; cleans up a failed one
	if err := os.Chmod(staged, 0o755); err != nil { // MkdirTemp makes it 0700
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	changed := map[string]bool{}
	for _, c := range changes {
		changed[c.Path] = true
	}
	for _, f := range files {
		if err := stage(staged, dir, f, changed[f.Path]); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := swap(staged, dir); err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	return changes, nil
}

// UnsafeOutputError is an output folder Write will not replace: it holds
// what the generator does not own.
type UnsafeOutputError struct{ Dir, Reason string }

func (e *UnsafeOutputError) Error() string {
	return fmt.Sprintf("refusing to write %s: %s; generate replaces the whole folder (use --check, or point --out elsewhere)", e.Dir, e.Reason)
}

// InvalidInput marks the refusal as the caller's choice of folder (exit 2).
func (*UnsafeOutputError) InvalidInput() bool { return true }

// ownedByGenerator checks dir is absent, or a real folder whose hidden
// top-level entries are all rendered files.
func ownedByGenerator(dir string, files []File) error {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return &UnsafeOutputError{dir, "it is a symbolic link"}
	}
	if !info.IsDir() {
		return &UnsafeOutputError{dir, "it is not a folder"}
	}
	rendered := map[string]bool{}
	for _, f := range files {
		rendered[f.Path] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if isHidden(e.Name()) && !rendered[e.Name()] {
			return &UnsafeOutputError{dir, fmt.Sprintf("it holds %s, which coinpipe did not render", e.Name())}
		}
	}
	return nil
}

func isHidden(name string) bool { return len(name) > 1 && name[0] == '.' }

func stage(staged, dir string, f File, changed bool) error {
	dst := filepath.Join(staged, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if !changed && os.Link(filepath.Join(dir, filepath.FromSlash(f.Path)), dst) == nil {
		return nil
	}
	if err := os.WriteFile(dst, f.Data, f.Mode); err != nil {
		return err
	}
	return os.Chmod(dst, f.Mode) // WriteFile's mode is filtered by the umask
}

// swap replaces dir with staged, restoring dir if the second rename fails.
func swap(staged, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(staged, dir)
	}
	old := staged + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(staged, dir); err != nil {
		if restoreErr := os.Rename(old, dir); restoreErr != nil {
			return fmt.Errorf("%w (and restoring the previous output from %s failed: %v)", err, old, restoreErr)
		}
		return err
	}
	return os.RemoveAll(old)
}

// diff lists the differences between dir and files, sorted by path.
func diff(dir string, files []File) ([]Change, error) {
	// The conformance job points out/<coin> at the repository through a
	// symlink, and WalkDir does not follow a symlinked root.
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	var changes []Change
	want := make(map[string]bool, len(files))
	for _, f := range files {
		want[f.Path] = true
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			changes = append(changes, Change{f.Path, "added"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
		if info.Mode().Perm() != f.Mode || info.Size() != int64(len(f.Data)) {
			changes = append(changes, Change{f.Path, "changed"})
			continue
		}
		old, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", p, err)
		}
		if !bytes.Equal(old, f.Data) {
			changes = append(changes, Change{f.Path, "changed"})
		}
	}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if e.IsDir() {
			if p != dir && filepath.Dir(p) == dir && isHidden(e.Name()) {
				return filepath.SkipDir // .git, CI tool state: not the generator's
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if rel = filepath.ToSlash(rel); !want[rel] {
			changes = append(changes, Change{rel, "removed"})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", dir, err)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}
