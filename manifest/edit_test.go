package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newSum is a stand-in artifact hash for the edit tests: the sha256 of a
// label, so every platform of every coin gets a distinct, well-formed value.
func newSum(label string) string {
	s := sha256.Sum256([]byte(label))
	return hex.EncodeToString(s[:])
}

// TestSetReleaseShippedCoins edits every shipped coin.yaml and diffs the
// whole file: only the version line and the sha256 lines may change, each
// exactly by its value, and the result must load and validate.
func TestSetReleaseShippedCoins(t *testing.T) {
	files, err := filepath.Glob("../coins/*/coin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d shipped coins under ../coins, want at least 5", len(files))
	}
	for _, file := range files {
		coin := filepath.Base(filepath.Dir(file))
		for _, version := range []string{"32.0", "0.19.0.0-rc1", "1.14.10"} {
			t.Run(coin+"/"+version, func(t *testing.T) {
				// The shipped folder is read-only input: edit a copy. Its
				// committed release/ material belongs to the old version (the
				// watcher replaces it in the same commit), so it is left out.
				dir := filepath.Join(t.TempDir(), coin)
				if err := os.CopyFS(dir, os.DirFS(filepath.Dir(file))); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(filepath.Join(dir, "release")); err != nil {
					t.Fatal(err)
				}
				src, err := os.ReadFile(filepath.Join(dir, FileName))
				if err != nil {
					t.Fatal(err)
				}
				before, err := Parse(filepath.Join(dir, FileName), src)
				if err != nil {
					t.Fatal(err)
				}
				sums := map[string]string{}
				for _, platform := range before.Release.Platforms() {
					sums[platform] = newSum(coin + " " + version + " " + platform)
				}

				out, err := SetRelease(src, version, sums)
				if err != nil {
					t.Fatalf("SetRelease: %v", err)
				}

				// What a reviewer expects: the old value replaced by the new
				// one on its own line, every other line byte for byte.
				want := map[int]string{}
				wantLine := func(path, old, new string) {
					line := before.Pos(path).Line
					orig := strings.Split(string(src), "\n")[line-1]
					if !strings.Contains(orig, old) {
						t.Fatalf("line %d %q does not hold %s %q", line, orig, path, old)
					}
					want[line] = strings.Replace(orig, old, new, 1)
				}
				wantLine("version", before.Version, version)
				for platform, sum := range sums {
					wantLine("release.artifacts."+platform+".sha256", before.Release.Artifacts[platform].SHA256, sum)
				}
				inLines, outLines := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
				if len(inLines) != len(outLines) {
					t.Fatalf("the edit changed the number of lines: %d → %d", len(inLines), len(outLines))
				}
				changed := 0
				for i := range inLines {
					if w, ok := want[i+1]; ok {
						changed++
						if outLines[i] != w {
							t.Errorf("line %d:\n got %q\nwant %q", i+1, outLines[i], w)
						}
					} else if outLines[i] != inLines[i] {
						t.Errorf("line %d changed though it holds neither version nor a sha256:\n was %q\n now %q", i+1, inLines[i], outLines[i])
					}
				}
				if changed != 1+len(sums) {
					t.Errorf("%d lines changed, want %d", changed, 1+len(sums))
				}

				if err := os.WriteFile(filepath.Join(dir, FileName), out, 0o644); err != nil {
					t.Fatal(err)
				}
				m, err := Open(dir)
				if err != nil {
					t.Fatalf("the edited manifest does not validate: %v", err)
				}
				if m.Version != version {
					t.Errorf("version = %q, want %q", m.Version, version)
				}
				for platform, sum := range sums {
					if got := m.Release.Artifacts[platform].SHA256; got != sum {
						t.Errorf("%s sha256 = %q, want %q", platform, got, sum)
					}
				}
			})
		}
	}
}

