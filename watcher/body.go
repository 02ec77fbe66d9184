package watcher

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/slack"
	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// The marker ties a merge request and its branch's commits to the coin and
// version the watcher proposed, so later runs know what a request is for
// and whether someone else pushed to its branch.
const (
	markerPrefix  = "<!-- coinpipe-watch "
	trailerPrefix = "Coinpipe-Watch: "
)

var markerRE = regexp.MustCompile(`<!-- coinpipe-watch coin=(\S+) version=(\S+) -->`)

func marker(coin, version string) string {
	return fmt.Sprintf("%scoin=%s version=%s -->", markerPrefix, coin, version)
}

// markedVersion is the version a merge request proposes for coin, or "".
// The watcher writes its marker last, after upstream's release notes, so
// the last marker is the one that counts (and quote defuses any in notes).
func markedVersion(description, coin string) string {
	all := markerRE.FindAllStringSubmatch(description, -1)
	if len(all) == 0 {
		return ""
	}
	m := all[len(all)-1]
	if m[1] != coin {
		return ""
	}
	return m[2]
}

func trailer(coin, version string) string { return trailerPrefix + coin + " " + version }

// madeByWatcher reports whether a commit message is one the watcher wrote
// for coin: its last line is the trailer.
func madeByWatcher(message, coin string) (version string, ok bool) {
	lines := strings.Split(strings.TrimRight(message, "\n"), "\n")
	last := lines[len(lines)-1]
	rest, found := strings.CutPrefix(last, trailerPrefix+coin+" ")
	if !found || rest == "" {
		return "", false
	}
	return rest, true
}

func title(m *manifest.Manifest, to string) string {
	return fmt.Sprintf("%s: %s → %s", m.Name, m.Version, to)
}

func commitMessage(m *manifest.Manifest, c *candidate) string {
	return fmt.Sprintf("%s\n\nUpstream release %s, verified by coinpipe watch: the new sha256s are taken\nfrom the verified checksums, which are committed under coins/%s/release/.\n\n%s\n",
		title(m, c.Version), c.Release.HTMLURL, m.Name, trailer(m.Name, c.Version))
}

// maxNotes bounds the release notes quoted in a merge request.
const maxNotes = 4000

// description is the verification record a reviewer reads: what changes,
// who signed, and where every file came from.
func description(m *manifest.Manifest, c *candidate, att *release.Attestation) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mv := *m
	mv.Version = c.Version
	w("Upgrade **%s** from **%s** to **%s**: [upstream release %s](%s), published %s.\n\n",
		m.Name, m.Version, c.Version, c.Release.Tag, c.Release.HTMLURL, c.Release.PublishedAt.UTC().Format(time.RFC3339))
	sig := m.Release.Signatures
	if sig.Mode == manifest.ModeNone {
		w("> **⚠ Upstream signs nothing for %s.** The sha256 below is what coinpipe downloaded; no upstream\n> signature vouches for it. Compare it with a source you trust before merging.\n\n", m.Name)
	}
	w("| platform | file | old sha256 | new sha256 |\n| --- | --- | --- | --- |\n")
	for _, a := range att.Artifacts {
		w("| %s | `%s` | `%s` | `%s` |\n", a.Platform, a.File, m.Release.Artifacts[a.Platform].SHA256, a.SHA256)
	}
	if sig.Mode != manifest.ModeNone {
		w("\n### Signatures\n\n%d of the %d pinned keys must sign; ", sig.Threshold, len(sig.Keys))
		verdicts := verdictsOf(att)
		signed := 0
		for _, v := range verdicts {
			signed += len(v.Signers)
		}
		w("these signed:\n\n| status | key | user ID | signed |\n| --- | --- | --- | --- |\n")
		for _, v := range verdicts {
			for _, r := range v.Results {
				status := r.Status.String()
				if r.Status == verify.StatusGoodExpiredSince {
					status = "good (key " + r.Reason + ")"
				} else if r.Reason != "" && !r.Good() {
					status += ": " + r.Reason
				}
				id := r.Fingerprint
				if id == "" {
					id = r.KeyID
				}
				created := ""
				if !r.Created.IsZero() {
					created = r.Created.UTC().Format(time.RFC3339)
				}
				w("| %s | `%s` | %s | %s |\n", status, id, escapeTable(r.UserID), created)
			}
		}
		for _, miss := range att.Missing {
			w("| missing | %s | not published | |\n", miss.Signer)
		}
	}
	w("\n### Sources\n\n")
	for _, a := range att.Artifacts {
		w("- %s: %s\n", a.Platform, mv.ExpandVersion(m.Release.Artifacts[a.Platform].URL))
	}
	switch sig.Mode {
	case manifest.ModeDetached, manifest.ModeClearsigned:
		signers := []string{""}
		if m.Release.PerSigner() {
			signers = nil
			for _, k := range sig.Keys {
				signers = append(signers, k.Signer)
			}
		}
		for _, s := range signers {
			w("- checksums: %s\n", mv.Expand(m.Release.Checksums.URL, s))
			if sig.Mode == manifest.ModeDetached {
				w("- signatures: %s\n", mv.Expand(sig.URL, s))
			}
		}
	case manifest.ModeArtifact:
		w("- signatures: `<artifact URL>.asc`\n")
	}
	if len(att.Files) > 0 {
		w("\nThe verified checksums and signatures are committed under `coins/%s/release/`; the image build verifies\nthose files again and downloads only the artifact.\n", m.Name)
	}
	if notes := strings.TrimSpace(c.Release.Body); notes != "" {
		w("\n### Release notes\n\n")
		if len(notes) > maxNotes {
			cut := strings.LastIndex(notes[:maxNotes], "\n")
			if cut < maxNotes/2 {
				cut = maxNotes
			}
			notes = notes[:cut] + fmt.Sprintf("\n\n… truncated; the full notes are on the [release page](%s).", c.Release.HTMLURL)
		}
		w("%s\n", quote(notes))
	}
	w("\n%s\n", marker(m.Name, c.Version))
	return b.String()
}

