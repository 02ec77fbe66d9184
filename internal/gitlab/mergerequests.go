package gitlab

import (
	"context"
	"fmt"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// MergeRequest is the part of a GitLab merge request coinpipe reads.
type MergeRequest struct {
	IID          int
	State        string // opened, closed, merged, locked
	Title        string
	Description  string
	SourceBranch string
	TargetBranch string
	Labels       []string
	WebURL       string
	SHA          string // head commit of the source branch
}

// NewMergeRequest is what CreateMergeRequest opens.
type NewMergeRequest struct {
	SourceBranch, TargetBranch, Title, Description string
	Labels                                         []string
	RemoveSourceBranch                             bool
}

// MergeRequests lists every MR of project whose source branch is
// sourceBranch, in all states, newest first (all pages).
func (c *Client) MergeRequests(ctx context.Context, project, sourceBranch string) ([]MergeRequest, error) {
	opt := &gl.ListProjectMergeRequestsOptions{
		ListOptions:  gl.ListOptions{PerPage: int64(c.perPage), Page: 1},
		State:        gl.Ptr("all"),
		SourceBranch: gl.Ptr(sourceBranch),
		OrderBy:      gl.Ptr("created_at"),
		Sort:         gl.Ptr("desc"),
	}
	var out []MergeRequest
	for range maxPages {
		page, resp, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) ([]*gl.BasicMergeRequest, *gl.Response, error) {
			return c.api.MergeRequests.ListProjectMergeRequests(project, opt, o...)
		})
		if err != nil {
			return nil, fmt.Errorf("listing merge requests of %s from branch %q: %w", project, sourceBranch, err)
		}
		for _, mr := range page {
			// Old GitLab versions ignored source_branch in some scopes
			// (gitlab-org/gitlab#5130); an MR of another branch must never
			// be taken for this one.
			if mr.SourceBranch == sourceBranch {
				out = append(out, fromBasic(mr))
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
	return nil, fmt.Errorf("listing merge requests of %s from branch %q: more than %d pages", project, sourceBranch, maxPages)
}

// CreateMergeRequest opens an MR. GitLab's 409 ("Another open merge request
// already exists for this source branch: !N") comes back as ErrConflict
// wrapped with that message, so callers can look the MR up instead.
func (c *Client) CreateMergeRequest(ctx context.Context, project string, mr NewMergeRequest) (*MergeRequest, error) {
	opt := &gl.CreateMergeRequestOptions{
		Title:              gl.Ptr(mr.Title),
		Description:        gl.Ptr(mr.Description),
		SourceBranch:       gl.Ptr(mr.SourceBranch),
		TargetBranch:       gl.Ptr(mr.TargetBranch),
		RemoveSourceBranch: gl.Ptr(mr.RemoveSourceBranch),
	}
	if len(mr.Labels) > 0 {
		opt.Labels = labels(mr.Labels)
	}
	got, _, err := fetch(ctx, c, true, func(o ...gl.RequestOptionFunc) (*gl.MergeRequest, *gl.Response, error) {
		return c.api.MergeRequests.CreateMergeRequest(project, opt, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("creating merge request %s → %s in %s: %w", mr.SourceBranch, mr.TargetBranch, project, err)
	}
	out := fromBasic(&got.BasicMergeRequest)
	return &out, nil
}

// UpdateMergeRequest rewrites title, description and labels of an open MR.
// labels is the whole new set: nil or empty removes every label.
func (c *Client) UpdateMergeRequest(ctx context.Context, project string, iid int, title, description string, labelSet []string) (*MergeRequest, error) {
	opt := &gl.UpdateMergeRequestOptions{
		Title:       gl.Ptr(title),
		Description: gl.Ptr(description),
		Labels:      labels(labelSet),
	}
	got, _, err := fetch(ctx, c, false, func(o ...gl.RequestOptionFunc) (*gl.MergeRequest, *gl.Response, error) {
		return c.api.MergeRequests.UpdateMergeRequest(project, int64(iid), opt, o...)
	})
	if err != nil {
		return nil, fmt.Errorf("updating merge request !%d of %s: %w", iid, project, err)
	}
	out := fromBasic(&got.BasicMergeRequest)
	return &out, nil
}

// AddNote comments on an MR.
func (c *Client) AddNote(ctx context.Context, project string, iid int, body string) error {
	opt := &gl.CreateMergeRequestNoteOptions{Body: gl.Ptr(body)}
	err := c.call(ctx, true, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		_, resp, err := c.api.Notes.CreateMergeRequestNote(project, int64(iid), opt, o...)
		return resp, err
	})
	if err != nil {
		return fmt.Errorf("adding a note to merge request !%d of %s: %w", iid, project, err)
	}
	return nil
}

// labels is never nil: client-go sends a nil set as JSON null, which GitLab
// ignores, while "" clears the labels.
func labels(set []string) *gl.LabelOptions {
	l := gl.LabelOptions(append([]string{}, set...))
	return &l
}

func fromBasic(mr *gl.BasicMergeRequest) MergeRequest {
	return MergeRequest{
		IID:          int(mr.IID),
		State:        mr.State,
		Title:        mr.Title,
		Description:  mr.Description,
		SourceBranch: mr.SourceBranch,
		TargetBranch: mr.TargetBranch,
		Labels:       append([]string(nil), mr.Labels...),
		WebURL:       mr.WebURL,
		SHA:          mr.SHA,
	}
}
