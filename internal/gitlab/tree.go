package gitlab

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// TreeEntry is one file of a repository tree.
type TreeEntry struct {
	Path string
	// ID is git's object ID: for a file, the SHA-1 of "blob <size>\x00"
	// and its content (BlobID), so content is compared without download.
	ID string
	// Mode is git's: "100644" a file, "100755" an executable, "120000" a
	// symbolic link, "160000" a submodule.
	Mode string
}

// Executable reports git's executable mode.
func (e TreeEntry) Executable() bool { return e.Mode == "100755" }

// Tree lists every file (blobs, links and submodules; not folders) under
// dir ("" for the root) at ref, recursively, over all pages. A missing ref
// or folder matches ErrNotFound ("404 Tree Not Found").
func (c *Client) Tree(ctx context.Context, project, ref, dir string) ([]TreeEntry, error) {
	opt := &gl.ListTreeOptions{
		ListOptions: gl.ListOptions{PerPage: int64(c.perPage), Page: 1},
		Ref:         gl.Ptr(ref),
		Recursive:   gl.Ptr(true),
	}
	if dir != "" {
		opt.Path = gl.Ptr(dir)
	}
	var out []TreeEntry
	for range maxPages {
		page, resp, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) ([]*gl.TreeNode, *gl.Response, error) {
			return c.api.Repositories.ListTree(project, opt, o...)
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s of %s at %s: %w", orRoot(dir), project, ref, err)
		}
		for _, n := range page {
			if n.Type != "tree" {
				out = append(out, TreeEntry{Path: n.Path, ID: n.ID, Mode: n.Mode})
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
	return nil, fmt.Errorf("listing %s of %s at %s: more than %d pages", orRoot(dir), project, ref, maxPages)
}

func orRoot(dir string) string {
	if dir == "" {
		return "the files"
	}
	return dir
}

// RawFile returns the content of file at ref, or an error matching
// ErrNotFound.
func (c *Client) RawFile(ctx context.Context, project, ref, file string) ([]byte, error) {
	b, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) ([]byte, *gl.Response, error) {
		return c.api.RepositoryFiles.GetRawFile(project, file, &gl.GetRawFileOptions{Ref: gl.Ptr(ref)}, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s of %s at %s: %w", file, project, ref, err)
	}
	return b, nil
}

// MergeBase returns the SHA of the refs' common ancestor (GET
// repository/merge_base). GitLab answers 400 for an unknown ref or refs
// without a common ancestor.
func (c *Client) MergeBase(ctx context.Context, project string, refs ...string) (string, error) {
	cm, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.Commit, *gl.Response, error) {
		return c.api.Repositories.MergeBase(project, &gl.MergeBaseOptions{Ref: &refs}, o...)
	})
	if err != nil {
		return "", fmt.Errorf("finding the merge base of %v in %s: %w", refs, project, err)
	}
	return cm.ID, nil
}

// BlobID is git's object ID of a file holding content (the SHA-1 of
// "blob <size>\x00" and the content): what TreeEntry.ID is for a file.
func BlobID(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}
