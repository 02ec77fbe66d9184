// Package gitlab is an in-memory GitLab REST API (v4) for tests: an
// http.Handler serving the routes coinpipe uses, with the request and
// response shapes, status codes and error bodies GitLab documents
// (docs.gitlab.com/api/commits, /api/merge_requests, /api/notes,
// /api/branches, /api/rest#pagination) and the messages its Rails and
// Gitaly code return:
//
//	GET  /projects/:id
//	GET  /projects/:id/repository/branches/:branch
//	POST /projects/:id/repository/commits
//	GET  /projects/:id/merge_requests            (offset pagination)
//	POST /projects/:id/merge_requests
//	GET  /projects/:id/merge_requests/:merge_request_iid
//	PUT  /projects/:id/merge_requests/:merge_request_iid
//	GET  /projects/:id/merge_requests/:merge_request_iid/notes
//	POST /projects/:id/merge_requests/:merge_request_iid/notes
//
// Each project holds a git-like store: branches point at commits, each
// commit a full file tree (content and execute bit). Requests need a
// PRIVATE-TOKEN or JOB-TOKEN added with AddToken / AddJobToken; a job token
// reaches only the project and its branches, as on GitLab. Test
// helpers change state behind the API's back (a manual push, closing or
// merging an MR) and read it (files at a ref, MRs, notes, requests).
package gitlab

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Routes, as GitLab's documentation names them; Fail and the request log
// use them.
const (
	RouteProject      = "GET /projects/:id"
	RouteBranch       = "GET /projects/:id/repository/branches/:branch"
	RouteCreateCommit = "POST /projects/:id/repository/commits"
	RouteListMRs      = "GET /projects/:id/merge_requests"
	RouteCreateMR     = "POST /projects/:id/merge_requests"
	RouteGetMR        = "GET /projects/:id/merge_requests/:merge_request_iid"
	RouteUpdateMR     = "PUT /projects/:id/merge_requests/:merge_request_iid"
	RouteListNotes    = "GET /projects/:id/merge_requests/:merge_request_iid/notes"
	RouteCreateNote   = "POST /projects/:id/merge_requests/:merge_request_iid/notes"

	RouteCreateProject   = "POST /projects"
	RouteGroup           = "GET /groups/:id"
	RouteProtectedList   = "GET /projects/:id/protected_branches"
	RouteProtectedBranch = "GET /projects/:id/protected_branches/:name"
	RouteProtectBranch   = "POST /projects/:id/protected_branches"
	RouteTree            = "GET /projects/:id/repository/tree"
	RouteRawFile         = "GET /projects/:id/repository/files/:file_path/raw"
	RouteMergeBase       = "GET /projects/:id/repository/merge_base"
)

// Bot is the user the API's tokens act as; Push uses someone else.
var Bot = User{ID: 1, Username: "coinpipe-bot", Name: "coinpipe bot", Email: "coinpipe-bot@noreply.gitlab.example"}

// User is a GitLab user.
type User struct {
	ID                    int
	Username, Name, Email string
}

// File is one file of a tree.
type File struct {
	Content    []byte
	Executable bool
}

// Server is the fake GitLab. The zero value is not usable: call New.
type Server struct {
	mu     sync.Mutex
	tokens map[string]bool // PRIVATE-TOKEN values
	jobs   map[string]bool // JOB-TOKEN values
	// jobScope limits a job token to the projects (paths) listed; a token
	// without an entry reaches every project.
	jobScope map[string][]string
	groups   []group
	projects []*project
	commits  map[string]*commit
	seq      int // makes every commit SHA unique
	noteID   int
	mrID     int
	requests []Request
	faults   map[string]*Fault
	latency  time.Duration
	now      func() time.Time

	// WebURL is the instance's web address, used in web_url fields.
	WebURL string
}

