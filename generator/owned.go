package generator

import (
	"bytes"
	"path"
	"strings"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Owned reports whether the daemon repository file at rel (slash-separated)
// with content data is one the generator writes: a rendered file (its
// first lines carry generatedMarker) or one of the coin's inputs it copies
// (coin.yaml, SOURCES.md, keys/, files/, release/). `coinpipe sync` deletes
// an owned file it no longer renders and leaves every other file alone;
// conformance does not count the others as drift.
func Owned(rel string, data []byte) bool {
	return Input(rel) || bytes.Contains(data[:min(len(data), markerWindow)], []byte(generatedMarker))
}

// Inputs are where a daemon repository holds copies of the coin's own
// files, the pins that change only in the toolkit: files, and folders
// (ending in "/").
var Inputs = []string{manifest.FileName, manifest.SourcesFile, manifest.KeysDir, manifest.FilesDir, manifest.ReleaseDir}

// Input reports whether rel is one of Inputs or inside one.
func Input(rel string) bool {
	for _, in := range Inputs {
		if rel == in || (strings.HasSuffix(in, "/") && strings.HasPrefix(rel, in)) {
			return true
		}
	}
	return false
}

// BuildInput reports whether rel, a file coinpipe does not render, would
// still change what buildah builds from the repository's root: another
// Containerfile or Dockerfile, or an ignore file for the build context.
// Conformance counts such a file as drift.
func BuildInput(rel string) bool {
	base := path.Base(rel)
	return path.Dir(rel) == "." && (strings.HasPrefix(base, "Containerfile") || strings.HasPrefix(base, "Dockerfile") ||
		base == ".dockerignore" || base == ".containerignore")
}

// markerWindow is how far into a file the header is looked for, as
// looksGenerated does for the Dockerfile.
const markerWindow = 512
