package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakegithub "gitlab.com/coinpipe/coinpipe/internal/fake/github"
	fakegitlab "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// watchWorld is a toolkit checkout (coins/ and out/, the working
// directory) and the fakes `coinpipe watch` talks to: GitHub releases,
// the GitLab project of the checkout, the download mirror and Slack.
type watchWorld struct {
	t      *testing.T
	dir    string
	github *fakegithub.Server
	gitlab *fakegitlab.Server
	mirror *mirror.Server
	slack  *fakeslack.Server
	env    map[string]string
	key    *testenv.Key
}

const (
	watchProject = "coin-team/toolkit"
	watchBranch  = "main"
	releaseHost  = "https://releases.example.org/"
)

// watchRelease is the release block of a synthetic coin signed by one
// test key (threshold 1 unless changed).
const watchRelease = `  artifacts:
    linux/amd64:
      url: https://releases.example.org/%[1]s-{version}/%[1]s-{version}-x86_64-linux-gnu.tar.gz # the archive
      sha256: %[2]s
  checksums:
    url: https://releases.example.org/%[1]s-{version}/SHA256SUMS
    format: sha256sum
  signatures:
    mode: detached
    url: https://releases.example.org/%[1]s-{version}/SHA256SUMS.asc
    threshold: %[4]d
    keys:
      - file: keys/alice.asc
        fingerprint: %[3]s%[5]s`

func newWatchWorld(t *testing.T) *watchWorld {
	t.Helper()
	w := &watchWorld{t: t, dir: t.TempDir(), github: fakegithub.New(), gitlab: fakegitlab.New(), mirror: mirror.New(t), slack: fakeslack.New()}
	w.key = testenv.NewKey(t, "alice", testenv.KeyOptions{Created: time.Now().Add(-48 * time.Hour)})
	gh := httptest.NewServer(w.github)
	t.Cleanup(gh.Close)
	w.gitlab.AddToken("glpat-watch-secret")
	glURL, _ := w.gitlab.Start(t)
	w.env = map[string]string{
		"GITHUB_API_URL":           gh.URL,
		"GITHUB_TOKEN":             "ghp_watch-secret",
		"CI_API_V4_URL":            glURL,
		"CI_PROJECT_ID":            watchProject,
		"GITLAB_TOKEN":             "glpat-watch-secret",
		"SLACK_WEBHOOK_URL":        w.slack.Start(t),
		"COINPIPE_DOWNLOAD_MIRROR": w.mirror.URL,
		"COINPIPE_STATE_DIR":       filepath.Join(w.dir, ".state"),
	}
	return w
}

// addCoin writes a synthetic coin pinned at version, whose archive is the
// text "<name> <version>".
func (w *watchWorld) addCoin(name, version string, threshold int) {
	w.t.Helper()
	coins := filepath.Join(w.dir, "coins")
	keys := map[string][]byte{"alice.asc": w.key.Public(w.t)}
	more := ""
	for i := 1; i < threshold; i++ {
		// Pinned, but they never sign: the release waits for them.
		k := testenv.NewKey(w.t, fmt.Sprintf("builder%d", i), testenv.KeyOptions{})
		keys[fmt.Sprintf("builder%d.asc", i)] = k.Public(w.t)
		more += fmt.Sprintf("\n      - file: keys/builder%d.asc\n        fingerprint: %s", i, k.Fingerprint)
	}
	rel := fmt.Sprintf(watchRelease, name, archiveSHA(name, version), w.key.Fingerprint, threshold, more)
	writeCoin(w.t, coins, name, version, rel, keys)
}

func archiveName(name, version string) string {
	return name + "-" + version + "-x86_64-linux-gnu.tar.gz"
}

func archiveSHA(name, version string) string {
	sum := sha256.Sum256([]byte(name + " " + version))
	return hex.EncodeToString(sum[:])
}

