package gitlab

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

const token = "glpat-fake-token"

type answer struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, hc *http.Client, method, url string, header map[string]string, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func start(t *testing.T) (*Server, string, *http.Client) {
	t.Helper()
	s := New()
	s.AddToken(token)
	s.AddProject("group/tool.kit", "main", map[string]File{"README.md": {Content: []byte("hi\n")}})
	api, hc := s.Start(t)
	return s, api, hc
}

var auth = map[string]string{"PRIVATE-TOKEN": token}

func TestPaginationHeaders(t *testing.T) {
	s, api, hc := start(t)
	if _, err := s.Push("1", "feature", User{Name: "A", Email: "a@example.com"}, "f", map[string]*File{"f": {Content: []byte("f")}}); err != nil {
		t.Fatal(err)
	}
	for i := range 45 {
		a := call(t, hc, "POST", api+"/projects/1/merge_requests", auth, fmt.Sprintf(`{"source_branch":"feature","target_branch":"main","title":"t%d"}`, i+1))
		if a.status != 201 {
			t.Fatalf("create: %d %s", a.status, a.body)
		}
		if err := s.CloseMR("1", i+1); err != nil {
			t.Fatal(err)
		}
	}
	link := func(page int, rel string) string {
		return fmt.Sprintf(`<%s/projects/1/merge_requests?page=%d&per_page=20&source_branch=feature&state=all>; rel="%s"`, api, page, rel)
	}
	tests := []struct {
		page, items      int
		next, prev, link string
	}{
		{1, 20, "2", "", strings.Join([]string{link(2, "next"), link(1, "first"), link(3, "last")}, ", ")},
		{2, 20, "3", "1", strings.Join([]string{link(1, "prev"), link(3, "next"), link(1, "first"), link(3, "last")}, ", ")},
		{3, 5, "", "2", strings.Join([]string{link(2, "prev"), link(1, "first"), link(3, "last")}, ", ")},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("page ", tt.page), func(t *testing.T) {
			a := call(t, hc, "GET", fmt.Sprintf("%s/projects/1/merge_requests?state=all&source_branch=feature&per_page=20&page=%d", api, tt.page), auth, "")
			var items []map[string]any
			if err := json.Unmarshal([]byte(a.body), &items); err != nil || a.status != 200 {
				t.Fatalf("%d %s: %v", a.status, a.body, err)
			}
			want := map[string]string{
				"X-Page": fmt.Sprint(tt.page), "X-Per-Page": "20", "X-Total": "45", "X-Total-Pages": "3",
				"X-Next-Page": tt.next, "X-Prev-Page": tt.prev, "Link": tt.link,
			}
			for k, v := range want {
				if got := a.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if len(items) != tt.items || items[0]["iid"] != float64(45-20*(tt.page-1)) {
				t.Errorf("%d items starting at !%v", len(items), items[0]["iid"])
			}
		})
	}
}

func TestErrorBodies(t *testing.T) {
	s, api, hc := start(t)
	if _, err := s.Push("1", "feature", User{Name: "A", Email: "a@example.com"}, "f", map[string]*File{"f": {Content: []byte("f")}}); err != nil {
		t.Fatal(err)
	}
	mr := `{"source_branch":"feature","target_branch":"main","title":"t"}`
	if a := call(t, hc, "POST", api+"/projects/1/merge_requests", auth, mr); a.status != 201 {
		t.Fatal(a)
	}
	tests := []struct {
		name, method, path string
		header             map[string]string
		body               string
		status             int
		want               string
	}{
		{"no token", "GET", "/projects/1", nil, "", 401, `{"message":"401 Unauthorized"}`},
		{"wrong token", "GET", "/projects/1", map[string]string{"PRIVATE-TOKEN": "nope"}, "", 401, `{"message":"401 Unauthorized"}`},
		{"access token as job token", "GET", "/projects/1", map[string]string{"JOB-TOKEN": token}, "", 401, `{"message":"401 Unauthorized"}`},
		{"no project", "GET", "/projects/group%2Fnone", auth, "", 404, `{"message":"404 Project Not Found"}`},
		{"no branch", "GET", "/projects/1/repository/branches/coinpipe%2Fbitcoin", auth, "", 404, `{"message":"404 Branch Not Found"}`},
		{"no merge request", "GET", "/projects/1/merge_requests/9", auth, "", 404, `{"message":"404 Not found"}`},
		{"unknown route", "GET", "/projects/1/issues", auth, "", 404, `{"error":"404 Not Found"}`},
		{"second open MR", "POST", "/projects/1/merge_requests", auth, mr, 409, `{"message":["Another open merge request already exists for this source branch: !1"]}`},
		{"MR from a missing branch", "POST", "/projects/1/merge_requests", auth, `{"source_branch":"gone","target_branch":"main","title":"t"}`, 422, `{"message":["Source branch \"gone\" does not exist"]}`},
		{"MR without title", "POST", "/projects/1/merge_requests", auth, `{"source_branch":"feature","target_branch":"main"}`, 400, `{"error":"title is missing"}`},
		{"update of a missing file", "POST", "/projects/1/repository/commits", auth,
			`{"branch":"main","commit_message":"m","actions":[{"action":"create","file_path":"a","content":"a"},{"action":"update","file_path":"b","content":"b"}]}`,
			400, `{"message":"A file with this name doesn't exist"}`},
		{"create over a directory", "POST", "/projects/1/repository/commits", auth,
			`{"branch":"main","commit_message":"m","actions":[{"action":"create","file_path":"d/x","content":"a"},{"action":"create","file_path":"d","content":"b"}]}`,
			400, `{"message":"A directory with this name already exists"}`},
		{"directory traversal", "POST", "/projects/1/repository/commits", auth,
			`{"branch":"main","commit_message":"m","actions":[{"action":"create","file_path":"../x","content":"a"}]}`,
			400, `{"message":"Path cannot include directory traversal"}`},
		{"existing branch from another start", "POST", "/projects/1/repository/commits", auth,
			`{"branch":"feature","start_branch":"main","commit_message":"m","actions":[{"action":"create","file_path":"x","content":"a"}]}`,
			400, `{"message":"A branch called 'feature' already exists. Switch to that branch in order to make changes"}`},
		{"note without body", "POST", "/projects/1/merge_requests/1/notes", auth, `{}`, 400, `{"error":"body is missing"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, hc, tt.method, api+tt.path, tt.header, tt.body)
			if a.status != tt.status || a.body != tt.want {
				t.Errorf("%d %s, want %d %s", a.status, a.body, tt.status, tt.want)
			}
		})
	}
	// None of the failed commits changed anything.
	if files, _ := s.Files("1", "main"); len(files) != 1 || s.APICommits("1") != 0 {
		t.Errorf("main = %v after failed commits (%d commits)", files, s.APICommits("1"))
	}
}

func TestProjectByEncodedPath(t *testing.T) {
	_, api, hc := start(t)
	// client-go escapes dots too: group%2Ftool%2Ekit.
	for _, id := range []string{"1", "group%2Ftool.kit", "group%2Ftool%2Ekit"} {
		a := call(t, hc, "GET", api+"/projects/"+id, auth, "")
		if a.status != 200 || !strings.Contains(a.body, `"default_branch":"main"`) || !strings.Contains(a.body, `"path_with_namespace":"group/tool.kit"`) {
			t.Errorf("%s: %d %s", id, a.status, a.body)
		}
	}
}

// GitLab documents execute_filemode as read for chmod only.
func TestExecuteFilemodeOnlyOnChmod(t *testing.T) {
	s, api, hc := start(t)
	tests := []struct {
		actions string
		want    bool
	}{
		{`[{"action":"create","file_path":"run.sh","content":"x","execute_filemode":true}]`, false},
		{`[{"action":"create","file_path":"run.sh","content":"x"},{"action":"chmod","file_path":"run.sh","execute_filemode":true}]`, true},
	}
	for i, tt := range tests {
		branch := fmt.Sprint("b", i)
		a := call(t, hc, "POST", api+"/projects/1/repository/commits", auth, fmt.Sprintf(`{"branch":%q,"start_branch":"main","commit_message":"m","actions":%s}`, branch, tt.actions))
		if a.status != 201 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		files, err := s.Files("1", branch)
		if err != nil || files["run.sh"].Executable != tt.want {
			t.Errorf("%s: run.sh executable = %v, want %v (%v)", tt.actions, files["run.sh"].Executable, tt.want, err)
		}
	}
}

func TestFaults(t *testing.T) {
	s, api, hc := start(t)
	if _, err := s.Push("1", "feature", User{Name: "A", Email: "a@example.com"}, "f", map[string]*File{"f": {Content: []byte("f")}}); err != nil {
		t.Fatal(err)
	}
	s.Fail(RouteProject, 503, "", 2)
	var got []int
	for range 3 {
		got = append(got, call(t, hc, "GET", api+"/projects/1", auth, "").status)
	}
	if fmt.Sprint(got) != "[503 503 200]" {
		t.Errorf("statuses = %v, want two 503s then 200", got)
	}

	// After apply: the client sees a 502, yet the MR exists.
	s.FailAfterApply(RouteCreateMR, 502, "<html>Bad Gateway</html>", 1)
	a := call(t, hc, "POST", api+"/projects/1/merge_requests", auth, `{"source_branch":"feature","target_branch":"main","title":"t"}`)
	if a.status != 502 || a.body != "<html>Bad Gateway</html>" || len(s.MergeRequests("1")) != 1 {
		t.Errorf("%d %s with %d MRs, want 502 and the MR made", a.status, a.body, len(s.MergeRequests("1")))
	}

	for _, r := range s.Requests() {
		if r.Header.Get("PRIVATE-TOKEN") != "" || r.Header.Get("JOB-TOKEN") != "" {
			t.Errorf("request log keeps a token: %v", r.Header)
		}
	}
	if n := s.RequestCount(RouteProject); n != 3 {
		t.Errorf("%d project requests logged, want 3", n)
	}
}

func TestConcurrentCommits(t *testing.T) {
	s, api, hc := start(t)
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Go(func() {
			body := fmt.Sprintf(`{"branch":"b%d","start_branch":"main","commit_message":"m","actions":[{"action":"create","file_path":"f%d","content":"x"}]}`, i, i)
			statuses[i] = call(t, hc, "POST", api+"/projects/1/repository/commits", auth, body).status
		})
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 201 {
			t.Errorf("commit %d: %d", i, st)
		}
	}
	if n := len(s.Branches("1")); n != 21 || s.APICommits("1") != 20 {
		t.Errorf("%d branches and %d commits, want 21 and 20", n, s.APICommits("1"))
	}
}
