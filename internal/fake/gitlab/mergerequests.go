package gitlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MergeRequest is a snapshot of a merge request for tests.
type MergeRequest struct {
	IID                        int
	State                      string
	Title, Description         string
	SourceBranch, TargetBranch string
	Labels                     []string
	RemoveSourceBranch         bool
	SHA                        string
	Notes                      []Note
}

func (s *Server) mrJSON(p *project, mr *mergeRequest) map[string]any {
	s.refresh(p, mr)
	ts := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.Format(time.RFC3339Nano)
	}
	return map[string]any{
		"id": mr.ID, "iid": mr.IID, "project_id": p.id,
		"title": mr.Title, "description": mr.Description, "state": mr.State,
		"created_at": ts(&mr.Created), "updated_at": ts(&mr.Updated),
		"merged_at": ts(mr.MergedAt), "closed_at": ts(mr.ClosedAt),
		"target_branch": mr.TargetBranch, "source_branch": mr.SourceBranch,
		"source_project_id": p.id, "target_project_id": p.id,
		"labels": append([]string{}, mr.Labels...), "draft": false,
		"author": map[string]any{"id": Bot.ID, "username": Bot.Username, "name": Bot.Name},
		"sha":    mr.SHA, "force_remove_source_branch": mr.RemoveSourceBranch,
		"should_remove_source_branch": nil,
		"references":                  map[string]string{"short": fmt.Sprintf("!%d", mr.IID)},
		"web_url":                     fmt.Sprintf("%s/%s/-/merge_requests/%d", s.WebURL, p.path, mr.IID),
	}
}

// refresh follows the source branch, as GitLab does on every push, while
// the MR is open.
func (s *Server) refresh(p *project, mr *mergeRequest) {
	if mr.State != "opened" {
		return
	}
	if sha, ok := p.branches[mr.SourceBranch]; ok {
		mr.SHA = sha
	}
}

// listMRs is GET /projects/:id/merge_requests with state (default all),
// source_branch, target_branch, order_by created_at|updated_at, sort, and
// offset pagination: page, per_page (default 20, at most 100).
func (s *Server) listMRs(p *project, r *http.Request, _ []string) response {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "all"
	}
	if !slices.Contains([]string{"opened", "closed", "locked", "merged", "all"}, state) {
		return paramError("state does not have a valid value")
	}
	var list []*mergeRequest
	for _, mr := range p.mrs {
		s.refresh(p, mr)
		switch {
		case state != "all" && mr.State != state:
		case q.Get("source_branch") != "" && mr.SourceBranch != q.Get("source_branch"):
		case q.Get("target_branch") != "" && mr.TargetBranch != q.Get("target_branch"):
		default:
			list = append(list, mr)
		}
	}
	key := func(mr *mergeRequest) time.Time { return mr.Created }
	if q.Get("order_by") == "updated_at" {
		key = func(mr *mergeRequest) time.Time { return mr.Updated }
	}
	asc := q.Get("sort") == "asc"
	slices.SortStableFunc(list, func(a, b *mergeRequest) int {
		c := key(a).Compare(key(b))
		if c == 0 {
			c = a.IID - b.IID // same instant: creation order
		}
		if asc {
			return c
		}
		return -c
	})

	lo, hi, header := offsetPage(r, len(list))
	out := make([]map[string]any, 0, hi-lo)
	for _, mr := range list[lo:hi] {
		out = append(out, s.mrJSON(p, mr))
	}
	resp := jsonResponse(http.StatusOK, out)
	resp.header = header
	return resp
}

// offsetPage is the slice [lo:hi] of a list of total items that page
// and per_page (default 20, at most 100) ask for, and its headers.
func offsetPage(r *http.Request, total int) (lo, hi int, header http.Header) {
	q := r.URL.Query()
	page, perPage := atoiDefault(q.Get("page"), 1), atoiDefault(q.Get("per_page"), 20)
	perPage = min(max(perPage, 1), 100)
	page = max(page, 1)
	pages := max((total+perPage-1)/perPage, 1)
	lo, hi = min((page-1)*perPage, total), min(page*perPage, total)
	return lo, hi, paginationHeaders(r, page, perPage, total, pages)
}

