package manifest

import (
	"bytes"
	"flag"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
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
	v, err := testenv.DecodeYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The schema carries Validate's patterns: an editor flags these values too.
func TestSchemaPatterns(t *testing.T) {
	sch := compileSchema(t)
	for _, r := range [][2]string{
		{"monero-linux-x64-v{version}.tar.bz2", "monero linux-x64-v{version}.tar.bz2"},
		{"url: https://downloads", "url: https://user:pw@downloads"},
		{"url: https://www.getmonero.org/downloads/hashes.txt", "url: http://www.getmonero.org/downloads/hashes.txt"},
		{"github: monero-project/monero", "github: -monero/monero"},
		{"tag: Component", `tag: "Comp$(id)"`},
		{"value: nodes/monero", "value: \"nodes`id`\""},
		{"fingerprint: 81AC591FE9C4B65C5806AFC3F0AF4D462A0BDF92", "fingerprint: 81ac591fe9c4b65c5806afc3f0af4d462a0bdf92"},
	} {
		bad := strings.Replace(readFixture(t), r[0], r[1], 1)
		if err := sch.Validate(yamlToJSONValue(t, []byte(bad))); err == nil {
			t.Errorf("schema accepts %s", r[1])
		}
	}
}
