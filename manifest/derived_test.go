package manifest

import "testing"

func TestDerivedFacts(t *testing.T) {
	m := &Manifest{Coin: Coin{Version: "1.14.6", Release: Release{
		Artifacts: map[string]Artifact{
			"linux/arm64": {URL: "https://dl.example.org/v{version}/coin-{version}-aarch64.tar.gz"},
			"linux/amd64": {URL: "https://dl.example.org/v{version}/coin-{version}-x86_64.tar.gz?download=1"},
		},
		Checksums: Checksums{URL: "https://sigs.example.org/{version}/{signer}/assert"},
	}}}
	if got := m.ExpandVersion(m.Release.Checksums.URL); got != "https://sigs.example.org/1.14.6/{signer}/assert" {
		t.Errorf("ExpandVersion = %s", got)
	}
	if got := m.Expand(m.Release.Checksums.URL, "alice"); got != "https://sigs.example.org/1.14.6/alice/assert" {
		t.Errorf("Expand = %s", got)
	}
	if !m.Release.PerSigner() {
		t.Error("{signer} in the checksums URL is per-signer")
	}
	if got := m.Release.Platforms(); len(got) != 2 || got[0] != "linux/amd64" {
		t.Errorf("Platforms = %v", got)
	}
	// The build (release.sh) and coinpipe verify look the artifact up under
	// this one name; a query string is not part of it.
	if got := m.ArtifactFileName("linux/amd64"); got != "coin-1.14.6-x86_64.tar.gz" {
		t.Errorf("ArtifactFileName = %s", got)
	}
}
