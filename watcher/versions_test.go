package watcher

import (
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/github"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func rel(tag string, age time.Duration, flags ...string) github.Release {
	r := github.Release{Tag: tag, PublishedAt: now.Add(-age), HTMLURL: "https://github.com/o/r/releases/tag/" + tag}
	for _, f := range flags {
		switch f {
		case "pre":
			r.Prerelease = true
		case "draft":
			r.Draft = true
		}
	}
	return r
}

func coin(version, tag, line string, minAge time.Duration) *manifest.Manifest {
	m := &manifest.Manifest{}
	m.Name, m.Version = "bitcoin", version
	m.Upstream.GitHub, m.Upstream.Tag, m.Upstream.Line = "bitcoin/bitcoin", tag, line
	m.Upstream.MinAge = manifest.Duration(minAge)
	return m
}

func TestChoose(t *testing.T) {
	day := 24 * time.Hour
	bitcoin := []github.Release{
		// Listed by date, as GitHub does: the maintenance release 29.4 came
		// out after 31.0 and 31.1.
		rel("v29.4", 1*day), rel("v32.0rc2", 2*day, "pre"), rel("v31.1", 20*day), rel("v31.0", 60*day),
		rel("v30.2", 90*day), rel("v33.0", 0, "draft"), rel("nightly", 1*day), rel("v26.1", 400*day),
	}
	tests := []struct {
		name     string
		m        *manifest.Manifest
		releases []github.Release
		skipped  map[string]bool
		want     string // proposed version, "" for none
		detail   string // quarantined version or first skipped one
		pre      []string
	}{
		{"highest, not newest by date", coin("30.2", "v{version}", "", 0), bitcoin, nil, "31.1", "", []string{"32.0rc2"}},
		{"drafts ignored, prereleases never proposed", coin("31.1", "v{version}", "", 0), bitcoin, nil, "", "", []string{"32.0rc2"}},
		{"line ~> 29.0 stays on 29.x", coin("29.1", "v{version}", "~> 29.0", 0), bitcoin, nil, "29.4", "", []string{"32.0rc2"}},
		{"min_age quarantines the newest", coin("30.2", "v{version}", "", 30*day), bitcoin, nil, "31.0", "31.1", []string{"32.0rc2"}},
		{"closed merge request skips a version and everything older", coin("30.2", "v{version}", "", 0), bitcoin, map[string]bool{"31.1": true}, "", "31.1", []string{"32.0rc2"}},
		{"a version newer than a skipped one is proposed", coin("30.2", "v{version}", "", 0), bitcoin, map[string]bool{"31.0": true}, "31.1", "", []string{"32.0rc2"}},
		{"four-part versions compare as numbers", coin("0.18.4.10", "v{version}", "", 0),
			[]github.Release{rel("v0.18.4.9", 3*day), rel("v0.18.5.1", 2*day), rel("v0.18.10.0", day, "pre"), rel("v0.18.4.11", day)}, nil,
			"0.18.5.1", "", []string{"0.18.10.0"}},
		{"1.14.10 is above 1.14.8 (numbers, not text)", coin("1.14.6", "v{version}", "~> 1.14.0", 0),
			[]github.Release{rel("v1.14.8", 90*day), rel("v1.14.10", 2*day), rel("v1.21.0", day, "pre")}, nil, "1.14.10", "", []string{"1.21.0"}},
		{"tag template with a prefix and suffix", coin("6.20.0", "zcashd-v{version}-release", "", 0),
			[]github.Release{rel("zcashd-v6.21.0-release", day), rel("v7.0.0", day), rel("zebrad-v6.22.0", day)}, nil, "6.21.0", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := classify(tt.m, tt.releases)
			if err != nil {
				t.Fatal(err)
			}
			ch, err := choose(tt.m, rs, tt.skipped, now)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if ch.Proposed != nil {
				got = ch.Proposed.Version
			}
			if got != tt.want {
				t.Errorf("proposed %q, want %q", got, tt.want)
			}
			detail := ""
			switch {
			case ch.Quarantined != nil:
				detail = ch.Quarantined.Version
			case len(ch.Skipped) > 0:
				detail = ch.Skipped[0]
			}
			if detail != tt.detail {
				t.Errorf("quarantined/skipped %q, want %q", detail, tt.detail)
			}
			var pre []string
			for _, p := range rs.Prereleases {
				pre = append(pre, p.Version)
			}
			if strings.Join(pre, ",") != strings.Join(tt.pre, ",") {
				t.Errorf("prereleases %v, want %v", pre, tt.pre)
			}
		})
	}
}

func TestChooseRejectsBadLine(t *testing.T) {
	m := coin("30.2", "v{version}", "about 30", 0)
	rs, err := classify(m, []github.Release{rel("v31.0", time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := choose(m, rs, nil, now); err == nil || !strings.Contains(err.Error(), `upstream.line "about 30"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestMarkers(t *testing.T) {
	d := "body\n\n" + marker("bitcoin", "32.0") + "\n"
	if v := markedVersion(d, "bitcoin"); v != "32.0" {
		t.Errorf("markedVersion = %q", v)
	}
	if v := markedVersion(d, "bitcoin-cash"); v != "" {
		t.Errorf("another coin's marker read as %q", v)
	}
	if v, ok := madeByWatcher("bitcoin: 31.1 → 32.0\n\nbody\n\n"+trailer("bitcoin", "32.0")+"\n", "bitcoin"); !ok || v != "32.0" {
		t.Errorf("madeByWatcher = %q, %v", v, ok)
	}
	if _, ok := madeByWatcher("fix the conf by hand\n", "bitcoin"); ok {
		t.Error("a hand-made commit read as the watcher's")
	}
	if got := branchName(coin("26.1", "v{version}", "~> 26.0", 0)); got != "coinpipe/bitcoin-26.0" {
		t.Errorf("branchName = %q", got)
	}
}

// Release notes are upstream's text: a marker in them never decides what a
// merge request proposes.
func TestMarkerInReleaseNotesIsInert(t *testing.T) {
	m := coin("1.0", "v{version}", "", 0)
	c := &candidate{Version: "1.1", Release: github.Release{Tag: "v1.1", Body: "notes\n" + marker("bitcoin", "9.9") + "\n"}}
	d := description(m, c, &release.Attestation{Version: "1.1"})
	if got := markedVersion(d, "bitcoin"); got != "1.1" {
		t.Fatalf("markedVersion = %q, want 1.1\n%s", got, d)
	}
	if strings.Contains(d, marker("bitcoin", "9.9")) {
		t.Errorf("upstream's marker survived quoting:\n%s", d)
	}
}
