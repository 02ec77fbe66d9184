package testenv

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"
)

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

// DecodeYAMLDocuments is DecodeYAML for every document of a stream: a CI
// template with a `spec:` header is two documents, split by `---`.
func DecodeYAMLDocuments(src []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, normalize(v))
	}
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
