package gitlab

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Groups, project creation, protected branches and job token scopes
// (docs.gitlab.com/api/groups, /api/projects#create-a-project,
// /api/protected_branches, /ci/jobs/ci_job_token#control-job-token-access-to-your-project).

type group struct {
	id   int
	path string // full path, e.g. "coinpipe/daemons"
}

// projectSettings are the attributes POST /projects was given.
type projectSettings struct {
	Description                      string
	Visibility                       string
	OnlyAllowMergeIfPipelineSucceeds bool
	RemoveSourceBranchAfterMerge     bool
}

// Protection is a protected branch's rule: the access level allowed to
// push and to merge (40 Maintainer, 30 Developer, 0 No one).
type Protection struct {
	PushAccessLevel, MergeAccessLevel int
	AllowForcePush                    bool
	// PushUserID, when set, is a user allowed to push whatever their role
	// (a rule GitLab Premium offers).
	PushUserID int
	// ExtraPushLevel, when set, is a second role allowed to push.
	ExtraPushLevel int
}

// ProjectInfo is what a test reads back about a project.
type ProjectInfo struct {
	ID            int
	Path          string
	DefaultBranch string
	Settings      projectSettings
	Protected     map[string]Protection
}

// AddGroup creates a group at full path and returns its ID.
func (s *Server) AddGroup(fullPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := group{id: 100 + len(s.groups) + 1, path: fullPath}
	s.groups = append(s.groups, g)
	return g.id
}

// AddScopedJobToken accepts token as a JOB-TOKEN that reaches only the
// projects listed (full paths): the job's own project and those whose job
// token allowlist holds it. Any other project answers 403, as GitLab does.
func (s *Server) AddScopedJobToken(token string, projects ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[token] = true
	s.jobScope[token] = slices.Clone(projects)
}

// Project returns a project's state, false when there is none.
func (s *Server) Project(projectID string) (ProjectInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return ProjectInfo{}, false
	}
	return ProjectInfo{ID: p.id, Path: p.path, DefaultBranch: p.defaultBranch, Settings: p.settings, Protected: maps.Clone(p.protected)}, true
}

// outOfScope answers a job token's request for a project outside its
// scope; callers hold s.mu.
func (s *Server) outOfScope(r *http.Request, p *project) (response, bool) {
	t := r.Header.Get("JOB-TOKEN")
	scope, scoped := s.jobScope[t]
	if r.Header.Get("PRIVATE-TOKEN") != "" || t == "" || !scoped || slices.Contains(scope, p.path) {
		return response{}, false
	}
	return apiError(http.StatusForbidden, fmt.Sprintf("403 Forbidden - Authentication by CI/CD job token not allowed from %s to %s.", scope[0], p.path)), true
}

func (s *Server) lookupGroup(id string) *group {
	for i := range s.groups {
		if g := &s.groups[i]; g.path == id || strconv.Itoa(g.id) == id {
			return g
		}
	}
	return nil
}

func groupJSON(g *group) map[string]any {
	return map[string]any{
		"id": g.id, "name": path.Base(g.path), "path": path.Base(g.path), "full_path": g.path,
		"visibility": "private", "parent_id": nil,
	}
}

func (s *Server) getGroup(_ *project, _ *http.Request, segs []string) response {
	g := s.lookupGroup(segs[1])
	if g == nil {
		return apiError(http.StatusNotFound, "404 Group Not Found")
	}
	return jsonResponse(http.StatusOK, groupJSON(g))
}

// projectJSON is the project entity (a subset of its fields).
func (s *Server) projectJSON(p *project) map[string]any {
	name := path.Base(p.path)
	ns := map[string]any{"id": 0, "name": path.Dir(p.path), "path": path.Base(path.Dir(p.path)), "kind": "group", "full_path": path.Dir(p.path)}
	if g := s.lookupGroup(path.Dir(p.path)); g != nil {
		ns["id"] = g.id
	}
	vis := p.settings.Visibility
	if vis == "" {
		vis = "private"
	}
	return map[string]any{
		"id": p.id, "name": name, "path": name, "path_with_namespace": p.path,
		"name_with_namespace": strings.ReplaceAll(p.path, "/", " / "),
		"description":         p.settings.Description,
		"default_branch":      p.defaultBranchOrNil(), "web_url": s.WebURL + "/" + p.path,
		"empty_repo": len(p.branches) == 0, "namespace": ns, "visibility": vis,
		"only_allow_merge_if_pipeline_succeeds": p.settings.OnlyAllowMergeIfPipelineSucceeds,
		"remove_source_branch_after_merge":      p.settings.RemoveSourceBranchAfterMerge,
	}
}

type createProjectRequest struct {
	Name                             string `json:"name"`
	Path                             string `json:"path"`
	NamespaceID                      *int   `json:"namespace_id"`
	Description                      string `json:"description"`
	Visibility                       string `json:"visibility"`
	DefaultBranch                    string `json:"default_branch"`
	OnlyAllowMergeIfPipelineSucceeds bool   `json:"only_allow_merge_if_pipeline_succeeds"`
	RemoveSourceBranchAfterMerge     bool   `json:"remove_source_branch_after_merge"`
	InitializeWithReadme             bool   `json:"initialize_with_readme"`
}