// publish makes upstream release name's version: the GitHub release and,
// unless unsigned, its signed checksums on the mirror.
func (w *watchWorld) publish(name, version string, opts ...string) {
	w.t.Helper()
	r := fakegithub.Release{Tag: "v" + version, PublishedAt: time.Now().Add(-time.Hour), Body: "Release notes of " + version}
	signed := true
	for _, o := range opts {
		switch o {
		case "prerelease":
			r.Prerelease = true
		case "unsigned":
			signed = false
		}
	}
	w.github.AddRelease("example/"+name, r)
	base := releaseHost + name + "-" + version + "/"
	sums := []byte(archiveSHA(name, version) + "  " + archiveName(name, version) + "\n")
	w.mirror.Put(base+"SHA256SUMS", sums)
	if signed {
		w.mirror.Put(base+"SHA256SUMS.asc", w.key.Sign(w.t, sums, time.Now().Add(-time.Minute)))
	} else {
		w.mirror.Fail(base+"SHA256SUMS.asc", 404)
	}
}

// checkout renders out/ and makes the GitLab project's default branch hold
// the checkout, as the scheduled job's clone of it would.
func (w *watchWorld) checkout() {
	w.t.Helper()
	w.t.Chdir(w.dir)
	if code, _, stderr := runEnv(w.t, nil, "generate", "--coins", "coins", "--out", "out"); code != 0 {
		w.t.Fatalf("generate: %d\n%s", code, stderr)
	}
	files := map[string]fakegitlab.File{}
	for _, top := range []string{"coins", "out"} {
		err := filepath.WalkDir(filepath.Join(w.dir, top), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, _ := d.Info()
			rel, _ := filepath.Rel(w.dir, p)
			files[filepath.ToSlash(rel)] = fakegitlab.File{Content: b, Executable: info.Mode()&0o111 != 0}
			return nil
		})
		if err != nil {
			w.t.Fatal(err)
		}
	}
	w.gitlab.AddProject(watchProject, watchBranch, files)
}

func (w *watchWorld) watch(args ...string) (int, string, string) {
	w.t.Helper()
	code, stdout, stderr := runEnv(w.t, w.env, append([]string{"watch"}, args...)...)
	for _, secret := range []string{"ghp_watch-secret", "glpat-watch-secret", w.slack.Path} {
		if strings.Contains(stdout+stderr, secret) {
			w.t.Fatalf("a secret (%q) is in the output:\n%s\n%s", secret, stdout, stderr)
		}
	}
	return code, stdout, stderr
}

func (w *watchWorld) mrs() []fakegitlab.MergeRequest {
	return w.gitlab.MergeRequests(watchProject)
}

func (w *watchWorld) openMRs() int {
	n := 0
	for _, mr := range w.mrs() {
		if mr.State == "opened" {
			n++
		}
	}
	return n
}

func (w *watchWorld) file(ref, path string) string {
	w.t.Helper()
	files, err := w.gitlab.Files(watchProject, ref)
	if err != nil {
		w.t.Fatal(err)
	}
	return string(files[path].Content)
}

func wantOutput(t *testing.T, code int, stdout, stderr string, wantCode int, want string) {
	t.Helper()
	if code != wantCode || stdout != want {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, wantCode, stdout, want, stderr)
	}
}

