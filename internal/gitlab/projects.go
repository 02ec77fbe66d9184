package gitlab

import (
	"context"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Project is the part of a GitLab project coinpipe reads.
type Project struct {
	ID                int64
	PathWithNamespace string
	// DefaultBranch is "" for an empty repository (GitLab answers null).
	DefaultBranch string
	EmptyRepo     bool
	WebURL        string
}

// Project returns the project at path (or numeric ID), or an error
// matching ErrNotFound.
func (c *Client) Project(ctx context.Context, project string) (*Project, error) {
	p, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.Project, *gl.Response, error) {
		return c.api.Projects.GetProject(project, nil, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("getting project %s: %w", project, err)
	}
	return fromProject(p), nil
}

func fromProject(p *gl.Project) *Project {
	return &Project{ID: p.ID, PathWithNamespace: p.PathWithNamespace, DefaultBranch: p.DefaultBranch, EmptyRepo: p.EmptyRepo, WebURL: p.WebURL}
}

// NewProject is what CreateProject makes: a private project whose merge
// requests need a green pipeline.
type NewProject struct {
	Group         string // the namespace's full path, e.g. "coinpipe/daemons"
	Path          string // the project's own path, e.g. "bitcoin"
	Description   string
	DefaultBranch string
}

// CreateProject looks the group up (GET /groups/:id) and creates the
// project in it (POST /projects). GitLab's 400 "has already been taken"
// comes back as an *APIError with that message.
func (c *Client) CreateProject(ctx context.Context, np NewProject) (*Project, error) {
	g, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.Group, *gl.Response, error) {
		return c.api.Groups.GetGroup(np.Group, nil, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("getting group %s: %w", np.Group, err)
	}
	opt := &gl.CreateProjectOptions{
		Name:                             gl.Ptr(np.Path),
		Path:                             gl.Ptr(np.Path),
		NamespaceID:                      gl.Ptr(g.ID),
		Description:                      gl.Ptr(np.Description),
		Visibility:                       gl.Ptr(gl.PrivateVisibility),
		DefaultBranch:                    gl.Ptr(np.DefaultBranch),
		OnlyAllowMergeIfPipelineSucceeds: gl.Ptr(true),
		RemoveSourceBranchAfterMerge:     gl.Ptr(true),
	}
	p, _, err := fetch(ctx, c, true, func(o ...gl.RequestOptionFunc) (*gl.Project, *gl.Response, error) {
		return c.api.Projects.CreateProject(opt, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("creating project %s/%s: %w", np.Group, np.Path, err)
	}
	return fromProject(p), nil
}

// Protection is how a protected branch is guarded: the lowest access level
// allowed to push and to merge (40 Maintainer; 0 No one), and force push.
type Protection struct {
	// The lowest role allowed to push and to merge (0: no one).
	PushAccessLevel, MergeAccessLevel int
	AllowForcePush                    bool
	// Exceptions: users, groups or deploy keys allowed to push or merge
	// whatever their role.
	Exceptions bool
}

// MaintainerAccess is GitLab's Maintainer role (access level 40).
const MaintainerAccess = int(gl.MaintainerPermissions)

// ProtectedBranch returns how branch is protected, or an error matching
// ErrNotFound when it is not.
func (c *Client) ProtectedBranch(ctx context.Context, project, branch string) (*Protection, error) {
	pb, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.ProtectedBranch, *gl.Response, error) {
		return c.api.ProtectedBranches.GetProtectedBranch(project, branch, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("getting the protection of branch %q of %s: %w", branch, project, err)
	}
	// Several rules may apply (roles, users, groups, deploy keys): the
	// weakest role that may act decides ("No one", 0, adds nobody), and a
	// user, group or deploy key is an exception to the roles.
	exceptions := false
	lowest := func(ds []*gl.BranchAccessDescription) int {
		low := 0
		for _, d := range ds {
			if d.UserID != 0 || d.GroupID != 0 || d.DeployKeyID != 0 {
				exceptions = true
				continue
			}
			if l := int(d.AccessLevel); l > 0 && (low == 0 || l < low) {
				low = l
			}
		}
		return low
	}
	return &Protection{PushAccessLevel: lowest(pb.PushAccessLevels), MergeAccessLevel: lowest(pb.MergeAccessLevels),
		AllowForcePush: pb.AllowForcePush, Exceptions: exceptions}, nil
}

// ProtectBranch protects branch: only maintainers push and merge, no
// force push. GitLab's 409 (already protected) matches ErrConflict.
func (c *Client) ProtectBranch(ctx context.Context, project, branch string) error {
	opt := &gl.ProtectRepositoryBranchesOptions{
		Name:             gl.Ptr(branch),
		PushAccessLevel:  gl.Ptr(gl.MaintainerPermissions),
		MergeAccessLevel: gl.Ptr(gl.MaintainerPermissions),
		AllowForcePush:   gl.Ptr(false),
	}
	err := c.call(ctx, true, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, resp, err := c.api.ProtectedBranches.ProtectRepositoryBranches(project, opt, o...)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("protecting branch %q of %s: %w", branch, project, err)
	}
	return nil
}
