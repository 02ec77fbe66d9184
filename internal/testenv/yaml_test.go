package testenv

import (
	"reflect"
	"testing"
)

func TestDecodeYAML(t *testing.T) {
	got, err := DecodeYAML([]byte("a: 1\nb: [x, 2.5, true]\nc: {d: null}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": float64(1), "b": []any{"x", 2.5, true}, "c": map[string]any{"d": nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeYAML = %#v, want %#v", got, want)
	}
	if _, err := DecodeYAML([]byte("a: [")); err == nil {
		t.Fatal("invalid YAML decoded")
	}
}
