package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// entry is one file of an image's root filesystem.
type entry struct {
	Path   string // absolute, as seen in the image
	Mode   fs.FileMode
	UID    uint32
	GID    uint32
	Size   int64
	MTime  int64
	SHA256 string // regular files
	Link   string // symlinks
}

func (e entry) String() string {
	return fmt.Sprintf("%s %s %d:%d size=%d mtime=%d sha256=%s link=%s", e.Path, e.Mode, e.UID, e.GID, e.Size, e.MTime, e.SHA256, e.Link)
}

// listRootfs lists every file under root with its metadata and content
// hash, sorted by path: two images with the same listing hold the same
// filesystem.
func listRootfs(t *testing.T, root string) []entry {
	t.Helper()
	var list []entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat_t", p)
		}
		rel, _ := filepath.Rel(root, p)
		e := entry{Path: filepath.Join("/", rel), Mode: info.Mode(), UID: st.Uid, GID: st.Gid, MTime: st.Mtim.Sec}
		if !info.IsDir() {
			e.Size = info.Size()
		}
		switch {
		case info.Mode().IsRegular():
			if e.SHA256, err = fileSHA256(p); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		list = append(list, e)
		return nil
	})
	if err != nil {
		t.Fatalf("listing the image's files: %v", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })
	return list
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withoutMTimes is a listing with every modification time zeroed: what
// two builds must share even when buildah stamps files with the build time.
func withoutMTimes(list []entry) []entry {
	out := make([]entry, len(list))
	for i, e := range list {
		e.MTime = 0
		out[i] = e
	}
	return out
}

// listingDigest sums a listing into one comparable value.
func listingDigest(list []entry) string {
	h := sha256.New()
	for _, e := range list {
		fmt.Fprintln(h, e.String())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// listingDiff names the entries that differ between two listings, at most
// max of them.
func listingDiff(a, b []entry, max int) []string {
	index := func(list []entry) map[string]string {
		m := make(map[string]string, len(list))
		for _, e := range list {
			m[e.Path] = e.String()
		}
		return m
	}
	ma, mb := index(a), index(b)
	var paths []string
	for p := range ma {
		paths = append(paths, p)
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var diffs []string
	for _, p := range paths {
		if ma[p] == mb[p] {
			continue
		}
		if len(diffs) == max {
			diffs = append(diffs, "...")
			break
		}
		diffs = append(diffs, fmt.Sprintf("first:  %s\nsecond: %s", orNone(ma[p]), orNone(mb[p])))
	}
	return diffs
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}
