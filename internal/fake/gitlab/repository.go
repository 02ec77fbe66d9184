package gitlab

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// pathUnescape is url.PathUnescape (GitLab accepts %2E for dots too).
func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

type commitJSON struct {
	ID             string   `json:"id"`
	ShortID        string   `json:"short_id"`
	Title          string   `json:"title"`
	Message        string   `json:"message"`
	AuthorName     string   `json:"author_name"`
	AuthorEmail    string   `json:"author_email"`
	AuthoredDate   string   `json:"authored_date"`
	CommitterName  string   `json:"committer_name"`
	CommitterEmail string   `json:"committer_email"`
	CommittedDate  string   `json:"committed_date"`
	CreatedAt      string   `json:"created_at"`
	ParentIDs      []string `json:"parent_ids"`
	WebURL         string   `json:"web_url"`
}

func (s *Server) commitJSON(p *project, c *commit) commitJSON {
	title, _, _ := strings.Cut(c.Message, "\n")
	parents := []string{}
	if c.Parent != "" {
		parents = append(parents, c.Parent)
	}
	at := c.Created.Format(time.RFC3339Nano)
	return commitJSON{
		ID: c.SHA, ShortID: c.SHA[:8], Title: title, Message: c.Message,
		AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail, AuthoredDate: at,
		CommitterName: c.AuthorName, CommitterEmail: c.AuthorEmail, CommittedDate: at, CreatedAt: at,
		ParentIDs: parents, WebURL: s.WebURL + "/" + p.path + "/-/commit/" + c.SHA,
	}
}

func (s *Server) getProject(p *project, _ *http.Request, _ []string) response {
	return jsonResponse(http.StatusOK, s.projectJSON(p))
}

// defaultBranchOrNil: GitLab answers null for an empty repository.
func (p *project) defaultBranchOrNil() any {
	if len(p.branches) == 0 {
		return nil
	}
	return p.defaultBranch
}

func (s *Server) getBranch(p *project, _ *http.Request, segs []string) response {
	name := strings.Join(segs[4:], "/")
	sha, ok := p.branches[name]
	if !ok {
		return apiError(http.StatusNotFound, "404 Branch Not Found")
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"name": name, "commit": s.commitJSON(p, s.commits[sha]),
		"merged": false, "protected": name == p.defaultBranch, "default": name == p.defaultBranch,
		"developers_can_push": false, "developers_can_merge": false, "can_push": true,
		"web_url": s.WebURL + "/" + p.path + "/-/tree/" + name,
	})
}

// commitRequest is the commits API's body.
type commitRequest struct {
	Branch        string          `json:"branch"`
	CommitMessage string          `json:"commit_message"`
	StartBranch   string          `json:"start_branch"`
	StartSHA      string          `json:"start_sha"`
	Actions       []commitAction  `json:"actions"`
	AuthorEmail   string          `json:"author_email"`
	AuthorName    string          `json:"author_name"`
	Force         bool            `json:"force"`
	Stats         json.RawMessage `json:"stats"`
}

type commitAction struct {
	Action          string  `json:"action"`
	FilePath        string  `json:"file_path"`
	PreviousPath    string  `json:"previous_path"`
	Content         *string `json:"content"`
	Encoding        string  `json:"encoding"`
	LastCommitID    string  `json:"last_commit_id"`
	ExecuteFilemode *bool   `json:"execute_filemode"`
}

// createCommit follows Commits::CreateService: start_branch defaults to
// branch; a missing start branch is "You can only create or edit files when
// you are on a branch"; an existing branch other than the start is refused
// unless force, which rebuilds it from the start; the actions apply in
// order to a copy of the start's tree, and the first failing one (Gitaly's
// index errors) aborts the whole commit with 400.
func (s *Server) createCommit(p *project, r *http.Request, _ []string) response {
	var req commitRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	switch {
	case req.Branch == "":
		return paramError("branch is missing")
	case req.CommitMessage == "":
		return paramError("commit_message is missing")
	case len(req.Actions) == 0:
		return paramError("actions is missing")
	}
	empty := len(p.branches) == 0
	if req.StartSHA != "" && req.StartBranch != "" {
		return apiError(http.StatusBadRequest, "You can't pass both start_branch and start_sha")
	}
	if req.StartSHA == "" && req.StartBranch == "" {
		req.StartBranch = req.Branch
	}
	var parent string
	switch {
	case req.StartSHA != "":
		c := s.commits[req.StartSHA]
		if c == nil || c.ProjectID != p.id {
			return apiError(http.StatusBadRequest, fmt.Sprintf("Cannot find start_sha '%s'", req.StartSHA))
		}
		parent = c.SHA
	case !empty:
		sha, ok := p.branches[req.StartBranch]
		if !ok {
			return apiError(http.StatusBadRequest, "You can only create or edit files when you are on a branch")
		}
		parent = sha
	}
	different := req.StartBranch != req.Branch || req.StartSHA != ""
	if _, exists := p.branches[req.Branch]; !empty && different && exists && !req.Force {
		return apiError(http.StatusBadRequest, fmt.Sprintf("A branch called '%s' already exists. Switch to that branch in order to make changes", req.Branch))
	}

	tree := map[string]File{}
	if parent != "" {
		tree = cloneTree(s.commits[parent].Tree)
	}
	for i, a := range req.Actions {
		if msg := applyAction(tree, a, i); msg != "" {
			return apiError(http.StatusBadRequest, msg)
		}
	}
	author := Bot
	if req.AuthorEmail != "" {
		author.Email = req.AuthorEmail
	}
	if req.AuthorName != "" {
		author.Name = req.AuthorName
	}
	c := s.newCommit(p, parent, req.CommitMessage, author, tree)
	p.apiCommits++
	p.branches[req.Branch] = c.SHA
	if empty {
		p.defaultBranch = req.Branch
	}
	return jsonResponse(http.StatusCreated, s.commitJSON(p, c))
}