// createProject is POST /projects: name or path required; the namespace
// is namespace_id's group, else the user's own; a path taken in the
// namespace is 400 with the model's validation errors. The repository
// starts empty (unless initialize_with_readme) with default_branch
// recorded for the first push.
func (s *Server) createProject(_ *project, r *http.Request, _ []string) response {
	var req createProjectRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	if req.Name == "" && req.Path == "" {
		return paramError("name, path are missing, at least one parameter must be provided")
	}
	if req.Path == "" {
		req.Path = strings.ToLower(strings.ReplaceAll(req.Name, " ", "-"))
	}
	if req.Visibility != "" && !slices.Contains([]string{"private", "internal", "public"}, req.Visibility) {
		return paramError("visibility does not have a valid value")
	}
	ns := Bot.Username
	if req.NamespaceID != nil {
		g := s.lookupGroup(strconv.Itoa(*req.NamespaceID))
		if g == nil {
			return apiError(http.StatusNotFound, "404 Namespace Not Found")
		}
		ns = g.path
	}
	full := ns + "/" + req.Path
	if s.lookup(full) != nil {
		return apiError(http.StatusBadRequest, map[string][]string{"path": {"has already been taken"}, "name": {"has already been taken"}})
	}
	branch := req.DefaultBranch
	if branch == "" {
		branch = "main"
	}
	p := &project{
		id: len(s.projects) + 1, path: full, defaultBranch: branch, branches: map[string]string{},
		settings: projectSettings{
			Description: req.Description, Visibility: req.Visibility,
			OnlyAllowMergeIfPipelineSucceeds: req.OnlyAllowMergeIfPipelineSucceeds,
			RemoveSourceBranchAfterMerge:     req.RemoveSourceBranchAfterMerge,
		},
	}
	s.projects = append(s.projects, p)
	if req.InitializeWithReadme {
		c := s.newCommit(p, "", "Initial commit", Bot, map[string]File{"README.md": {Content: []byte("# " + req.Path + "\n")}})
		p.branches[branch] = c.SHA
	}
	return jsonResponse(http.StatusCreated, s.projectJSON(p))
}

func accessJSON(level int) []map[string]any {
	desc := map[int]string{0: "No one", 30: "Developers + Maintainers", 40: "Maintainers", 60: "Admins"}[level]
	return []map[string]any{{"id": level + 1, "access_level": level, "access_level_description": desc, "user_id": nil, "group_id": nil, "deploy_key_id": nil}}
}

// pushJSON lists the push rules: the role's, then a user's.
func pushJSON(pr Protection) []map[string]any {
	rules := accessJSON(pr.PushAccessLevel)
	if pr.ExtraPushLevel != 0 {
		extra := accessJSON(pr.ExtraPushLevel)[0]
		extra["id"] = 200 + pr.ExtraPushLevel
		rules = append(rules, extra)
	}
	if pr.PushUserID != 0 {
		rules = append(rules, map[string]any{"id": 100 + pr.PushUserID, "access_level": 40, "access_level_description": "a user",
			"user_id": pr.PushUserID, "group_id": nil, "deploy_key_id": nil})
	}
	return rules
}

func protectedJSON(id int, name string, pr Protection) map[string]any {
	return map[string]any{
		"id": id, "name": name,
		"push_access_levels": pushJSON(pr), "merge_access_levels": accessJSON(pr.MergeAccessLevel),
		"unprotect_access_levels": accessJSON(40),
		"allow_force_push":        pr.AllowForcePush, "code_owner_approval_required": false,
	}
}

func (s *Server) listProtected(p *project, r *http.Request, _ []string) response {
	names := slices.Sorted(maps.Keys(p.protected))
	out := make([]map[string]any, 0, len(names))
	for i, n := range names {
		out = append(out, protectedJSON(i+1, n, p.protected[n]))
	}
	resp := jsonResponse(http.StatusOK, out)
	resp.header = paginationHeaders(r, 1, 20, len(out), 1)
	return resp
}

func (s *Server) getProtected(p *project, _ *http.Request, segs []string) response {
	name := strings.Join(segs[3:], "/")
	pr, ok := p.protected[name]
	if !ok {
		return apiError(http.StatusNotFound, "404 Not found")
	}
	return jsonResponse(http.StatusOK, protectedJSON(1, name, pr))
}

type protectRequest struct {
	Name             string `json:"name"`
	PushAccessLevel  *int   `json:"push_access_level"`
	MergeAccessLevel *int   `json:"merge_access_level"`
	AllowForcePush   bool   `json:"allow_force_push"`
}

// protectBranch is POST protected_branches: name required, push and merge
// levels default to Maintainer, an existing rule is 409. The branch need
// not exist yet (GitLab protects names and patterns).
func (s *Server) protectBranch(p *project, r *http.Request, _ []string) response {
	var req protectRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	if req.Name == "" {
		return paramError("name is missing")
	}
	valid := func(l *int) bool { return l == nil || slices.Contains([]int{0, 30, 40, 60}, *l) }
	if !valid(req.PushAccessLevel) {
		return paramError("push_access_level does not have a valid value")
	}
	if !valid(req.MergeAccessLevel) {
		return paramError("merge_access_level does not have a valid value")
	}
	if _, ok := p.protected[req.Name]; ok {
		return apiError(http.StatusConflict, fmt.Sprintf("Protected branch '%s' already exists", req.Name))
	}
	pr := Protection{PushAccessLevel: 40, MergeAccessLevel: 40, AllowForcePush: req.AllowForcePush}
	if req.PushAccessLevel != nil {
		pr.PushAccessLevel = *req.PushAccessLevel
	}
	if req.MergeAccessLevel != nil {
		pr.MergeAccessLevel = *req.MergeAccessLevel
	}
	if p.protected == nil {
		p.protected = map[string]Protection{}
	}
	p.protected[req.Name] = pr
	return jsonResponse(http.StatusCreated, protectedJSON(len(p.protected), req.Name, pr))
}

// Protect sets branch's protection behind the API's back, as a maintainer
// in the web UI would.
func (s *Server) Protect(projectID, branch string, pr Protection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return fmt.Errorf("no project %q", projectID)
	}
	if p.protected == nil {
		p.protected = map[string]Protection{}
	}
	p.protected[branch] = pr
	return nil
}
