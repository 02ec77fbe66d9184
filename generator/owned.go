package generator

import (
	"bytes"
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

// Input reports whether rel is where a daemon repository holds a copy of
// the coin's own files: coin.yaml, SOURCES.md, keys/, files/, release/,
// the pins that change only in the toolkit.
func Input(rel string) bool {
	return rel == manifest.FileName || rel == manifest.SourcesFile ||
		strings.HasPrefix(rel, manifest.KeysDir) || strings.HasPrefix(rel, manifest.FilesDir) ||
		strings.HasPrefix(rel, manifest.ReleaseDir)
}

// markerWindow is how far into a file the header is looked for, as
// looksGenerated does for the Dockerfile.
const markerWindow = 512
