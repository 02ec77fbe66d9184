package e2e

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	fakegithub "gitlab.com/coinpipe/coinpipe/internal/fake/github"
	fakegitlab "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// The toolkit's own pipeline (.gitlab-ci.yml at the repository root), its
// watch and sync jobs run by gitlab-ci-local as a runner would (shell
// executor), unchanged: they `go run ./cmd/coinpipe` from the checkout, so
// the checkout is a copy of this tree's sources with one real coin,
// coins/monero, pinned one release back (0.14.1.2, its real sha256).
// Upstream is the GitHub fake announcing 0.18.5.1 and the download mirror
// serving the real, clearsigned hashes.txt of that release; the toolkit
// project and the daemon group live in the GitLab fake.
const (
	toolkitGitHost = "gitlab.example.invalid" // the checkout's remote: CI_PROJECT_PATH comes from it
	toolkitToken   = "glpat-e2e-toolkit-sync-token"
	toolkitGHToken = "ghp_e2e-toolkit-watch-token"
	moneroFrom     = "0.14.1.2"
	moneroTo       = "0.18.5.1"
)

func TestToolkitPipelineWatchSync(t *testing.T) {
	if abs, err := filepath.Abs(ciTools); err == nil {
		t.Setenv("PATH", abs+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	requireTools(t, "gitlab-ci-local", "node", "git", "rsync", "go")
	ctx := t.Context()
	checkout := toolkitCheckout(ctx, t)

	gl := fakegitlab.New()
	apiURL, _ := gl.Start(t)
	gl.AddToken(toolkitToken)
	gl.AddGroup(daemonGroup)
	files, err := fakegitlab.FilesFromDir(checkout, "")
	if err != nil {
		t.Fatal(err)
	}
	projectID := gl.AddProject(toolkitProject, "main", files)

	gh := fakegithub.New()
	ghSrv := httptest.NewServer(gh)
	t.Cleanup(ghSrv.Close)
	gh.AddRelease("monero-project/monero", fakegithub.Release{
		Tag: "v" + moneroTo, PublishedAt: time.Now().Add(-time.Hour), Body: "Release notes of monero " + moneroTo,
	})
	hashes := testenv.Vector(t, "monero/v"+moneroTo+"/hashes.txt")
	mirrorURL := newMirror(t).publish("toolkit", map[string][]byte{"https://www.getmonero.org/downloads/hashes.txt": hashes})
	slack := fakeslack.New()
	slackURL := slack.Start(t)

	// The jobs set GOPATH to the checkout's .go: the module cache is the
	// host's, so go run builds offline.
	modcache := strings.TrimSpace(run(ctx, time.Minute, "go", "env", "GOMODCACHE").must(t))
	secrets := []string{toolkitToken, toolkitGHToken, slack.Path}

	// A pipeline schedule: only watch runs, and opens the upgrade MR.
	// (gitlab-ci-local runs a job named on its command line whatever its
	// rules say: --list is what shows the rules' choice.)
	watchVars := map[string]string{
		"CI_PIPELINE_SOURCE":       "schedule",
		"CI_API_V4_URL":            apiURL,
		"CI_PROJECT_ID":            strconv.Itoa(projectID),
		"GITLAB_TOKEN":             toolkitToken,
		"GITHUB_API_URL":           ghSrv.URL,
		"GITHUB_TOKEN":             toolkitGHToken,
		"SLACK_WEBHOOK_URL":        slackURL,
		"COINPIPE_DOWNLOAD_MIRROR": mirrorURL,
		"GOMODCACHE":               modcache,
	}
	watchFlags := []string{"--ignore-predefined-vars", "CI_PIPELINE_SOURCE,CI_API_V4_URL,CI_PROJECT_ID"}
	wantJobs(ctx, t, checkout, watchVars, watchFlags, "watch")
	watch := gitlabCILocal(ctx, t, checkout, watchVars, secrets, watchFlags, "watch")
	logPipeline(t, watch)
	wantJob(t, watch, "PASS", "watch")
	wantOutput(t, watch, "monero: "+moneroFrom+" → "+moneroTo+": !1 opened")

	mrs := gl.MergeRequests(toolkitProject)
	if len(mrs) != 1 {
		t.Fatalf("merge requests after watch: %+v", mrs)
	}
	mr := mrs[0]
	if want := "monero: " + moneroFrom + " → " + moneroTo; mr.Title != want || mr.SourceBranch != "coinpipe/monero" || mr.TargetBranch != "main" || mr.State != "opened" {
		t.Errorf("merge request %q from %s into %s (%s), want %q from coinpipe/monero into main", mr.Title, mr.SourceBranch, mr.TargetBranch, mr.State, want)
	}
	branch, err := gl.Files(toolkitProject, mr.SourceBranch)
	if err != nil {
		t.Fatal(err)
	}
	// The checkout's coin.yaml is the shipped one re-pinned back by the
	// watcher's own edit; the upgrade re-pins it forward, so it must be
	// the shipped file again, byte for byte.
	shipped, err := os.ReadFile(filepath.Join(testenv.Root(t), "coins", "monero", manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := branch["coins/monero/coin.yaml"].Content; !bytes.Equal(got, shipped) {
		t.Errorf("coins/monero/coin.yaml on %s is not the shipped %s pin:\n%s", mr.SourceBranch, moneroTo, got)
	}
	if got := branch["coins/monero/release/hashes.txt"].Content; !bytes.Equal(got, hashes) {
		t.Errorf("coins/monero/release/hashes.txt on %s is not the hashes.txt upstream served", mr.SourceBranch)
	}
	if df := string(branch["out/monero/Dockerfile"].Content); !strings.Contains(df, "MONERO_VERSION="+moneroTo) {
		t.Errorf("out/monero/Dockerfile on %s is not rendered for %s:\n%s", mr.SourceBranch, moneroTo, df)
	}
	if msgs := slack.Messages(); len(msgs) != 1 || msgs[0].Text != "monero "+moneroFrom+" → "+moneroTo+": merge request !1 opened" {
		t.Errorf("Slack got %+v", msgs)
	}

	// The MR is merged; the runner's checkout is the merge commit, whose
	// SHA is GitLab's (CI_COMMIT_SHA), not the local git's.
	if err := gl.MergeMR(toolkitProject, mr.IID); err != nil {
		t.Fatal(err)
	}
	head, ok := gl.Head(toolkitProject, "main")
	if !ok {
		t.Fatal("the toolkit project has no main branch")
	}
	checkoutMerge(ctx, t, gl, checkout)

	syncVars := map[string]string{
		"CI_API_V4_URL":  apiURL,
		"CI_COMMIT_SHA":  head.SHA,
		"GITLAB_TOKEN":   toolkitToken,
		"COINPIPE_GROUP": daemonGroup,
		"GOMODCACHE":     modcache,
	}
	syncFlags := []string{"--ignore-predefined-vars", "CI_API_V4_URL,CI_COMMIT_SHA"}
	daemon := daemonGroup + "/monero"

	// A push to the default branch: the checks, then sync, which creates
	// the daemon project.
	wantJobs(ctx, t, checkout, syncVars, syncFlags, "test", "validate", "generate-check", "sync")
	first := gitlabCILocal(ctx, t, checkout, syncVars, secrets, syncFlags, "sync")
	logPipeline(t, first)
	wantJob(t, first, "PASS", "sync")
	wantOutput(t, first, "monero: created")
	info, ok := gl.Project(daemon)
	if !ok {
		t.Fatalf("no project %s after sync", daemon)
	}
	if info.DefaultBranch != "main" || info.Protected["main"] != (fakegitlab.Protection{PushAccessLevel: 40, MergeAccessLevel: 40}) {
		t.Errorf("%s: default branch %q, protections %+v; want main protected, maintainers only, no force push", daemon, info.DefaultBranch, info.Protected)
	}
	got, err := gl.Files(daemon, "main")
	if err != nil {
		t.Fatal(err)
	}
	want := renderedDaemon(ctx, t, checkout, head.SHA)
	sameTree(t, daemon+"@main", got, want)
	commits, before := gl.APICommits(daemon), headSHA(gl, daemon)
	if commits != 1 {
		t.Errorf("sync made %d commits in %s, want 1", commits, daemon)
	}

	// Run again: nothing to do.
	second := gitlabCILocal(ctx, t, checkout, syncVars, secrets, syncFlags, "sync")
	logPipeline(t, second)
	wantJob(t, second, "PASS", "sync")
	wantOutput(t, second, "monero: up to date")
	if n := gl.APICommits(daemon); n != commits {
		t.Errorf("a second sync made %d commits in %s", n-commits, daemon)
	}
	if after := headSHA(gl, daemon); after != before {
		t.Errorf("a second sync moved %s's main from %s to %s", daemon, before, after)
	}
}

func headSHA(gl *fakegitlab.Server, project string) string {
	h, _ := gl.Head(project, "main")
	return h.SHA
}

// toolkitCheckout is a git checkout of this tree's sources on main (what
// go run ./cmd/coinpipe needs, and .gitlab-ci.yml) with coins/monero alone,
// pinned at moneroFrom with that release's real sha256 from its hashes.txt,
// and out/ rendered from it.
func toolkitCheckout(ctx context.Context, t *testing.T) string {
	t.Helper()
	root := testenv.Root(t)
	dir := t.TempDir()
	list := run(ctx, time.Minute, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").must(t)
	for _, rel := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		// The tree's coins and their renders are replaced; the tests'
		// fixtures are not needed to build coinpipe.
		if top, _, _ := strings.Cut(rel, "/"); top == "coins" || top == "out" || top == "testdata" || top == "e2e" {
			continue
		}
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	coin := filepath.Join(dir, "coins", "monero")
	testenv.CopyTree(t, filepath.Join(root, "coins", "monero"), coin)
	file := filepath.Join(coin, manifest.FileName)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	old, err := manifest.SetRelease(src, moneroFrom, map[string]string{"linux/amd64": moneroArchiveSHA(t, moneroFrom)})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, old)
	run(ctx, 10*time.Minute, "go", "-C", dir, "run", "./cmd/coinpipe", "generate", "--coins", "coins", "--out", "out").must(t)

	git := func(args ...string) {
		full := append([]string{"-C", dir, "-c", "user.name=coinpipe", "-c", "user.email=e2e@coinpipe.invalid"}, args...)
		run(ctx, time.Minute, "git", full...).must(t)
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://"+toolkitGitHost+"/"+toolkitProject+".git")
	git("add", "-A")
	git("commit", "-q", "-m", "toolkit with monero "+moneroFrom)
	// CI_DEFAULT_BRANCH is origin's HEAD, as in a runner's clone.
	git("update-ref", "refs/remotes/origin/main", "HEAD")
	git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
	return dir
}

// moneroArchiveSHA is the real sha256 of monero's linux x64 archive of
// version, read from that release's hashes.txt ("<file>, <sha256>", the
// format of releases before 0.15).
func moneroArchiveSHA(t *testing.T, version string) string {
	t.Helper()
	name := "monero-linux-x64-v" + version + ".tar.bz2, "
	for l := range strings.Lines(string(testenv.Vector(t, "monero/v"+version+"/hashes.txt"))) {
		if sum, ok := strings.CutPrefix(strings.TrimSpace(l), name); ok {
			return sum
		}
	}
	t.Fatalf("monero/v%s/hashes.txt lists no %s", version, name)
	return ""
}

// checkoutMerge makes the checkout the toolkit project's main after the
// merge: its coins/ and out/ as GitLab holds them, committed.
func checkoutMerge(ctx context.Context, t *testing.T, gl *fakegitlab.Server, dir string) {
	t.Helper()
	files, err := gl.Files(toolkitProject, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, top := range []string{"coins", "out"} {
		if err := os.RemoveAll(filepath.Join(dir, top)); err != nil {
			t.Fatal(err)
		}
	}
	for p, f := range files {
		if top, _, _ := strings.Cut(p, "/"); top != "coins" && top != "out" {
			continue
		}
		mode := os.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, f.Content, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "Merge branch 'coinpipe/monero' into 'main'"}, {"update-ref", "refs/remotes/origin/main", "HEAD"}} {
		full := append([]string{"-C", dir, "-c", "user.name=coinpipe", "-c", "user.email=e2e@coinpipe.invalid"}, args...)
		run(ctx, time.Minute, "git", full...).must(t)
	}
}

// renderedDaemon is what `coinpipe generate` writes for monero from the
// checkout, pinned to the toolkit commit ref.
func renderedDaemon(ctx context.Context, t *testing.T, checkout, ref string) map[string]fakegitlab.File {
	t.Helper()
	out := t.TempDir()
	run(ctx, 10*time.Minute, "go", "-C", checkout, "run", "./cmd/coinpipe", "generate", "--coins", "coins", "--out", out,
		"--ci-project", toolkitProject, "--ci-ref", ref).must(t)
	files, err := fakegitlab.FilesFromDir(filepath.Join(out, "monero"), "")
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// sameTree compares a repository's files, bytes and execute bits, with want.
func sameTree(t *testing.T, name string, got, want map[string]fakegitlab.File) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s lacks %s", name, p)
		case !bytes.Equal(g.Content, w.Content):
			t.Errorf("%s: %s is not what coinpipe generate renders", name, p)
		case g.Executable != w.Executable:
			t.Errorf("%s: %s executable %v, generate writes it executable %v", name, p, g.Executable, w.Executable)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s holds %s, which coinpipe generate does not render", name, p)
		}
	}
	if len(want) == 0 {
		t.Errorf("coinpipe generate rendered nothing for %s", name)
	}
}

// wantJob checks gitlab-ci-local's summary line of job.
func wantJob(t *testing.T, r pipelineRun, result, job string) {
	t.Helper()
	if l := findSummary(r.summary, job); !strings.HasPrefix(l, result+" ") {
		t.Fatalf("job %s: %q, want %s (%v)\n%s", job, l, result, r.Err, tail(r.Output, 80))
	}
}

// wantOutput checks a job printed line (gitlab-ci-local prefixes it with
// the job's name).
func wantOutput(t *testing.T, r pipelineRun, line string) {
	t.Helper()
	if !strings.Contains(r.Output, "> "+line+"\n") {
		t.Errorf("the job did not print %q:\n%s", line, tail(r.Output, 60))
	}
}

// wantJobs checks the jobs gitlab-ci-local --list selects for a pipeline
// with vars are exactly want, in order.
func wantJobs(ctx context.Context, t *testing.T, dir string, vars map[string]string, flags []string, want ...string) {
	t.Helper()
	r := gitlabCILocal(ctx, t, dir, vars, nil, append([]string{"--list"}, flags...))
	if r.Err != nil {
		t.Fatalf("%s: %v\n%s", r.Line, r.Err, r.Output)
	}
	var got []string
	header := false
	for l := range strings.Lines(r.Output) {
		f := strings.Fields(l)
		switch {
		case len(f) > 0 && f[0] == "name":
			header = true
		case header && len(f) > 0:
			got = append(got, f[0])
		}
	}
	t.Logf("gitlab-ci-local --list (%s):\n%s", strings.Join(flags, " "), r.Output)
	if !slices.Equal(got, want) {
		t.Errorf("the pipeline runs %q, want %q:\n%s", got, want, r.Output)
	}
}
