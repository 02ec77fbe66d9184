package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	fakegitlab "gitlab.com/coinpipe/coinpipe/internal/fake/gitlab"
)

// daemonCheckout syncs monero and writes its project's main into a folder,
// as the daemon pipeline's clone; it returns the folder and the job's env.
func daemonCheckout(t *testing.T, w *syncWorld) (string, map[string]string) {
	t.Helper()
	if code, _, stderr := w.sync(); code != 0 {
		t.Fatalf("sync: %d %s", code, stderr)
	}
	dir := t.TempDir()
	for p, f := range w.files(syncGroup + "/monero") {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		mode := os.FileMode(0o644)
		if f.Executable {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, f.Content, mode); err != nil {
			t.Fatal(err)
		}
	}
	w.gl.AddScopedJobToken("job-allowed", syncGroup+"/monero", syncToolkit)
	return dir, map[string]string{"CI_API_V4_URL": w.env["CI_API_V4_URL"], "CI_JOB_TOKEN": "job-allowed"}
}

func TestConformance(t *testing.T) {
	write := func(rel, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, rel)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		ref    func(w *syncWorld) string
		token  string
		code   int
		stdout string
		stderr []string
	}{
		{name: "synced", code: ExitOK, stdout: "monero: conforms to coinpipe/coinpipe@SHA12\n"},
		{name: "a hand-written file", change: write("docs/notes.md", "notes\n"), code: ExitOK, stdout: "monero: conforms to coinpipe/coinpipe@SHA12\n"},
		{
			name: "a pin changed in the daemon repository", code: ExitVerification,
			change: func(t *testing.T, dir string) {
				b, _ := os.ReadFile(filepath.Join(dir, "coin.yaml"))
				write("coin.yaml", strings.Replace(string(b), "sha256: ", "sha256: 0", 1))(t, dir)
			},
			stderr: []string{"coinpipe: coin.yaml differs from coinpipe/coinpipe@SHA12:coins/monero/coin.yaml: pins change only in the toolkit, by merge request\n"},
		},
		{
			name: "a key added", code: ExitVerification, change: write("keys/mallory.asc", "key\n"),
			stderr: []string{"coinpipe: keys/mallory.asc is not in coinpipe/coinpipe@SHA12:coins/monero/: pins change only in the toolkit, by merge request\n"},
		},
		{
			name: "a key removed", code: ExitVerification,
			change: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "keys/binaryfate.asc")) },
			stderr: []string{"coinpipe: keys/binaryfate.asc is missing (coinpipe/coinpipe@SHA12:coins/monero/keys/binaryfate.asc): pins change only in the toolkit, by merge request\n"},
		},
		{
			name: "a toolkit commit not on main", code: ExitVerification,
			ref: func(w *syncWorld) string {
				sha, err := w.gl.Push(syncToolkit, "evil", fakegitlab.User{Name: "M", Email: "m@example.org"}, "pins", map[string]*fakegitlab.File{"x": {Content: []byte("x")}})
				if err != nil {
					t.Fatal(err)
				}
				return sha
			},
			stderr: []string{"coinpipe: toolkit ref REF is not a commit of coinpipe/coinpipe's default branch main\n"},
		},
		{
			name: "an unknown commit", code: ExitVerification,
			ref:    func(*syncWorld) string { return strings.Repeat("ab", 20) },
			stderr: []string{"coinpipe: toolkit ref REF is not a commit of coinpipe/coinpipe's default branch main\n"},
		},
		{
			name: "a branch name", code: ExitVerification, ref: func(*syncWorld) string { return "main" },
			stderr: []string{"coinpipe: toolkit ref main is not a full commit SHA of coinpipe/coinpipe"},
		},
		{
			name: "a job token the toolkit does not allow", code: ExitFailure, token: "job-denied",
			stderr: []string{"HTTP 403 Forbidden: 403 Forbidden - Authentication by CI/CD job token not allowed from coinpipe/daemons/monero to coinpipe/coinpipe.", "the job token cannot read coinpipe/coinpipe: in coinpipe/coinpipe, Settings → CI/CD → Job token permissions, add this project's group"},
		},
		{
			// buildah would build from it rather than from the Dockerfile
			// if the build job did not name its file: drift all the same.
			name: "a Containerfile added", code: ExitFailure, change: write("Containerfile", "FROM scratch\n"),
			stdout: "DIR/Containerfile: would be removed\n",
		},
		{
			// GitLab's Docker runners check out with umask 0000.
			name: "a checkout under umask 0000", code: ExitOK, stdout: "monero: conforms to coinpipe/coinpipe@SHA12\n",
			change: func(t *testing.T, dir string) {
				err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
					if err != nil || e.IsDir() {
						return err
					}
					info, err := e.Info()
					if err != nil {
						return err
					}
					mode := os.FileMode(0o666)
					if info.Mode()&0o111 != 0 {
						mode = 0o777
					}
					return os.Chmod(p, mode)
				})
				if err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "a generated file edited", code: ExitFailure, change: write("Dockerfile", "FROM scratch\n"),
			stdout: "DIR/Dockerfile: would be changed\n",
			stderr: []string{"coinpipe: 1 file out of date: this repository is not what coinpipe/coinpipe@SHA12 renders; it changes only through coinpipe sync\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newSyncWorld(t, "monero")
			dir, env := daemonCheckout(t, w)
			w.gl.AddScopedJobToken("job-denied", syncGroup+"/monero")
			if tt.token != "" {
				env["CI_JOB_TOKEN"] = tt.token
			}
			if tt.change != nil {
				tt.change(t, dir)
			}
			ref := w.sha
			if tt.ref != nil {
				ref = tt.ref(w)
			}
			code, out, stderr := runEnv(t, env, "conformance", "--coin", "monero", "--toolkit-project", syncToolkit, "--toolkit-ref", ref, "--dir", dir)
			r := strings.NewReplacer("SHA12", w.sha[:12], "REF", ref, "DIR", dir)
			if code != tt.code || out != r.Replace(tt.stdout) {
				t.Fatalf("code %d, stdout %q; want %d, %q\n%s", code, out, tt.code, r.Replace(tt.stdout), stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr, r.Replace(want)) {
					t.Errorf("stderr %q\nwant it to hold %q", stderr, r.Replace(want))
				}
			}
		})
	}
}
