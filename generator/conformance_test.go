package generator

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// renderedCoin is a shipped coin and its rendered daemon repository.
type renderedCoin struct {
	m     *manifest.Manifest
	files map[string][]byte
}

// renderAll renders every coin in dir.
func renderAll(t testing.TB, dir string) []renderedCoin {
	t.Helper()
	dirs, err := manifest.Discover(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []renderedCoin
	for _, d := range dirs {
		m, err := manifest.Open(d)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		files, err := Render(m, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		rc := renderedCoin{m: m, files: map[string][]byte{}}
		for _, f := range files {
			rc.files[f.Path] = f.Data
		}
		out = append(out, rc)
	}
	return out
}

// shippedCoins are coins/ and the fixtures: every signature mode.
func shippedCoins(t testing.TB) []renderedCoin {
	return append(renderAll(t, "../coins"), renderAll(t, "testdata/coins")...)
}

func TestCIYAMLMatchesGitLabSchema(t *testing.T) {
	sch := gitlabSchema(t)
	docs := map[string][]byte{
		"../.gitlab-ci.yml":          readTestFile(t, "../.gitlab-ci.yml"),
		"../templates/ci/daemon.yml": readTestFile(t, "../templates/ci/daemon.yml"),
	}
	for _, c := range shippedCoins(t) {
		docs[c.m.Name+"/.gitlab-ci.yml"] = c.files[".gitlab-ci.yml"]
	}
	// Pinned to a commit, as coinpipe sync renders it.
	for _, f := range renderPinned(t) {
		if f.Path == ".gitlab-ci.yml" {
			docs["pinned/"+f.Path] = f.Data
		}
	}
	for name, doc := range docs {
		if err := validateCIDocuments(sch, name, doc); err != nil {
			t.Error(err)
		}
	}
	// The check is real: a misspelt keyword is caught, in the jobs and in
	// the spec header.
	for _, typo := range [][2]string{{"  script:", "  scripts:"}, {"spec:\n  inputs:", "spec:\n  input:"}} {
		bad := bytes.Replace(docs["../templates/ci/daemon.yml"], []byte(typo[0]), []byte(typo[1]), 1)
		if err := validateCIDocuments(sch, "daemon.yml", bad); err == nil {
			t.Errorf("the schema accepted %q instead of %q", typo[1], typo[0])
		}
	}
}

func gitlabSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	const id = "https://gitlab.com/.gitlab-ci.yml"
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(readTestFile(t, "../testdata/schemas/gitlab-ci.json")))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func readTestFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every generated shell script, and every RUN of every Dockerfile, passes
// shellcheck as POSIX sh.
func TestShellcheck(t *testing.T) {
	testenv.RequireTools(t, "shellcheck")
	for _, c := range shippedCoins(t) {
		scripts := map[string][]byte{
			"release.sh":           c.files["release.sh"],
			"docker-entrypoint.sh": c.files["docker-entrypoint.sh"],
			"coinpipe-height":      c.files["coinpipe-height"],
			"coinpipe-health":      c.files["coinpipe-health"],
			"node-height":          c.files["node-height"],
			"node-metrics":         c.files["node-metrics"],
		}
		for _, n := range dockerfile(t, c.files["Dockerfile"]).Children {
			if strings.EqualFold(n.Value, "run") && n.Next != nil && !n.Attributes["json"] {
				scripts[fmt.Sprintf("Dockerfile:%d (RUN)", n.StartLine)] = []byte("#!/bin/sh\n" + n.Next.Value + "\n")
			}
		}
		for name, src := range scripts {
			cmd := exec.Command("shellcheck", "--shell=sh", "--severity=style", "-")
			cmd.Stdin = bytes.NewReader(src)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: shellcheck: %v\n%s", c.m.Name, name, err, out)
			}
		}
	}
}

func dockerfile(t *testing.T, src []byte) *parser.Node {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("BuildKit cannot parse the Dockerfile: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("BuildKit warns: %v", res.Warnings)
	}
	return res.AST
}