// Request is one request the fake answered.
type Request struct {
	Method, Route, Path, Query string
	Header                     http.Header // PRIVATE-TOKEN, JOB-TOKEN and Authorization removed
	Status                     int
}

type project struct {
	id            int
	path          string
	defaultBranch string
	branches      map[string]string // name → commit SHA
	mrs           []*mergeRequest   // by IID-1
	apiCommits    int
	settings      projectSettings
	protected     map[string]Protection // branch name → its protection
}

type commit struct {
	SHA, Parent, Message    string
	AuthorName, AuthorEmail string
	Created                 time.Time
	Tree                    map[string]File
	ProjectID               int
}

type mergeRequest struct {
	ID, IID                    int
	State                      string
	Title, Description         string
	SourceBranch, TargetBranch string
	Labels                     []string
	RemoveSourceBranch         bool
	SHA                        string // head when last seen; the branch's head while it exists
	Created, Updated           time.Time
	MergedAt, ClosedAt         *time.Time
	Notes                      []Note
}

// Note is a comment on a merge request.
type Note struct {
	ID      int
	Body    string
	Author  string // username
	Created time.Time
}

// New returns an empty GitLab.
func New() *Server {
	return &Server{
		tokens:   map[string]bool{},
		jobs:     map[string]bool{},
		jobScope: map[string][]string{},
		commits:  map[string]*commit{},
		faults:   map[string]*Fault{},
		now:      time.Now,
		WebURL:   "https://gitlab.example",
	}
}

// Start serves s on loopback until the test ends and returns the API base
// URL (…/api/v4, as CI_API_V4_URL) and a client for it.
func (s *Server) Start(t testing.TB) (apiURL string, client *http.Client) {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v4", srv.Client()
}

// AddToken accepts token as a PRIVATE-TOKEN.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

// AddJobToken accepts token as a JOB-TOKEN (CI_JOB_TOKEN).
func (s *Server) AddJobToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[token] = true
}

// AddProject creates a project at path ("group/toolkit") whose default
// branch holds files in one initial commit, and returns its ID. No files:
// an empty repository.
func (s *Server) AddProject(path, defaultBranch string, files map[string]File) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &project{id: len(s.projects) + 1, path: path, defaultBranch: defaultBranch, branches: map[string]string{}}
	s.projects = append(s.projects, p)
	if len(files) > 0 {
		c := s.newCommit(p, "", "Initial commit", User{Name: "Administrator", Email: "admin@example.com"}, cloneTree(files))
		p.branches[defaultBranch] = c.SHA
	}
	return p.id
}

// SetLatency delays every answer by d (the client's deadline still
// applies).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Fault is a misbehaviour of one route.
type Fault struct {
	Status int
	// Body is sent as is; "" sends GitLab's {"message":"<status> <text>"}.
	Body   string
	Header http.Header // e.g. Retry-After on a 429
	// Count is how many requests fail; < 0: every one.
	Count int
	// AfterApply carries the request out first and only replaces its
	// answer: the ambiguous failure of a proxy timing out after GitLab
	// committed.
	AfterApply bool
}

// Inject makes route (one of the Route constants) misbehave as f, in place
// of any earlier fault of that route.
func (s *Server) Inject(route string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = &f
}

// Fail makes the next count requests to route answer status with body,
// before doing anything; count < 0: every request.
func (s *Server) Fail(route string, status int, body string, count int) {
	s.Inject(route, Fault{Status: status, Body: body, Count: count})
}

// FailAfterApply is Fail, but each request is carried out before its
// answer is replaced.
func (s *Server) FailAfterApply(route string, status int, body string, count int) {
	s.Inject(route, Fault{Status: status, Body: body, Count: count, AfterApply: true})
}

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount is how many requests went to route ("" counts all).
func (s *Server) RequestCount(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if route == "" || r.Route == route {
			n++
		}
	}
	return n
}