func verdictsOf(att *release.Attestation) []*verify.Verdict {
	if att.Checksums != nil {
		return []*verify.Verdict{att.Checksums}
	}
	var out []*verify.Verdict
	for _, a := range att.Artifacts {
		if a.Signatures != nil {
			out = append(out, a.Signatures)
		}
	}
	return out
}

// quote blockquotes upstream's text so its markdown cannot pose as ours,
// and escapes HTML comments so its text can never carry a marker.
func quote(s string) string {
	s = strings.ReplaceAll(s, "<!--", "&lt;!--")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

func escapeTable(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Slack messages.

func mrMessage(m *manifest.Manifest, c *candidate, att *release.Attestation, mrURL string, iid int, verb string) slack.Message {
	text := fmt.Sprintf("%s %s → %s: merge request !%d %s", m.Name, m.Version, c.Version, iid, verb)
	summary := "verified: " + signersSummary(m, att)
	if m.Release.Signatures.Mode == manifest.ModeNone {
		summary = "*upstream signs nothing*: only the downloaded sha256 vouches for it"
	}
	return slack.Message{Text: text, Blocks: []slack.Block{
		slack.Section(fmt.Sprintf("*%s* %s → *%s*: %s %s",
			slack.Escape(m.Name), slack.Escape(m.Version), slack.Escape(c.Version), slack.Link(mrURL, fmt.Sprintf("!%d", iid)), verb)),
		slack.Context(summary, slack.Link(c.Release.HTMLURL, "release "+c.Release.Tag)),
	}}
}

func signersSummary(m *manifest.Manifest, att *release.Attestation) string {
	n := 0
	for _, v := range verdictsOf(att) {
		n += len(v.Signers)
	}
	return fmt.Sprintf("%d of %d pinned keys signed (%d required)", n, len(m.Release.Signatures.Keys), m.Release.Signatures.Threshold)
}

func prereleaseMessage(m *manifest.Manifest, c candidate) slack.Message {
	text := fmt.Sprintf("%s %s published: upcoming release", m.Name, c.Version)
	return slack.Message{Text: text, Blocks: []slack.Block{
		slack.Section(fmt.Sprintf("*%s %s* published: upcoming release (pinned: %s). No merge request is opened for prereleases.",
			slack.Escape(m.Name), slack.Escape(c.Version), slack.Escape(m.Version))),
		slack.Context(slack.Link(c.Release.HTMLURL, "release "+c.Release.Tag)),
	}}
}

func failureMessage(coin, what, reason string) slack.Message {
	text := fmt.Sprintf("%s: %s: %s", coin, what, reason)
	return slack.Message{Text: text, Blocks: []slack.Block{
		slack.Section(fmt.Sprintf(":rotating_light: *%s*: %s", slack.Escape(coin), slack.Escape(what))),
		slack.Section("```" + slack.Escape(truncate(reason, 2800)) + "```"),
	}}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