var pinnedImage = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// What a reviewer checks in every generated Dockerfile.
func TestDockerfileStructure(t *testing.T) {
	for _, c := range shippedCoins(t) {
		t.Run(c.m.Name, func(t *testing.T) {
			ast := dockerfile(t, c.files["Dockerfile"])
			var (
				stages               int
				args                 = map[string]string{}
				sha256At, extractAt  = -1, -1
				user, stopSignal     string
				labels, env, volumes []string
				exposed              []string
			)
			for i, n := range ast.Children {
				switch strings.ToLower(n.Value) {
				case "arg":
					if k, v, ok := strings.Cut(n.Next.Value, "="); ok {
						args[k] = v
					}
				case "from":
					stages++
					if n.Next.Value != "${BASE_IMAGE}" {
						t.Errorf("FROM %s: every stage must start from the pinned ${BASE_IMAGE}", n.Next.Value)
					}
				case "run":
					cmd := n.Next.Value
					if strings.Contains(cmd, "sha256sum -c") && sha256At < 0 {
						sha256At = i
					}
					if strings.Contains(cmd, "release.sh extract") {
						extractAt = i
					}
					if regexp.MustCompile(`keyserver|recv-keys|--fetch-keys`).MatchString(cmd) {
						t.Errorf("RUN fetches keys from a keyserver: %s", cmd)
					}
				case "user":
					user = n.Next.Value
				case "stopsignal":
					stopSignal = n.Next.Value
				case "label":
					for k, v := range keyValues(n) {
						labels = append(labels, k+"="+v)
					}
				case "env":
					for k, v := range keyValues(n) {
						env = append(env, k+"="+v)
					}
				case "volume":
					for v := n.Next; v != nil; v = v.Next {
						volumes = append(volumes, v.Value)
					}
				case "expose":
					for p := n.Next; p != nil; p = p.Next {
						exposed = append(exposed, p.Value)
					}
				case "copy":
					src := n.Next.Value
					if !strings.HasPrefix(strings.Join(n.Flags, " "), "--from=") && c.files[src] == nil && !strings.HasSuffix(src, "/") {
						t.Errorf("COPY %s: not a file of the rendered repository", src)
					}
				}
			}
			if base := args["BASE_IMAGE"]; base != c.m.Image.Base || !pinnedImage.MatchString(base) {
				t.Errorf("ARG BASE_IMAGE=%q, want the manifest's digest-pinned %q", base, c.m.Image.Base)
			}
			if _, ok := args["DOWNLOAD_MIRROR"]; !ok {
				t.Error("no ARG DOWNLOAD_MIRROR")
			}
			if stages != 2 {
				t.Errorf("%d stages, want a builder and a runtime stage", stages)
			}
			if sha256At < 0 || extractAt < 0 || sha256At > extractAt {
				t.Errorf("the pinned sha256 must be checked (RUN sha256sum -c, at %d) before extraction (at %d)", sha256At, extractAt)
			}
			if want := fmt.Sprintf("%d:%d", c.m.Image.UID, c.m.Image.UID); user != want || strings.HasPrefix(user, "0") || user == "root" {
				t.Errorf("USER %q, want the non-root %s", user, want)
			}
			if stopSignal != c.m.Runtime.StopSignal {
				t.Errorf("STOPSIGNAL %q, want %q", stopSignal, c.m.Runtime.StopSignal)
			}
			for _, l := range []string{"org.opencontainers.image.version", "org.opencontainers.image.source", "org.opencontainers.image.revision"} {
				if !containsPrefix(labels, l+"=") {
					t.Errorf("no LABEL %s (have %v)", l, labels)
				}
			}
			envVersion := strings.ToUpper(strings.ReplaceAll(c.m.Name, "-", "_")) + "_VERSION=" + c.m.Version
			if !contains(env, envVersion) {
				t.Errorf("no ENV %s (have %v)", envVersion, env)
			}
			if !contains(volumes, c.m.Runtime.DataDir) {
				t.Errorf("VOLUME %v lacks the data dir %s", volumes, c.m.Runtime.DataDir)
			}
			for _, ports := range c.m.Runtime.Ports {
				for _, p := range ports {
					if !contains(exposed, p.String()) {
						t.Errorf("port %s is not exposed (EXPOSE %v)", p, exposed)
					}
				}
			}
			if bytes.Contains(c.files["Dockerfile"], []byte(":latest")) {
				t.Error("the Dockerfile names a latest tag")
			}
		})
	}
}

// keyValues reads LABEL and ENV, which BuildKit parses into
// (key, value, separator) triples; quotes are kept on values.
func keyValues(n *parser.Node) map[string]string {
	kv := map[string]string{}
	for k := n.Next; k != nil && k.Next != nil; k = k.Next.Next.Next {
		kv[k.Value] = strings.Trim(k.Next.Value, `"`)
		if k.Next.Next == nil {
			break
		}
	}
	return kv
}

func containsPrefix(list []string, prefix string) bool {
	for _, v := range list {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Every generated file that allows comments names its manifest and says it
// must not be edited by hand.
func TestGeneratedHeader(t *testing.T) {
	for _, c := range shippedCoins(t) {
		for _, name := range []string{"Dockerfile", "release.sh", "docker-entrypoint.sh", "node@.service", ".gitlab-ci.yml", "README.md", "coinpipe-height", "coinpipe-health", "node-height", "node-metrics"} {
			want := "Generated by coinpipe from coins/" + c.m.Name + "/coin.yaml. Do not edit by hand"
			if !bytes.Contains(c.files[name], []byte(want)) {
				t.Errorf("%s/%s does not say %q", c.m.Name, name, want)
			}
		}
	}
}

// out/ holds the rendered coins/ (the golden files); -update rewrites it.
func TestGoldenOut(t *testing.T) {
	for _, c := range renderAll(t, "../coins") {
		files, err := Render(c.m, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if _, err := Write(t.Context(), "../out", c.m.Name, files); err != nil {
				t.Fatal(err)
			}
		}
		changes, err := Check(t.Context(), "../out", c.m.Name, files)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range changes {
			t.Errorf("out/%s/%s would be %s: run go test ./generator -update (or make generate)", c.m.Name, ch.Path, ch.Kind)
		}
	}
	entries, _ := os.ReadDir("../out")
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join("../coins", e.Name(), manifest.FileName)); err != nil {
			t.Errorf("out/%s has no coin in coins/", e.Name())
		}
	}
}
