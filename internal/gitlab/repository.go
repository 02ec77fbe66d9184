package gitlab

import (
	"context"
	"encoding/base64"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Action is one file change of a commit.
type Action struct {
	Op         string // create, update, delete, chmod, move
	Path       string
	Content    []byte
	Executable bool // create/update: make the file executable; chmod: the execute bit to set
	// PreviousPath is the file a move takes (move only). A move with nil
	// Content keeps the file's content.
	PreviousPath string
}

// Commit is one atomic commit made through the commits API.
type Commit struct {
	Branch, StartBranch string
	Force               bool // recreate Branch from StartBranch (commits API "force")
	Message             string
	Actions             []Action
}

// CreateCommit makes one atomic commit through the commits API (POST
// /projects/:id/repository/commits, content base64-encoded), returning the
// new commit's SHA. Nothing is written when any action fails.
//
// GitLab documents execute_filemode as "only considered for the chmod
// action", so an executable create or update is followed by a chmod of the
// same path in the same commit. A plain file's update sends no chmod (an
// update keeps the file's mode): the fewest actions a GitLab, or anything
// speaking its API, has to understand.
func (c *Client) CreateCommit(ctx context.Context, project string, commit Commit) (string, error) {
	opt := &gl.CreateCommitOptions{
		Branch:        gl.Ptr(commit.Branch),
		CommitMessage: gl.Ptr(commit.Message),
		Actions:       []*gl.CommitActionOptions{},
	}
	if commit.StartBranch != "" {
		opt.StartBranch = gl.Ptr(commit.StartBranch)
	}
	if commit.Force {
		opt.Force = gl.Ptr(true)
	}
	for _, a := range commit.Actions {
		acts, err := commitActions(a)
		if err != nil {
			return "", fmt.Errorf("creating a commit on %s of %s: %w", commit.Branch, project, err)
		}
		opt.Actions = append(opt.Actions, acts...)
	}
	// With force the branch is rebuilt from StartBranch, so doing it twice
	// leaves the same tree: safe to retry like a PUT.
	create := !commit.Force
	got, _, err := fetch(ctx, c, create, func(o ...gl.RequestOptionFunc) (*gl.Commit, *gl.Response, error) {
		return c.api.Commits.CreateCommit(project, opt, o...)
	})
	if err != nil {
		return "", fmt.Errorf("creating a commit on %s of %s: %w", commit.Branch, project, err)
	}
	return got.ID, nil
}

func commitActions(a Action) ([]*gl.CommitActionOptions, error) {
	op := gl.FileActionValue(a.Op)
	act := &gl.CommitActionOptions{Action: gl.Ptr(op), FilePath: gl.Ptr(a.Path)}
	chmod := func() *gl.CommitActionOptions {
		return &gl.CommitActionOptions{Action: gl.Ptr(gl.FileChmod), FilePath: gl.Ptr(a.Path), ExecuteFilemode: gl.Ptr(a.Executable)}
	}
	withContent := func() {
		act.Encoding = gl.Ptr("base64")
		act.Content = gl.Ptr(base64.StdEncoding.EncodeToString(a.Content))
	}
	switch op {
	case gl.FileCreate:
		withContent()
		if a.Executable {
			return []*gl.CommitActionOptions{act, chmod()}, nil
		}
	case gl.FileUpdate:
		withContent()
		if a.Executable {
			return []*gl.CommitActionOptions{act, chmod()}, nil
		}
	case gl.FileChmod:
		act.ExecuteFilemode = gl.Ptr(a.Executable)
	case gl.FileDelete:
	case gl.FileMove:
		act.PreviousPath = gl.Ptr(a.PreviousPath)
		if a.Content != nil {
			withContent()
		}
	default:
		return nil, fmt.Errorf("file %s: unknown action %q (create, update, delete, chmod, move)", a.Path, a.Op)
	}
	return []*gl.CommitActionOptions{act}, nil
}

// Branch is a branch and its head commit.
type Branch struct{ Name, CommitSHA, CommitMessage, CommitAuthorEmail string }

// Branch returns the branch, or ErrNotFound.
func (c *Client) Branch(ctx context.Context, project, name string) (*Branch, error) {
	b, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.Branch, *gl.Response, error) {
		return c.api.Branches.GetBranch(project, name, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("getting branch %q of %s: %w", name, project, err)
	}
	out := &Branch{Name: b.Name}
	if b.Commit != nil {
		out.CommitSHA = b.Commit.ID
		out.CommitMessage = b.Commit.Message
		out.CommitAuthorEmail = b.Commit.AuthorEmail
	}
	return out, nil
}

// DefaultBranch returns the project's default branch.
func (c *Client) DefaultBranch(ctx context.Context, project string) (string, error) {
	p, err := c.Project(ctx, project)
	if err != nil {
		return "", err
	}
	if p.DefaultBranch == "" {
		return "", fmt.Errorf("getting project %s: it has no default branch (empty repository)", project)
	}
	return p.DefaultBranch, nil
}