// newCommit stores a commit; callers hold s.mu.
func (s *Server) newCommit(p *project, parent, message string, author User, tree map[string]File) *commit {
	s.seq++
	h := sha1.New()
	fmt.Fprintf(h, "%d\x00%d\x00%s\x00%s\x00%s", s.seq, p.id, parent, message, author.Email)
	c := &commit{
		SHA: hex.EncodeToString(h.Sum(nil)), Parent: parent, Message: message,
		AuthorName: author.Name, AuthorEmail: author.Email,
		Created: s.now().UTC(), Tree: tree, ProjectID: p.id,
	}
	s.commits[c.SHA] = c
	return c
}

func cloneTree(t map[string]File) map[string]File {
	out := make(map[string]File, len(t))
	for k, v := range t {
		out[k] = File{Content: slices.Clone(v.Content), Executable: v.Executable}
	}
	return out
}

// lookup finds a project by ID or full path; callers hold s.mu.
func (s *Server) lookup(id string) *project {
	if n, err := strconv.Atoi(id); err == nil {
		if n >= 1 && n <= len(s.projects) {
			return s.projects[n-1]
		}
		return nil
	}
	for _, p := range s.projects {
		if p.path == id {
			return p
		}
	}
	return nil
}

// response is an answer built under the lock and written after it.
type response struct {
	status int
	header http.Header
	body   []byte
}

func jsonResponse(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return response{status: http.StatusInternalServerError, body: []byte(`{"message":"500 Internal Server Error"}`)}
	}
	return response{status: status, body: b}
}

// apiError is GitLab's error body: {"message": ...}.
func apiError(status int, msg any) response {
	return jsonResponse(status, map[string]any{"message": msg})
}

// paramError is Grape's answer to a missing or invalid parameter.
func paramError(msg string) response {
	return jsonResponse(http.StatusBadRequest, map[string]string{"error": msg})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}

	s.mu.Lock()
	route, resp := s.serve(r)
	hdr := r.Header.Clone()
	for _, k := range []string{"Private-Token", "Job-Token", "Authorization"} {
		hdr.Del(k)
	}
	s.requests = append(s.requests, Request{
		Method: r.Method, Route: route, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: hdr, Status: resp.status,
	})
	s.mu.Unlock()

	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// serve routes r; callers hold s.mu.
func (s *Server) serve(r *http.Request) (string, response) {
	segs, ok := apiPath(r)
	if !ok {
		return "", jsonResponse(http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	}
	route, handler := match(r.Method, segs)
	if handler == nil {
		return route, jsonResponse(http.StatusNotFound, map[string]string{"error": "404 Not Found"})
	}
	if !s.authenticated(r, route) {
		return route, apiError(http.StatusUnauthorized, "401 Unauthorized")
	}
	f := s.faults[route]
	if f != nil && f.Count != 0 && !f.AfterApply {
		return route, s.fire(f)
	}
	// POST /projects and /groups/:id are not about one project.
	var p *project
	if segs[0] == "projects" && len(segs) > 1 {
		if p = s.lookup(segs[1]); p == nil {
			return route, apiError(http.StatusNotFound, "404 Project Not Found")
		}
		if denied, ok := s.outOfScope(r, p); ok {
			return route, denied
		}
	}
	resp := handler(s, p, r, segs)
	if f != nil && f.Count != 0 && f.AfterApply {
		return route, s.fire(f)
	}
	return route, resp
}

func (s *Server) fire(f *Fault) response {
	if f.Count > 0 {
		f.Count--
	}
	resp := response{status: f.Status, header: f.Header.Clone(), body: []byte(f.Body)}
	if f.Body == "" {
		resp.body = apiError(f.Status, fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))).body
	}
	return resp
}

func (s *Server) authenticated(r *http.Request, route string) bool {
	if t := r.Header.Get("PRIVATE-TOKEN"); t != "" {
		return s.tokens[t]
	}
	if t := r.Header.Get("JOB-TOKEN"); t != "" {
		return s.jobs[t] && jobTokenRoutes[route]
	}
	return false
}

