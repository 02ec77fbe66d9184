package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/generator"
	fakeecr "gitlab.com/coinpipe/coinpipe/internal/fake/ecr"
	fakegitlab "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
	fakessm "gitlab.com/coinpipe/coinpipe/internal/fake/ssm"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/push"
)

// The daemon repository's pipeline, run whole by gitlab-ci-local as a
// runner would (shell executor): the rendered .gitlab-ci.yml includes
// templates/ci/daemon.yml from the toolkit project with inputs, and
// gitlab-ci-local resolves that include from its include cache, which the
// test seeds with this tree's daemon.yml, so what runs is the template that
// ships. The coin is the shipped monero with a synthetic release in place
// of the real one (realCoinWithSyntheticRelease: served by the loopback
// mirror, so the build works offline), deployed to a simulated fleet.
const (
	// pipelineGitHost is the daemon repository's remote host: gitlab-ci-local
	// names its include cache after it.
	pipelineGitHost = "gitlab.example.invalid"
	toolkitProject  = "coinpipe/coinpipe"
	daemonGroup     = "coin-daemons"
	pipelineOldTag  = "1.2.2" // what the fleet runs before the pipeline
	pipelineJobTok  = "glcbt-e2e-job-token"
	pipelineSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYE2EPIPELINE"
)

// pipelineWorld is one daemon repository and the fakes its pipeline talks
// to.
type pipelineWorld struct {
	repo       string // the daemon repository, a git checkout on main
	tag        string // the image tag the manifest ships
	toolkitRef string // the toolkit commit it was rendered from
	ecr        *fakeecr.Server
	fleet      *fakessm.Fleet
	slack      *fakeslack.Server
	gitlab     *fakegitlab.Server
	vars       map[string]string // --variable NAME=VALUE for gitlab-ci-local
}

// pipelineRun is one gitlab-ci-local run: its output and the job summary
// lines (PASS/FAIL/... name).
type pipelineRun struct {
	cmdResult
	summary []string
}

var summaryLine = regexp.MustCompile(`(?m)^\s*(PASS|FAIL|WARN|SKIP)\s+(\S+).*$`)

