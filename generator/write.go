package generator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Change is one file that differs between the rendered and the written repo.
type Change struct {
	Path string
	Kind string // "added", "changed" or "removed"
}

func (c Change) String() string { return c.Kind + " " + c.Path }

// Check compares outDir/<name> with files and lists what Write would change.
// It writes nothing.
func Check(ctx context.Context, outDir, name string, files []File) ([]Change, error) {
	return diff(ctx, filepath.Join(outDir, name), files, true)
}

// Write makes outDir/<name> hold exactly files. Nothing is touched when
// nothing changed. Otherwise the new tree is staged beside the old one
// (unchanged files hard-linked, so they keep their inode and mtime) and
// swapped in with renames, so a failure leaves the previous output whole.
// Files it did not render are removed: the folder must be the generator's
// own. Write refuses a folder holding hidden entries it does not render (the
// .git of a checkout, a CI tool's state) and a symlinked folder, rather than
// lose or move what is not its own; Check accepts both.
//
// A cancelled ctx stops Write before the swap, leaving the previous output
// as it was; once the swap has begun it is finished (two renames). A
// process killed while staging leaves a staging folder behind, which
// CleanStaging removes on the next run.
func Write(ctx context.Context, outDir, name string, files []File) ([]Change, error) {
	dir := filepath.Join(outDir, name)
	exists, err := ownedByGenerator(dir, files)
	if err != nil {
		return nil, err
	}
	// A first write: every file is new, nothing to look at one by one.
	changes := allAdded(files)
	if exists {
		if changes, err = diff(ctx, dir, files, false); err != nil {
			return nil, err
		}
	}
	if len(changes) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, err)
	}
	staged, err := os.MkdirTemp(outDir, "."+name+stagingInfix)
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
	// Each folder once (keys/, files/, release/...), not once per file,
	// and with one mkdir: staged is new and empty, so only the folders
	// made here are in it.
	made := map[string]bool{".": true}
	for _, f := range files {
		if err := makeParents(staged, filepath.Dir(filepath.FromSlash(f.Path)), made); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, context.Cause(ctx))
		}
		if err := stage(staged, dir, f, changed[f.Path]); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	// Last point of return: past it the swap runs to its end.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", name, context.Cause(ctx))
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
// top-level entries are all rendered files, and says whether it exists.
func ownedByGenerator(dir string, files []File) (bool, error) {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		return true, &UnsafeOutputError{dir, "it is a symbolic link"}
	}
	if !info.IsDir() {
		return true, &UnsafeOutputError{dir, "it is not a folder"}
	}
	rendered := map[string]bool{}
	for _, f := range files {
		rendered[f.Path] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true, err
	}
	for _, e := range entries {
		if isHidden(e.Name()) && !rendered[e.Name()] {
			return true, &UnsafeOutputError{dir, fmt.Sprintf("it holds %s, which coinpipe did not render", e.Name())}
		}
	}
	return true, nil
}

// makeParents makes the folder sub of staged and those above it that made
// does not list, top down, and lists them.
func makeParents(staged, sub string, made map[string]bool) error {
	if made[sub] {
		return nil
	}
	if err := makeParents(staged, filepath.Dir(sub), made); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(staged, sub), 0o755); err != nil {
		return err
	}
	made[sub] = true
	return nil
}

func isHidden(name string) bool { return len(name) > 1 && name[0] == '.' }

func stage(staged, dir string, f File, changed bool) error {
	dst := filepath.Join(staged, filepath.FromSlash(f.Path))
	if !changed && os.Link(filepath.Join(dir, filepath.FromSlash(f.Path)), dst) == nil {
		return nil
	}
	return writeNew(dst, f.Data, f.Mode)
}

// writeNew creates path, which must not exist (staged is ours and new:
// anything there, a link included, is not followed but refused), with
// data and mode.
func writeNew(path string, data []byte, mode fs.FileMode) error {
	// O_NONBLOCK changes nothing for a regular file; it spares the four
	// fcntl calls with which os.OpenFile would make a blocking descriptor
	// non-blocking for the poller and back (a third of a fleet's writes).
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode) // the mode OpenFile set is filtered by the umask
	}
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// swap replaces dir with staged, restoring dir if the second rename fails.
func swap(staged, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(staged, dir)
	}
	old := staged + staleSuffix
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