// The contract of the scheduled job: a new release becomes one merge
// request; nine more runs against the unchanged upstream change nothing
// and cost one GitHub request each, answered 304.
func TestWatchOpensOneMergeRequestAndStaysIdempotent(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.addCoin("beta", "3.1", 1)
	w.checkout()
	w.publish("alpha", "1.0")
	w.publish("alpha", "1.1")
	w.publish("beta", "3.1")
	before, _ := os.ReadFile(filepath.Join(w.dir, "coins/alpha/coin.yaml"))

	code, stdout, stderr := w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.0 → 1.1: !1 opened\nbeta: up to date\n")

	mr := w.mrs()[0]
	if mr.Title != "alpha: 1.0 → 1.1" || mr.SourceBranch != "coinpipe/alpha" || mr.TargetBranch != watchBranch || !mr.RemoveSourceBranch {
		t.Errorf("merge request %+v", mr)
	}
	for _, want := range []string{archiveSHA("alpha", "1.0"), archiveSHA("alpha", "1.1"), w.key.Fingerprint, "alice", "https://releases.example.org/alpha-1.1/SHA256SUMS.asc", "Release notes of 1.1"} {
		if !strings.Contains(mr.Description, want) {
			t.Errorf("description lacks %q:\n%s", want, mr.Description)
		}
	}
	// coin.yaml: only the version and sha256 lines changed, comments kept.
	after := w.file("coinpipe/alpha", "coins/alpha/coin.yaml")
	wantYAML := strings.Replace(strings.Replace(string(before), `version: "1.0"`, `version: "1.1"`, 1), archiveSHA("alpha", "1.0"), archiveSHA("alpha", "1.1"), 1)
	if after != wantYAML {
		t.Errorf("coin.yaml on the branch:\n%s\nwant:\n%s", after, wantYAML)
	}
	// The verified material is committed, and the daemon repository re-rendered.
	if got := w.file("coinpipe/alpha", "coins/alpha/release/SHA256SUMS"); !strings.Contains(got, archiveName("alpha", "1.1")) {
		t.Errorf("committed SHA256SUMS = %q", got)
	}
	if got := w.file("coinpipe/alpha", "out/alpha/release/SHA256SUMS.asc"); !strings.Contains(got, "BEGIN PGP SIGNATURE") {
		t.Errorf("out/alpha/release/SHA256SUMS.asc = %q", got)
	}
	if got := w.file("coinpipe/alpha", "out/alpha/Dockerfile"); !strings.Contains(got, "ALPHA_VERSION=1.1") || !strings.Contains(got, "COPY release/") {
		t.Errorf("out/alpha/Dockerfile not re-rendered for 1.1:\n%s", got)
	}
	if got := w.file(watchBranch, "coins/alpha/coin.yaml"); got != string(before) {
		t.Error("the default branch changed")
	}
	if msgs := w.slack.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "alpha 1.0 → 1.1: merge request !1 opened") {
		t.Errorf("slack got %+v", msgs)
	}

	commits := w.gitlab.APICommits(watchProject)
	requests := len(w.github.Requests())
	for run := 2; run <= 10; run++ {
		code, stdout, stderr := w.watch()
		wantOutput(t, code, stdout, stderr, 0, "alpha: 1.0 → 1.1: !1 open, unchanged\nbeta: up to date\n")
	}
	reqs := w.github.Requests()[requests:]
	for _, r := range reqs {
		if r.Status != 304 {
			t.Errorf("steady-state GitHub request %s %s answered %d, want 304", r.Method, r.Path, r.Status)
		}
	}
	if len(reqs) != 9*2 {
		t.Errorf("9 steady runs over 2 coins made %d GitHub requests, want 18", len(reqs))
	}
	if got := w.gitlab.APICommits(watchProject); got != commits || len(w.mrs()) != 1 || len(w.slack.Messages()) != 1 {
		t.Errorf("steady runs wrote: %d commits (was %d), %d merge requests, %d Slack messages", got, commits, len(w.mrs()), len(w.slack.Messages()))
	}
}

// A newer release supersedes the open merge request in place; closing a
// request unmerged skips its version; a newer one is proposed again.
func TestWatchSupersedesAndSkips(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	if code, stdout, stderr := w.watch(); code != 0 {
		t.Fatalf("first run: %d\n%s%s", code, stdout, stderr)
	}

	w.publish("alpha", "1.2")
	code, stdout, stderr := w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.2: !1 updated\n")
	mrs := w.mrs()
	if len(mrs) != 1 || mrs[0].Title != "alpha: 1.0 → 1.2" || len(mrs[0].Notes) != 1 || !strings.Contains(mrs[0].Notes[0].Body, "instead of 1.1") {
		t.Fatalf("after a newer release: %+v", mrs)
	}
	if got := w.file("coinpipe/alpha", "coins/alpha/release/SHA256SUMS"); !strings.Contains(got, archiveName("alpha", "1.2")) {
		t.Errorf("the branch still holds %q", got)
	}

	if err := w.gitlab.CloseMR(watchProject, mrs[0].IID); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: up to date (1.2 skipped: its merge request was closed)\n")

	w.publish("alpha", "1.3")
	code, stdout, stderr = w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.0 → 1.3: !2 opened\n")
	if w.openMRs() != 1 {
		t.Errorf("%d open merge requests", w.openMRs())
	}
}