func TestDaemonPipeline(t *testing.T) {
	if abs, err := filepath.Abs(ciTools); err == nil {
		t.Setenv("PATH", abs+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	requireTools(t, "gitlab-ci-local", "node", "git", "rsync", "go", "buildah", "debootstrap", "bzip2")
	ctx := t.Context()
	cache := cacheDir(t)
	lockCache(t, cache)
	b := newBuildah(cache)
	base := ensureBaseImage(ctx, t, b, cache)
	bin := coinpipeBin(ctx, t)
	buildahShim(t, bin, b, base)
	coin := realCoinWithSyntheticRelease(t, "monero")
	c := coin.name
	// The build job tags its image in the suite's storage.
	t.Cleanup(func() { b.removeImage(context.WithoutCancel(ctx), "localhost/"+c+":"+synthVersion) })
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	mirror := newMirror(t)

	t.Run("success", func(t *testing.T) {
		w := newPipelineWorld(t, coin, mirror, "success")
		r := w.run(ctx, t)
		logPipeline(t, r)
		if r.Err != nil {
			t.Fatalf("the pipeline failed: %v\n%s", r.Err, tail(r.Output, 80))
		}
		w.wantSummary(t, r, "PASS", "conformance", "build", "push", "rollout")
		if notify := findSummary(r.summary, "notify"); notify != "" {
			t.Errorf("notify ran in a pipeline that passed: %s", notify)
		}
		// The build checked the synthetic release as monero's own release.sh
		// checks monero's: the clearsigned hashes.txt, by the pinned key.
		for _, want := range []string{
			c + " " + synthVersion + ": good signature by pinned key " + coin.signers[0].fingerprint(),
			c + " " + synthVersion + ": 1 pinned keys signed (threshold 1)",
		} {
			if !strings.Contains(r.Output, want) {
				t.Errorf("the build job does not say %q:\n%s", want, tail(r.Output, 80))
			}
		}
		digest := w.builtDigest(ctx, t)
		repo := "coin-daemons/" + c // the real coin's deploy.ecr_repository
		if got, ok := w.ecr.Registry.Tag(repo, w.tag); !ok || got != digest {
			t.Errorf("the registry has %s:%s = %q (present %v), want the build's %s", repo, w.tag, got, ok, digest)
		}
		for i := range 3 {
			if got := w.fleet.Active(i); got != w.tag {
				t.Errorf("host %d runs node@%q, want node@%s", i, got, w.tag)
			}
		}
		w.wantSlack(t, []string{
			c + ": image pushed: ",
			c + ": rollout started: " + w.tag,
			c + ": host updated: " + w.tag,
			c + ": host updated: " + w.tag,
			c + ": host updated: " + w.tag,
			fmt.Sprintf("%s: rollout finished: %s: 3 of 3 hosts on %s", c, w.tag, w.tag),
		})
	})

	t.Run("a host fails its health gate", func(t *testing.T) {
		w := newPipelineWorld(t, coin, mirror, "rollback")
		// The second host's new daemon dies at start; the old one runs.
		w.fleet.Host(1).Fail(fakessm.Crash)
		r := w.run(ctx, t)
		logPipeline(t, r)
		if r.Err == nil {
			t.Fatalf("the pipeline passed with a host failing its health gate:\n%s", tail(r.Output, 80))
		}
		w.wantSummary(t, r, "PASS", "conformance", "build", "push", "notify")
		w.wantSummary(t, r, "FAIL", "rollout")
		for i, want := range []string{w.tag, pipelineOldTag, pipelineOldTag} {
			if got := w.fleet.Active(i); got != want {
				t.Errorf("host %d runs node@%q, want node@%s", i, got, want)
			}
		}
		if !strings.Contains(r.Output, "rollout of "+c+" "+w.tag+" stopped in batch 2/3") {
			t.Errorf("the rollout job does not say where it stopped:\n%s", tail(r.Output, 80))
		}
		w.wantSlack(t, []string{
			c + ": image pushed: ",
			c + ": rollout started: " + w.tag,
			c + ": host updated: " + w.tag,
			c + ": host rolled back: " + w.tag + ": " + w.fleet.Host(1).Name() + " (" + w.fleet.Host(1).ID() + "): health gate failed: after 8s: node@" + w.tag + ".service is not active; back on node@" + pipelineOldTag,
			c + ": pipeline failed: image " + w.tag,
		})
	})
}

// coinpipeBin is a folder holding this tree's coinpipe: the jobs install
// it unless it is on PATH.
func coinpipeBin(ctx context.Context, t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	run(ctx, 5*time.Minute, "go", "build", "-o", filepath.Join(bin, "coinpipe"), "../cmd/coinpipe").must(t)
	return bin
}

// buildahShim puts a buildah in bin that works on the suite's storage and
// builds FROM the local base image: the network here reaches no registry,
// so the manifest's pinned base cannot be pulled. Nothing else of the
// build job changes.
func buildahShim(t *testing.T, bin string, b *buildah, base string) {
	t.Helper()
	real, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatal(err)
	}
	storage := shellQuote(b.storageArgs()...)
	shim := fmt.Sprintf(`#!/bin/sh
# e2e: buildah on the suite's storage; builds take the local base image.
if [ "$1" = build ]; then
  shift
  exec %s %s build --pull=never --http-proxy=false --build-arg BASE_IMAGE=%s "$@"
fi
exec %s %s "$@"
`, shellQuote(real), storage, shellQuote(base), shellQuote(real), storage)
	if err := os.WriteFile(filepath.Join(bin, "buildah"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
}

func shellQuote(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// newPipelineWorld makes the toolkit project in the GitLab fake (the
// coin's folder at a commit on main, plus this tree's daemon.yml), renders
// the daemon repository pinned to that commit, seeds gitlab-ci-local's
// include cache, serves the coin's release on the mirror, and starts the
// ECR, SSM (3 hosts on pipelineOldTag) and Slack fakes.
func newPipelineWorld(t *testing.T, coin derivedCoin, mirror *mirror, prefix string) *pipelineWorld {
	t.Helper()
	toolkit := t.TempDir()
	coinDir := filepath.Join(toolkit, "coins", coin.name)
	testenv.CopyTree(t, coin.dir(), coinDir)
	// deploy: one host at a time, and a health gate short enough for a
	// test (a host whose daemon never starts fails only when it ends: the
	// real coin's is minutes); the toolkit's copy and the daemon
	// repository's agree, as sync makes them.
	file := filepath.Join(coinDir, manifest.FileName)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	src = setDeploy(t, src, "max_unavailable", "1")
	src = setDeploy(t, src, "health_timeout", "8s")
	writeFile(t, file, src)

	daemonYML, err := os.ReadFile("../templates/ci/daemon.yml")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := fakegitlab.FilesFromDir(coinDir, "coins/"+coin.name)
	if err != nil {
		t.Fatal(err)
	}
	tree["templates/ci/daemon.yml"] = fakegitlab.File{Content: daemonYML}
	gl := fakegitlab.New()
	apiURL, _ := gl.Start(t)
	gl.AddProject(toolkitProject, "main", tree)
	// The job token of the daemon project: its own project and the
	// toolkit, whose job token allowlist holds the daemon group.
	gl.AddScopedJobToken(pipelineJobTok, daemonGroup+"/"+coin.name, toolkitProject)
	head, ok := gl.Head(toolkitProject, "main")
	if !ok {
		t.Fatal("the toolkit project has no main branch")
	}

	m, err := manifest.Open(coinDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := generator.Render(m, generator.Options{CIProject: toolkitProject, CIRef: head.SHA})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := generator.Write(t.Context(), out, m.Name, files); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(out, m.Name)
	git := func(args ...string) {
		full := append([]string{"-C", repo, "-c", "user.name=coinpipe", "-c", "user.email=e2e@coinpipe.invalid"}, args...)
		run(t.Context(), time.Minute, "git", full...).must(t)
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://"+pipelineGitHost+"/"+daemonGroup+"/"+m.Name+".git")
	git("add", "-A")
	git("commit", "-q", "-m", "coinpipe sync: "+m.Name+" "+m.Version)
	// gitlab-ci-local reads include: project from
	// .gitlab-ci-local/includes/<remote host>/<project>/<ref>/<file> and
	// fetches only what is not there: seeded, nothing is fetched.
	cached := filepath.Join(repo, ".gitlab-ci-local", "includes", pipelineGitHost, toolkitProject, head.SHA, "templates", "ci", "daemon.yml")
	writeFile(t, cached, daemonYML)

	w := &pipelineWorld{repo: repo, tag: m.ImageTag(), toolkitRef: head.SHA, ecr: fakeecr.New(), slack: fakeslack.New(), gitlab: gl}
	w.fleet = fakessm.NewFleet(t, fakessm.FleetOptions{
		Coin: m.Name, Hosts: 3, TagKey: m.Deploy.Instances.Tag, TagValue: m.Deploy.Instances.Value,
		Running: pipelineOldTag, Height: 120000,
		BlockInterval: 300 * time.Millisecond, StopDelay: 100 * time.Millisecond, StartDelay: 500 * time.Millisecond,
	})
	// The hosts can pull a tag once the push job has put it in the coin's
	// ECR repository: a rollout without that push fails to start the unit.
	repository := m.Deploy.ECRRepository
	w.ecr.OnTag = func(repo, tag, _ string) {
		if repo == repository {
			w.fleet.Push(tag)
		}
	}
	mirrorURL := mirror.publish(prefix, coin.files)
	w.vars = map[string]string{
		"DOWNLOAD_MIRROR":       mirrorURL,
		"AWS_REGION":            "us-east-1",
		"AWS_ACCESS_KEY_ID":     "AKIAFAKEE2EPIPELINE1",
		"AWS_SECRET_ACCESS_KEY": pipelineSecret,
		"AWS_ENDPOINT_URL_ECR":  w.ecr.Start(t),
		"AWS_ENDPOINT_URL_SSM":  w.fleet.URL(),
		"SLACK_WEBHOOK_URL":     w.slack.Start(t),
		"CI_API_V4_URL":         apiURL,
		"CI_JOB_TOKEN":          pipelineJobTok,
		"COINPIPE_MARKER_DIR":   t.TempDir(),
	}
	return w
}

// run runs the whole pipeline, the manual rollout included, or only the
// jobs named.
func (w *pipelineWorld) run(ctx context.Context, t *testing.T, jobs ...string) pipelineRun {
	t.Helper()
	flags := []string{"--manual", "rollout", "--ignore-predefined-vars", "CI_API_V4_URL"}
	return gitlabCILocal(ctx, t, w.repo, w.vars, []string{pipelineSecret, pipelineJobTok, w.slack.Path}, flags, jobs...)
}

// gitlabCILocal runs gitlab-ci-local with the shell executor in dir, with
// flags, vars as --variable, and the jobs named (none: the whole
// pipeline); no secret may appear in its output.
func gitlabCILocal(ctx context.Context, t *testing.T, dir string, vars map[string]string, secrets, flags []string, jobs ...string) pipelineRun {
	t.Helper()
	args := append([]string{"--force-shell-executor"}, flags...)
	for k, v := range vars {
		args = append(args, "--variable", k+"="+v)
	}
	args = append(args, jobs...)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gitlab-ci-local", args...)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	r := pipelineRun{cmdResult: cmdResult{Line: "gitlab-ci-local " + strings.Join(args, " "), Output: string(b), Err: err}}
	for _, m := range summaryLine.FindAllString(r.Output, -1) {
		r.summary = append(r.summary, strings.TrimSpace(m))
	}
	for _, secret := range secrets {
		if strings.Contains(r.Output, secret) {
			t.Errorf("a secret is in the pipeline's output: %.8s…", secret)
		}
	}
	return r
}

// logPipeline prints the job list and the results, as gitlab-ci-local's
// summary has them, and what the push, rollout and notify jobs printed.
func logPipeline(t *testing.T, r pipelineRun) {
	t.Helper()
	var jobs []string
	for line := range strings.SplitSeq(r.Output, "\n") {
		if jobOutput.MatchString(line) || strings.HasPrefix(line, "pipeline finished") {
			jobs = append(jobs, line)
		}
	}
	t.Logf("gitlab-ci-local summary:\n%s\n%s", strings.Join(r.summary, "\n"), strings.Join(jobs, "\n"))
}

// jobOutput are the lines the deploying jobs, and the toolkit's watch
// and sync, print.
var jobOutput = regexp.MustCompile(`^(push|rollout|notify|watch|sync)\s+(>|finished)`)

func findSummary(summary []string, job string) string {
	for _, l := range summary {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == job {
			return l
		}
	}
	return ""
}

func (w *pipelineWorld) wantSummary(t *testing.T, r pipelineRun, result string, jobs ...string) {
	t.Helper()
	for _, job := range jobs {
		if l := findSummary(r.summary, job); !strings.HasPrefix(l, result+" ") {
			t.Errorf("job %s: %q, want %s\n%s", job, l, result, tail(r.Output, 80))
		}
	}
}

// builtDigest is the manifest digest of the build job's artifact, read as
// push reads it.
func (w *pipelineWorld) builtDigest(ctx context.Context, t *testing.T) string {
	t.Helper()
	archives, _ := filepath.Glob(filepath.Join(w.repo, ".gitlab-ci-local", "artifacts", "build", "image.tar"))
	if len(archives) != 1 {
		t.Fatalf("the build job left %d image.tar artifacts", len(archives))
	}
	img, err := push.ReadArchive(ctx, archives[0], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return img.Digest.String()
}

// wantSlack checks the Slack fake got exactly the messages starting with
// want, in order.
func (w *pipelineWorld) wantSlack(t *testing.T, want []string) {
	t.Helper()
	var got []string
	for _, m := range w.slack.Messages() {
		got = append(got, m.Text)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.HasPrefix(got[i], want[i])
	}
	if !ok {
		t.Errorf("Slack got:\n%s\nwant messages starting with:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// setDeploy sets deploy.<key> in coin.yaml's source to value, in place
// when the coin sets it, else as the block's first line.
func setDeploy(t *testing.T, src []byte, key, value string) []byte {
	t.Helper()
	line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(key) + `:.*$`)
	switch n := len(line.FindAllIndex(src, -1)); n {
	case 0:
		return replaceOnce(t, src, "\ndeploy:\n", "\ndeploy:\n  "+key+": "+value+"\n")
	case 1:
		return line.ReplaceAllLiteral(src, []byte("  "+key+": "+value))
	default:
		t.Fatalf("coin.yaml sets %s %d times", key, n)
		return nil
	}
}
