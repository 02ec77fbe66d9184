package manifest

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
)

// SchemaID is where the schema is published in the toolkit repository.
const SchemaID = "https://gitlab.com/coinpipe/coinpipe/-/raw/main/schema/coin.schema.json"

// JSONSchema returns the JSON Schema (draft-07) of coin.yaml, derived from
// the Go types: yaml tags name the properties, fields without omitempty are
// required, desc tags become descriptions, and unknown fields are rejected as
// the loader rejects them. Editors use it to check manifests while they are
// typed; Validate stays the authority on values.
func JSONSchema() ([]byte, error) {
	s := schemaOf(reflect.TypeOf(Coin{}))
	s["$schema"] = "http://json-schema.org/draft-07/schema#"
	s["$id"] = SchemaID
	s["title"] = "coinpipe coin manifest (coin.yaml), format v1"
	b, err := json.MarshalIndent(s, "", "  ")
	return append(b, '\n'), err
}

type object = map[string]any

// fieldPatterns are the validation patterns an editor can check too, by Go
// type and yaml name. Go's and JSON Schema's (ECMA 262) syntax agree on the
// subset these use. Rules no pattern can say (the data dir, config paths,
// GitHub's "." and "..") stay with Validate.
var fieldPatterns = map[string]*regexp.Regexp{
	"Coin.name":             namePattern,
	"Coin.version":          versionPattern,
	"Upstream.github":       githubPattern,
	"Upstream.tag":          tagPattern,
	"Upstream.line":         linePattern,
	"Artifact.url":          urlPattern,
	"Artifact.sha256":       sha256Pattern,
	"Checksums.url":         urlPattern,
	"Signatures.url":        urlPattern,
	"Key.fingerprint":       fingerprintPattern,
	"Key.signer":            signerPattern,
	"Image.base":            imagePattern,
	"Image.packages":        packagePattern,
	"Image.debian_snapshot": debianSnapshotPattern,
	"Image.user":            userPattern,
	"Deploy.ecr_repository": ecrPattern,
	"Instances.tag":         tagKeyPattern,
	"Instances.value":       tagValuePattern,
	"Notify.slack_channel":  slackPattern,
}

func schemaOf(t reflect.Type) object {
	switch {
	case t == portType:
		return object{"oneOf": []any{
			object{"type": "integer", "minimum": 1, "maximum": 65535},
			object{"type": "string", "pattern": `^[0-9]{1,5}/(tcp|udp)$`},
		}}
	case t == durationType:
		return object{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$|^0$`}
	case t.Kind() == reflect.Struct:
		props, required := object{}, []string{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := yamlName(f)
			p := schemaOf(f.Type)
			if re, ok := fieldPatterns[t.Name()+"."+name]; ok {
				// A list of strings (image.packages) constrains its items.
				if items, ok := p["items"].(object); ok {
					items["pattern"] = re.String()
				} else {
					p["pattern"] = re.String()
				}
			}
			if d := f.Tag.Get("desc"); d != "" {
				p["description"] = d
			}
			props[name] = p
			if !strings.Contains(f.Tag.Get("yaml"), "omitempty") {
				required = append(required, name)
			}
		}
		s := object{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	case t.Kind() == reflect.Map:
		return object{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case t.Kind() == reflect.Slice:
		return object{"type": "array", "items": schemaOf(t.Elem())}
	case t.Kind() == reflect.Int:
		return object{"type": "integer"}
	case t.Kind() == reflect.Bool:
		return object{"type": "boolean"}
	default:
		return object{"type": "string"}
	}
}
