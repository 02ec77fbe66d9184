package gitlab

import (
	"strings"
	"testing"
)

func TestRepositoryAndProjectRoutes(t *testing.T) {
	s, api, hc := start(t)
	s.AddGroup("coinpipe/daemons")
	files := map[string]File{"coins/a/coin.yaml": {Content: []byte("a\n")}, "coins/a/keys/k.asc": {Content: []byte("k\n")}, "run.sh": {Content: []byte("x"), Executable: true}}
	sha := s.SeedProject("coinpipe/coinpipe", files)
	side, err := s.Push("coinpipe/coinpipe", "side", User{Name: "M", Email: "m@example.org"}, "side", map[string]*File{"s": {Content: []byte("s")}})
	if err != nil {
		t.Fatal(err)
	}
	s.AddScopedJobToken("job", "coinpipe/daemons/a")
	job := map[string]string{"JOB-TOKEN": "job"}
	tk := api + "/projects/coinpipe%2Fcoinpipe"
	tests := []struct {
		name, method, url string
		header            map[string]string
		body              string
		status            int
		want              string // a part of the body
	}{
		{"tree page 1", "GET", tk + "/repository/tree?recursive=true&per_page=2&ref=" + sha, auth, "", 200, `[{"id":`},
		{"tree of a folder", "GET", tk + "/repository/tree?recursive=true&path=coins/a&ref=main", auth, "", 200, `{"id":"` + BlobID([]byte("a\n")) + `","mode":"100644","name":"coin.yaml","path":"coins/a/coin.yaml","type":"blob"}`},
		{"tree, executable", "GET", tk + "/repository/tree", auth, "", 200, `"mode":"100755","name":"run.sh"`},
		{"tree of a missing folder", "GET", tk + "/repository/tree?path=nope", auth, "", 404, `{"message":"404 Tree Not Found"}`},
		{"tree of a missing ref", "GET", tk + "/repository/tree?ref=nope", auth, "", 404, `{"message":"404 Tree Not Found"}`},
		{"raw", "GET", tk + "/repository/files/coins%2Fa%2Fcoin.yaml/raw?ref=" + sha, auth, "", 200, "a\n"},
		{"raw, missing", "GET", tk + "/repository/files/nope/raw?ref=main", auth, "", 404, `{"message":"404 File Not Found"}`},
		{"merge base", "GET", tk + "/repository/merge_base?refs[]=" + sha + "&refs[]=main", auth, "", 200, `"id":"` + sha + `"`},
		{"merge base of a side branch", "GET", tk + "/repository/merge_base?refs[]=" + side + "&refs[]=main", auth, "", 200, `"id":"` + sha + `"`},
		{"merge base, one ref", "GET", tk + "/repository/merge_base?refs[]=main", auth, "", 400, `{"message":"Provide at least 2 refs"}`},
		{"merge base, unknown ref", "GET", tk + "/repository/merge_base?refs[]=nope&refs[]=main", auth, "", 400, `{"message":"Could not find ref: nope"}`},
		{"group", "GET", api + "/groups/coinpipe%2Fdaemons", auth, "", 200, `"full_path":"coinpipe/daemons","id":101`},
		{"no group", "GET", api + "/groups/nope", auth, "", 404, `{"message":"404 Group Not Found"}`},
		{"create project", "POST", api + "/projects", auth, `{"name":"a","path":"a","namespace_id":101,"visibility":"private","default_branch":"main"}`, 201, `"path_with_namespace":"coinpipe/daemons/a"`},
		{"create it again", "POST", api + "/projects", auth, `{"name":"a","path":"a","namespace_id":101}`, 400, `{"message":{"name":["has already been taken"],"path":["has already been taken"]}}`},
		{"create with a job token", "POST", api + "/projects", job, `{"name":"b","path":"b","namespace_id":101}`, 401, `{"message":"401 Unauthorized"}`},
		{"not protected", "GET", api + "/projects/coinpipe%2Fdaemons%2Fa/protected_branches/main", auth, "", 404, `{"message":"404 Not found"}`},
		{"protect", "POST", api + "/projects/coinpipe%2Fdaemons%2Fa/protected_branches", auth, `{"name":"main","push_access_level":40,"merge_access_level":40,"allow_force_push":false}`, 201, `"push_access_levels":[{"access_level":40`},
		{"protect again", "POST", api + "/projects/coinpipe%2Fdaemons%2Fa/protected_branches", auth, `{"name":"main"}`, 409, `{"message":"Protected branch 'main' already exists"}`},
		{"protected", "GET", api + "/projects/coinpipe%2Fdaemons%2Fa/protected_branches/main", auth, "", 200, `"allow_force_push":false`},
		{"job token, own project", "GET", api + "/projects/coinpipe%2Fdaemons%2Fa", job, "", 200, `"default_branch":null`},
		{"job token, another project", "GET", tk + "/repository/tree", job, "", 403, `{"message":"403 Forbidden - Authentication by CI/CD job token not allowed from coinpipe/daemons/a to coinpipe/coinpipe."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, hc, tt.method, tt.url, tt.header, tt.body)
			if a.status != tt.status || !strings.Contains(a.body, tt.want) {
				t.Fatalf("%s %s: %d %s\nwant %d and %s", tt.method, tt.url, a.status, a.body, tt.status, tt.want)
			}
		})
	}
	a := call(t, hc, "GET", tk+"/repository/tree?recursive=true&per_page=2", auth, "")
	if a.header.Get("X-Total") != "6" || a.header.Get("X-Next-Page") != "2" {
		t.Errorf("tree pagination: X-Total %q, X-Next-Page %q; want 6 entries (coins, coins/a, its coin.yaml, keys, keys/k.asc, run.sh) and a next page", a.header.Get("X-Total"), a.header.Get("X-Next-Page"))
	}
}
