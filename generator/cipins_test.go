package generator

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

// The shipped CI runs on a real runner only while these settings agree
// (docs/architecture.md §4): the golang images' Go version and go.mod's
// (the images set GOTOOLCHAIN=local, so an older Go refuses the module and a
// newer one is not what the tests ran with); the toolkit ref a daemon
// repository includes daemon.yml from and the one daemon.yml installs
// coinpipe from (inputs.toolkit_ref); and the inputs the rendered include
// passes and the ones daemon.yml's spec declares.

var (
	goDirectivePattern = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)
	toolchainPattern   = regexp.MustCompile(`(?m)^toolchain\s+go(\S+)\s*$`)
	modulePattern      = regexp.MustCompile(`(?m)^module\s+(\S+)\s*$`)
	// go install "<module>/cmd/coinpipe@$[[ inputs.NAME ]]" (or any other version).
	coinpipeInstall = regexp.MustCompile(`go install "?([^"@\s]+)@(\$\[\[[^\]]*\]\]|[^"\s]+)`)
	inputRef        = regexp.MustCompile(`^\$\[\[\s*inputs\.([\w-]+)\s*\]\]$`)
)

const daemonYMLPath = "templates/ci/daemon.yml"

// goMod is what the drift checks need from go.mod.
type goMod struct{ module, goVersion, toolchain string }

func parseGoMod(src []byte) (goMod, error) {
	g, m := goDirectivePattern.FindSubmatch(src), modulePattern.FindSubmatch(src)
	if g == nil || m == nil {
		return goMod{}, fmt.Errorf("go.mod has no module or go directive")
	}
	mod := goMod{module: string(m[1]), goVersion: string(g[1])}
	if tc := toolchainPattern.FindSubmatch(src); tc != nil {
		mod.toolchain = string(tc[1])
	}
	return mod, nil
}

// ciGo is the Go every golang image must run: the toolchain line's when
// go.mod has one (what the module is built and tested with), else the go
// directive's.
func (m goMod) ciGo() (version, from string) {
	if m.toolchain != "" {
		return m.toolchain, "toolchain go" + m.toolchain
	}
	return m.goVersion, "go " + m.goVersion
}

