package watcher

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	version "github.com/hashicorp/go-version"

	"gitlab.com/coinpipe/coinpipe/internal/github"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// candidate is an upstream release whose tag maps to a version.
type candidate struct {
	Version string
	v       *version.Version
	Release github.Release
}

// tagPattern turns upstream.tag ("v{version}") into a matcher of tags.
func tagPattern(tag string) (*regexp.Regexp, error) {
	before, after, ok := strings.Cut(tag, "{version}")
	if !ok {
		return nil, fmt.Errorf("upstream.tag %q has no {version}", tag)
	}
	return regexp.Compile("^" + regexp.QuoteMeta(before) + "(.+?)" + regexp.QuoteMeta(after) + "$")
}

// releases is what a coin's upstream has published, sorted by version.
type releases struct {
	pinned *version.Version
	// Stable are the non-draft, non-prerelease releases newer than the
	// pinned version, highest first.
	Stable []candidate
	// Prereleases newer than the pinned version, highest first.
	Prereleases []candidate
}

// classify maps the releases of m's upstream to versions. Drafts are
// ignored; stability is the API's prerelease flag, never the tag's text.
// Tags that do not map to a version (other products in the same
// repository, "latest") are ignored.
func classify(m *manifest.Manifest, all []github.Release) (*releases, error) {
	pinned, err := version.NewVersion(m.Version)
	if err != nil {
		return nil, fmt.Errorf("pinned version %q is not a version: %w", m.Version, err)
	}
	re, err := tagPattern(m.Upstream.Tag)
	if err != nil {
		return nil, err
	}
	out := &releases{pinned: pinned}
	for _, r := range all {
		if r.Draft {
			continue
		}
		match := re.FindStringSubmatch(r.Tag)
		if match == nil {
			continue
		}
		v, err := version.NewVersion(match[1])
		if err != nil || !v.GreaterThan(pinned) {
			continue
		}
		c := candidate{Version: match[1], v: v, Release: r}
		if r.Prerelease {
			out.Prereleases = append(out.Prereleases, c)
		} else {
			out.Stable = append(out.Stable, c)
		}
	}
	highestFirst := func(cs []candidate) {
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].v.GreaterThan(cs[j].v) })
	}
	highestFirst(out.Stable)
	highestFirst(out.Prereleases)
	return out, nil
}

// choice is the release to propose, if any, and why newer ones were not.
type choice struct {
	Proposed *candidate
	// Quarantined is the highest newer release not yet min_age old.
	Quarantined *candidate
	// Skipped is the highest version whose merge request was closed
	// unmerged; nothing at or below it is proposed.
	Skipped []string
}

// choose picks the highest stable version inside upstream.line, at least
// min_age old and newer than any skipped one: the highest, not the newest by
// date, since maintenance releases (29.4) appear after new majors (31.0).
func choose(m *manifest.Manifest, rs *releases, skipped map[string]bool, now time.Time) (choice, error) {
	var line version.Constraints
	if m.Upstream.Line != "" {
		c, err := version.NewConstraint(m.Upstream.Line)
		if err != nil {
			return choice{}, fmt.Errorf("upstream.line %q: %w", m.Upstream.Line, err)
		}
		line = c
	}
	var ch choice
	for i := range rs.Stable {
		c := &rs.Stable[i]
		switch {
		case line != nil && !line.Check(c.v):
			continue
		case skipped[c.Version]:
			// A reviewer turned this version down: neither it nor anything
			// older is proposed again; only a newer release is.
			ch.Skipped = append(ch.Skipped, c.Version)
			return ch, nil
		case c.Release.PublishedAt.Add(time.Duration(m.Upstream.MinAge)).After(now):
			if ch.Quarantined == nil {
				ch.Quarantined = c
			}
			continue
		}
		ch.Proposed = c
		break
	}
	return ch, nil
}
