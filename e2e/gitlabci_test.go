package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ciTools is where .ci/run installs gitlab-ci-local and Node 22 (npm).
const ciTools = "../.ci/tools/node_modules/.bin"

// TestDaemonPipelineConformance runs the conformance job of
// templates/ci/daemon.yml for real with gitlab-ci-local, in a daemon
// repository rendered from the shipped monero with a synthetic release
// (realCoinWithSyntheticRelease) and pinned to a toolkit
// commit in the GitLab fake: it passes as rendered, and fails naming the
// file when a generated file is edited by hand or a pin is changed in the
// daemon repository instead of the toolkit.
func TestDaemonPipelineConformance(t *testing.T) {
	if abs, err := filepath.Abs(ciTools); err == nil {
		t.Setenv("PATH", abs+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	requireTools(t, "gitlab-ci-local", "node", "git", "rsync", "go")
	ctx := t.Context()
	t.Setenv("PATH", coinpipeBin(ctx, t)+string(os.PathListSeparator)+os.Getenv("PATH"))
	coin := realCoinWithSyntheticRelease(t, "monero")
	mirror := newMirror(t)

	appendTo := func(name, text string) func(t *testing.T, repo string) {
		return func(t *testing.T, repo string) {
			f, err := os.OpenFile(filepath.Join(repo, name), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteString(text); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(t *testing.T, repo string)
		pass   bool
		want   []string // in the job's output; %s is the toolkit commit's first 12 digits
	}{
		{"as rendered", nil, true, []string{"monero: conforms to coinpipe/coinpipe@%s"}},
		{"a generated file edited by hand", appendTo("Dockerfile", "RUN echo edited by hand\n"), false,
			[]string{"Dockerfile", "1 file out of date: this repository is not what coinpipe/coinpipe@%s renders; it changes only through coinpipe sync"}},
		{"a pin changed in the daemon repository", appendTo("coin.yaml", "# a pin changed here\n"), false,
			[]string{"coin.yaml differs from coinpipe/coinpipe@%s", "pins change only in the toolkit, by merge request"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newPipelineWorld(t, coin, mirror, fmt.Sprintf("conformance-%d", i))
			if tt.change != nil {
				tt.change(t, w.repo)
			}
			r := w.run(ctx, t, "conformance")
			result := "PASS"
			if !tt.pass {
				result = "FAIL"
			}
			logPipeline(t, r)
			w.wantSummary(t, r, result, "conformance")
			if (r.Err == nil) != tt.pass {
				t.Errorf("gitlab-ci-local: %v, want the pipeline to pass: %v\n%s", r.Err, tt.pass, tail(r.Output, 40))
			}
			for _, want := range tt.want {
				if want = strings.ReplaceAll(want, "%s", w.toolkitRef[:12]); !strings.Contains(r.Output, want) {
					t.Errorf("the job's output does not say %q:\n%s", want, tail(r.Output, 40))
				}
			}
		})
	}
}