// jobTokenRoutes are the routes a CI/CD job token reaches. GitLab lets it
// read the project and its repository but not commit or touch merge
// requests (gitlab-org/gitlab#545150, #539014): those answer 401, as a
// real scheduled job holding only CI_JOB_TOKEN would see.
//
// Reading the tree, raw files and the merge base is what the daemon
// pipeline's conformance job does with the toolkit project; GitLab grants a
// job token those reads through the toolkit's job token allowlist (with
// fine-grained permissions: the Repository resource, read).
var jobTokenRoutes = map[string]bool{
	RouteProject: true, RouteBranch: true,
	RouteTree: true, RouteRawFile: true, RouteMergeBase: true,
}

// apiPath splits the path after /api/v4 into unescaped segments. Splitting
// before unescaping keeps "group%2Ftoolkit" and "coinpipe%2Fbitcoin" one
// segment each, as GitLab reads them.
func apiPath(r *http.Request) ([]string, bool) {
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/api/v4/")
	if i < 0 {
		return nil, false
	}
	raw := strings.Split(strings.Trim(p[i+len("/api/v4/"):], "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := pathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs[i] = u
	}
	switch {
	case segs[0] == "projects" && len(segs) >= 1:
	case segs[0] == "groups" && len(segs) == 2:
	default:
		return nil, false
	}
	return segs, true
}

type handlerFunc func(s *Server, p *project, r *http.Request, segs []string) response

func match(method string, segs []string) (string, handlerFunc) {
	n := len(segs)
	switch {
	case segs[0] == "groups":
		return pick(method, RouteGroup, (*Server).getGroup)
	case n == 1:
		return pick(method, RouteCreateProject, (*Server).createProject)
	case n == 2:
		return pick(method, RouteProject, (*Server).getProject)
	case n == 3 && segs[2] == "protected_branches":
		if method == http.MethodPost {
			return RouteProtectBranch, (*Server).protectBranch
		}
		return pick(method, RouteProtectedList, (*Server).listProtected)
	case n >= 4 && segs[2] == "protected_branches":
		return pick(method, RouteProtectedBranch, (*Server).getProtected)
	case n == 4 && segs[2] == "repository" && segs[3] == "tree":
		return pick(method, RouteTree, (*Server).tree)
	case n == 6 && segs[2] == "repository" && segs[3] == "files" && segs[5] == "raw":
		return pick(method, RouteRawFile, (*Server).rawFile)
	case n == 4 && segs[2] == "repository" && segs[3] == "merge_base":
		return pick(method, RouteMergeBase, (*Server).mergeBase)
	case n >= 5 && segs[2] == "repository" && segs[3] == "branches":
		return pick(method, RouteBranch, (*Server).getBranch)
	case n == 4 && segs[2] == "repository" && segs[3] == "commits":
		return pick(method, RouteCreateCommit, (*Server).createCommit)
	case n == 3 && segs[2] == "merge_requests":
		if method == http.MethodPost {
			return RouteCreateMR, (*Server).createMR
		}
		return pick(method, RouteListMRs, (*Server).listMRs)
	case n == 4 && segs[2] == "merge_requests":
		if method == http.MethodPut {
			return RouteUpdateMR, (*Server).updateMR
		}
		return pick(method, RouteGetMR, (*Server).getMR)
	case n == 5 && segs[2] == "merge_requests" && segs[4] == "notes":
		if method == http.MethodPost {
			return RouteCreateNote, (*Server).createNote
		}
		return pick(method, RouteListNotes, (*Server).listNotes)
	}
	return "", nil
}

// pick returns the handler when method is the route's.
func pick(method, route string, h handlerFunc) (string, handlerFunc) {
	if strings.HasPrefix(route, method+" ") {
		return route, h
	}
	return "", nil
}