// ciDocuments decodes every document of a CI file: a template with a spec
// header is two.
func ciDocuments(name string, src []byte) ([]any, error) {
	docs, err := testenv.DecodeYAMLDocuments(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return docs, nil
}

// ciImages lists every image: of decoded CI documents (a string, or a map
// with name:), sorted.
func ciImages(docs []any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "image" {
					switch im := e.(type) {
					case string:
						out = append(out, im)
					case map[string]any:
						if name, ok := im["name"].(string); ok {
							out = append(out, name)
						}
					}
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, d := range docs {
		walk(d)
	}
	sort.Strings(out)
	return out
}

// checkImages reports images that are not digest-pinned and golang images
// whose Go version is not mod's. A file with no golang image is reported
// too: every shipped pipeline runs Go.
func checkImages(name string, src []byte, mod goMod) []string {
	docs, err := ciDocuments(name, src)
	if err != nil {
		return []string{err.Error()}
	}
	want, from := mod.ciGo()
	var problems []string
	golang := 0
	for _, im := range ciImages(docs) {
		if !pinnedImage.MatchString(im) {
			problems = append(problems, fmt.Sprintf("%s: image %s is not pinned by digest", name, im))
		}
		ref, _, _ := strings.Cut(im, "@")
		repo, tag := ref, ""
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			repo, tag = ref[:i], ref[i+1:]
		}
		if repo != "golang" && repo != "docker.io/library/golang" {
			continue
		}
		golang++
		if v, _, _ := strings.Cut(tag, "-"); v != want {
			problems = append(problems, fmt.Sprintf("%s: image %s runs Go %q, go.mod says %s", name, im, v, from))
		}
	}
	if golang == 0 {
		problems = append(problems, fmt.Sprintf("%s: no golang image", name))
	}
	return problems
}

// specInputs are the inputs a template's spec header declares; nil when it
// has no header.
func specInputs(docs []any) map[string]any {
	if len(docs) < 2 {
		return nil
	}
	head, _ := docs[0].(map[string]any)
	spec, _ := head["spec"].(map[string]any)
	inputs, _ := spec["inputs"].(map[string]any)
	return inputs
}

// daemonInstall returns the input whose value daemon.yml installs coinpipe
// at, checking that it installs this module's command and that the input is
// declared without a default: a default could disagree with the including
// repository's ref.
func daemonInstall(src []byte, module string) (string, []string) {
	m := coinpipeInstall.FindSubmatch(src)
	if m == nil {
		return "", []string{daemonYMLPath + ": no go install of coinpipe"}
	}
	var problems []string
	if want := module + "/cmd/coinpipe"; string(m[1]) != want {
		problems = append(problems, fmt.Sprintf("%s: installs %s, want %s", daemonYMLPath, m[1], want))
	}
	in := inputRef.FindSubmatch(m[2])
	if in == nil {
		return "", append(problems, fmt.Sprintf("%s: installs coinpipe@%s, want @$[[ inputs.NAME ]], the include's ref", daemonYMLPath, m[2]))
	}
	name := string(in[1])
	docs, err := ciDocuments(daemonYMLPath, src)
	if err != nil {
		return "", append(problems, err.Error())
	}
	spec, declared := specInputs(docs)[name].(map[string]any)
	if !declared {
		return "", append(problems, fmt.Sprintf("%s: installs coinpipe at inputs.%s, which spec:inputs does not declare", daemonYMLPath, name))
	}
	if _, ok := spec["default"]; ok {
		problems = append(problems, fmt.Sprintf("%s: inputs.%s has a default; only the including .gitlab-ci.yml may set it", daemonYMLPath, name))
	}
	return name, problems
}

// daemonInclude is the include of daemon.yml in a rendered .gitlab-ci.yml.
func daemonInclude(name string, src []byte) (map[string]any, []string) {
	docs, err := ciDocuments(name, src)
	if err != nil || len(docs) != 1 {
		return nil, []string{fmt.Sprintf("%s: want one YAML document: %v", name, err)}
	}
	top, _ := docs[0].(map[string]any)
	includes, _ := top["include"].([]any)
	for _, inc := range includes {
		if inc, _ := inc.(map[string]any); inc["file"] == daemonYMLPath {
			return inc, nil
		}
	}
	return nil, []string{fmt.Sprintf("%s: does not include %s", name, daemonYMLPath)}
}

// checkIncludeRef reports a rendered .gitlab-ci.yml whose include ref of
// daemon.yml differs from the input daemon.yml installs coinpipe at.
func checkIncludeRef(name string, src []byte, input string) []string {
	inc, problems := daemonInclude(name, src)
	if inc == nil {
		return problems
	}
	inputs, _ := inc["inputs"].(map[string]any)
	value, _ := inputs[input].(string)
	if ref, _ := inc["ref"].(string); ref == "" || ref != value {
		return []string{fmt.Sprintf("%s: includes %s at ref %q but installs coinpipe at inputs.%s=%q", name, daemonYMLPath, ref, input, value)}
	}
	return nil
}

// checkInputs reports inputs a rendered include passes that daemon.yml's
// spec does not declare or types otherwise, and declared inputs without a
// default that it leaves out: GitLab refuses the pipeline for each.
func checkInputs(name string, src []byte, spec map[string]any) []string {
	inc, problems := daemonInclude(name, src)
	if inc == nil {
		return problems
	}
	given, _ := inc["inputs"].(map[string]any)
	for _, k := range slices.Sorted(maps.Keys(given)) {
		decl, ok := spec[k].(map[string]any)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: passes inputs.%s, which %s does not declare", name, k, daemonYMLPath))
			continue
		}
		want, _ := decl["type"].(string)
		if want == "" {
			want = "string"
		}
		if got := jsonType(given[k]); got != want {
			problems = append(problems, fmt.Sprintf("%s: inputs.%s is a %s, %s declares a %s", name, k, got, daemonYMLPath, want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		decl, _ := spec[k].(map[string]any)
		if _, hasDefault := decl["default"]; !hasDefault && given[k] == nil {
			problems = append(problems, fmt.Sprintf("%s: does not pass inputs.%s, which %s requires", name, k, daemonYMLPath))
		}
	}
	return problems
}

// jsonType names a decoded value's type as spec:inputs types do.
func jsonType(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case float64:
		return "number"
	case []any:
		return "array"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// TestCIPinsAgree runs the drift checks on the shipped files: the
// toolkit's pipeline, daemon.yml and every rendered out/<coin>, and a
// rendering pinned to a commit as coinpipe sync writes it.
func TestCIPinsAgree(t *testing.T) {
	mod, err := parseGoMod(readTestFile(t, "../go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, name := range []string{".gitlab-ci.yml", daemonYMLPath} {
		problems = append(problems, checkImages(name, readTestFile(t, filepath.Join("..", name)), mod)...)
	}
	daemonYML := readTestFile(t, filepath.Join("..", daemonYMLPath))
	input, p := daemonInstall(daemonYML, mod.module)
	problems = append(problems, p...)
	docs, err := ciDocuments(daemonYMLPath, daemonYML)
	if err != nil {
		t.Fatal(err)
	}
	spec := specInputs(docs)
	if len(spec) == 0 {
		t.Fatalf("%s declares no spec:inputs", daemonYMLPath)
	}
	rendered, err := filepath.Glob("../out/*/.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("../out")
	if len(rendered) == 0 || len(rendered) != len(entries) {
		t.Fatalf("found %d rendered .gitlab-ci.yml for %d folders in out/", len(rendered), len(entries))
	}
	pin := pinnedOptions
	files := renderPinned(t)
	all := map[string][]byte{}
	for _, f := range rendered {
		all[strings.TrimPrefix(f, "../")] = readTestFile(t, f)
	}
	for _, f := range files {
		if f.Path == ".gitlab-ci.yml" {
			all["pinned to "+pin.CIRef] = f.Data
			for _, want := range []string{"project: \"infra/coinpipe\"", "ref: \"" + pin.CIRef + "\"", "toolkit_ref: \"" + pin.CIRef + "\"", "toolkit_project: \"infra/coinpipe\""} {
				if !strings.Contains(string(f.Data), want) {
					t.Errorf("rendered with %+v, .gitlab-ci.yml lacks %s:\n%s", pin, want, f.Data)
				}
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(all)) {
		if input != "" {
			problems = append(problems, checkIncludeRef(n, all[n], input)...)
		}
		problems = append(problems, checkInputs(n, all[n], spec)...)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The drift checks catch each way the settings can part.
func TestCIPinsDrift(t *testing.T) {
	const (
		digest  = "@sha256:116d58cbd88c1297624acc6e967a060012422bacf9930927e23fb719189c6f36"
		golang  = "docker.io/library/golang:1.26.6-bookworm" + digest
		module  = "gitlab.com/coinpipe/coinpipe"
		header  = "spec:\n  inputs:\n    toolkit_ref:\n      type: string\n---\n"
		install = `go install "gitlab.com/coinpipe/coinpipe/cmd/coinpipe@$[[ inputs.toolkit_ref ]]"`
		include = "include:\n  - project: coinpipe/coinpipe\n    ref: %s\n    file: templates/ci/daemon.yml\n    inputs:\n%s"
	)
	go126 := goMod{module: module, goVersion: "1.26.6"}
	images := []struct {
		name, yaml string
		mod        goMod
		want       []string
	}{
		{"pinned, same Go", "default:\n  image: " + golang + "\n", go126, nil},
		{"after a spec header", header + "job:\n  image: golang:1.26.5" + digest + "\n", go126,
			[]string{`x.yml: image golang:1.26.5` + digest + ` runs Go "1.26.5", go.mod says go 1.26.6`}},
		{"image as a map", "job:\n  image:\n    name: golang:1.26.8-bookworm" + digest + "\n  script: [go test]\n", go126,
			[]string{`x.yml: image golang:1.26.8-bookworm` + digest + ` runs Go "1.26.8", go.mod says go 1.26.6`}},
		{"newer Go than go.mod", "job:\n  image: docker.io/library/golang:1.27.1-bookworm" + digest + "\n", go126,
			[]string{`x.yml: image docker.io/library/golang:1.27.1-bookworm` + digest + ` runs Go "1.27.1", go.mod says go 1.26.6`}},
		{"go.mod names a toolchain", "default:\n  image: " + golang + "\n", goMod{module: module, goVersion: "1.26.6", toolchain: "1.26.8"},
			[]string{`x.yml: image ` + golang + ` runs Go "1.26.6", go.mod says toolchain go1.26.8`}},
		{"tag without digest", "default:\n  image: docker.io/library/golang:1.26.6-bookworm\n", go126,
			[]string{"x.yml: image docker.io/library/golang:1.26.6-bookworm is not pinned by digest"}},
		{"other image without digest", "default:\n  image: " + golang + "\nb:\n  image: quay.io/buildah/stable:v1.43\n", go126,
			[]string{"x.yml: image quay.io/buildah/stable:v1.43 is not pinned by digest"}},
		{"no golang image", "b:\n  image: quay.io/buildah/stable:v1.43" + digest + "\n", go126, []string{"x.yml: no golang image"}},
	}
	for _, tt := range images {
		t.Run("images/"+tt.name, func(t *testing.T) {
			if got := checkImages("x.yml", []byte(tt.yaml), tt.mod); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}

	mods := []struct {
		name, src string
		want      goMod
	}{
		{"go only", "module m\n\ngo 1.26.6\n", goMod{module: "m", goVersion: "1.26.6"}},
		{"go and toolchain", "module m\n\ngo 1.26.6\n\ntoolchain go1.26.8\n", goMod{module: "m", goVersion: "1.26.6", toolchain: "1.26.8"}},
	}
	for _, tt := range mods {
		t.Run("go.mod/"+tt.name, func(t *testing.T) {
			if got, err := parseGoMod([]byte(tt.src)); err != nil || got != tt.want {
				t.Errorf("got %+v, %v, want %+v", got, err, tt.want)
			}
		})
	}

	installs := []struct {
		name, yaml, input string
		want              []string
	}{
		{"installs the include's ref", header + "conformance:\n  script:\n    - " + install + "\n", "toolkit_ref", nil},
		{"a version of its own", header + "conformance:\n  script:\n    - go install gitlab.com/coinpipe/coinpipe/cmd/coinpipe@v0.1.0\n", "",
			[]string{daemonYMLPath + ": installs coinpipe@v0.1.0, want @$[[ inputs.NAME ]], the include's ref"}},
		{"a default of its own", "spec:\n  inputs:\n    toolkit_ref:\n      default: main\n---\nconformance:\n  script:\n    - " + install + "\n", "toolkit_ref",
			[]string{daemonYMLPath + ": inputs.toolkit_ref has a default; only the including .gitlab-ci.yml may set it"}},
		{"an undeclared input", "spec:\n  inputs:\n    coin: {}\n---\nconformance:\n  script:\n    - " + install + "\n", "",
			[]string{daemonYMLPath + ": installs coinpipe at inputs.toolkit_ref, which spec:inputs does not declare"}},
		{"another module", header + "conformance:\n  script:\n    - go install example.com/fork/cmd/coinpipe@$[[ inputs.toolkit_ref ]]\n", "toolkit_ref",
			[]string{daemonYMLPath + ": installs example.com/fork/cmd/coinpipe, want gitlab.com/coinpipe/coinpipe/cmd/coinpipe"}},
		{"no install", header + "conformance:\n  script: [coinpipe version]\n", "", []string{daemonYMLPath + ": no go install of coinpipe"}},
	}
	for _, tt := range installs {
		t.Run("install/"+tt.name, func(t *testing.T) {
			input, got := daemonInstall([]byte(tt.yaml), module)
			if input != tt.input || strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, %q\nwant %q, %q", input, got, tt.input, tt.want)
			}
		})
	}

	refs := []struct {
		name, yaml string
		want       []string
	}{
		{"same ref", fmt.Sprintf(include, "main", "      toolkit_ref: main\n"), nil},
		{"ref and input differ", fmt.Sprintf(include, "v0.1.0", "      toolkit_ref: main\n"),
			[]string{`x/.gitlab-ci.yml: includes templates/ci/daemon.yml at ref "v0.1.0" but installs coinpipe at inputs.toolkit_ref="main"`}},
		{"input missing", fmt.Sprintf(include, "main", "      coin: x\n"),
			[]string{`x/.gitlab-ci.yml: includes templates/ci/daemon.yml at ref "main" but installs coinpipe at inputs.toolkit_ref=""`}},
		{"no include", "variables:\n  COINPIPE_REF: main\n", []string{"x/.gitlab-ci.yml: does not include templates/ci/daemon.yml"}},
	}
	for _, tt := range refs {
		t.Run("ref/"+tt.name, func(t *testing.T) {
			if got := checkIncludeRef("x/.gitlab-ci.yml", []byte(tt.yaml), "toolkit_ref"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}

	spec := map[string]any{
		"coin":        map[string]any{"type": "string"},
		"toolkit_ref": map[string]any{},
		"auto_deploy": map[string]any{"type": "boolean", "default": false},
	}
	inputs := []struct {
		name, given string
		want        []string
	}{
		{"all required, default left out", "      coin: x\n      toolkit_ref: main\n", nil},
		{"required left out", "      coin: x\n",
			[]string{"x/.gitlab-ci.yml: does not pass inputs.toolkit_ref, which templates/ci/daemon.yml requires"}},
		{"unknown input", "      coin: x\n      toolkit_ref: main\n      stage: test\n",
			[]string{"x/.gitlab-ci.yml: passes inputs.stage, which templates/ci/daemon.yml does not declare"}},
		{"boolean as a string", "      coin: x\n      toolkit_ref: main\n      auto_deploy: \"false\"\n",
			[]string{"x/.gitlab-ci.yml: inputs.auto_deploy is a string, templates/ci/daemon.yml declares a boolean"}},
		{"a version as a number", "      coin: x\n      toolkit_ref: 31.1\n",
			[]string{"x/.gitlab-ci.yml: inputs.toolkit_ref is a number, templates/ci/daemon.yml declares a string"}},
	}
	for _, tt := range inputs {
		t.Run("inputs/"+tt.name, func(t *testing.T) {
			if got := checkInputs("x/.gitlab-ci.yml", []byte(fmt.Sprintf(include, "main", tt.given)), spec); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// validateCIDocuments validates every document of a CI file against
// GitLab's schema: a template's spec header is one too.
func validateCIDocuments(sch *jsonschema.Schema, name string, src []byte) error {
	docs, err := ciDocuments(name, src)
	if err != nil {
		return err
	}
	for i, d := range docs {
		if err := sch.Validate(d); err != nil {
			return fmt.Errorf("%s (document %d of %d) does not match GitLab's CI schema: %w", name, i+1, len(docs), err)
		}
	}
	return nil
}

// renderPinned renders the bitcoin-guix fixture with the toolkit pinned to
// a commit, as coinpipe sync does.
func renderPinned(t *testing.T) []File {
	t.Helper()
	files, err := Render(openFixture(t, "bitcoin-guix"), pinnedOptions)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// pinnedOptions is a rendering as coinpipe sync writes it: the toolkit
// project and the commit it runs from.
var pinnedOptions = Options{CIProject: "infra/coinpipe", CIRef: "0123456789abcdef0123456789abcdef01234567"}
