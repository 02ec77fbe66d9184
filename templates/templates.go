// Package templates embeds the files coinpipe renders: docker/ holds the
// daemon repository's files, ci/ the pipeline every daemon repository
// includes from the toolkit project. It sits above both folders because
// the embed directive cannot reach "../".
package templates

import "embed"

// Docker holds the daemon repository templates (*.tmpl, text/template).
//
//go:embed docker/*.tmpl
var Docker embed.FS

// CI holds the shared pipeline templates, shipped as they are.
//
//go:embed ci/*.yml
var CI embed.FS
