package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/github"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/slack"
	"gitlab.com/coinpipe/coinpipe/release"
	"gitlab.com/coinpipe/coinpipe/watcher"
)

type watchOptions struct {
	coinsDir, outDir string
	dryRun, json     bool
	concurrency      int
	render           generator.Options
	coins            []string
}

func newWatchCmd(d *deps) *cobra.Command {
	opts := watchOptions{render: generator.DefaultOptions}
	cmd := &cobra.Command{
		Use:   "watch [--coins DIR] [--dry-run] [--json] [COIN...]",
		Short: "Propose verified upstream releases as merge requests",
		Long: `watch looks for new upstream releases of every coin (or the named ones) and
turns each into a merge request a reviewer can trust:

  1. it lists the coin's GitHub releases (GITHUB_API_URL, GITHUB_TOKEN) and picks
     the highest stable version (the API's prerelease flag decides) inside
     upstream.line and older than upstream.min_age;
  2. it verifies that release against the pinned keys and threshold, exactly as
     coinpipe verify and the image build do, and takes each artifact's sha256
     from the verified checksums. A release not (fully) signed yet is reported
     as waiting and retried next run; one that fails verification is alerted
     and never proposed;
  3. it commits coin.yaml with the new version and sha256s (comments and layout
     kept), the verified checksums and signatures under coins/<coin>/release/,
     and the re-rendered out/<coin>/, in one commit on the branch
     coinpipe/<coin> of the toolkit project (CI_API_V4_URL, CI_PROJECT_ID,
     GITLAB_TOKEN or CI_JOB_TOKEN), and opens or updates one merge request.
     A newer release supersedes the open request in place; a request closed
     unmerged means "skip this version"; a branch someone else pushed to is
     left alone.

Prereleases open nothing but are announced to Slack (SLACK_WEBHOOK_URL) once.
Conditional requests and what was announced are kept in COINPIPE_STATE_DIR
(default: $XDG_CACHE_HOME/coinpipe or ~/.cache/coinpipe), so an unchanged upstream costs one GitHub
request per coin, answered 304. Run it from a checkout of the toolkit project.

Output: one line per coin. Exit codes: 0 ok, 3 a release failed verification,
1 a coin failed otherwise (after all coins were processed), 2 bad input.`,
		Example: `  coinpipe watch                       # every coin, as the scheduled job runs it
  coinpipe watch --dry-run bitcoin     # print the merge request it would open
  coinpipe watch --json | jq '.[] | select(.status != "up-to-date")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.coins = args
			return runWatch(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin, inside the toolkit checkout")
	cmd.Flags().StringVar(&opts.outDir, "out", "out", "folder of the rendered daemon repositories, inside the toolkit checkout")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "verify and print what would be proposed; write nothing to GitLab or Slack")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the results as JSON")
	cmd.Flags().IntVar(&opts.concurrency, "concurrency", watcher.DefaultConcurrency, "coins watched at once")
	cmd.Flags().StringVar(&opts.render.CIProject, "ci-project", opts.render.CIProject, "toolkit GitLab project the daemon repos include templates/ci/daemon.yml from")
	cmd.Flags().StringVar(&opts.render.CIRef, "ci-ref", opts.render.CIRef, "toolkit ref that include is pinned to")
	return cmd
}

func runWatch(ctx context.Context, d *deps, opts watchOptions) error {
	if opts.concurrency < 1 {
		return usagef("--concurrency must be at least 1, got %d", opts.concurrency)
	}
	coinsPath, err := projectPath("--coins", opts.coinsDir)
	if err != nil {
		return err
	}
	outPath, err := projectPath("--out", opts.outDir)
	if err != nil {
		return err
	}
	ms, err := loadCoins(ctx, opts.coinsDir, opts.coins)
	if err != nil {
		return err
	}
	stateDir := watchStateDir(d)
	gh, err := github.New(github.Options{
		BaseURL: d.getenv("GITHUB_API_URL"), Token: d.getenv("GITHUB_TOKEN"),
		HTTP: d.http, StateDir: stateDir, Log: d.log, Now: d.now,
	})
	if err != nil {
		return usageError{fmt.Errorf("GITHUB_API_URL: %w", err)}
	}
	w := &watcher.Watcher{
		GitHub:      gh,
		Slack:       slack.New(d.getenv("SLACK_WEBHOOK_URL"), d.http, d.log),
		Source:      release.Download{Client: d.downloader(), Log: d.log},
		Project:     d.getenv("CI_PROJECT_ID"),
		Layout:      watcher.Layout{CoinsDir: opts.coinsDir, OutDir: opts.outDir, CoinsPath: coinsPath, OutPath: outPath, Render: opts.render},
		DryRun:      opts.dryRun,
		StateDir:    stateDir,
		Concurrency: opts.concurrency,
		Log:         d.log,
		Now:         d.now,
	}
	if err := connectGitLab(ctx, d, w); err != nil {
		return err
	}
	results, err := w.Run(ctx, ms)
	if err != nil {
		return err
	}
	if err := printWatch(d, opts, results); err != nil {
		return err
	}
	return watchOutcome(results)
}

// watchStateDir is COINPIPE_STATE_DIR, else the user's cache folder, else
// .coinpipe-state in the checkout: without a state dir every run would
// announce the same prereleases again.
func watchStateDir(d *deps) string {
	if dir := d.getenv("COINPIPE_STATE_DIR"); dir != "" {
		return dir
	}
	dir := ".coinpipe-state"
	switch {
	case d.getenv("XDG_CACHE_HOME") != "":
		dir = filepath.Join(d.getenv("XDG_CACHE_HOME"), "coinpipe")
	case d.getenv("HOME") != "":
		dir = filepath.Join(d.getenv("HOME"), ".cache", "coinpipe")
	}
	d.log.Info("COINPIPE_STATE_DIR is not set; keeping the watch state in " + dir)
	return dir
}

// connectGitLab sets up the merge-request side. A dry run works without
// GitLab (it then cannot see existing merge requests, and says so).
func connectGitLab(ctx context.Context, d *deps, w *watcher.Watcher) error {
	base, project := d.getenv("CI_API_V4_URL"), d.getenv("CI_PROJECT_ID")
	token, jobToken := d.getenv("GITLAB_TOKEN"), ""
	if token == "" {
		jobToken = d.getenv("CI_JOB_TOKEN")
	}
	if base == "" || project == "" || (token == "" && jobToken == "") {
		if w.DryRun {
			d.log.Warn("GitLab is not configured (CI_API_V4_URL, CI_PROJECT_ID, GITLAB_TOKEN or CI_JOB_TOKEN): the dry run cannot see existing merge requests")
			return nil
		}
		return usagef("watch needs CI_API_V4_URL, CI_PROJECT_ID and GITLAB_TOKEN (or CI_JOB_TOKEN); use --dry-run to try it without GitLab")
	}
	if token == "" {
		// GitLab's job token reads the project but cannot commit or touch
		// merge requests: say so before every coin fails with a 401.
		d.log.Warn("only CI_JOB_TOKEN is set: GitLab does not let a job token commit or open merge requests; set GITLAB_TOKEN (a project access token with the api scope)")
	}
	gl, err := gitlab.New(gitlab.Options{BaseURL: base, Token: token, JobToken: jobToken, HTTP: d.http, Log: d.log})
	if err != nil {
		return usageError{fmt.Errorf("CI_API_V4_URL: %w", err)}
	}
	w.GitLab = gl
	w.TargetBranch = d.getenv("CI_DEFAULT_BRANCH")
	if w.TargetBranch == "" {
		if w.TargetBranch, err = gl.DefaultBranch(ctx, project); err != nil {
			return fmt.Errorf("reading the default branch of project %s: %w", project, err)
		}
	}
	return nil
}

// projectPath is a folder of the checkout as a path of the toolkit project:
// watch runs from the checkout's root, and commits the same paths.
func projectPath(flag, dir string) (string, error) {
	rel := filepath.ToSlash(filepath.Clean(dir))
	if filepath.IsAbs(dir) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(wd, dir)
		if err != nil {
			return "", usagef("%s %s: %v", flag, dir, err)
		}
		rel = filepath.ToSlash(r)
	}
	if rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", usagef("%s %s must be a folder inside the toolkit checkout that watch runs from", flag, dir)
	}
	return rel, nil
}

func printWatch(d *deps, opts watchOptions, results []watcher.Result) error {
	if opts.json {
		enc := json.NewEncoder(d.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	for _, r := range results {
		fmt.Fprintln(d.stdout, r.Line())
		if p := r.Preview; p != nil {
			fmt.Fprintf(d.stdout, "\n  branch: %s\n  title:  %s\n  files:\n", p.Branch, p.Title)
			for _, f := range p.Files {
				fmt.Fprintf(d.stdout, "    %s\n", f)
			}
			fmt.Fprintf(d.stdout, "  description:\n%s\n", indent(p.Description, "    "))
		}
	}
	return nil
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// watchOutcome is 3 when a release failed verification, else 1 when a coin
// failed: after every coin was processed.
func watchOutcome(results []watcher.Result) error {
	var verification, failed []string
	for _, r := range results {
		switch r.Status {
		case watcher.VerificationFailed:
			verification = append(verification, r.Coin)
		case watcher.Failed:
			failed = append(failed, r.Coin)
		}
	}
	switch {
	case len(verification) > 0:
		return watchVerificationError{coins: verification}
	case len(failed) > 0:
		return errors.New("watch failed for " + strings.Join(failed, ", "))
	}
	return nil
}

type watchVerificationError struct{ coins []string }

func (e watchVerificationError) Error() string {
	return "releases failed verification: " + strings.Join(e.coins, ", ")
}

func (watchVerificationError) VerificationFailed() bool { return true }
