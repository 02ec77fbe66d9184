package manifest

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// Facts derived from a manifest, in one place: validation, rendering and
// release verification must agree on every one of them.

// ExpandVersion replaces {version} with the manifest's version in a URL or
// path template, keeping {signer} (release.sh fills it per signer).
func (m *Manifest) ExpandVersion(template string) string {
	return strings.ReplaceAll(template, VersionPlaceholder, m.Version)
}

// Expand replaces {version} and {signer}: the URL of one signer's file.
func (m *Manifest) Expand(template, signer string) string {
	return strings.ReplaceAll(m.ExpandVersion(template), SignerPlaceholder, signer)
}

// PerSigner reports whether upstream publishes one checksums file (and
// signature) per signer: {signer} in either URL.
func (r Release) PerSigner() bool {
	return strings.Contains(r.Checksums.URL, SignerPlaceholder) || strings.Contains(r.Signatures.URL, SignerPlaceholder)
}

// Platforms lists the artifacts' platforms, sorted.
func (r Release) Platforms() []string { return sortedKeys(r.Artifacts) }

// ArtifactFileName is the name checksum files list a platform's artifact
// under: the last element of its expanded URL's path (a query string is
// not part of it).
func (m *Manifest) ArtifactFileName(platform string) string {
	raw := m.ExpandVersion(m.Release.Artifacts[platform].URL)
	if u, err := url.Parse(raw); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(raw)
}

// ImageTag is the tag the image of this manifest is pushed, pulled and run
// under (docs/architecture.md §3): the version for the first build, and
// <version>-<revision> for a rebuild of the same version (31.1, 31.1-2).
// It follows from the manifest alone, so push, the unit and the rollout
// agree on it without looking at an image.
func (m *Manifest) ImageTag() string {
	if m.Image.Revision <= 1 {
		return m.Version
	}
	return fmt.Sprintf("%s-%d", m.Version, m.Image.Revision)
}
