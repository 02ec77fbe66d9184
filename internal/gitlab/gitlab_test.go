package gitlab_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	fake "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
)

const (
	token    = "glpat-s3cr3t-token-value"
	jobToken = "glcbt-job-token-value"
	project  = "group/toolkit"
)

// seed is the default branch of every test project.
func seed() map[string]fake.File {
	return map[string]fake.File{
		"README.md":               {Content: []byte("# toolkit\n")},
		"coins/bitcoin/coin.yaml": {Content: []byte("version: \"31.1\"\n")},
		"old.txt":                 {Content: []byte("old\n")},
		"release.sh":              {Content: []byte("#!/bin/sh\n"), Executable: true},
		"keep.sh":                 {Content: []byte("#!/bin/sh\n"), Executable: true},
	}
}

// setup starts a fake GitLab with one project and returns a client for it.
func setup(t *testing.T, o gitlab.Options) (*fake.Server, *gitlab.Client) {
	t.Helper()
	srv := fake.New()
	srv.AddToken(token)
	srv.AddJobToken(jobToken)
	srv.AddProject(project, "main", seed())
	apiURL, hc := srv.Start(t)
	if o.BaseURL == "" {
		o.BaseURL = apiURL
	}
	if o.Token == "" && o.JobToken == "" {
		o.Token = token
	}
	o.HTTP = hc
	c, err := gitlab.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func TestCreateCommit(t *testing.T) {
	const branch = "coinpipe/bitcoin"
	withChanges := func(changes map[string]*fake.File) map[string]fake.File {
		tree := seed()
		for p, f := range changes {
			if f == nil {
				delete(tree, p)
			} else {
				tree[p] = *f
			}
		}
		return tree
	}
	tests := []struct {
		name string
		// manual, when set, is pushed to the branch by a person first.
		manual  map[string]*fake.File
		commit  gitlab.Commit
		want    map[string]fake.File // the branch's tree afterwards; nil: the commit fails
		wantErr string
	}{{
		name: "every action on a new branch from the default branch",
		commit: gitlab.Commit{Branch: branch, StartBranch: "main", Message: "bitcoin: 31.1 → 32.0", Actions: []gitlab.Action{
			{Op: "create", Path: "coins/bitcoin/release/SHA256SUMS", Content: []byte("abc  bitcoin.tar.gz\n")},
			{Op: "create", Path: "out/bitcoin/release.sh", Content: []byte("#!/bin/sh\nexit 0\n"), Executable: true},
			{Op: "update", Path: "coins/bitcoin/coin.yaml", Content: []byte("version: \"32.0\"\n")},
			{Op: "update", Path: "release.sh", Content: []byte("#!/bin/sh\n# v2\n"), Executable: true},
			{Op: "delete", Path: "old.txt"},
			{Op: "chmod", Path: "keep.sh", Executable: false},
			{Op: "move", Path: "docs/README.md", PreviousPath: "README.md"},
		}},
		want: withChanges(map[string]*fake.File{
			"coins/bitcoin/release/SHA256SUMS": {Content: []byte("abc  bitcoin.tar.gz\n")},
			"out/bitcoin/release.sh":           {Content: []byte("#!/bin/sh\nexit 0\n"), Executable: true},
			"coins/bitcoin/coin.yaml":          {Content: []byte("version: \"32.0\"\n")},
			"release.sh":                       {Content: []byte("#!/bin/sh\n# v2\n"), Executable: true},
			"old.txt":                          nil,
			"keep.sh":                          {Content: []byte("#!/bin/sh\n")},
			"README.md":                        nil,
			"docs/README.md":                   {Content: []byte("# toolkit\n")},
		}),
	}, {
		name:   "force recreates the branch from the default branch, dropping a manual commit",
		manual: map[string]*fake.File{"manual.txt": {Content: []byte("by hand\n")}},
		commit: gitlab.Commit{Branch: branch, StartBranch: "main", Force: true, Message: "bitcoin: 31.1 → 32.1", Actions: []gitlab.Action{
			{Op: "update", Path: "coins/bitcoin/coin.yaml", Content: []byte("version: \"32.1\"\n")},
		}},
		want: withChanges(map[string]*fake.File{
			"coins/bitcoin/coin.yaml": {Content: []byte("version: \"32.1\"\n")},
		}),
	}, {
		name:    "an existing branch is not rebuilt without force",
		manual:  map[string]*fake.File{"manual.txt": {Content: []byte("by hand\n")}},
		commit:  gitlab.Commit{Branch: branch, StartBranch: "main", Message: "m", Actions: []gitlab.Action{{Op: "create", Path: "x", Content: []byte("x")}}},
		wantErr: "HTTP 400 Bad Request: A branch called 'coinpipe/bitcoin' already exists. Switch to that branch in order to make changes",
	}, {
		name: "an update of a missing file fails the whole commit",
		commit: gitlab.Commit{Branch: branch, StartBranch: "main", Message: "m", Actions: []gitlab.Action{
			{Op: "create", Path: "new.txt", Content: []byte("new")},
			{Op: "update", Path: "missing.txt", Content: []byte("x")},
		}},
		wantErr: "HTTP 400 Bad Request: A file with this name doesn't exist",
	}, {
		name:    "a create of an existing file fails",
		commit:  gitlab.Commit{Branch: branch, StartBranch: "main", Message: "m", Actions: []gitlab.Action{{Op: "create", Path: "README.md", Content: []byte("x")}}},
		wantErr: "HTTP 400 Bad Request: A file with this name already exists",
	}, {
		name:    "a missing start branch",
		commit:  gitlab.Commit{Branch: branch, StartBranch: "develop", Message: "m", Actions: []gitlab.Action{{Op: "create", Path: "x", Content: []byte("x")}}},
		wantErr: "HTTP 400 Bad Request: You can only create or edit files when you are on a branch",
	}, {
		name:    "a new branch needs a start branch",
		commit:  gitlab.Commit{Branch: branch, Message: "m", Actions: []gitlab.Action{{Op: "create", Path: "x", Content: []byte("x")}}},
		wantErr: "HTTP 400 Bad Request: You can only create or edit files when you are on a branch",
	}, {
		name:    "an unknown action is refused before any request",
		commit:  gitlab.Commit{Branch: branch, StartBranch: "main", Message: "m", Actions: []gitlab.Action{{Op: "copy", Path: "x"}}},
		wantErr: `creating a commit on coinpipe/bitcoin of group/toolkit: file x: unknown action "copy" (create, update, delete, chmod, move)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := setup(t, gitlab.Options{})
			mainHead, _ := srv.Head(project, "main")
			if tt.manual != nil {
				if _, err := srv.Push(project, branch, fake.User{Name: "Alice", Email: "alice@example.com"}, "manual fix", tt.manual); err != nil {
					t.Fatal(err)
				}
			}
			before, hadBranch := srv.Head(project, branch)

			sha, err := c.CreateCommit(t.Context(), project, tt.commit)

			after, hasBranch := srv.Head(project, branch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				// Atomic: the branch is as it was, and no commit was made.
				if hasBranch != hadBranch || after != before {
					t.Errorf("branch changed by a failed commit: %+v → %+v", before, after)
				}
				if n := srv.APICommits(project); n != 0 {
					t.Errorf("%d commits made by a failed request", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sha != after.SHA || after.Message != tt.commit.Message || after.Parent != mainHead.SHA {
				t.Errorf("head = %+v, want SHA %s, message %q, parent %s (main)", after, sha, tt.commit.Message, mainHead.SHA)
			}
			got, err := srv.Files(project, branch)
			if err != nil {
				t.Fatal(err)
			}
			assertTree(t, got, tt.want)
			if main, _ := srv.Files(project, "main"); !treeEqual(main, seed()) {
				t.Error("the default branch changed")
			}
			if n := srv.APICommits(project); n != 1 {
				t.Errorf("%d commits, want 1", n)
			}
		})
	}
}

func treeEqual(a, b map[string]fake.File) bool {
	return maps.EqualFunc(a, b, func(x, y fake.File) bool {
		return string(x.Content) == string(y.Content) && x.Executable == y.Executable
	})
}

func assertTree(t *testing.T, got, want map[string]fake.File) {
	t.Helper()
	for _, p := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case string(g.Content) != string(want[p].Content) || g.Executable != want[p].Executable:
			t.Errorf("%s = %q executable=%v, want %q executable=%v", p, g.Content, g.Executable, want[p].Content, want[p].Executable)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected file %s", p)
		}
	}
}

func TestMergeRequestsAllPagesAllStates(t *testing.T) {
	const branch = "coinpipe/bitcoin"
	tests := []struct {
		perPage      int
		wantRequests int
	}{{20, 3}, {7, 7}, {45, 1}, {0, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("per_page %d", tt.perPage), func(t *testing.T) {
			srv, c := setup(t, gitlab.Options{PerPage: tt.perPage})
			if _, err := srv.Push(project, branch, fake.User{Name: "Bot", Email: "bot@example.com"}, "bump", map[string]*fake.File{"x": {Content: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := srv.Push(project, "other", fake.User{Name: "Bot", Email: "bot@example.com"}, "other", map[string]*fake.File{"y": {Content: []byte("y")}}); err != nil {
				t.Fatal(err)
			}
			// 45 MRs from the branch: 30 closed, 14 merged-looking closed
			// ones interleaved with MRs of another branch, the last open.
			for i := 1; i <= 45; i++ {
				mr, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: branch, TargetBranch: "main", Title: fmt.Sprintf("bitcoin %d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: "other", TargetBranch: "main", Title: fmt.Sprintf("other %d", i)}); err != nil {
					t.Fatal(err)
				}
				if err := srv.CloseMR(project, mr.IID+1); err != nil { // the other branch's
					t.Fatal(err)
				}
				switch {
				case i == 45:
				case i%3 == 0:
					if err := srv.MergeMR(project, mr.IID); err != nil {
						t.Fatal(err)
					}
				default:
					if err := srv.CloseMR(project, mr.IID); err != nil {
						t.Fatal(err)
					}
				}
			}
			listed := srv.RequestCount(fake.RouteListMRs)

			got, err := c.MergeRequests(t.Context(), project, branch)
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.RequestCount(fake.RouteListMRs) - listed; n != tt.wantRequests {
				t.Errorf("%d list requests, want %d", n, tt.wantRequests)
			}
			if len(got) != 45 {
				t.Fatalf("%d merge requests, want 45", len(got))
			}
			states := map[string]int{}
			for i, mr := range got {
				wantIID := 89 - 2*i // newest first: !89, !87, ...
				if mr.IID != wantIID || mr.SourceBranch != branch || mr.Title != fmt.Sprintf("bitcoin %d", 45-i) {
					t.Fatalf("item %d = !%d %q from %s, want !%d bitcoin %d", i, mr.IID, mr.Title, mr.SourceBranch, wantIID, 45-i)
				}
				states[mr.State]++
			}
			if want := map[string]int{"opened": 1, "merged": 14, "closed": 30}; !maps.Equal(states, want) {
				t.Errorf("states = %v, want %v", states, want)
			}
			head, _ := srv.Head(project, branch)
			if got[0].SHA != head.SHA || got[0].WebURL != "https://gitlab.example/group/toolkit/-/merge_requests/89" {
				t.Errorf("open MR sha %s web %s, want %s and its web URL", got[0].SHA, got[0].WebURL, head.SHA)
			}
		})
	}
}

func TestCreateMergeRequestTwiceIsConflict(t *testing.T) {
	srv, c := setup(t, gitlab.Options{})
	if _, err := srv.Push(project, "coinpipe/bitcoin", fake.User{Name: "Bot", Email: "bot@example.com"}, "bump", map[string]*fake.File{"x": {Content: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	mr := gitlab.NewMergeRequest{
		SourceBranch: "coinpipe/bitcoin", TargetBranch: "main", Title: "bitcoin: 31.1 → 32.0",
		Description: "verified", Labels: []string{"coinpipe", "upgrade"}, RemoveSourceBranch: true,
	}
	first, err := c.CreateMergeRequest(t.Context(), project, mr)
	if err != nil {
		t.Fatal(err)
	}
	if first.IID != 1 || first.State != "opened" || first.Title != mr.Title || !slices.Equal(first.Labels, mr.Labels) {
		t.Errorf("created %+v", first)
	}

	_, err = c.CreateMergeRequest(t.Context(), project, mr)
	if !errors.Is(err, gitlab.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	want := "HTTP 409 Conflict: Another open merge request already exists for this source branch: !1"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	got := srv.MergeRequests(project)
	if len(got) != 1 || !got[0].RemoveSourceBranch || got[0].Description != "verified" {
		t.Errorf("merge requests = %+v, want the first only, removing its source branch", got)
	}
}

func TestUpdateMergeRequestAndNote(t *testing.T) {
	tests := []struct {
		name               string
		title, description string
		labels, wantLabels []string
	}{
		{"rewrites everything", "bitcoin: 31.1 → 32.1", "superseded", []string{"coinpipe", "superseded"}, []string{"coinpipe", "superseded"}},
		{"nil labels clear them", "bitcoin: 31.1 → 32.1", "", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := setup(t, gitlab.Options{})
			if _, err := srv.Push(project, "coinpipe/bitcoin", fake.User{Name: "Bot", Email: "bot@example.com"}, "bump", map[string]*fake.File{"x": {Content: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			mr, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: "coinpipe/bitcoin", TargetBranch: "main", Title: "bitcoin: 31.1 → 32.0", Description: "old", Labels: []string{"coinpipe"}})
			if err != nil {
				t.Fatal(err)
			}
			updated, err := c.UpdateMergeRequest(t.Context(), project, mr.IID, tt.title, tt.description, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.AddNote(t.Context(), project, mr.IID, "32.1 supersedes 32.0"); err != nil {
				t.Fatal(err)
			}
			got := srv.MergeRequests(project)[0]
			if got.Title != tt.title || got.Description != tt.description || !slices.Equal(got.Labels, tt.wantLabels) {
				t.Errorf("stored %q %q %q, want %q %q %q", got.Title, got.Description, got.Labels, tt.title, tt.description, tt.wantLabels)
			}
			if updated.Title != tt.title || !slices.Equal(updated.Labels, tt.wantLabels) {
				t.Errorf("returned %+v", updated)
			}
			if len(got.Notes) != 1 || got.Notes[0].Body != "32.1 supersedes 32.0" {
				t.Errorf("notes = %+v", got.Notes)
			}
		})
	}
	t.Run("a missing merge request", func(t *testing.T) {
		_, c := setup(t, gitlab.Options{})
		_, err := c.UpdateMergeRequest(t.Context(), project, 7, "t", "d", nil)
		if !errors.Is(err, gitlab.ErrNotFound) || !strings.Contains(err.Error(), "updating merge request !7 of group/toolkit: PUT ") {
			t.Errorf("error = %v, want ErrNotFound naming the request", err)
		}
		if err := c.AddNote(t.Context(), project, 7, "x"); !errors.Is(err, gitlab.ErrNotFound) {
			t.Errorf("note error = %v, want ErrNotFound", err)
		}
	})
}

func TestBranchAndDefaultBranch(t *testing.T) {
	srv, c := setup(t, gitlab.Options{})
	sha, err := srv.Push(project, "coinpipe/bitcoin", fake.User{Name: "Alice", Email: "alice@example.com"}, "fix the entry point\n\nby hand", map[string]*fake.File{"x": {Content: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{project, "1"} {
		b, err := c.Branch(t.Context(), id, "coinpipe/bitcoin")
		if err != nil {
			t.Fatal(err)
		}
		want := gitlab.Branch{Name: "coinpipe/bitcoin", CommitSHA: sha, CommitMessage: "fix the entry point\n\nby hand", CommitAuthorEmail: "alice@example.com"}
		if *b != want {
			t.Errorf("Branch(%s) = %+v, want %+v", id, *b, want)
		}
		if d, err := c.DefaultBranch(t.Context(), id); err != nil || d != "main" {
			t.Errorf("DefaultBranch(%s) = %q, %v", id, d, err)
		}
	}

	_, err = c.Branch(t.Context(), project, "coinpipe/monero")
	if !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("missing branch: %v, want ErrNotFound", err)
	}
	var apiErr *gitlab.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.HasSuffix(apiErr.URL, "/api/v4/projects/group%2Ftoolkit/repository/branches/coinpipe%2Fmonero") {
		t.Errorf("error = %#v", apiErr)
	}
	if _, err := c.DefaultBranch(t.Context(), "group/none"); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("missing project: %v, want ErrNotFound", err)
	}
}

// A CI job token reads the project but cannot open a merge request or
// commit, as on GitLab: the scheduled watch job needs GITLAB_TOKEN.
func TestJobTokenCannotWrite(t *testing.T) {
	_, c := setup(t, gitlab.Options{JobToken: jobToken})
	if _, err := c.DefaultBranch(t.Context(), project); err != nil {
		t.Fatalf("reading the project with a job token: %v", err)
	}
	_, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: "main", TargetBranch: "main", Title: "x"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 Unauthorized") || strings.Contains(err.Error(), jobToken) {
		t.Fatalf("a merge request with a job token: %v", err)
	}
	_, err = c.CreateCommit(t.Context(), project, gitlab.Commit{Branch: "x", StartBranch: "main", Message: "m",
		Actions: []gitlab.Action{{Op: "create", Path: "a", Content: []byte("a")}}})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401 Unauthorized") {
		t.Fatalf("a commit with a job token: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name            string
		token, jobToken string
		wantErr         string
	}{
		// The fake accepts each token only in its own header.
		{name: "personal or project access token", token: token},
		{name: "CI job token", jobToken: jobToken},
		{name: "GITLAB_TOKEN wins over CI_JOB_TOKEN", token: token, jobToken: "ignored"},
		{name: "wrong token", token: "glpat-wrong-secret", wantErr: "HTTP 401 Unauthorized: 401 Unauthorized (check that GITLAB_TOKEN or CI_JOB_TOKEN is set"},
		{name: "a job token is not an access token", token: jobToken, wantErr: "HTTP 401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := setup(t, gitlab.Options{Token: tt.token, JobToken: tt.jobToken})
			_, err := c.DefaultBranch(t.Context(), project)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				for _, secret := range []string{tt.token, tt.jobToken} {
					if secret != "" && strings.Contains(err.Error(), secret) {
						t.Errorf("error %q contains the token", err)
					}
				}
				if n := srv.RequestCount(""); n != 1 {
					t.Errorf("%d requests, want 1 (a 401 is not retried)", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].Status != 200 {
				t.Fatalf("requests = %+v", reqs)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	const branchURL = "/api/v4/projects/group%2Ftoolkit/repository/branches/main"
	tests := []struct {
		name         string
		route        string
		status       int
		body         string
		count        int
		header       http.Header
		call         func(c *gitlab.Client, t *testing.T) error
		wantErr      []string // nil succeeds
		wantRequests int
	}{{
		name: "5xx once on a GET is retried", route: fake.RouteBranch, status: 502, count: 1,
		call:         branch,
		wantRequests: 2,
	}, {
		name: "5xx always gives up after three tries with status and URL", route: fake.RouteBranch, status: 503, count: -1,
		call:         branch,
		wantErr:      []string{`getting branch "main" of group/toolkit: GET http://127.0.0.1:`, branchURL + ": HTTP 503 Service Unavailable: 503 Service Unavailable"},
		wantRequests: 3,
	}, {
		name: "an HTML error page leaves the status alone", route: fake.RouteBranch, status: 500, body: "<html>oops</html>", count: -1,
		call:         branch,
		wantErr:      []string{branchURL + ": HTTP 500 Internal Server Error"},
		wantRequests: 3,
	}, {
		name: "429 with Retry-After 1 is retried", route: fake.RouteBranch, status: 429, count: 1,
		header:       http.Header{"Retry-After": {"1"}},
		call:         branch,
		wantRequests: 2,
	}, {
		name: "429 with Retry-After beyond MaxRetryWait is not", route: fake.RouteBranch, status: 429, count: 1,
		header:       http.Header{"Retry-After": {"3600"}},
		call:         branch,
		wantErr:      []string{branchURL + ": HTTP 429 Too Many Requests: Retry later"},
		wantRequests: 1,
	}, {
		name: "a forced commit is retried after a 5xx", route: fake.RouteCreateCommit, status: 500, count: 1,
		call: func(c *gitlab.Client, t *testing.T) error {
			_, err := c.CreateCommit(t.Context(), project, gitlab.Commit{Branch: "b", StartBranch: "main", Force: true, Message: "m", Actions: []gitlab.Action{{Op: "create", Path: "n", Content: []byte("n")}}})
			return err
		},
		wantRequests: 2,
	}, {
		name: "creating an MR is not retried after a 5xx", route: fake.RouteCreateMR, status: 502, count: 1,
		call: func(c *gitlab.Client, t *testing.T) error {
			_, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: "b", TargetBranch: "main", Title: "t"})
			return err
		},
		wantErr:      []string{"/api/v4/projects/group%2Ftoolkit/merge_requests: HTTP 502 Bad Gateway: 502 Bad Gateway"},
		wantRequests: 1,
	}, {
		name: "a note is not retried after a 5xx", route: fake.RouteCreateNote, status: 500, count: 1,
		call: func(c *gitlab.Client, t *testing.T) error {
			return c.AddNote(t.Context(), project, 1, "x")
		},
		wantErr:      []string{"/api/v4/projects/group%2Ftoolkit/merge_requests/1/notes: HTTP 500 Internal Server Error"},
		wantRequests: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := setup(t, gitlab.Options{})
			if _, err := srv.Push(project, "b", fake.User{Name: "Bot", Email: "bot@example.com"}, "b", map[string]*fake.File{"x": {Content: []byte("x")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateMergeRequest(t.Context(), project, gitlab.NewMergeRequest{SourceBranch: "b", TargetBranch: "main", Title: "first"}); err != nil {
				t.Fatal(err)
			}
			if err := srv.CloseMR(project, 1); err != nil {
				t.Fatal(err)
			}
			body := tt.body
			if tt.status == 429 {
				body = `{"message":"Retry later"}`
			}
			srv.Inject(tt.route, fake.Fault{Status: tt.status, Body: body, Header: tt.header, Count: tt.count})
			before := srv.RequestCount(tt.route)
			mrs := len(srv.MergeRequests(project))

			err := tt.call(c, t)

			if n := srv.RequestCount(tt.route) - before; n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
			if n := len(srv.MergeRequests(project)); n != mrs {
				t.Errorf("%d merge requests, want %d", n, mrs)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}

func branch(c *gitlab.Client, t *testing.T) error {
	_, err := c.Branch(t.Context(), project, "main")
	return err
}

func TestRedactsCredentialsInTheURL(t *testing.T) {
	srv := fake.New()
	srv.AddToken(token)
	srv.AddProject(project, "main", seed())
	srv.Fail(fake.RouteBranch, 503, "", -1)
	apiURL, hc := srv.Start(t)
	withUser := strings.Replace(apiURL, "http://", "http://deploy:hunter2@", 1)
	c, err := gitlab.New(gitlab.Options{BaseURL: withUser, Token: token, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Branch(t.Context(), project, "main")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "GET http://***@127.0.0.1:") {
		t.Errorf("error = %v, want the URL with ***@ for its user info", err)
	}
}

func TestNewRefusesIncompleteSettings(t *testing.T) {
	tests := []struct {
		name string
		o    gitlab.Options
		want string
	}{
		{"no URL", gitlab.Options{Token: token}, "creating GitLab client: no API URL (CI_API_V4_URL, e.g. https://gitlab.example/api/v4)"},
		{"not a URL", gitlab.Options{BaseURL: "gitlab.example/api/v4", Token: token}, `creating GitLab client: API URL "gitlab.example/api/v4" is not an http(s) URL`},
		{"no token", gitlab.Options{BaseURL: "https://gitlab.example/api/v4"}, "creating GitLab client: no token (GITLAB_TOKEN, or CI_JOB_TOKEN inside a job)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gitlab.New(tt.o)
			var invalid interface{ InvalidInput() bool }
			if err == nil || err.Error() != tt.want || !errors.As(err, &invalid) {
				t.Errorf("error = %v, want %q (invalid input)", err, tt.want)
			}
		})
	}
}

// The client never touches the caller's *http.Client.
func TestNewLeavesTheHTTPClientAlone(t *testing.T) {
	hc := &http.Client{}
	if _, err := gitlab.New(gitlab.Options{BaseURL: "https://gitlab.example/api/v4", Token: token, HTTP: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.Timeout != 0 {
		t.Errorf("client changed: %+v", hc)
	}
}
