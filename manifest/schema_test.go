package manifest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"gitlab.com/coinpipe/coinpipe/internal/yamljson"
)

var update = flag.Bool("update", false, "rewrite golden files")

const schemaFile = "../schema/coin.schema.json"

// The shipped schema is the one the Go types give.
func TestSchemaIsCurrent(t *testing.T) {
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./manifest -update", schemaFile)
	}
}

// The schema accepts every shipped manifest and rejects what the loader
// rejects structurally, as an editor would show it.
func TestSchemaChecksManifests(t *testing.T) {
	sch := compileSchema(t)
	files, _ := filepath.Glob("../coins/*/coin.yaml")
	files = append(files, fixture)
	for _, f := range files {
		if err := sch.Validate(yamlToJSONValue(t, readFile(t, f))); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	bad := strings.Replace(readFixture(t), "user: monero", "usr: monero", 1)
	if err := sch.Validate(yamlToJSONValue(t, []byte(bad))); err == nil || !strings.Contains(err.Error(), "usr") {
		t.Errorf("misspelt field accepted by the schema: %v", err)
	}
	bad = strings.Replace(readFixture(t), "uid: 10002", `uid: "10002"`, 1)
	if err := sch.Validate(yamlToJSONValue(t, []byte(bad))); err == nil {
		t.Error("string uid accepted by the schema")
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(readFile(t, schemaFile)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// yamlToJSONValue decodes YAML into the plain values jsonschema validates.
func yamlToJSONValue(t *testing.T, src []byte) any {
	t.Helper()
	v, err := yamljson.Decode(src)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