// applyAction changes tree or returns GitLab's message for why it cannot.
// execute_filemode is read for chmod only, as the API documents.
func applyAction(tree map[string]File, a commitAction, i int) string {
	if a.FilePath == "" {
		if a.Action == "" {
			return fmt.Sprintf("actions[%d][action] is missing, actions[%d][file_path] is missing", i, i)
		}
		return "You must provide a file path"
	}
	if slices.Contains(strings.Split(a.FilePath, "/"), "..") || slices.Contains(strings.Split(a.PreviousPath, "/"), "..") {
		return "Path cannot include directory traversal"
	}
	content := func() ([]byte, string) {
		if a.Content == nil {
			return []byte{}, ""
		}
		if a.Encoding == "base64" {
			b, err := base64.StdEncoding.DecodeString(*a.Content)
			if err != nil {
				return nil, "Invalid base64 content"
			}
			return b, ""
		}
		return []byte(*a.Content), ""
	}
	f, exists := tree[a.FilePath]
	switch a.Action {
	case "create":
		if msg := createConflict(tree, a.FilePath); msg != "" {
			return msg
		}
		b, msg := content()
		if msg != "" {
			return msg
		}
		tree[a.FilePath] = File{Content: b}
	case "update":
		if !exists {
			return "A file with this name doesn't exist"
		}
		b, msg := content()
		if msg != "" {
			return msg
		}
		tree[a.FilePath] = File{Content: b, Executable: f.Executable}
	case "delete":
		if !exists {
			return "A file with this name doesn't exist"
		}
		delete(tree, a.FilePath)
	case "chmod":
		if !exists {
			return "A file with this name doesn't exist"
		}
		if a.ExecuteFilemode != nil {
			f.Executable = *a.ExecuteFilemode
		}
		tree[a.FilePath] = f
	case "move":
		old, ok := tree[a.PreviousPath]
		if a.PreviousPath == "" || !ok {
			return "A file with this name doesn't exist"
		}
		delete(tree, a.PreviousPath)
		if msg := createConflict(tree, a.FilePath); msg != "" {
			return msg
		}
		if a.Content != nil {
			b, msg := content()
			if msg != "" {
				return msg
			}
			old.Content = b
		}
		tree[a.FilePath] = old
	case "":
		return fmt.Sprintf("actions[%d][action] is missing", i)
	default:
		return fmt.Sprintf("actions[%d][action] does not have a valid value", i)
	}
	return ""
}

// createConflict is Gitaly's answer when a new path collides with a file or
// a directory.
func createConflict(tree map[string]File, p string) string {
	if _, ok := tree[p]; ok {
		return "A file with this name already exists"
	}
	for existing := range tree {
		if strings.HasPrefix(existing, p+"/") {
			return "A directory with this name already exists"
		}
		if strings.HasPrefix(p, existing+"/") {
			return "A file with this name already exists"
		}
	}
	return ""
}

// Files returns the tree at ref, a branch name or a commit SHA.
func (s *Server) Files(projectID, ref string) (map[string]File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.resolve(projectID, ref)
	if err != nil {
		return nil, err
	}
	return cloneTree(c.Tree), nil
}

// Head describes a branch's head commit.
type Head struct {
	SHA, Parent, Message    string
	AuthorName, AuthorEmail string
}

// Head returns branch's head commit, false when there is no such branch.
func (s *Server) Head(projectID, branch string) (Head, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return Head{}, false
	}
	sha, ok := p.branches[branch]
	if !ok {
		return Head{}, false
	}
	c := s.commits[sha]
	return Head{SHA: c.SHA, Parent: c.Parent, Message: c.Message, AuthorName: c.AuthorName, AuthorEmail: c.AuthorEmail}, true
}

// Branches lists the project's branch names, sorted.
func (s *Server) Branches(projectID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(p.branches))
}

// APICommits is how many commits the commits API made in the project.
func (s *Server) APICommits(projectID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.lookup(projectID); p != nil {
		return p.apiCommits
	}
	return 0
}

// Push adds a commit by author on top of branch, as a person pushing with
// git would: changes maps a path to its new file, or to nil to delete it. A
// missing branch starts from the default branch.
func (s *Server) Push(projectID, branch string, author User, message string, changes map[string]*File) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return "", fmt.Errorf("no project %q", projectID)
	}
	parent, ok := p.branches[branch]
	if !ok {
		parent = p.branches[p.defaultBranch]
	}
	tree := map[string]File{}
	if parent != "" {
		tree = cloneTree(s.commits[parent].Tree)
	}
	for path, f := range changes {
		if f == nil {
			delete(tree, path)
			continue
		}
		tree[path] = File{Content: slices.Clone(f.Content), Executable: f.Executable}
	}
	c := s.newCommit(p, parent, message, author, tree)
	p.branches[branch] = c.SHA
	return c.SHA, nil
}

// resolve finds ref in the project; callers hold s.mu.
func (s *Server) resolve(projectID, ref string) (*commit, error) {
	p := s.lookup(projectID)
	if p == nil {
		return nil, fmt.Errorf("no project %q", projectID)
	}
	if sha, ok := p.branches[ref]; ok {
		return s.commits[sha], nil
	}
	if c := s.commits[ref]; c != nil && c.ProjectID == p.id {
		return c, nil
	}
	return nil, fmt.Errorf("no branch or commit %q in %s", ref, p.path)
}
