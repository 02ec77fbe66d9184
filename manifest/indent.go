package manifest

import (
	"fmt"
	"regexp"
	"strings"
)

// yaml.v3 reports a badly indented key at the line where the enclosing
// mapping starts ("did not find expected key"), often many lines above the
// mistake. misindented finds the line itself by following the block
// structure the way a reader does. It knows only block mappings, lists,
// block scalars and one-line flow collections; on anything else it gives
// up, and the YAML library's message stands.

var (
	// keyPattern is a mapping key at the start of a line's body: plain or
	// quoted, followed by ':' and a space or the end of the line.
	keyPattern = regexp.MustCompile(`^("[^"]*"|'[^']*'|[^\s#'"\[\]{},&*!|>%@` + "`" + `-][^#]*?|-[^\s#]*?)[ \t]*:(\s|$)`)
	// blockScalarPattern is a value that starts a literal or folded block.
	blockScalarPattern = regexp.MustCompile(`^[|>][-+0-9]*$`)
	// propsOnlyPattern is a value made only of an anchor or a tag: the
	// node itself follows on the next lines.
	propsOnlyPattern = regexp.MustCompile(`^([&!]\S*\s*)+$`)
)

// misindented returns the first line at or after from whose indentation
// fits no enclosing block, with a message saying what is wrong.
func misindented(src []byte, from int) (line, col int, msg string, ok bool) {
	var (
		levels    []level // the open blocks, innermost last
		prevLine  int     // last significant line, 1-based
		prevBody  int     // column where its body (after "- ") starts
		prevOpens bool    // it ends in "key:" or "-": a nested block follows
		scalarAt  = -1    // inside a block scalar: lines indented more than this belong to it
	)
	lines := strings.Split(string(src), "\n")
	for i, raw := range lines {
		n := i + 1
		l := strings.TrimRight(raw, " \r")
		content := strings.TrimLeft(l, " ")
		indent := len(l) - len(content)
		if scalarAt >= 0 {
			if content == "" || indent > scalarAt {
				continue
			}
			scalarAt = -1
		}
		if content == "" || content[0] == '#' {
			continue
		}
		if content == "---" || content == "..." || strings.HasPrefix(content, "--- ") || content[0] == '%' {
			levels, prevLine, prevOpens = nil, 0, false
			continue
		}
		if content[0] == '\t' {
			return 0, 0, "", false // tabs have their own message
		}

		// Place this line in the block structure.
		switch {
		case len(levels) == 0 || prevOpens && indent > levels[len(levels)-1].col:
			levels = append(levels, level{indent, n, prevLine})
		default:
			var inner level // the innermost block this line leaves
			for len(levels) > 1 && levels[len(levels)-1].col > indent {
				inner = levels[len(levels)-1]
				levels = levels[:len(levels)-1]
			}
			structural := keyPattern.MatchString(content) || content == "-" || strings.HasPrefix(content, "- ")
			top := levels[len(levels)-1]
			switch {
			case top.col == indent:
			case n >= from && structural && indent > prevBody && prevLine > 0:
				return n, indent + 1, fmt.Sprintf("invalid YAML: this line is indented %s more than line %d, which already has its value; keys of one mapping start in the same column", spaces(indent-prevBody), prevLine), true
			case n >= from && structural && inner.opener > 0 && inner.line == prevLine && nextIndent(lines[i+1:]) == indent:
				// The block's only line so far is deeper than this one and
				// the next: that first line is the one out of place.
				return inner.line, inner.col + 1, fmt.Sprintf("invalid YAML: this line is indented %s more than line %d below it; keys of one mapping start in the same column", spaces(inner.col-indent), n), true
			case n >= from && structural && inner.opener > 0:
				return n, indent + 1, fmt.Sprintf("invalid YAML: this line is indented %s: more than line %d, which opens its block, and less than line %d, the block's first line (%s); keys of one mapping start in the same column", spaces(indent), inner.opener, inner.line, spaces(inner.col)), true
			default:
				// A plain scalar running over lines, or a mistake before
				// the one reported: not followed further.
				return 0, 0, "", false
			}
		}

		// What this line opens for the next one.
		body, bodyCol := content, indent
		for body == "-" || strings.HasPrefix(body, "- ") {
			rest := strings.TrimLeft(body[1:], " ")
			bodyCol += len(body) - len(rest)
			body = rest
			if body != "" {
				levels = append(levels, level{bodyCol, n, n})
			}
		}
		prevLine, prevBody = n, bodyCol
		value := body
		if m := keyPattern.FindStringSubmatch(body); m != nil {
			value = strings.TrimSpace(body[len(m[0])-len(m[2]):])
		}
		value = stripComment(value)
		switch {
		case value == "" || propsOnlyPattern.MatchString(value):
			prevOpens = true
		case blockScalarPattern.MatchString(value):
			prevOpens, scalarAt = false, levels[len(levels)-1].col
		case !balanced(value):
			// A flow collection or quoted string over several lines: beyond
			// what this follows.
			return 0, 0, "", false
		default:
			prevOpens = false
		}
	}
	return 0, 0, "", false
}

// nextIndent is the indentation of the first line that is not blank or a
// comment, or -1.
func nextIndent(lines []string) int {
	for _, l := range lines {
		content := strings.TrimLeft(strings.TrimRight(l, " \r"), " ")
		if content != "" && content[0] != '#' {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return -1
}

// level is an open block: the column its entries start in, the line of its
// first entry and the line that opened it ("key:" or "- ").
type level struct{ col, line, opener int }

func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return fmt.Sprintf("%d spaces", n)
}

// stripComment drops a trailing " # comment" outside quotes.
func stripComment(s string) string {
	if at, _, _ := scanFlow(s); at >= 0 {
		return strings.TrimSpace(s[:at])
	}
	return s
}

// balanced reports whether quotes and flow brackets close on the line.
func balanced(s string) bool {
	_, depth, open := scanFlow(s)
	return depth == 0 && !open
}

// scanFlow reads a value the way YAML does: where a comment starts (-1 if
// none), how many flow brackets stay open, and whether a quote does. A
// quote opens a string only where a value can start, so an apostrophe in
// a plain word is not one.
func scanFlow(s string) (comment, depth int, open bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			} else if c == '\\' && quote == '"' {
				i++
			}
		case (c == '"' || c == '\'') && (i == 0 || strings.ContainsRune(" \t[{,:", rune(s[i-1]))):
			quote = c
		case c == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			return i, depth, false
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		}
	}
	return -1, depth, quote != 0
}
