package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/daemonsync"
	fakegitlab "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

const (
	syncGroup   = "coinpipe/daemons"
	syncToolkit = "coinpipe/coinpipe"
	syncToken   = "glpat-sync"
)

// syncWorld is a GitLab holding the toolkit project (coins/ at a commit
// on main) and the daemons' group, and the toolkit checkout sync runs in.
type syncWorld struct {
	t     *testing.T
	gl    *fakegitlab.Server
	coins string
	sha   string // the toolkit commit on main
	env   map[string]string
}

func newSyncWorld(t *testing.T, coins ...string) *syncWorld {
	t.Helper()
	w := &syncWorld{t: t, gl: fakegitlab.New(), coins: t.TempDir()}
	for _, c := range coins {
		dst := filepath.Join(w.coins, c)
		testenv.CopyTree(t, "../../manifest/testdata/coins/monero", dst)
		if c != "monero" {
			w.edit(c, "coin.yaml", "name: monero", "name: "+c)
		}
	}
	w.gl.AddToken(syncToken)
	w.gl.AddGroup(syncGroup)
	w.seedToolkit()
	api, _ := w.gl.Start(t)
	w.env = map[string]string{"CI_API_V4_URL": api, "GITLAB_TOKEN": syncToken, "COINPIPE_GROUP": syncGroup, "CI_COMMIT_SHA": w.sha, "CI_PROJECT_PATH": syncToolkit}
	return w
}

func (w *syncWorld) seedToolkit() {
	files, err := fakegitlab.FilesFromDir(w.coins, "coins")
	if err != nil {
		w.t.Fatal(err)
	}
	if _, ok := w.gl.Project(syncToolkit); !ok {
		w.sha = w.gl.SeedProject(syncToolkit, files)
		return
	}
	changes := map[string]*fakegitlab.File{}
	for p, f := range files {
		changes[p] = &f
	}
	if w.sha, err = w.gl.Push(syncToolkit, "main", fakegitlab.User{Name: "Dev", Email: "dev@example.org"}, "update coins", changes); err != nil {
		w.t.Fatal(err)
	}
	w.env["CI_COMMIT_SHA"] = w.sha
}

func (w *syncWorld) edit(coin, file, old, new string) {
	w.t.Helper()
	p := filepath.Join(w.coins, coin, file)
	b, err := os.ReadFile(p)
	if err != nil || !bytes.Contains(b, []byte(old)) {
		w.t.Fatalf("editing %s: %v (or %q not in it)", p, err, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *syncWorld) sync(args ...string) (int, string, string) {
	w.t.Helper()
	return runEnv(w.t, w.env, append([]string{"sync", "--coins", w.coins}, args...)...)
}

// rendered is what generate writes for coin with the include pinned to
// the toolkit commit: what the daemon project must hold.
func (w *syncWorld) rendered(coin string) map[string]fakegitlab.File {
	w.t.Helper()
	out := w.t.TempDir()
	if code, _, stderr := run(w.t, "generate", "--coins", w.coins, "--out", out, "--ci-project", syncToolkit, "--ci-ref", w.sha, coin); code != 0 {
		w.t.Fatalf("generate: %d %s", code, stderr)
	}
	files, err := fakegitlab.FilesFromDir(filepath.Join(out, coin), "")
	if err != nil {
		w.t.Fatal(err)
	}
	return files
}

func (w *syncWorld) files(project string) map[string]fakegitlab.File {
	w.t.Helper()
	files, err := w.gl.Files(project, "main")
	if err != nil {
		w.t.Fatal(err)
	}
	return files
}

func sameTree(t *testing.T, got, want map[string]fakegitlab.File) {
	t.Helper()
	for p, f := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case !bytes.Equal(g.Content, f.Content):
			t.Errorf("%s differs", p)
		case g.Executable != f.Executable:
			t.Errorf("%s executable %t, want %t", p, g.Executable, f.Executable)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s should not be there", p)
		}
	}
}

func (w *syncWorld) writes() int {
	n := 0
	for _, r := range w.gl.Requests() {
		if r.Method != "GET" {
			n++
		}
	}
	return n
}