// TestSetReleaseStyles covers the shapes a hand-written coin.yaml may take:
// each keeps its bytes except the values.
func TestSetReleaseStyles(t *testing.T) {
	a1, a2 := newSum("amd64 old"), newSum("arm64 old")
	n1, n2 := newSum("amd64 new"), newSum("arm64 new")
	// Sixty-two digits and "e5" is a hex digest yaml.v3 would read as a float.
	floatLike := strings.Repeat("1", 62) + "e5"
	tests := []struct {
		name    string
		in      string
		version string
		sums    map[string]string
		want    string
	}{{
		name:    "double-quoted stays double-quoted, comments kept",
		in:      "name: x # the coin\nversion: \"31.1\"   # pinned\nrelease:\n  artifacts:\n    linux/amd64:\n      url: https://e.example/{version}.tgz\n      sha256: " + a1 + " # from SHA256SUMS\n",
		version: "32.0",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "name: x # the coin\nversion: \"32.0\"   # pinned\nrelease:\n  artifacts:\n    linux/amd64:\n      url: https://e.example/{version}.tgz\n      sha256: " + n1 + " # from SHA256SUMS\n",
	}, {
		name:    "single-quoted stays single-quoted",
		in:      "version: '0.18.5.1'\nrelease:\n  artifacts:\n    linux/amd64: {url: 'https://e.example/{version}', sha256: '" + a1 + "'}\n",
		version: "0.18.6.0",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "version: '0.18.6.0'\nrelease:\n  artifacts:\n    linux/amd64: {url: 'https://e.example/{version}', sha256: '" + n1 + "'}\n",
	}, {
		name:    "plain stays plain when it stays a string",
		in:      "version: 1.14.8 # geth\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + a1 + "\n",
		version: "1.14.10",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "version: 1.14.10 # geth\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + n1 + "\n",
	}, {
		name:    "plain that would become a float is double-quoted",
		in:      "version: v31.1\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + a1 + "\n",
		version: "32.0",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "version: \"32.0\"\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + n1 + "\n",
	}, {
		name:    "plain sha256 that would become a float is double-quoted",
		in:      "version: \"1\"\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + a1 + "\n",
		version: "2",
		sums:    map[string]string{"linux/amd64": floatLike},
		want:    "version: \"2\"\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: \"" + floatLike + "\"\n",
	}, {
		name:    "CRLF line endings",
		in:      "# c\r\nversion: \"31.1\"\r\n\r\nrelease:\r\n  artifacts:\r\n    linux/amd64:\r\n      sha256: " + a1 + "\r\n    linux/arm64:\r\n      sha256: \"" + a2 + "\"\r\n",
		version: "32.0",
		sums:    map[string]string{"linux/amd64": n1, "linux/arm64": n2},
		want:    "# c\r\nversion: \"32.0\"\r\n\r\nrelease:\r\n  artifacts:\r\n    linux/amd64:\r\n      sha256: " + n1 + "\r\n    linux/arm64:\r\n      sha256: \"" + n2 + "\"\r\n",
	}, {
		name:    "flow-style artifacts after non-ASCII text on the same line",
		in:      "version: \"1.0\"\nrelease:\n  artifacts:\n    linux/amd64: {url: \"https://e.example/ü/{version}\", sha256: " + a1 + "}   # ünïcode\n    linux/arm64: {\n      sha256: " + a2 + ",\n      url: \"https://e.example/{version}\"}\n",
		version: "1.1",
		sums:    map[string]string{"linux/amd64": n1, "linux/arm64": n2},
		want:    "version: \"1.1\"\nrelease:\n  artifacts:\n    linux/amd64: {url: \"https://e.example/ü/{version}\", sha256: " + n1 + "}   # ünïcode\n    linux/arm64: {\n      sha256: " + n2 + ",\n      url: \"https://e.example/{version}\"}\n",
	}, {
		name:    "release before version, blank lines and indentation by four",
		in:      "release:\n\n    artifacts:\n        linux/amd64:\n            sha256: " + a1 + "\n\n\nversion: \"9\"\n",
		version: "10",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "release:\n\n    artifacts:\n        linux/amd64:\n            sha256: " + n1 + "\n\n\nversion: \"10\"\n",
	}, {
		name:    "byte order mark",
		in:      "\ufeffversion: \"1\"\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n",
		version: "2",
		sums:    map[string]string{"linux/amd64": n1},
		want:    "\ufeffversion: \"2\"\nrelease: {artifacts: {linux/amd64: {sha256: " + n1 + "}}}\n",
	}, {
		name:    "a double quote in the new value is escaped",
		in:      "version: \"1\"\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n",
		version: `2"b\`,
		sums:    map[string]string{"linux/amd64": n1},
		want:    "version: \"2\\\"b\\\\\"\nrelease: {artifacts: {linux/amd64: {sha256: " + n1 + "}}}\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetRelease([]byte(tc.in), tc.version, tc.sums)
			if err != nil {
				t.Fatalf("SetRelease: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
		})
	}
}

func TestSetReleaseErrors(t *testing.T) {
	a1, n1 := newSum("amd64 old"), newSum("amd64 new")
	two := "version: \"1\"\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + a1 + "\n    linux/arm64:\n      sha256: " + a1 + "\n"
	one := "version: \"1\"\nrelease:\n  artifacts:\n    linux/amd64:\n      sha256: " + a1 + "\n"
	tests := []struct {
		name, in, version string
		sums              map[string]string
		want              string
	}{
		{"a platform missing from the map", two, "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: release.artifacts lists linux/arm64 but no new sha256 was given for it"},
		{"an unknown platform in the map", one, "2", map[string]string{"linux/amd64": n1, "linux/riscv64": n1},
			"editing coin.yaml: a new sha256 was given for linux/riscv64, which release.artifacts does not list"},
		{"empty version", one, "", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: the new version is empty"},
		{"a line break in the version", one, "2\nname: evil", map[string]string{"linux/amd64": n1},
			`editing coin.yaml: the new version "2\nname: evil" holds a control character or line break`},
		{"no version", "release: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: version is missing"},
		{"an artifact without sha256", "version: \"1\"\nrelease: {artifacts: {linux/amd64: {url: x}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: release.artifacts.linux/amd64.sha256 is missing"},
		{"an aliased artifact", "version: \"1\"\nrelease:\n  artifacts:\n    linux/amd64: &a {sha256: " + a1 + "}\n    linux/arm64: *a\n", "2", map[string]string{"linux/amd64": n1, "linux/arm64": n1},
			"editing coin.yaml: release.artifacts.linux/arm64 (line 5) is an alias; write the value out"},
		{"a block scalar version", "version: |\n  1\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: version (line 1) is a block scalar (| or >); write it on one line"},
		{"a tagged version", "version: !!str 1\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: version (line 1) carries an anchor or a tag; write the plain value"},
		{"a plain version folded over two lines", "version: 1\n  2\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: version (line 1) is a plain value spanning lines; write it on one line"},
		{"version written twice", "version: \"1\"\nversion: \"1\"\nrelease: {artifacts: {linux/amd64: {sha256: " + a1 + "}}}\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: version is written twice (line 2)"},
		{"not YAML", "version: [\n", "2", map[string]string{"linux/amd64": n1},
			"editing coin.yaml: yaml: line 1: did not find expected node content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetRelease([]byte(tc.in), tc.version, tc.sums)
			if err == nil {
				t.Fatalf("SetRelease succeeded:\n%s", got)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %q\nwant %q", err, tc.want)
			}
		})
	}
}
