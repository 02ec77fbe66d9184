// Package watcher turns upstream releases into merge requests a reviewer
// can trust (docs/architecture.md §1, flow 2): for each coin it finds the
// highest stable release on the coin's line, verifies it against the pinned
// keys (package release), edits coin.yaml, commits the verified checksums
// and the re-rendered daemon repository in one commit on a stable branch,
// and opens or updates one merge request. Prereleases are announced once;
// failures are alerted. Nothing unverified is ever proposed.
package watcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/github"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/slack"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// DefaultConcurrency is how many coins are watched at once unless told
// otherwise (coinpipe watch --concurrency): modest, as GitHub advises, yet
// enough for 100 up-to-date coins in under 1.5 s at 100 ms a request
// (BenchmarkWatch; 8 took 1.7 s).
const DefaultConcurrency = 12

// Watcher holds what one run needs; build it once per run.
type Watcher struct {
	GitHub *github.Client
	GitLab *gitlab.Client // nil with DryRun and no GitLab configured
	Slack  *slack.Client
	// Source fetches release files (through the download mirror).
	Source release.Source
	// Project is the toolkit project (CI_PROJECT_ID or its path); TargetBranch
	// its default branch, which merge requests target and branches start from.
	Project, TargetBranch string
	Layout                Layout
	DryRun                bool
	StateDir              string
	Concurrency           int
	Log                   *slog.Logger
	Now                   func() time.Time
}

// Status is what became of one coin.
type Status string

const (
	UpToDate           Status = "up-to-date"
	Opened             Status = "opened"
	Updated            Status = "updated"
	Unchanged          Status = "unchanged"    // its merge request already proposes this release
	Waiting            Status = "waiting"      // found, not (fully) signed yet
	LeftAlone          Status = "left-alone"   // someone else pushed to the bot's branch
	WouldOpen          Status = "would-open"   // dry run
	WouldUpdate        Status = "would-update" // dry run
	VerificationFailed Status = "verification-failed"
	Failed             Status = "failed"
)

// Result is one coin's outcome, printed as one line and in --json.
type Result struct {
	Coin   string `json:"coin"`
	Status Status `json:"status"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	MR     int    `json:"merge_request,omitempty"`
	MRURL  string `json:"merge_request_url,omitempty"`
	// Detail explains waiting, failures and skipped or quarantined releases.
	Detail string `json:"detail,omitempty"`
	// Announced are prereleases announced to Slack in this run.
	Announced []string `json:"announced_prereleases,omitempty"`
	// Preview is the merge request a dry run would open or update.
	Preview *Preview `json:"preview,omitempty"`
}

// Preview is a merge request as a dry run would write it.
type Preview struct {
	Branch      string   `json:"branch"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Files       []string `json:"files"`
}

// Line is the result as one line of text.
func (r Result) Line() string {
	mr := fmt.Sprintf("!%d", r.MR)
	switch r.Status {
	case UpToDate:
		if r.Detail != "" {
			return fmt.Sprintf("%s: up to date (%s)", r.Coin, r.Detail)
		}
		return r.Coin + ": up to date"
	case Opened:
		return fmt.Sprintf("%s: %s → %s: %s opened", r.Coin, r.From, r.To, mr)
	case Updated:
		return fmt.Sprintf("%s: %s: %s updated", r.Coin, r.To, mr)
	case Unchanged:
		return fmt.Sprintf("%s: %s → %s: %s open, unchanged", r.Coin, r.From, r.To, mr)
	case Waiting:
		return fmt.Sprintf("%s: %s found, %s", r.Coin, r.To, r.Detail)
	case LeftAlone:
		if r.MR == 0 {
			return fmt.Sprintf("%s: %s: branch left alone: %s", r.Coin, r.To, r.Detail)
		}
		return fmt.Sprintf("%s: %s: %s left alone: %s", r.Coin, r.To, mr, r.Detail)
	case WouldOpen:
		return fmt.Sprintf("%s: %s → %s: would open a merge request", r.Coin, r.From, r.To)
	case WouldUpdate:
		return fmt.Sprintf("%s: %s: would update %s", r.Coin, r.To, mr)
	case VerificationFailed:
		return fmt.Sprintf("%s: %s: verification failed: %s", r.Coin, r.To, r.Detail)
	}
	return fmt.Sprintf("%s: failed: %s", r.Coin, r.Detail)
}

// Run watches every coin, concurrently, and returns one result per coin in
// the order given. Every coin is processed even when others fail.
func (w *Watcher) Run(ctx context.Context, coins []*manifest.Manifest) ([]Result, error) {
	state, err := loadAnnounced(w.StateDir)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(coins))
	n := w.Concurrency
	if n < 1 {
		n = DefaultConcurrency
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, m := range coins {
		// Coins start in order; with a concurrency of 1 they run in order.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			results[i] = Result{Coin: m.Name, Status: Failed, Detail: context.Cause(ctx).Error()}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := w.Now()
			results[i] = w.coin(ctx, m, state)
			w.Log.Info("watched", "coin", m.Name, "status", string(results[i].Status), "elapsed", w.Now().Sub(start).Round(time.Millisecond).String())
		}()
	}
	wg.Wait()
	if !w.DryRun {
		if err := state.save(); err != nil {
			w.Log.Warn("could not save the watch state; prereleases may be announced again", "error", err.Error())
		}
	}
	return results, nil
}