// Someone pushed to the bot's branch: the watcher says so and leaves it.
func TestWatchLeavesManualChangesAlone(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.watch()
	human := fakegitlab.User{ID: 7, Username: "dev", Name: "Dev", Email: "dev@example.org"}
	if _, err := w.gitlab.Push(watchProject, "coinpipe/alpha", human, "tune the config\n", map[string]*fakegitlab.File{
		"coins/alpha/NOTES.md": {Content: []byte("hand-made\n")},
	}); err != nil {
		t.Fatal(err)
	}
	w.publish("alpha", "1.2")
	code, stdout, _ := w.watch()
	if code != 0 || !strings.HasPrefix(stdout, "alpha: 1.2: !1 left alone: coinpipe/alpha has commit ") || !strings.Contains(stdout, "dev@example.org") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if got := w.file("coinpipe/alpha", "coins/alpha/NOTES.md"); got != "hand-made\n" {
		t.Error("the manual change was overwritten")
	}
}

// Nothing unverified is proposed: not yet signed is waiting (exit 0), a
// bad signature is an alert and exit 3; the other coins go on.
func TestWatchNeverProposesUnverified(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.addCoin("beta", "1.0", 1)
	w.addCoin("gamma", "1.0", 1)
	w.addCoin("delta", "1.0", 2)
	w.checkout()
	w.publish("alpha", "1.1", "unsigned")
	w.publish("beta", "1.1")
	w.mirror.Put(releaseHost+"beta-1.1/SHA256SUMS", []byte(archiveSHA("beta", "6.6")+"  "+archiveName("beta", "1.1")+"\n")) // tampered after signing
	w.publish("gamma", "1.1")
	w.publish("delta", "1.1") // one key pinned, two required

	code, stdout, stderr := w.watch()
	stdout = strings.ReplaceAll(stdout, w.mirror.URL, "$MIRROR")
	wantOutput(t, code, stdout, stderr, 3, strings.Join([]string{
		"alpha: 1.1 found, signatures not published yet (GET $MIRROR/releases.example.org/alpha-1.1/SHA256SUMS.asc: HTTP 404 Not Found (check the URL and that the release and version exist))",
		"beta: 1.1: verification failed: bad signature by pinned key " + w.key.Fingerprint + " (alice (coinpipe test) <alice@coinpipe.invalid>): signature does not verify: openpgp: invalid signature: EdDSA verification failure",
		"delta: 1.1 found, waiting for signatures (1 of 2)",
		"gamma: 1.0 → 1.1: !1 opened",
	}, "\n")+"\n")
	if len(w.mrs()) != 1 || w.mrs()[0].SourceBranch != "coinpipe/gamma" {
		t.Errorf("merge requests: %+v", w.mrs())
	}
	var alert bool
	for _, m := range w.slack.Messages() {
		alert = alert || strings.Contains(m.Text, "beta: 1.1: verification FAILED")
	}
	if !alert {
		t.Errorf("no Slack alert for beta: %+v", w.slack.Messages())
	}
}

