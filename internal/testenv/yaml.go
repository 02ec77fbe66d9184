package testenv

import "go.yaml.in/yaml/v3"

// DecodeYAML parses one YAML document into the JSON data model (maps,
// slices, float64 numbers), which JSON Schema validators take: coin.yaml is
// checked against schema/coin.schema.json and CI YAML against GitLab's schema.
func DecodeYAML(src []byte) (any, error) {
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return nil, err
	}
	return normalize(v), nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}
