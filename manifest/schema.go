package manifest

import (
	"encoding/json"
	"reflect"
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