func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// paginationHeaders are GitLab's offset-pagination headers: X-Page,
// X-Per-Page, X-Total, X-Total-Pages, X-Next-Page and X-Prev-Page ("" when
// none) and Link with prev, next, first and last.
func paginationHeaders(r *http.Request, page, perPage, total, pages int) http.Header {
	h := http.Header{}
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	next, prev := "", ""
	if page < pages {
		next = strconv.Itoa(page + 1)
	}
	if page > 1 {
		prev = strconv.Itoa(page - 1)
	}
	h.Set("X-Next-Page", next)
	h.Set("X-Prev-Page", prev)
	link := func(n int, rel string) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath}
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var links []string
	if prev != "" {
		links = append(links, link(page-1, "prev"))
	}
	if next != "" {
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	h.Set("Link", strings.Join(links, ", "))
	return h
}

// mrRequest is the body of POST and PUT merge_requests.
type mrRequest struct {
	Title              *string    `json:"title"`
	Description        *string    `json:"description"`
	SourceBranch       string     `json:"source_branch"`
	TargetBranch       *string    `json:"target_branch"`
	Labels             *labelList `json:"labels"`
	AddLabels          *labelList `json:"add_labels"`
	RemoveLabels       *labelList `json:"remove_labels"`
	RemoveSourceBranch *bool      `json:"remove_source_branch"`
	StateEvent         string     `json:"state_event"`
}

// labelList accepts labels as GitLab does: a comma-separated string or an
// array of strings.
type labelList []string

