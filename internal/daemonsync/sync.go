// Package daemonsync makes each coin's daemon repository on GitLab match
// what the toolkit renders (`coinpipe sync`), and checks a daemon
// repository against the toolkit commit it was synced from (`coinpipe
// conformance`): docs/architecture.md, "Sync" and "Pins".
package daemonsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Status is what sync did to a coin's project.
type Status string

const (
	Created  Status = "created"
	Updated  Status = "updated"
	UpToDate Status = "up to date"
	Failed   Status = "failed"
)

// Change is one file the sync commit creates, updates, deletes or chmods.
type Change struct {
	Action string `json:"action"` // create, update, delete, chmod
	Path   string `json:"path"`
}

// Result is one coin's outcome.
type Result struct {
	Coin    string   `json:"coin"`
	Project string   `json:"project"`
	Status  Status   `json:"status"`
	Actions []Change `json:"actions"`
	// LeftAlone are files of the project coinpipe never rendered: kept,
	// and reported.
	LeftAlone []string `json:"left_alone"`
	// Protected names the default branch when this run protected it.
	Protected string `json:"protected,omitempty"`
	Commit    string `json:"commit,omitempty"`
	DryRun    bool   `json:"dry_run,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Line is the result as one line: "bitcoin: created", "monero: 3 files
// updated; left alone: docs/notes.md", "zcash: up to date".
func (r Result) Line() string {
	var b strings.Builder
	b.WriteString(r.Coin + ": ")
	n := countFiles(r.Actions)
	switch {
	case r.Status == Failed:
		b.WriteString("failed: " + r.Error)
		return b.String()
	case r.Status == Created && r.DryRun:
		fmt.Fprintf(&b, "would be created (%s)", plural(n, "file"))
	case r.Status == Created:
		b.WriteString("created")
	case r.Status == Updated && r.DryRun:
		fmt.Fprintf(&b, "%s would be updated", plural(n, "file"))
	case r.Status == Updated:
		fmt.Fprintf(&b, "%s updated", plural(n, "file"))
	default:
		b.WriteString("up to date")
	}
	if r.Protected != "" && r.Status != Created {
		if r.DryRun {
			b.WriteString("; would protect " + r.Protected)
		} else {
			b.WriteString("; protected " + r.Protected)
		}
	}
	if len(r.LeftAlone) > 0 {
		b.WriteString("; left alone: " + strings.Join(r.LeftAlone, ", "))
	}
	return b.String()
}

func countFiles(cs []Change) int {
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.Path] = true
	}
	return len(seen)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Syncer syncs coins into the projects <Group>/<coin>.
type Syncer struct {
	GitLab *gitlab.Client
	Group  string
	// Render names the toolkit project and the commit synced from
	// (CIProject, CIRef): the daemon repository's include and
	// conformance job are pinned to them.
	Render generator.Options
	DryRun bool
	Log    *slog.Logger
}

// DefaultBranch is the branch a created project starts with.
const DefaultBranch = "main"

// Run syncs each coin in turn; a coin that fails does not stop the
// others. The error is only ctx's: the results so far come with it.
func (s *Syncer) Run(ctx context.Context, ms []*manifest.Manifest) ([]Result, error) {
	results := make([]Result, 0, len(ms))
	for _, m := range ms {
		if err := ctx.Err(); err != nil {
			return results, context.Cause(ctx)
		}
		r := s.syncCoin(ctx, m)
		if r.Status == Failed && ctx.Err() != nil {
			return results, context.Cause(ctx)
		}
		results = append(results, r)
	}
	return results, nil
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Syncer) syncCoin(ctx context.Context, m *manifest.Manifest) Result {
	path := s.Group + "/" + m.Name
	r := Result{Coin: m.Name, Project: path, Status: UpToDate, Actions: []Change{}, LeftAlone: []string{}, DryRun: s.DryRun}
	s.log().Info("syncing", "coin", m.Name, "project", path)
	if err := s.sync(ctx, m, &r); err != nil {
		r.Status, r.Error = Failed, err.Error()
		s.log().Error("sync failed", "coin", m.Name, "project", path, "error", err)
	}
	return r
}

func (s *Syncer) sync(ctx context.Context, m *manifest.Manifest, r *Result) error {
	files, err := generator.Render(m, s.Render)
	if err != nil {
		return err
	}
	proj, err := s.GitLab.Project(ctx, r.Project)
	created := false
	switch {
	case errors.Is(err, gitlab.ErrNotFound) && s.DryRun:
		r.Status, r.Protected = Created, DefaultBranch
		r.Actions = plan(files, nil)
		return nil
	case errors.Is(err, gitlab.ErrNotFound):
		proj, err = s.GitLab.CreateProject(ctx, gitlab.NewProject{
			Group: s.Group, Path: m.Name, DefaultBranch: DefaultBranch,
			Description: fmt.Sprintf("%s, rendered by coinpipe from %s: change it there, by merge request", m.Description, s.Render.CIProject),
		})
		if err != nil {
			return err
		}
		created = true
	case err != nil:
		return err
	}
	branch := proj.DefaultBranch
	if branch == "" { // an empty repository: the first commit creates it
		branch = DefaultBranch
	}
	// Protected before anything is committed, so nobody but maintainers
	// (and the sync) ever pushes to it.
	if err := s.protect(ctx, r, branch); err != nil {
		return err
	}
	var remote []gitlab.TreeEntry
	if !created && proj.DefaultBranch != "" && !proj.EmptyRepo {
		if remote, err = s.GitLab.Tree(ctx, r.Project, branch, ""); err != nil && !errors.Is(err, gitlab.ErrNotFound) {
			return err
		}
	}
	var actions []gitlab.Action
	r.Actions, actions, r.LeftAlone, err = s.diff(ctx, r.Project, branch, files, remote)
	if err != nil {
		return err
	}
	if created {
		r.Status = Created
	} else if len(r.Actions) > 0 {
		r.Status = Updated
	}
	if len(actions) == 0 || s.DryRun {
		return nil
	}
	r.Commit, err = s.GitLab.CreateCommit(ctx, r.Project, gitlab.Commit{
		Branch:  branch,
		Message: commitMessage(m, s.Render, r),
		Actions: actions,
	})
	return err
}

// protect makes sure branch is protected (only maintainers push and
// merge, no force push); a protection someone weakened is reported, not
// silently accepted.
func (s *Syncer) protect(ctx context.Context, r *Result, branch string) error {
	pr, err := s.GitLab.ProtectedBranch(ctx, r.Project, branch)
	switch {
	case errors.Is(err, gitlab.ErrNotFound):
		r.Protected = branch
		if s.DryRun {
			return nil
		}
		err = s.GitLab.ProtectBranch(ctx, r.Project, branch)
		if errors.Is(err, gitlab.ErrConflict) { // protected meanwhile
			return nil
		}
		return err
	case err != nil:
		return err
	case weaker(pr.PushAccessLevel) || weaker(pr.MergeAccessLevel) || pr.AllowForcePush || pr.Exceptions:
		return fmt.Errorf("branch %s of %s is protected too weakly (push access level %d, merge access level %d, force push %t, users, groups or deploy keys allowed %t): only maintainers may push and merge, without force; fix it in Settings → Repository → Protected branches", branch, r.Project, pr.PushAccessLevel, pr.MergeAccessLevel, pr.AllowForcePush, pr.Exceptions)
	}
	return nil
}

// weaker is an access level below Maintainer; 0 ("No one") is stricter.
func weaker(level int) bool { return level > 0 && level < gitlab.MaintainerAccess }

func commitMessage(m *manifest.Manifest, o generator.Options, r *Result) string {
	ref := o.CIRef
	short := ref
	if len(short) > 12 {
		short = short[:12]
	}
	return fmt.Sprintf("coinpipe sync: %s %s from %s@%s\n\nRendered by coinpipe sync from coins/%s/ of %s at commit %s.\n%s.\n",
		m.Name, m.Version, o.CIProject, short, m.Name, o.CIProject, ref, plural(countFiles(r.Actions), "file")+" changed")
}

// plan lists the creates, updates and chmods that make remote hold files
// (deletions are diff's). Content is compared by git blob ID, so nothing
// is downloaded for it.
func plan(files []generator.File, remote []gitlab.TreeEntry) []Change {
	have := map[string]gitlab.TreeEntry{}
	for _, e := range remote {
		have[e.Path] = e
	}
	out := []Change{}
	for _, f := range files {
		e, ok := have[f.Path]
		exec := f.Mode&0o111 != 0
		switch {
		case !ok:
			out = append(out, Change{"create", f.Path})
		case e.ID != gitlab.BlobID(f.Data) || (e.Mode != "100644" && e.Mode != "100755"):
			out = append(out, Change{"update", f.Path})
		case e.Executable() != exec:
			out = append(out, Change{"chmod", f.Path})
		}
	}
	return out
}

// diff returns what changes (sorted by path), the commit's actions and the
// files left alone. A remote file that is not rendered any more is deleted
// when the generator owns it (generator.Owned: a copied input, or a
// rendered file's header), which needs its content; links and submodules
// are never coinpipe's.
func (s *Syncer) diff(ctx context.Context, project, ref string, files []generator.File, remote []gitlab.TreeEntry) ([]Change, []gitlab.Action, []string, error) {
	changes := plan(files, remote)
	byPath := map[string]generator.File{}
	for _, f := range files {
		byPath[f.Path] = f
	}
	have := map[string]gitlab.TreeEntry{}
	for _, e := range remote {
		have[e.Path] = e
	}
	var actions []gitlab.Action
	for _, c := range changes {
		f := byPath[c.Path]
		exec := f.Mode&0o111 != 0
		switch c.Action {
		case "create":
			actions = append(actions, gitlab.Action{Op: "create", Path: f.Path, Content: f.Data, Executable: exec})
		case "update":
			actions = append(actions, gitlab.Action{Op: "update", Path: f.Path, Content: f.Data, Executable: exec})
			// The client adds the chmod of an executable; a file that
			// stops being one needs its own.
			if !exec && have[f.Path].Executable() {
				actions = append(actions, gitlab.Action{Op: "chmod", Path: f.Path, Executable: false})
			}
		case "chmod":
			actions = append(actions, gitlab.Action{Op: "chmod", Path: f.Path, Executable: exec})
		}
	}
	leftAlone := []string{}
	for _, e := range remote {
		if _, rendered := byPath[e.Path]; rendered {
			continue
		}
		owned := generator.Input(e.Path)
		if !owned && (e.Mode == "100644" || e.Mode == "100755") {
			b, err := s.GitLab.RawFile(ctx, project, ref, e.Path)
			if err != nil {
				return nil, nil, nil, err
			}
			owned = generator.Owned(e.Path, b)
		}
		if owned {
			actions = append(actions, gitlab.Action{Op: "delete", Path: e.Path})
			changes = append(changes, Change{Action: "delete", Path: e.Path})
		} else {
			leftAlone = append(leftAlone, e.Path)
		}
	}
	slices.Sort(leftAlone)
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, actions, leftAlone, nil
}