func TestSyncCreatesThenNothing(t *testing.T) {
	w := newSyncWorld(t, "monero")
	code, out, stderr := w.sync()
	if code != ExitOK || out != "monero: created\n" {
		t.Fatalf("sync: code %d, stdout %q\n%s", code, out, stderr)
	}
	project := syncGroup + "/monero"
	sameTree(t, w.files(project), w.rendered("monero"))
	info, ok := w.gl.Project(project)
	if !ok {
		t.Fatal("no project")
	}
	want := fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40}
	if info.DefaultBranch != "main" || info.Protected["main"] != want || len(info.Protected) != 1 {
		t.Errorf("default branch %q, protected %+v; want main protected %+v", info.DefaultBranch, info.Protected, want)
	}
	if s := info.Settings; s.Visibility != "private" || !s.OnlyAllowMergeIfPipelineSucceeds || !s.RemoveSourceBranchAfterMerge {
		t.Errorf("settings %+v", s)
	}
	head, _ := w.gl.Head(project, "main")
	wantMsg := "coinpipe sync: monero 0.18.5.1 from coinpipe/coinpipe@" + w.sha[:12] + "\n\nRendered by coinpipe sync from coins/monero/ of coinpipe/coinpipe at commit " + w.sha + "."
	if !strings.HasPrefix(head.Message, wantMsg) {
		t.Errorf("commit message %q, want it to start %q", head.Message, wantMsg)
	}
	if strings.Contains(out+stderr, syncToken) {
		t.Error("the token is in the output")
	}

	writes := w.writes()
	code, out, _ = w.sync()
	if code != ExitOK || out != "monero: up to date\n" {
		t.Fatalf("second sync: code %d, stdout %q", code, out)
	}
	if w.gl.APICommits(project) != 1 || w.writes() != writes {
		t.Errorf("second sync: %d commits, %d writes after %d; want 1 commit, no write", w.gl.APICommits(project), w.writes(), writes)
	}
}

func TestSyncUpdates(t *testing.T) {
	project := syncGroup + "/monero"
	marker := []byte("#!/bin/sh\n# Generated by coinpipe from coins/monero/coin.yaml. Do not edit.\n")
	dev := fakegitlab.User{Name: "Dev", Email: "dev@example.org"}
	tests := []struct {
		name   string
		change func(w *syncWorld)
		line   string
		check  func(t *testing.T, w *syncWorld, files map[string]fakegitlab.File)
	}{
		{
			name: "a changed manifest",
			change: func(w *syncWorld) {
				w.edit("monero", "coin.yaml", "description: ", "description: Changed. ")
				w.seedToolkit()
			},
			line: "monero: 5 files updated\n",
		},
		{
			name: "a file no longer rendered, a hand-added one, an old key",
			change: func(w *syncWorld) {
				if _, err := w.gl.Push(project, "main", dev, "by hand", map[string]*fakegitlab.File{
					"old-hook.sh":   {Content: marker, Executable: true},
					"keys/old.asc":  {Content: []byte("old key\n")},
					"docs/notes.md": {Content: []byte("notes\n")},
				}); err != nil {
					t.Fatal(err)
				}
			},
			line: "monero: 2 files updated; left alone: docs/notes.md\n",
			check: func(t *testing.T, w *syncWorld, files map[string]fakegitlab.File) {
				if string(files["docs/notes.md"].Content) != "notes\n" {
					t.Error("docs/notes.md was not left alone")
				}
				delete(files, "docs/notes.md")
				sameTree(t, files, w.rendered("monero"))
			},
		},
		{
			name: "an entry point that lost its execute bit, a README edited by hand",
			change: func(w *syncWorld) {
				f := w.files(project)
				ep := f["docker-entrypoint.sh"]
				if _, err := w.gl.Push(project, "main", dev, "by hand", map[string]*fakegitlab.File{
					"docker-entrypoint.sh": {Content: ep.Content, Executable: false},
					"README.md":            {Content: []byte("mine\n")},
				}); err != nil {
					t.Fatal(err)
				}
			},
			line: "monero: 2 files updated\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSyncWorld(t, "monero")
			if code, _, stderr := w.sync(); code != 0 {
				t.Fatalf("first sync: %d %s", code, stderr)
			}
			tt.change(w)
			code, out, stderr := w.sync()
			if code != ExitOK || out != tt.line {
				t.Fatalf("sync: code %d, stdout %q, want %q\n%s", code, out, tt.line, stderr)
			}
			if n := w.gl.APICommits(project); n != 2 {
				t.Errorf("%d commits through the API, want 2 (one per sync)", n)
			}
			files := w.files(project)
			if tt.check != nil {
				tt.check(t, w, files)
			} else {
				sameTree(t, files, w.rendered("monero"))
			}
			if code, out, _ := w.sync(); code != 0 || out != "monero: up to date\n" && !strings.HasPrefix(out, "monero: up to date; left alone") {
				t.Errorf("sync after: %d %q", code, out)
			}
		})
	}
}

func TestSyncDryRunSendsNothing(t *testing.T) {
	w := newSyncWorld(t, "monero")
	code, out, stderr := w.sync("--dry-run")
	if code != ExitOK || !strings.HasPrefix(out, "monero: would be created (14 files)\n  create .gitlab-ci.yml\n") {
		t.Fatalf("dry run: code %d, stdout %q\n%s", code, out, stderr)
	}
	if n := w.writes(); n != 0 {
		t.Errorf("the dry run sent %d writes", n)
	}
	if _, ok := w.gl.Project(syncGroup + "/monero"); ok {
		t.Error("the dry run created the project")
	}
}