// diff lists the differences between dir and files, sorted by path. With
// execOnly a file's mode counts only by its execute bit, as git records
// it: a checkout made under another umask (GitLab's Docker runners check
// out with umask 0000) is no drift.
func diff(ctx context.Context, dir string, files []File, execOnly bool) ([]Change, error) {
	// The conformance job points out/<coin> at the repository through a
	// symlink, and WalkDir does not follow a symlinked root.
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	var changes []Change
	// A first write: every file is new, nothing to look at one by one.
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return allAdded(files), nil
	}
	want := make(map[string]bool, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("checking %s: %w", dir, context.Cause(ctx))
		}
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
		modeDiffers := info.Mode().Perm() != f.Mode
		if execOnly {
			modeDiffers = (info.Mode()&0o111 != 0) != (f.Mode&0o111 != 0)
		}
		if modeDiffers || info.Size() != int64(len(f.Data)) {
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

// allAdded is the diff of files against no folder, sorted by path.
func allAdded(files []File) []Change {
	var changes []Change
	for _, f := range files {
		changes = append(changes, Change{f.Path, "added"})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// Staging folders are named .<coin>.new-<random> (a rename away from
// becoming out/<coin>) and .<coin>.new-<random>.old (the previous output
// while the swap runs). Nothing else in the output folder is named so.
const (
	stagingInfix = ".new-"
	staleSuffix  = ".old"
)

var stagingName = regexp.MustCompile(`^\.([a-z0-9]+(?:-[a-z0-9]+)*)` + regexp.QuoteMeta(stagingInfix) + `[0-9]+(` + regexp.QuoteMeta(staleSuffix) + `)?$`)

// Leftover is a staging folder a killed run left in the output folder.
type Leftover struct {
	Path string
	// Restored is set when the folder was the previous output of a coin
	// whose swap was cut between its two renames: it was put back.
	Restored bool
}

// StaleStaging lists the staging folders in outDir last changed before
// before (the start of the current run, so that its own are never
// listed), sorted by name. It changes nothing.
func StaleStaging(outDir string, before time.Time) ([]string, error) {
	entries, err := os.ReadDir(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", outDir, err)
	}
	var stale []string
	for _, e := range entries {
		if !e.IsDir() || !stagingName.MatchString(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue
		}
		stale = append(stale, filepath.Join(outDir, e.Name()))
	}
	return stale, nil
}

// CleanStaging removes the staging folders StaleStaging lists. A previous
// output stranded by a swap cut between its renames (out/<coin> missing,
// .<coin>.new-N.old present) is renamed back instead of removed.
func CleanStaging(ctx context.Context, outDir string, before time.Time) ([]Leftover, error) {
	stale, err := StaleStaging(outDir, before)
	if err != nil {
		return nil, err
	}
	var done []Leftover
	for _, p := range stale {
		if err := ctx.Err(); err != nil {
			return done, fmt.Errorf("cleaning %s: %w", outDir, context.Cause(ctx))
		}
		m := stagingName.FindStringSubmatch(filepath.Base(p))
		dir := filepath.Join(outDir, m[1])
		if m[2] != "" {
			if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
				if err := os.Rename(p, dir); err != nil {
					return done, fmt.Errorf("restoring %s from %s: %w", dir, p, err)
				}
				done = append(done, Leftover{Path: p, Restored: true})
				continue
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return done, fmt.Errorf("removing %s: %w", p, err)
		}
		done = append(done, Leftover{Path: p})
	}
	return done, nil
}

// generatedMarker opens every rendered file but coin.yaml and the copied
// keys and config files (see the templates).
const generatedMarker = "Generated by coinpipe from "

// Orphans lists the folders of outDir that the generator rendered for a
// coin not in coins (the names of the coins that exist), sorted. A folder
// counts as rendered only when it is a real folder holding coin.yaml and
// a Dockerfile whose header says it was generated, and no hidden entry
// the generator does not render (a checkout's .git): anything else in
// outDir is left alone.
func Orphans(outDir string, coins []string) ([]string, error) {
	entries, err := os.ReadDir(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", outDir, err)
	}
	keep := map[string]bool{}
	for _, c := range coins {
		keep[c] = true
	}
	var orphans []string
	for _, e := range entries {
		if !e.IsDir() || isHidden(e.Name()) || keep[e.Name()] {
			continue // not a folder (a symlink is not either), staging, or a live coin
		}
		ok, err := looksGenerated(filepath.Join(outDir, e.Name()))
		if err != nil {
			return nil, err
		}
		if ok {
			orphans = append(orphans, e.Name())
		}
	}
	return orphans, nil
}

func looksGenerated(dir string) (bool, error) {
	if info, err := os.Lstat(filepath.Join(dir, "coin.yaml")); err != nil || !info.Mode().IsRegular() {
		return false, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("listing %s: %w", dir, err)
	}
	for _, e := range entries {
		if isHidden(e.Name()) && e.Name() != ".gitlab-ci.yml" {
			return false, nil
		}
	}
	f, err := os.Open(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		return false, nil
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return false, nil
	}
	head := make([]byte, 512) // the header is within the first lines
	n, _ := io.ReadFull(f, head)
	return strings.Contains(string(head[:n]), generatedMarker), nil
}

// RemoveOrphan removes outDir/<name>, which Orphans listed: renamed to a
// staging name first, so that a run killed halfway leaves a folder the
// next run's CleanStaging removes rather than a half-deleted coin.
func RemoveOrphan(ctx context.Context, outDir, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("removing %s: %w", name, context.Cause(ctx))
	}
	dir := filepath.Join(outDir, name)
	if ok, err := looksGenerated(dir); err != nil || !ok {
		return fmt.Errorf("removing %s: not a folder coinpipe generated", dir)
	}
	doomed := filepath.Join(outDir, fmt.Sprintf(".%s%s%d", name, stagingInfix, time.Now().UnixNano()))
	if err := os.Rename(dir, doomed); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	if err := os.RemoveAll(doomed); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}