// Faults: GitHub down for one coin, GitLab failing after it acted, Slack
// down. No duplicate merge request, no half-made commit, the other coins
// processed, and the right exit code.
func TestWatchFaults(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.addCoin("beta", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.publish("beta", "1.1")

	// GitHub answers 502 for every request, GitLab fails the merge request
	// after creating it, Slack is down.
	w.github.Fail(fakegithub.RouteReleases, 502, "", 2)
	w.gitlab.FailAfterApply(fakegitlab.RouteCreateMR, 502, "", 1)
	w.slack.SetDown(true)
	code, stdout, stderr := w.watch("--concurrency", "1")
	if code != 1 || !strings.Contains(stdout, "alpha: failed: listing releases of example/alpha:") || !strings.Contains(stdout, "beta: failed: opening the merge request for coinpipe/beta:") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	w.slack.SetDown(false)
	code, stdout, stderr = w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.0 → 1.1: !2 opened\nbeta: 1.0 → 1.1: !1 open, unchanged\n")
	if w.openMRs() != 2 || len(w.mrs()) != 2 {
		t.Errorf("merge requests: %+v", w.mrs())
	}
	// A commit that GitLab refuses leaves the branch as it was.
	w.publish("alpha", "1.2")
	w.gitlab.Fail(fakegitlab.RouteCreateCommit, 500, "", -1)
	code, stdout, _ = w.watch()
	if code != 1 || !strings.Contains(stdout, "alpha: failed: committing alpha 1.2 to coinpipe/alpha") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if got := w.file("coinpipe/alpha", "coins/alpha/release/SHA256SUMS"); !strings.Contains(got, archiveName("alpha", "1.1")) {
		t.Errorf("a failed commit changed the branch: %q", got)
	}
}

// A prerelease opens nothing and is announced once, the first run included.
func TestWatchAnnouncesPrereleasesOnce(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "2.0rc1", "prerelease")
	for run := 1; run <= 3; run++ {
		code, stdout, stderr := w.watch()
		wantOutput(t, code, stdout, stderr, 0, "alpha: up to date\n")
	}
	msgs := w.slack.Messages()
	if len(msgs) != 1 || msgs[0].Text != "alpha 2.0rc1 published: upcoming release" || len(w.mrs()) != 0 {
		t.Errorf("slack %+v, merge requests %+v", msgs, w.mrs())
	}
}

// --dry-run verifies and prints the merge request, and writes nothing.
func TestWatchDryRun(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.publish("alpha", "2.0rc1", "prerelease")
	code, stdout, stderr := w.watch("--dry-run")
	if code != 0 || !strings.HasPrefix(stdout, "alpha: 1.0 → 1.1: would open a merge request\n") ||
		!strings.Contains(stdout, "title:  alpha: 1.0 → 1.1") || !strings.Contains(stdout, "update coins/alpha/coin.yaml") ||
		!strings.Contains(stdout, "create coins/alpha/release/SHA256SUMS.asc") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if len(w.mrs()) != 0 || w.gitlab.APICommits(watchProject) != 0 || len(w.slack.Messages()) != 0 {
		t.Errorf("a dry run wrote: %d merge requests, %d commits, %d Slack messages", len(w.mrs()), w.gitlab.APICommits(watchProject), len(w.slack.Messages()))
	}

	code, stdout, _ = w.watch("--json", "--dry-run")
	var results []map[string]any
	if err := json.Unmarshal([]byte(stdout), &results); err != nil || code != 0 || len(results) != 1 || results[0]["status"] != "would-open" || results[0]["to"] != "1.1" {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, stdout)
	}
}

func TestWatchInvalidInput(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	delete(w.env, "GITLAB_TOKEN")
	code, _, stderr := w.watch()
	if code != 2 || !strings.Contains(stderr, "watch needs CI_API_V4_URL, CI_PROJECT_ID and GITLAB_TOKEN (or CI_JOB_TOKEN)") {
		t.Errorf("without a token: exit %d\n%s", code, stderr)
	}
	code, _, stderr = w.watch("--coins", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "must be a folder inside the toolkit checkout") {
		t.Errorf("--coins outside the checkout: exit %d\n%s", code, stderr)
	}
}