// coin watches one coin.
func (w *Watcher) coin(ctx context.Context, m *manifest.Manifest, state *announced) Result {
	res := Result{Coin: m.Name, From: m.Version}
	fail := func(err error) Result {
		res.Status, res.Detail = Failed, err.Error()
		w.notify(ctx, failureMessage(m.Name, "watch failed", err.Error()))
		return res
	}
	all, err := w.GitHub.Releases(ctx, m.Upstream.GitHub)
	if err != nil {
		return fail(fmt.Errorf("listing releases of %s: %w", m.Upstream.GitHub, err))
	}
	rs, err := classify(m, all)
	if err != nil {
		return fail(err)
	}
	res.Announced = w.announce(ctx, m, rs, state)

	branch := branchName(m)
	var mrs []gitlab.MergeRequest
	if w.GitLab != nil && len(rs.Stable) > 0 {
		if mrs, err = w.GitLab.MergeRequests(ctx, w.Project, branch); err != nil {
			return fail(fmt.Errorf("looking up merge requests of %s: %w", branch, err))
		}
	}
	var open *gitlab.MergeRequest
	skipped := map[string]bool{}
	for i := range mrs {
		v := markedVersion(mrs[i].Description, m.Name)
		switch {
		case mrs[i].State == "opened" && open == nil:
			open = &mrs[i]
		case mrs[i].State == "closed" && v != "":
			skipped[v] = true
		}
	}
	ch, err := choose(m, rs, skipped, w.Now())
	if err != nil {
		return fail(err)
	}
	if ch.Proposed == nil {
		res.Status = UpToDate
		switch {
		case ch.Quarantined != nil:
			res.Detail = fmt.Sprintf("%s in quarantine until %s", ch.Quarantined.Version,
				ch.Quarantined.Release.PublishedAt.Add(time.Duration(m.Upstream.MinAge)).UTC().Format(time.RFC3339))
		case len(ch.Skipped) > 0:
			res.Detail = fmt.Sprintf("%s skipped: its merge request was closed", ch.Skipped[0])
		}
		return res
	}
	c := ch.Proposed
	res.To = c.Version
	if open != nil {
		res.MR, res.MRURL = open.IID, open.WebURL
	}
	if w.GitLab != nil {
		// With or without a merge request: a branch prepared by hand, or
		// pushed to after its request was closed, is not overwritten.
		if left, detail, err := w.manualChanges(ctx, m, branch); err != nil {
			return fail(err)
		} else if left {
			res.Status, res.Detail = LeftAlone, detail
			return res
		}
	}
	if open != nil && markedVersion(open.Description, m.Name) == c.Version {
		res.Status = Unchanged
		return res
	}

	att, err := release.Attest(ctx, m, c.Version, w.Source)
	var pending *release.Pending
	var failure *verify.Failure
	switch {
	case errors.As(err, &pending):
		res.Status, res.Detail = Waiting, pending.Error()
		if pending.Signed == 0 && pending.Cause != nil {
			// Name what is missing: a URL that cannot be derived from the
			// version alone (geth's commit suffix) waits for ever otherwise.
			res.Detail += " (" + pending.Cause.Error() + ")"
		}
		return res
	case errors.As(err, &failure):
		res.Status, res.Detail = VerificationFailed, failure.Reason
		w.notify(ctx, failureMessage(m.Name, c.Version+": verification FAILED, no merge request opened", failure.Reason))
		return res
	case err != nil:
		return fail(fmt.Errorf("verifying %s %s: %w", m.Name, c.Version, err))
	}
	b, err := makeBump(ctx, w.Layout, m, att)
	if err != nil {
		return fail(err)
	}
	desc := description(m, c, att)
	if w.DryRun {
		res.Status = WouldOpen
		if open != nil {
			res.Status = WouldUpdate
		}
		res.Preview = &Preview{Branch: branch, Title: title(m, c.Version), Description: desc}
		for _, a := range b.Actions {
			res.Preview.Files = append(res.Preview.Files, a.Op+" "+a.Path)
		}
		return res
	}
	return w.propose(ctx, m, c, att, b, open, desc, res)
}

