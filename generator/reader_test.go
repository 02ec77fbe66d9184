package generator

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// What a reader of a daemon repository needs is in it: the coin's
// SOURCES.md as it is in the toolkit, its warnings (and mode none's) at the
// top of the README, and the mode none warning needs no manifest line.
func TestReaderRepository(t *testing.T) {
	for _, c := range shippedCoins(t) {
		t.Run(c.m.Name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(c.m.Dir, manifest.SourcesFile))
			switch {
			case err == nil && !bytes.Equal(c.files[manifest.SourcesFile], want):
				t.Errorf("SOURCES.md differs from %s/SOURCES.md", c.m.Dir)
			case os.IsNotExist(err) && c.files[manifest.SourcesFile] != nil:
				t.Errorf("SOURCES.md rendered for a coin without one")
			case os.IsNotExist(err) && bytes.Contains(c.files["README.md"], []byte("SOURCES.md")):
				t.Errorf("README.md links a SOURCES.md the repository lacks")
			case err != nil && !os.IsNotExist(err):
				t.Fatal(err)
			}
			readme := string(c.files["README.md"])
			warnings := append([]string(nil), c.m.Warnings...)
			if c.m.Release.Signatures.Mode == manifest.ModeNone {
				warnings = append(warnings, "Upstream signs nothing for "+c.m.Name+": only the sha256 pinned in coin.yaml protects this build (see Verification below).")
			}
			top, _, _ := strings.Cut(readme, "## What is built")
			for _, w := range warnings {
				if !strings.Contains(top, "\n> - "+w+"\n") {
					t.Errorf("README.md does not open with the warning %q:\n%s", w, top)
				}
			}
			if len(warnings) == 0 && strings.Contains(top, "Read before deploying") {
				t.Errorf("README.md warns though the coin has no warning:\n%s", top)
			}
		})
	}
}

// The shipped coins that must carry a warning do.
func TestShippedWarnings(t *testing.T) {
	byName := map[string]renderedCoin{}
	for _, c := range renderAll(t, "../coins") {
		byName[c.m.Name] = c
	}
	for name, want := range map[string]string{
		"ethereum": "> - 1.14.8 is old: mainnet has had hard forks since that it does not implement. Do not roll it out to mainnet;",
		"zcash":    "> - Upstream signs nothing for zcash: only the sha256 pinned in coin.yaml protects this build",
	} {
		if !bytes.Contains(byName[name].files["README.md"], []byte(want)) {
			t.Errorf("%s/README.md lacks %q", name, want)
		}
	}
}

// The image's source and revision labels name the daemon repository and
// its commit (build arguments the daemon pipeline passes); upstream's repo
// and tag have labels of their own. An overlay config is installed as its
// base, with the daemon's path a link into the tmpfs the entry point writes.
func TestDockerfileLabelsAndOverlay(t *testing.T) {
	daemonYML := string(readTestFile(t, "../"+daemonYMLPath))
	for _, arg := range []string{`--build-arg "SOURCE_URL=${CI_PROJECT_URL}"`, `--build-arg "REVISION=${CI_COMMIT_SHA}"`} {
		if !strings.Contains(daemonYML, arg) {
			t.Errorf("%s: the build job lacks %s", daemonYMLPath, arg)
		}
	}
	for _, c := range shippedCoins(t) {
		t.Run(c.m.Name, func(t *testing.T) {
			ast := dockerfile(t, c.files["Dockerfile"])
			labels, args := map[string]string{}, map[string]string{}
			var copies, runs []string
			for _, n := range ast.Children {
				switch strings.ToLower(n.Value) {
				case "label":
					for k, v := range keyValues(n) {
						labels[k] = v
					}
				case "arg":
					k, v, _ := strings.Cut(n.Next.Value, "=")
					args[k] = v
				case "copy":
					copies = append(copies, n.Next.Value+" "+n.Next.Next.Value)
				case "run":
					runs = append(runs, n.Next.Value)
				}
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.source":   "${SOURCE_URL}",
				"org.opencontainers.image.revision": "${REVISION}",
				"io.coinpipe.upstream.source":       "https://github.com/" + c.m.Upstream.GitHub,
				"io.coinpipe.upstream.revision":     c.m.ExpandVersion(c.m.Upstream.Tag),
			} {
				if labels[k] != want {
					t.Errorf("LABEL %s=%q, want %q", k, labels[k], want)
				}
			}
			for _, a := range []string{"SOURCE_URL", "REVISION"} {
				if v, ok := args[a]; !ok || v != "" {
					t.Errorf("ARG %s: declared %v with default %q, want an empty default", a, ok, v)
				}
			}
			runDir := fmt.Sprintf("install -d -o %d -g %d -m 0700 /run/coinpipe", c.m.Image.UID, c.m.Image.UID)
			if !slices.ContainsFunc(runs, func(r string) bool { return strings.HasSuffix(r, "&& "+runDir) || r == runDir }) {
				t.Errorf("no RUN ends with %s: %q", runDir, runs)
			}
			for _, cf := range c.m.Runtime.Config {
				if !cf.Overlay {
					if !contains(copies, cf.File+" "+cf.Path) {
						t.Errorf("no COPY %s %s in %q", cf.File, cf.Path, copies)
					}
					continue
				}
				if !contains(copies, cf.File+" "+cf.Path+".base") {
					t.Errorf("no COPY %s %s.base in %q", cf.File, cf.Path, copies)
				}
				if link := "ln -s /run/coinpipe/" + path.Base(cf.Path) + " " + cf.Path; !contains(runs, link) {
					t.Errorf("no RUN %s in %q", link, runs)
				}
			}
		})
	}
}