// GitHub's limits and slowness cost the affected coins, never the run: a
// primary limit ending in an hour gives up at once and says when; without
// a token the message says to set one; a secondary limit with Retry-After
// is waited out; a request that hangs times out.
func TestWatchGitHubLimitsAndTimeouts(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.addCoin("beta", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.publish("beta", "1.0")

	reset := time.Now().Add(time.Hour)
	w.github.SetRate("Bearer ghp_watch-secret", 0, reset)
	code, stdout, _ := w.watch()
	wantLine := "github rate limit exceeded until " + reset.UTC().Truncate(time.Second).Format(time.RFC3339)
	if code != 1 || strings.Count(stdout, wantLine) != 2 || len(w.mrs()) != 0 {
		t.Fatalf("rate limited: exit %d\n%s", code, stdout)
	}

	delete(w.env, "GITHUB_TOKEN")
	w.github.SetRate("", 0, reset)
	code, stdout, _ = w.watch()
	if code != 1 || strings.Count(stdout, "set GITHUB_TOKEN") != 2 {
		t.Fatalf("unauthenticated and limited: exit %d\n%s", code, stdout)
	}

	w.env["GITHUB_TOKEN"] = "ghp_watch-secret"
	w.github.SetRate("Bearer ghp_watch-secret", 5000, reset)
	w.github.SecondaryLimit(429, time.Second, 1)
	code, stdout, stderr := w.watch("--concurrency", "1")
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.0 → 1.1: !1 opened\nbeta: up to date\n")

	// A GitHub that hangs: the request times out, the coin fails, the
	// other one is still watched.
	w.publish("beta", "1.1")
	w.github.Delay(fakegithub.RouteReleases, 5*time.Second, 2)
	start := time.Now()
	code, stdout, stderr = runDeps(t.Context(), w.env, func(d *deps) { d.http = &http.Client{Timeout: 300 * time.Millisecond} }, "watch", "--concurrency", "1")
	if code != 1 || !strings.HasPrefix(stdout, "alpha: failed: listing releases of example/alpha: ") || !strings.Contains(stdout, "beta: 1.0 → 1.1: !2 opened") {
		t.Fatalf("hanging GitHub: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("a hanging GitHub held the run for %s", took)
	}
}

// Another run opened the merge request between this run's look-up and its
// create: GitLab answers 409, and the watcher updates that request
// instead of failing or opening a second one.
func TestWatchConflictUpdatesTheOtherRunsRequest(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.gitlab.Inject(fakegitlab.RouteCreateMR, fakegitlab.Fault{Status: 409, AfterApply: true, Count: 1,
		Body: `{"message":["Another open merge request already exists for this source branch: !1"]}`})
	code, stdout, stderr := w.watch()
	wantOutput(t, code, stdout, stderr, 0, "alpha: 1.1: !1 updated\n")
	if len(w.mrs()) != 1 {
		t.Errorf("%d merge requests", len(w.mrs()))
	}
}

// A branch someone prepared by hand before any merge request existed is
// not overwritten either.
func TestWatchLeavesAHandMadeBranchAlone(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	human := fakegitlab.User{ID: 7, Username: "dev", Name: "Dev", Email: "dev@example.org"}
	if _, err := w.gitlab.Push(watchProject, "coinpipe/alpha", human, "start the upgrade by hand\n", map[string]*fakegitlab.File{
		"coins/alpha/NOTES.md": {Content: []byte("hand-made\n")},
	}); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := w.watch()
	if code != 0 || !strings.HasPrefix(stdout, "alpha: 1.1: branch left alone: coinpipe/alpha has commit ") || len(w.mrs()) != 0 {
		t.Fatalf("exit %d: %s", code, stdout)
	}
	if got := w.file("coinpipe/alpha", "coins/alpha/NOTES.md"); got != "hand-made\n" {
		t.Error("the hand-made branch was overwritten")
	}
}

// With only CI_JOB_TOKEN the run warns up front, and each coin fails with
// GitLab's 401 instead of pretending to have opened anything.
func TestWatchWithOnlyAJobToken(t *testing.T) {
	w := newWatchWorld(t)
	w.addCoin("alpha", "1.0", 1)
	w.checkout()
	w.publish("alpha", "1.1")
	w.gitlab.AddJobToken("job-token-secret")
	delete(w.env, "GITLAB_TOKEN")
	w.env["CI_JOB_TOKEN"] = "job-token-secret"
	code, stdout, stderr := w.watch()
	if code != 1 || !strings.Contains(stderr, "set GITLAB_TOKEN") || !strings.Contains(stdout, "alpha: failed: ") ||
		!strings.Contains(stdout, "401") || len(w.mrs()) != 0 || strings.Contains(stdout+stderr, "job-token-secret") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}
