package generator

import (
	"fmt"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The shipped CI runs on a real runner only while three settings agree
// (docs/architecture.md §4): the golang images' Go version and go.mod's go
// directive (the images set GOTOOLCHAIN=local, so an older Go refuses the
// module), and the toolkit ref a daemon repository includes daemon.yml from
// and the coinpipe that daemon.yml installs.

var (
	goDirectivePattern = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)
	modulePattern      = regexp.MustCompile(`(?m)^module\s+(\S+)\s*$`)
	// go install "<module>/cmd/coinpipe@${VAR}" or ${VAR:?message}.
	coinpipeInstall = regexp.MustCompile(`go install "?([^"@\s]+)@(\$\{[^}]*\}|[^"\s]+)`)
	refVariable     = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)(:\?[^}]*)?\}$`)
)

const daemonYMLPath = "templates/ci/daemon.yml"

// goMod is what the drift checks need from go.mod.
type goMod struct{ module, goVersion string }

func parseGoMod(src []byte) (goMod, error) {
	g, m := goDirectivePattern.FindSubmatch(src), modulePattern.FindSubmatch(src)
	if g == nil || m == nil {
		return goMod{}, fmt.Errorf("go.mod has no module or go directive")
	}
	return goMod{module: string(m[1]), goVersion: string(g[1])}, nil
}

// ciImages lists every image: of a decoded CI document (a string, or a map
// with name:), sorted.
func ciImages(v any) []string {
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
	walk(v)
	sort.Strings(out)
	return out
}

// checkImages reports images that are not digest-pinned and golang images
// whose Go version is not go.mod's go directive. A file with no golang
// image is reported too: every shipped pipeline runs Go.
func checkImages(name string, src []byte, goVersion string) []string {
	doc, err := testenv.DecodeYAML(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	var problems []string
	golang := 0
	for _, im := range ciImages(doc) {
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
		if v, _, _ := strings.Cut(tag, "-"); v != goVersion {
			problems = append(problems, fmt.Sprintf("%s: image %s runs Go %q, go.mod says go %s", name, im, v, goVersion))
		}
	}
	if golang == 0 {
		problems = append(problems, fmt.Sprintf("%s: no golang image", name))
	}
	return problems
}

// daemonInstall returns the variable whose value daemon.yml installs
// coinpipe at, checking that it installs this module's command and sets no
// value of its own for that variable.
func daemonInstall(src []byte, module string) (string, []string) {
	m := coinpipeInstall.FindSubmatch(src)
	if m == nil {
		return "", []string{daemonYMLPath + ": no go install of coinpipe"}
	}
	var problems []string
	if want := module + "/cmd/coinpipe"; string(m[1]) != want {
		problems = append(problems, fmt.Sprintf("%s: installs %s, want %s", daemonYMLPath, m[1], want))
	}
	v := refVariable.FindSubmatch(m[2])
	if v == nil {
		return "", append(problems, fmt.Sprintf("%s: installs coinpipe@%s, want @${VARIABLE} set to the include's ref", daemonYMLPath, m[2]))
	}
	name := string(v[1])
	doc, err := testenv.DecodeYAML(src)
	if err != nil {
		return "", append(problems, fmt.Sprintf("%s: %v", daemonYMLPath, err))
	}
	// A default here could disagree with the including repository's ref.
	if vars, ok := doc.(map[string]any)["variables"].(map[string]any); ok {
		if _, ok := vars[name]; ok {
			problems = append(problems, fmt.Sprintf("%s: sets %s itself; only the including .gitlab-ci.yml may", daemonYMLPath, name))
		}
	}
	return name, problems
}

// checkIncludeRef reports a daemon repository's .gitlab-ci.yml whose
// include ref of daemon.yml differs from the value of variable.
func checkIncludeRef(name string, src []byte, variable string) []string {
	doc, err := testenv.DecodeYAML(src)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	top, _ := doc.(map[string]any)
	vars, _ := top["variables"].(map[string]any)
	value, _ := vars[variable].(string)
	includes, _ := top["include"].([]any)
	var problems []string
	found := false
	for _, inc := range includes {
		inc, _ := inc.(map[string]any)
		if inc["file"] != daemonYMLPath {
			continue
		}
		found = true
		if ref, _ := inc["ref"].(string); ref == "" || ref != value {
			problems = append(problems, fmt.Sprintf("%s: includes %s at ref %q but installs coinpipe at %s=%q", name, daemonYMLPath, ref, variable, value))
		}
	}
	if !found {
		problems = append(problems, fmt.Sprintf("%s: does not include %s", name, daemonYMLPath))
	}
	return problems
}

// TestCIPinsAgree runs the drift checks on the shipped files: the
// toolkit's pipeline, daemon.yml and every rendered out/<coin>.
func TestCIPinsAgree(t *testing.T) {
	mod, err := parseGoMod(readTestFile(t, "../go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, name := range []string{".gitlab-ci.yml", daemonYMLPath} {
		problems = append(problems, checkImages(name, readTestFile(t, filepath.Join("..", name)), mod.goVersion)...)
	}
	variable, p := daemonInstall(readTestFile(t, filepath.Join("..", daemonYMLPath)), mod.module)
	problems = append(problems, p...)
	rendered, err := filepath.Glob("../out/*/.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("../out")
	if len(rendered) == 0 || len(rendered) != len(entries) {
		t.Fatalf("found %d rendered .gitlab-ci.yml for %d folders in out/", len(rendered), len(entries))
	}
	if variable != "" {
		for _, f := range rendered {
			problems = append(problems, checkIncludeRef(strings.TrimPrefix(f, "../"), readTestFile(t, f), variable)...)
		}
		// --ci-ref moves both: a commit pin, as coinpipe sync is to write.
		pin := Options{CIProject: "infra/coinpipe", CIRef: "0123456789abcdef0123456789abcdef01234567"}
		files, err := Render(openFixture(t, "bitcoin-guix"), pin)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Path == ".gitlab-ci.yml" {
				problems = append(problems, checkIncludeRef("--ci-ref "+pin.CIRef, f.Data, variable)...)
				if !strings.Contains(string(f.Data), "ref: \""+pin.CIRef+"\"") {
					t.Errorf("--ci-ref %s is not the include's ref:\n%s", pin.CIRef, f.Data)
				}
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The drift checks catch each way the settings can part.
func TestCIPinsDrift(t *testing.T) {
	const (
		digest   = "@sha256:116d58cbd88c1297624acc6e967a060012422bacf9930927e23fb719189c6f36"
		golang   = "docker.io/library/golang:1.26.6-bookworm" + digest
		module   = "gitlab.com/coinpipe/coinpipe"
		install  = `go install "gitlab.com/coinpipe/coinpipe/cmd/coinpipe@${COINPIPE_REF:?set it}"`
		rendered = "include:\n  - project: coinpipe/coinpipe\n    ref: %s\n    file: templates/ci/daemon.yml\nvariables:\n  COINPIPE_REF: %s\n"
	)
	images := []struct {
		name, yaml string
		want       []string
	}{
		{"pinned, same Go", "default:\n  image: " + golang + "\n", nil},
		{"image as a map", "job:\n  image:\n    name: golang:1.26.8-bookworm" + digest + "\n  script: [go test]\n",
			[]string{`x.yml: image golang:1.26.8-bookworm` + digest + ` runs Go "1.26.8", go.mod says go 1.26.6`}},
		{"newer Go than go.mod", "job:\n  image: docker.io/library/golang:1.27.1-bookworm" + digest + "\n",
			[]string{`x.yml: image docker.io/library/golang:1.27.1-bookworm` + digest + ` runs Go "1.27.1", go.mod says go 1.26.6`}},
		{"tag without digest", "default:\n  image: docker.io/library/golang:1.26.6-bookworm\n",
			[]string{"x.yml: image docker.io/library/golang:1.26.6-bookworm is not pinned by digest"}},
		{"other image without digest", "default:\n  image: " + golang + "\nb:\n  image: quay.io/buildah/stable:v1.43\n",
			[]string{"x.yml: image quay.io/buildah/stable:v1.43 is not pinned by digest"}},
		{"no golang image", "b:\n  image: quay.io/buildah/stable:v1.43" + digest + "\n", []string{"x.yml: no golang image"}},
	}
	for _, tt := range images {
		t.Run("images/"+tt.name, func(t *testing.T) {
			if got := checkImages("x.yml", []byte(tt.yaml), "1.26.6"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}

	installs := []struct {
		name, yaml, variable string
		want                 []string
	}{
		{"installs the include's ref", "conformance:\n  script:\n    - " + install + "\n", "COINPIPE_REF", nil},
		{"a version of its own", "conformance:\n  script:\n    - go install gitlab.com/coinpipe/coinpipe/cmd/coinpipe@v0.1.0\n", "",
			[]string{daemonYMLPath + ": installs coinpipe@v0.1.0, want @${VARIABLE} set to the include's ref"}},
		{"a default of its own", "variables:\n  COINPIPE_REF: v0.1.0\nconformance:\n  script:\n    - " + install + "\n", "COINPIPE_REF",
			[]string{daemonYMLPath + ": sets COINPIPE_REF itself; only the including .gitlab-ci.yml may"}},
		{"another module", "conformance:\n  script:\n    - go install example.com/fork/cmd/coinpipe@${COINPIPE_REF}\n", "COINPIPE_REF",
			[]string{daemonYMLPath + ": installs example.com/fork/cmd/coinpipe, want gitlab.com/coinpipe/coinpipe/cmd/coinpipe"}},
		{"no install", "conformance:\n  script: [coinpipe version]\n", "", []string{daemonYMLPath + ": no go install of coinpipe"}},
	}
	for _, tt := range installs {
		t.Run("install/"+tt.name, func(t *testing.T) {
			variable, got := daemonInstall([]byte(tt.yaml), module)
			if variable != tt.variable || strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, %q\nwant %q, %q", variable, got, tt.variable, tt.want)
			}
		})
	}

	refs := []struct {
		name, yaml string
		want       []string
	}{
		{"same ref", fmt.Sprintf(rendered, "main", "main"), nil},
		{"ref and variable differ", fmt.Sprintf(rendered, "v0.1.0", "main"),
			[]string{`x/.gitlab-ci.yml: includes templates/ci/daemon.yml at ref "v0.1.0" but installs coinpipe at COINPIPE_REF="main"`}},
		{"variable missing", "include:\n  - project: coinpipe/coinpipe\n    ref: main\n    file: templates/ci/daemon.yml\n",
			[]string{`x/.gitlab-ci.yml: includes templates/ci/daemon.yml at ref "main" but installs coinpipe at COINPIPE_REF=""`}},
		{"no include", "variables:\n  COINPIPE_REF: main\n", []string{"x/.gitlab-ci.yml: does not include templates/ci/daemon.yml"}},
	}
	for _, tt := range refs {
		t.Run("ref/"+tt.name, func(t *testing.T) {
			if got := checkIncludeRef("x/.gitlab-ci.yml", []byte(tt.yaml), "COINPIPE_REF"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}
