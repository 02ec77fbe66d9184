package daemonsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Conformance checks a daemon repository (Dir) against the toolkit commit
// it records (Toolkit.CIProject at Toolkit.CIRef): the commit must be on
// the toolkit's default branch, the repository's coin.yaml, SOURCES.md,
// keys/, files/ and release/ must be exactly the toolkit's coins/<Coin>/
// at that commit, and every rendered file what that commit renders.
type Conformance struct {
	GitLab  *gitlab.Client
	Toolkit generator.Options
	Coin    string
	Dir     string
	Log     *slog.Logger
}

// PinError is a daemon repository whose pins are not the toolkit's: exit
// code 3, one line per finding.
type PinError struct{ Lines []string }

func (e *PinError) Error() string          { return strings.Join(e.Lines, "\n") }
func (*PinError) VerificationFailed() bool { return true }

// AccessError is the toolkit project refusing the token: the fix is a
// setting, which the message names.
type AccessError struct {
	Toolkit string
	Err     error
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("%v\nthe job token cannot read %s: in %s, Settings → CI/CD → Job token permissions, add this project's group (or this project) to the allowlist; outside CI set GITLAB_TOKEN to a token that can read it (read_api)", e.Err, e.Toolkit, e.Toolkit)
}

func (e *AccessError) Unwrap() error { return e.Err }

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// FullSHA reports whether ref is a full commit SHA: what a daemon
// repository records of the toolkit.
func FullSHA(ref string) bool { return fullSHA.MatchString(ref) }

// Check runs the three checks; drift (rendered files that differ) comes
// back as changes, with a nil error.
func (c *Conformance) Check(ctx context.Context) ([]generator.Change, error) {
	tk, ref := c.Toolkit.CIProject, c.Toolkit.CIRef
	if !FullSHA(ref) {
		return nil, &PinError{[]string{fmt.Sprintf("toolkit ref %s is not a full commit SHA of %s: a daemon repository is synced from one toolkit commit (coinpipe sync)", ref, tk)}}
	}
	proj, err := c.GitLab.Project(ctx, tk)
	if err != nil {
		return nil, c.access(err)
	}
	base, err := c.GitLab.MergeBase(ctx, tk, ref, proj.DefaultBranch)
	notOnMain := &PinError{[]string{fmt.Sprintf("toolkit ref %s is not a commit of %s's default branch %s", ref, tk, proj.DefaultBranch)}}
	var apiErr *gitlab.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusNotFound):
		return nil, notOnMain // unknown commit, or no common history
	case err != nil:
		return nil, c.access(err)
	case base != ref:
		return nil, notOnMain
	}

	work, err := os.MkdirTemp("", "coinpipe-conformance-")
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", c.Coin, err)
	}
	defer os.RemoveAll(work)
	coinDir := filepath.Join(work, "coins", c.Coin)
	if err := c.fetchAndCompare(ctx, coinDir); err != nil {
		return nil, err
	}

	// The pins are the toolkit's: render from them, and compare like
	// generate --check (out/<coin> points at the repository).
	m, err := manifest.Open(coinDir)
	if err != nil {
		return nil, fmt.Errorf("reading %s@%s:coins/%s/coin.yaml: %w", tk, ref[:12], c.Coin, err)
	}
	files, err := generator.Render(m, c.Toolkit)
	if err != nil {
		return nil, err
	}
	repo, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(work, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(repo, filepath.Join(out, c.Coin)); err != nil {
		return nil, err
	}
	changes, err := generator.Check(ctx, out, c.Coin, files)
	if err != nil {
		return nil, err
	}
	// A file coinpipe never rendered (docs/notes.md) is left alone by
	// sync, and is no drift here either, unless it would change the build.
	drift := changes[:0]
	for _, ch := range changes {
		if ch.Kind == "removed" && !generator.BuildInput(ch.Path) {
			b, err := os.ReadFile(filepath.Join(repo, filepath.FromSlash(ch.Path)))
			if err == nil && !generator.Owned(ch.Path, b) {
				continue
			}
		}
		drift = append(drift, ch)
	}
	return drift, nil
}

// access turns the toolkit refusing the token into an AccessError.
func (c *Conformance) access(err error) error {
	var apiErr *gitlab.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			return &AccessError{Toolkit: c.Toolkit.CIProject, Err: err}
		}
	}
	return err
}

// fetchAndCompare downloads the toolkit's coins/<coin>/ inputs at the
// commit into coinDir and compares them byte for byte with the
// repository's copies.
func (c *Conformance) fetchAndCompare(ctx context.Context, coinDir string) error {
	tk, ref := c.Toolkit.CIProject, c.Toolkit.CIRef
	prefix := "coins/" + c.Coin + "/"
	where := fmt.Sprintf("%s@%s:%s", tk, ref[:12], prefix)
	entries, err := c.GitLab.Tree(ctx, tk, ref, strings.TrimSuffix(prefix, "/"))
	if errors.Is(err, gitlab.ErrNotFound) {
		return &PinError{[]string{fmt.Sprintf("%s does not exist: the coin is not in the toolkit at that commit", where)}}
	}
	if err != nil {
		return c.access(err)
	}
	var findings []string
	want := map[string]bool{}
	for _, e := range entries {
		rel, inside := strings.CutPrefix(e.Path, prefix)
		if !inside || !filepath.IsLocal(filepath.FromSlash(rel)) {
			// The API answered a path outside the folder asked for: nothing
			// of it is read or written.
			return fmt.Errorf("reading %s: the tree lists %q, outside the coin's folder", where, e.Path)
		}
		if !generator.Input(rel) {
			continue
		}
		want[rel] = true
		b, err := c.GitLab.RawFile(ctx, tk, ref, e.Path)
		if err != nil {
			return c.access(err)
		}
		dst := filepath.Join(coinDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
		local, problem := readRepoFile(c.Dir, rel)
		switch {
		case problem != "":
			findings = append(findings, fmt.Sprintf("%s %s (%s%s): pins change only in the toolkit, by merge request", rel, problem, where, rel))
		case !bytes.Equal(local, b):
			findings = append(findings, fmt.Sprintf("%s differs from %s%s: pins change only in the toolkit, by merge request", rel, where, rel))
		}
	}
	extra, err := repoInputs(c.Dir)
	if err != nil {
		return err
	}
	for _, rel := range extra {
		if !want[rel] {
			findings = append(findings, fmt.Sprintf("%s is not in %s: pins change only in the toolkit, by merge request", rel, where))
		}
	}
	if len(findings) > 0 {
		slices.Sort(findings)
		return &PinError{findings}
	}
	return nil
}

// readRepoFile reads the repository's copy of rel; problem says why there
// is none to compare (missing, a link, not a file).
func readRepoFile(dir, rel string) ([]byte, string) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "is missing"
	case err != nil:
		return nil, "cannot be read: " + err.Error()
	case !info.Mode().IsRegular():
		return nil, "is not a regular file"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, "cannot be read: " + err.Error()
	}
	return b, ""
}

// repoInputs lists the repository's files where it holds pins
// (generator.Input), links included, sorted.
func repoInputs(dir string) ([]string, error) {
	var out []string
	for _, top := range generator.Inputs {
		root := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(top, "/")))
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return nil
			}
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, path.Clean(filepath.ToSlash(rel)))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", root, err)
		}
	}
	slices.Sort(out)
	return out, nil
}