func TestSyncOneCoinFails(t *testing.T) {
	w := newSyncWorld(t, "alpha", "monero")
	// alpha's project exists, a maintainer let developers push to main.
	w.gl.AddProject(syncGroup+"/alpha", "main", map[string]fakegitlab.File{"docs/notes.md": {Content: []byte("hi\n")}})
	if err := w.gl.Protect(syncGroup+"/alpha", "main", fakegitlab.Protection{PushAccessLevel: 30, MergeAccessLevel: 40}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := w.sync("--json")
	if code != ExitFailure || !strings.HasSuffix(stderr, "coinpipe: sync failed for alpha\n") {
		t.Fatalf("sync: %d\n%s", code, stderr)
	}
	var got []daemonsync.Result
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("results %s (%v)", out, err)
	}
	wantErr := "branch main of coinpipe/daemons/alpha is protected too weakly (push access level 30, merge access level 40, force push false, users, groups or deploy keys allowed false): only maintainers may push and merge, without force; fix it in Settings → Repository → Protected branches"
	if got[0].Status != daemonsync.Failed || got[0].Error != wantErr {
		t.Errorf("alpha: %+v\nwant error %q", got[0], wantErr)
	}
	if got[1].Status != daemonsync.Created || got[1].Project != "coinpipe/daemons/monero" || len(got[1].Actions) != 14 || got[1].Commit == "" {
		t.Errorf("monero: %+v", got[1])
	}
	if n := w.gl.APICommits(syncGroup + "/alpha"); n != 0 {
		t.Errorf("alpha got %d commits", n)
	}

	// Fixed: alpha is synced, its hand-written notes kept.
	if err := w.gl.Protect(syncGroup+"/alpha", "main", fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = w.sync()
	if want := "alpha: 14 files updated; left alone: docs/notes.md\nmonero: up to date\n"; code != ExitOK || out != want {
		t.Fatalf("sync: code %d, stdout %q, want %q\n%s", code, out, want, stderr)
	}
}

func TestSyncInvalid(t *testing.T) {
	w := newSyncWorld(t, "monero")
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no group", map[string]string{"COINPIPE_GROUP": ""}, "sync needs the GitLab group of the daemon projects: --group or COINPIPE_GROUP"},
		{"a branch, not a commit", map[string]string{"CI_COMMIT_SHA": "main"}, `sync needs the toolkit commit it syncs from as a full SHA: --toolkit-ref or CI_COMMIT_SHA (got "main")`},
		{"no API", map[string]string{"CI_API_V4_URL": ""}, "no API URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range w.env {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			code, _, stderr := runEnv(t, env, "sync", "--coins", w.coins)
			if code != ExitInvalidInput || !strings.Contains(stderr, tt.want) {
				t.Fatalf("code %d, stderr %q, want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestSyncProtection: sync commits only to a default branch that only
// maintainers push and merge to, without force push or exceptions.
func TestSyncProtection(t *testing.T) {
	for _, tt := range []struct {
		name string
		pr   fakegitlab.Protection
		ok   bool
	}{
		{"maintainers", fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40}, true},
		{"no one pushes, maintainers merge", fakegitlab.Protection{PushAccessLevel: 0, MergeAccessLevel: 40}, true},
		{"developers push", fakegitlab.Protection{PushAccessLevel: 30, MergeAccessLevel: 40}, false},
		{"developers merge", fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 30}, false},
		{"force push", fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40, AllowForcePush: true}, false},
		{"a user may push", fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40, PushUserID: 7}, false},
		{"no one, and developers, push", fakegitlab.Protection{PushAccessLevel: 0, ExtraPushLevel: 30, MergeAccessLevel: 40}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newSyncWorld(t, "alpha")
			w.gl.AddProject(syncGroup+"/alpha", "main", map[string]fakegitlab.File{"docs/notes.md": {Content: []byte("hi\n")}})
			if err := w.gl.Protect(syncGroup+"/alpha", "main", tt.pr); err != nil {
				t.Fatal(err)
			}
			code, out, stderr := w.sync()
			commits := w.gl.APICommits(syncGroup + "/alpha")
			if tt.ok {
				if code != ExitOK || commits != 1 {
					t.Fatalf("exit %d, %d commits\n%s%s", code, commits, out, stderr)
				}
				return
			}
			if code != ExitFailure || commits != 0 || !strings.Contains(out, "alpha: failed: branch main of coinpipe/daemons/alpha is protected too weakly") {
				t.Fatalf("exit %d, %d commits\n%s%s", code, commits, out, stderr)
			}
		})
	}
}