// propose commits the bump on the coin's branch and opens or updates its
// merge request. The commit is one atomic commit through the commits API,
// recreating the branch from the target branch, so a run that fails midway
// leaves either the old branch or the new one.
func (w *Watcher) propose(ctx context.Context, m *manifest.Manifest, c *candidate, att *release.Attestation, b *bump, open *gitlab.MergeRequest, desc string, res Result) Result {
	branch := branchName(m)
	fail := func(err error) Result {
		res.Status, res.Detail = Failed, err.Error()
		w.notify(ctx, failureMessage(m.Name, "watch failed", err.Error()))
		return res
	}
	if _, err := w.GitLab.CreateCommit(ctx, w.Project, gitlab.Commit{
		Branch: branch, StartBranch: w.TargetBranch, Force: true,
		Message: commitMessage(m, c), Actions: b.Actions,
	}); err != nil {
		return fail(fmt.Errorf("committing %s %s to %s: %w", m.Name, c.Version, branch, err))
	}
	labels := []string{"coinpipe", "upgrade", m.Name}
	if open == nil {
		mr, err := w.GitLab.CreateMergeRequest(ctx, w.Project, gitlab.NewMergeRequest{
			SourceBranch: branch, TargetBranch: w.TargetBranch, Title: title(m, c.Version),
			Description: desc, Labels: labels, RemoveSourceBranch: true,
		})
		if err == nil {
			res.Status, res.MR, res.MRURL = Opened, mr.IID, mr.WebURL
			w.notify(ctx, mrMessage(m, c, att, mr.WebURL, mr.IID, "opened"))
			return res
		}
		if !errors.Is(err, gitlab.ErrConflict) {
			return fail(fmt.Errorf("opening the merge request for %s: %w", branch, err))
		}
		// Another run opened it since we looked: update that one.
		mrs, lerr := w.GitLab.MergeRequests(ctx, w.Project, branch)
		if lerr != nil {
			return fail(fmt.Errorf("looking up merge requests of %s: %w", branch, lerr))
		}
		for i := range mrs {
			if mrs[i].State == "opened" {
				open = &mrs[i]
				break
			}
		}
		if open == nil {
			return fail(fmt.Errorf("opening the merge request for %s: %w", branch, err))
		}
	}
	previous := markedVersion(open.Description, m.Name)
	mr, err := w.GitLab.UpdateMergeRequest(ctx, w.Project, open.IID, title(m, c.Version), desc, labels)
	if err != nil {
		return fail(fmt.Errorf("updating !%d: %w", open.IID, err))
	}
	if previous != "" && previous != c.Version {
		note := fmt.Sprintf("Superseded: upstream released **%s**, so this merge request now proposes %s instead of %s. The branch was recommitted from `%s`.",
			c.Version, c.Version, previous, w.TargetBranch)
		if err := w.GitLab.AddNote(ctx, w.Project, open.IID, note); err != nil {
			w.Log.Warn("could not add the supersede note", "merge_request", open.IID, "error", err.Error())
		}
	}
	res.Status, res.MR, res.MRURL = Updated, mr.IID, mr.WebURL
	w.notify(ctx, mrMessage(m, c, att, mr.WebURL, mr.IID, "updated"))
	return res
}

// manualChanges reports whether the branch's head commit is not the
// watcher's: someone pushed to it, and the watcher must not overwrite that.
func (w *Watcher) manualChanges(ctx context.Context, m *manifest.Manifest, branch string) (bool, string, error) {
	b, err := w.GitLab.Branch(ctx, w.Project, branch)
	if errors.Is(err, gitlab.ErrNotFound) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("reading branch %s: %w", branch, err)
	}
	if _, ok := madeByWatcher(b.CommitMessage, m.Name); ok {
		return false, "", nil
	}
	short := b.CommitSHA
	if len(short) > 8 {
		short = short[:8]
	}
	return true, fmt.Sprintf("%s has commit %s not made by coinpipe (by %s); close the merge request or delete the branch to let coinpipe propose again", branch, short, b.CommitAuthorEmail), nil
}

// announce posts each prerelease newer than the pinned version once.
func (w *Watcher) announce(ctx context.Context, m *manifest.Manifest, rs *releases, state *announced) []string {
	var out []string
	for _, c := range rs.Prereleases {
		if state.has(m.Name, c.Release.Tag) {
			continue
		}
		out = append(out, c.Version)
		if w.DryRun {
			w.Log.Info("would announce a prerelease", "coin", m.Name, "version", c.Version)
			continue
		}
		if err := w.Slack.Post(ctx, prereleaseMessage(m, c)); err != nil {
			// Not recorded: the next run tries again.
			w.Log.Warn("could not announce a prerelease to Slack", "coin", m.Name, "version", c.Version, "error", err.Error())
			continue
		}
		state.add(m.Name, c.Release.Tag)
		w.Log.Info("announced a prerelease", "coin", m.Name, "version", c.Version)
	}
	return out
}

// notify posts to Slack; Slack being down never fails the run.
func (w *Watcher) notify(ctx context.Context, msg slack.Message) {
	if w.DryRun {
		return
	}
	if err := w.Slack.Post(ctx, msg); err != nil {
		w.Log.Warn("could not post to Slack", "error", err.Error())
	}
}

// branchName is the one branch per coin and release line.
func branchName(m *manifest.Manifest) string {
	b := "coinpipe/" + m.Name
	if line := lineSuffix(m.Upstream.Line); line != "" {
		b += "-" + line
	}
	return b
}

// lineSuffix turns "~> 26.0" into "26.0".
func lineSuffix(line string) string {
	var out []byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		if (c >= '0' && c <= '9') || c == '.' || (c >= 'a' && c <= 'z') {
			out = append(out, c)
		}
	}
	return string(out)
}
