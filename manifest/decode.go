package manifest

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a place in coin.yaml, 1-based.
type Pos struct{ Line, Col int }

// decoder turns a yaml.Node tree into Go values strictly: unknown fields,
// duplicate keys and wrong kinds are problems with a position, and decoding
// goes on after each so that every mistake is reported at once. yaml.v3's own
// KnownFields stops at the first unknown field, which is why this exists.
type decoder struct {
	file     string
	pos      map[string]Pos  // field path -> position of its value
	null     map[string]bool // field paths written with an empty value
	problems Problems
}

var (
	durationType = reflect.TypeOf(Duration(0))
	portType     = reflect.TypeOf(Port{})
)

func (d *decoder) addf(at *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: at.Line, Col: at.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	d.pos[path] = Pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		// An empty value leaves the zero value and counts as not written:
		// validation says if it is required.
		d.null[path] = true
		return
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case portType:
		d.decodePort(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if d.expectScalar(n, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Int:
		if !d.expectScalar(n, path, "a whole number") {
			return
		}
		i, err := strconv.Atoi(n.Value)
		if err != nil || n.Tag != "!!int" {
			d.addf(n, path, "%q is not a whole number", excerpt(n.Value))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if !d.expectScalar(n, path, "true or false") {
			return
		}
		if n.Tag != "!!bool" {
			d.addf(n, path, "%q is not true or false", excerpt(n.Value))
			return
		}
		v.SetBool(strings.EqualFold(n.Value, "true")) // YAML also spells it True and TRUE
	default:
		// Only reachable if a field of a type this decoder does not know is added.
		d.addf(n, path, "internal: cannot decode into %s", v.Type())
	}
}

func (d *decoder) expectScalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		d.addf(n, path, "must be %s, not %s", want, kindName(n))
		return false
	}
	return true
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	if !d.expectScalar(n, path, "a duration") {
		return
	}
	dur, err := parseDuration(n.Value)
	if err != nil {
		d.addf(n, path, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

// decodePort reads 8332 (TCP) or "30303/udp".
func (d *decoder) decodePort(n *yaml.Node, v reflect.Value, path string) {
	if !d.expectScalar(n, path, "a port") {
		return
	}
	num, proto, hasProto := strings.Cut(n.Value, "/")
	i, err := strconv.Atoi(num)
	switch {
	case err != nil || (!hasProto && n.Tag != "!!int"):
		d.addf(n, path, "%q is not a port such as 8332 or 30303/udp", excerpt(n.Value))
	case hasProto && proto != "tcp" && proto != "udp":
		d.addf(n, path, "%q: the protocol must be tcp or udp", excerpt(n.Value))
	default:
		if !hasProto {
			proto = "tcp"
		}
		v.Set(reflect.ValueOf(Port{Number: i, Protocol: proto}))
	}
}

// mappingPairs checks n is a mapping and returns its key/value pairs,
// reporting duplicate keys.
func (d *decoder) mappingPairs(n *yaml.Node, path string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "must be a mapping, not %s", kindName(n))
		return nil
	}
	seen := map[string]bool{}
	var pairs [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			d.addf(k, join(path, k.Value), "duplicate key")
			continue
		}
		seen[k.Value] = true
		pairs = append(pairs, [2]*yaml.Node{k, val})
	}
	return pairs
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := fieldsByName(v.Type())
	for _, kv := range d.mappingPairs(n, path) {
		k, val := kv[0], kv[1]
		idx, ok := fields[k.Value]
		if !ok {
			d.addf(k, join(path, k.Value), "unknown field%s", suggest(k.Value, fields))
			continue
		}
		d.decode(val, v.Field(idx), join(path, k.Value))
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	pairs := d.mappingPairs(n, path)
	if pairs == nil {
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(pairs))
	for _, kv := range pairs {
		elem := reflect.New(v.Type().Elem()).Elem()
		entry := join(path, kv[0].Value)
		d.decode(kv[1], elem, entry)
		d.pos[entry] = Pos{kv[0].Line, kv[0].Column} // a bad map key is reported at the key
		m.SetMapIndex(reflect.ValueOf(kv[0].Value), elem)
	}
	v.Set(m)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n, path, "must be a list, not %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// fieldsByName maps yaml names to struct field indexes.
func fieldsByName(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		m[yamlName(t.Field(i))] = i
	}
	return m
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func join(path, key string) string {
	key = keyText(key)
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", excerpt(n.Value))
	}
}

// suggest names the known field closest to a misspelt one.
func suggest(got string, fields map[string]int) string {
	best, bestDist := "", 3 // more than 2 edits away is not a typo
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if dist := editDistance(got, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return "; known fields: " + strings.Join(names, ", ")
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }
