package gitlab

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
)

// The repository reads of docs.gitlab.com/api/repositories (tree, merge
// base) and /api/repository_files (raw).

// BlobID is git's object ID of a file holding content: the SHA-1 of
// "blob <size>\x00" and the content, as the tree API's "id" carries.
func BlobID(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// refCommit resolves ref (a branch or a full commit SHA of the project;
// "" the default branch); callers hold s.mu.
func (s *Server) refCommit(p *project, ref string) *commit {
	if ref == "" {
		ref = p.defaultBranch
	}
	if sha, ok := p.branches[ref]; ok {
		return s.commits[sha]
	}
	if c := s.commits[ref]; c != nil && c.ProjectID == p.id {
		return c
	}
	return nil
}

// tree is GET repository/tree: path (a folder, "" the root), ref (default
// branch by default), recursive, offset pagination (per_page default 20,
// at most 100). Entries are folders ("tree", mode 040000) and files
// ("blob", 100644 or 100755), in path order. A missing ref or folder is
// 404 Tree Not Found.
func (s *Server) tree(p *project, r *http.Request, _ []string) response {
	q := r.URL.Query()
	c := s.refCommit(p, q.Get("ref"))
	if c == nil {
		return apiError(http.StatusNotFound, "404 Tree Not Found")
	}
	dir := strings.Trim(q.Get("path"), "/")
	recursive := q.Get("recursive") == "true"
	type entry struct{ id, name, typ, path, mode string }
	seen := map[string]bool{}
	var list []entry
	add := func(e entry) {
		if !seen[e.path] {
			seen[e.path] = true
			list = append(list, e)
		}
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	found := dir == ""
	for file, f := range c.Tree {
		if !strings.HasPrefix(file, prefix) {
			continue
		}
		found = true
		rel := strings.TrimPrefix(file, prefix)
		parts := strings.Split(rel, "/")
		// The folders on the way, then the file when within reach.
		for i := range len(parts) - 1 {
			if i > 0 && !recursive {
				break
			}
			sub := prefix + strings.Join(parts[:i+1], "/")
			h := sha1.Sum([]byte(c.SHA + "\x00" + sub))
			add(entry{hex.EncodeToString(h[:]), parts[i], "tree", sub, "040000"})
		}
		if len(parts) == 1 || recursive {
			mode := "100644"
			if f.Executable {
				mode = "100755"
			}
			add(entry{BlobID(f.Content), path.Base(file), "blob", file, mode})
		}
	}
	if !found {
		return apiError(http.StatusNotFound, "404 Tree Not Found")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].path < list[j].path })

	lo, hi, header := offsetPage(r, len(list))
	out := make([]map[string]string, 0, hi-lo)
	for _, e := range list[lo:hi] {
		out = append(out, map[string]string{"id": e.id, "name": e.name, "type": e.typ, "path": e.path, "mode": e.mode})
	}
	resp := jsonResponse(http.StatusOK, out)
	resp.header = header
	return resp
}

// rawFile is GET repository/files/:file_path/raw?ref=: the bytes as they
// are (text/plain), 404 File Not Found for a missing file, ref or path.
func (s *Server) rawFile(p *project, r *http.Request, segs []string) response {
	c := s.refCommit(p, r.URL.Query().Get("ref"))
	if c == nil {
		return apiError(http.StatusNotFound, "404 File Not Found")
	}
	f, ok := c.Tree[segs[4]]
	if !ok {
		return apiError(http.StatusNotFound, "404 File Not Found")
	}
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Gitlab-Blob-Id", BlobID(f.Content))
	h.Set("X-Gitlab-Commit-Id", c.SHA)
	return response{status: http.StatusOK, header: h, body: slices.Clone(f.Content)}
}

// mergeBase is GET repository/merge_base?refs[]=…: at least 2 refs ("Provide
// at least 2 refs", 400), every ref known ("Could not find ref: x", 400),
// and the common ancestor's commit, or 404 Merge Base Not Found.
func (s *Server) mergeBase(p *project, r *http.Request, _ []string) response {
	refs := r.URL.Query()["refs[]"]
	if len(refs) < 2 {
		return apiError(http.StatusBadRequest, "Provide at least 2 refs")
	}
	var unknown []string
	commits := make([]*commit, len(refs))
	for i, ref := range refs {
		if commits[i] = s.refCommit(p, ref); commits[i] == nil || ref == "" {
			unknown = append(unknown, ref)
		}
	}
	if len(unknown) > 0 {
		noun := "ref"
		if len(unknown) > 1 {
			noun = "refs"
		}
		return apiError(http.StatusBadRequest, fmt.Sprintf("Could not find %s: %s", noun, strings.Join(unknown, ", ")))
	}
	base := commits[0]
	for _, c := range commits[1:] {
		if base = s.commonAncestor(base, c); base == nil {
			return apiError(http.StatusNotFound, "404 Merge Base Not Found")
		}
	}
	return jsonResponse(http.StatusOK, s.commitJSON(p, base))
}

// commonAncestor walks first-parent history (the fake's commits have one
// parent); callers hold s.mu.
func (s *Server) commonAncestor(a, b *commit) *commit {
	ancestors := map[string]bool{}
	for c := a; c != nil; c = s.commits[c.Parent] {
		ancestors[c.SHA] = true
	}
	for c := b; c != nil; c = s.commits[c.Parent] {
		if ancestors[c.SHA] {
			return c
		}
	}
	return nil
}
