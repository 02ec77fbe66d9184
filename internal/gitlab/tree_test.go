package gitlab_test

import (
	"errors"
	"slices"
	"testing"

	fake "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
	"gitlab.com/coinpipe/coinpipe/internal/gitlab"
)

func TestTreeRawFileMergeBase(t *testing.T) {
	srv, c := setup(t, gitlab.Options{PerPage: 2})
	ctx := t.Context()
	main, _ := srv.Head(project, "main")

	// Five files and two folders: four pages of two.
	tree, err := c.Tree(ctx, project, "main", "")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range tree {
		paths = append(paths, e.Path)
		f := seed()[e.Path]
		if e.ID != gitlab.BlobID(f.Content) || e.Executable() != f.Executable {
			t.Errorf("%s: id %s mode %s; want %s, executable %t", e.Path, e.ID, e.Mode, gitlab.BlobID(f.Content), f.Executable)
		}
	}
	if want := []string{"README.md", "coins/bitcoin/coin.yaml", "keep.sh", "old.txt", "release.sh"}; !slices.Equal(paths, want) {
		t.Errorf("tree %v, want %v", paths, want)
	}
	if n := srv.RequestCount(fake.RouteTree); n != 4 {
		t.Errorf("%d tree requests, want 4 pages (7 entries, 2 per page)", n)
	}
	if _, err := c.Tree(ctx, project, "main", "nope"); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("missing folder: %v", err)
	}

	b, err := c.RawFile(ctx, project, main.SHA, "coins/bitcoin/coin.yaml")
	if err != nil || string(b) != "version: \"31.1\"\n" {
		t.Errorf("raw: %q %v", b, err)
	}
	if _, err := c.RawFile(ctx, project, "main", "nope"); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}

	side, err := srv.Push(project, "side", fake.User{Name: "M", Email: "m@example.org"}, "s", map[string]*fake.File{"s": {Content: []byte("s")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ref, want string }{{main.SHA, main.SHA}, {side, main.SHA}} {
		if got, err := c.MergeBase(ctx, project, tt.ref, "main"); err != nil || got != tt.want {
			t.Errorf("merge base of %s and main: %s %v, want %s", tt.ref, got, err, tt.want)
		}
	}
	var apiErr *gitlab.APIError
	if _, err := c.MergeBase(ctx, project, "nope", "main"); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Message != "Could not find ref: nope" {
		t.Errorf("unknown ref: %v", err)
	}
}