func (l *labelList) UnmarshalJSON(b []byte) error {
	var arr []string
	if json.Unmarshal(b, &arr) == nil {
		*l = trimLabels(arr)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*l = trimLabels(strings.Split(s, ","))
	return nil
}

func trimLabels(in []string) []string {
	out := []string{}
	for _, l := range in {
		if l = strings.TrimSpace(l); l != "" && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// createMR follows the API: missing parameters are Grape's 400; an unknown
// source or target branch is 422; another open MR from the same source to
// the same target is 409 with its reference.
func (s *Server) createMR(p *project, r *http.Request, _ []string) response {
	var req mrRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	switch {
	case req.SourceBranch == "":
		return paramError("source_branch is missing")
	case req.TargetBranch == nil || *req.TargetBranch == "":
		return paramError("target_branch is missing")
	case req.Title == nil || *req.Title == "":
		return paramError("title is missing")
	}
	if req.SourceBranch == *req.TargetBranch {
		return apiError(http.StatusUnprocessableEntity, []string{"You can't use same project/branch for source and target"})
	}
	if _, ok := p.branches[req.SourceBranch]; !ok {
		return apiError(http.StatusUnprocessableEntity, []string{fmt.Sprintf("Source branch \"%s\" does not exist", req.SourceBranch)})
	}
	if _, ok := p.branches[*req.TargetBranch]; !ok {
		return apiError(http.StatusUnprocessableEntity, []string{fmt.Sprintf("Target branch \"%s\" does not exist", *req.TargetBranch)})
	}
	for _, mr := range p.mrs {
		if mr.State == "opened" && mr.SourceBranch == req.SourceBranch && mr.TargetBranch == *req.TargetBranch {
			return apiError(http.StatusConflict, []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", mr.IID)})
		}
	}
	now := s.now().UTC()
	s.mrID++
	mr := &mergeRequest{
		ID: 1000 + s.mrID, IID: len(p.mrs) + 1, State: "opened",
		Title: *req.Title, SourceBranch: req.SourceBranch, TargetBranch: *req.TargetBranch,
		Labels: []string{}, SHA: p.branches[req.SourceBranch], Created: now, Updated: now,
	}
	if req.Description != nil {
		mr.Description = *req.Description
	}
	if req.Labels != nil {
		mr.Labels = *req.Labels
	}
	if req.RemoveSourceBranch != nil {
		mr.RemoveSourceBranch = *req.RemoveSourceBranch
	}
	p.mrs = append(p.mrs, mr)
	return jsonResponse(http.StatusCreated, s.mrJSON(p, mr))
}

func (s *Server) findMR(p *project, segs []string) *mergeRequest {
	iid, err := strconv.Atoi(segs[3])
	if err != nil || iid < 1 || iid > len(p.mrs) {
		return nil
	}
	return p.mrs[iid-1]
}

func (s *Server) getMR(p *project, _ *http.Request, segs []string) response {
	mr := s.findMR(p, segs)
	if mr == nil {
		return apiError(http.StatusNotFound, "404 Not found")
	}
	return jsonResponse(http.StatusOK, s.mrJSON(p, mr))
}

// updateMR changes what the body names; labels replaces the set, add_labels
// and remove_labels edit it, state_event closes or reopens.
func (s *Server) updateMR(p *project, r *http.Request, segs []string) response {
	mr := s.findMR(p, segs)
	if mr == nil {
		return apiError(http.StatusNotFound, "404 Not found")
	}
	var req mrRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	if req.Title != nil && *req.Title == "" {
		return apiError(http.StatusBadRequest, map[string][]string{"title": {"can't be blank"}})
	}
	if req.StateEvent != "" && req.StateEvent != "close" && req.StateEvent != "reopen" {
		return paramError("state_event does not have a valid value")
	}
	if req.StateEvent == "reopen" && mr.State == "closed" {
		for _, o := range p.mrs {
			if o != mr && o.State == "opened" && o.SourceBranch == mr.SourceBranch && o.TargetBranch == mr.TargetBranch {
				return apiError(http.StatusConflict, []string{fmt.Sprintf("Another open merge request already exists for this source branch: !%d", o.IID)})
			}
		}
	}
	if req.Title != nil {
		mr.Title = *req.Title
	}
	if req.Description != nil {
		mr.Description = *req.Description
	}
	if req.TargetBranch != nil {
		mr.TargetBranch = *req.TargetBranch
	}
	if req.Labels != nil {
		mr.Labels = *req.Labels
	}
	if req.AddLabels != nil {
		mr.Labels = trimLabels(append(mr.Labels, *req.AddLabels...))
	}
	if req.RemoveLabels != nil {
		mr.Labels = slices.DeleteFunc(mr.Labels, func(l string) bool { return slices.Contains(*req.RemoveLabels, l) })
	}
	if req.RemoveSourceBranch != nil {
		mr.RemoveSourceBranch = *req.RemoveSourceBranch
	}
	now := s.now().UTC()
	switch {
	case req.StateEvent == "close" && mr.State == "opened":
		s.refresh(p, mr)
		mr.State, mr.ClosedAt = "closed", &now
	case req.StateEvent == "reopen" && mr.State == "closed":
		mr.State, mr.ClosedAt = "opened", nil
	}
	mr.Updated = now
	return jsonResponse(http.StatusOK, s.mrJSON(p, mr))
}

func noteJSON(mr *mergeRequest, n Note) map[string]any {
	return map[string]any{
		"id": n.ID, "body": n.Body, "system": false, "noteable_type": "MergeRequest",
		"noteable_id": mr.ID, "noteable_iid": mr.IID, "internal": false,
		"author":     map[string]any{"username": n.Author},
		"created_at": n.Created.Format(time.RFC3339Nano), "updated_at": n.Created.Format(time.RFC3339Nano),
	}
}

func (s *Server) createNote(p *project, r *http.Request, segs []string) response {
	mr := s.findMR(p, segs)
	if mr == nil {
		return apiError(http.StatusNotFound, "404 Not found")
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return paramError("the request body is not valid JSON")
	}
	if req.Body == "" {
		return paramError("body is missing")
	}
	s.noteID++
	n := Note{ID: s.noteID, Body: req.Body, Author: Bot.Username, Created: s.now().UTC()}
	mr.Notes = append(mr.Notes, n)
	return jsonResponse(http.StatusCreated, noteJSON(mr, n))
}

// listNotes answers the MR's notes, newest first as GitLab's default
// (order_by created_at, sort desc); one page of up to 100.
func (s *Server) listNotes(p *project, r *http.Request, segs []string) response {
	mr := s.findMR(p, segs)
	if mr == nil {
		return apiError(http.StatusNotFound, "404 Not found")
	}
	out := make([]map[string]any, 0, len(mr.Notes))
	for i := len(mr.Notes) - 1; i >= 0; i-- {
		out = append(out, noteJSON(mr, mr.Notes[i]))
	}
	return jsonResponse(http.StatusOK, out)
}

// MergeRequests returns a snapshot of the project's MRs, by IID.
func (s *Server) MergeRequests(projectID string) []MergeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return nil
	}
	out := make([]MergeRequest, 0, len(p.mrs))
	for _, mr := range p.mrs {
		s.refresh(p, mr)
		out = append(out, MergeRequest{
			IID: mr.IID, State: mr.State, Title: mr.Title, Description: mr.Description,
			SourceBranch: mr.SourceBranch, TargetBranch: mr.TargetBranch,
			Labels: slices.Clone(mr.Labels), RemoveSourceBranch: mr.RemoveSourceBranch,
			SHA: mr.SHA, Notes: slices.Clone(mr.Notes),
		})
	}
	return out
}

// CloseMR closes an open MR, as a reviewer rejecting it would.
func (s *Server) CloseMR(projectID string, iid int) error {
	return s.withMR(projectID, iid, func(p *project, mr *mergeRequest) error {
		if mr.State != "opened" {
			return fmt.Errorf("merge request !%d is %s", iid, mr.State)
		}
		s.refresh(p, mr)
		now := s.now().UTC()
		mr.State, mr.ClosedAt, mr.Updated = "closed", &now, now
		return nil
	})
}

// MergeMR merges an open MR: the target branch gets a merge commit with the
// source branch's tree, and the source branch is deleted when the MR says
// so.
func (s *Server) MergeMR(projectID string, iid int) error {
	return s.withMR(projectID, iid, func(p *project, mr *mergeRequest) error {
		if mr.State != "opened" {
			return fmt.Errorf("merge request !%d is %s", iid, mr.State)
		}
		s.refresh(p, mr)
		src, ok := p.branches[mr.SourceBranch]
		if !ok {
			return fmt.Errorf("merge request !%d: source branch %q is gone", iid, mr.SourceBranch)
		}
		msg := fmt.Sprintf("Merge branch '%s' into '%s'\n\n%s\n\nSee merge request %s!%d", mr.SourceBranch, mr.TargetBranch, mr.Title, p.path, mr.IID)
		c := s.newCommit(p, p.branches[mr.TargetBranch], msg, User{Name: "Reviewer", Email: "reviewer@example.com"}, cloneTree(s.commits[src].Tree))
		p.branches[mr.TargetBranch] = c.SHA
		if mr.RemoveSourceBranch {
			delete(p.branches, mr.SourceBranch)
		}
		now := s.now().UTC()
		mr.State, mr.MergedAt, mr.Updated = "merged", &now, now
		return nil
	})
}

func (s *Server) withMR(projectID string, iid int, fn func(*project, *mergeRequest) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(projectID)
	if p == nil {
		return fmt.Errorf("no project %q", projectID)
	}
	if iid < 1 || iid > len(p.mrs) {
		return fmt.Errorf("no merge request !%d in %s", iid, p.path)
	}
	return fn(p, p.mrs[iid-1])
}
