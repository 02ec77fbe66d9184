package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/generator"
)

func newGenerateCmd(e *env) *cobra.Command {
	var (
		coinsDir, outDir string
		check            bool
		opts             = generator.DefaultOptions
	)
	cmd := &cobra.Command{
		Use:   "generate [--coins DIR] [--out DIR] [--check] [COIN...]",
		Short: "Render coin manifests into daemon repositories",
		Long: `generate validates coins/<coin>/coin.yaml and renders the coin's daemon
repository into out/<coin>/: Dockerfile, release.sh, docker-entrypoint.sh,
node@.service, README.md, .gitlab-ci.yml, coin.yaml, keys/ and config files.

Output is byte-identical across runs. Each coin is written atomically: a
failure leaves its previous output intact, and files that did not change are
not rewritten. With --check nothing is written: every file that would change
is listed and the exit code is 1 when there is drift.`,
		Example: `  coinpipe generate                      # every coin into out/
  coinpipe generate bitcoin monero       # just these
  coinpipe generate --check              # fail (exit 1) if out/ is stale`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := loadCoins(coinsDir, args)
			if err != nil {
				return err
			}
			drift := 0
			for _, m := range ms {
				// --check may compare a repository with itself (the daemon
				// repo's conformance job); writing over the input may not.
				if !check && samePath(filepath.Join(outDir, m.Name), m.Dir) {
					return usagef("--out %s would write over the coin's own folder %s; choose another --out", outDir, m.Dir)
				}
			}
			for _, m := range ms {
				files, err := generator.Render(m, opts)
				if err != nil {
					return err
				}
				var changes []generator.Change
				if check {
					changes, err = generator.Check(outDir, m.Name, files)
				} else {
					changes, err = generator.Write(outDir, m.Name, files)
				}
				if err != nil {
					return err
				}
				drift += len(changes)
				report(e, filepath.Join(outDir, m.Name), changes, check)
			}
			if check && drift > 0 {
				return fmt.Errorf("%s out of date: run coinpipe generate", plural(drift, "file"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().StringVar(&outDir, "out", "out", "folder the daemon repositories are written to, one folder per coin")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; list what would change and exit 1 if anything would")
	cmd.Flags().StringVar(&opts.CIProject, "ci-project", opts.CIProject, "toolkit GitLab project the daemon repos include templates/ci/daemon.yml from")
	cmd.Flags().StringVar(&opts.CIRef, "ci-ref", opts.CIRef, "toolkit ref that include is pinned to")
	return cmd
}

// report prints one line per coin, and with --check one line per stale file.
func report(e *env, dir string, changes []generator.Change, check bool) {
	switch {
	case len(changes) == 0:
		fmt.Fprintf(e.stdout, "%s: up to date\n", dir)
	case check:
		for _, c := range changes {
			fmt.Fprintf(e.stdout, "%s: would be %s\n", filepath.Join(dir, c.Path), c.Kind)
		}
	default:
		fmt.Fprintf(e.stdout, "%s: %s written\n", dir, plural(len(changes), "change"))
		for _, c := range changes {
			e.log.Debug("generated", "file", filepath.Join(dir, c.Path), "change", c.Kind)
		}
	}
}

// samePath reports whether a and b name the same folder, through symlinks.
func samePath(a, b string) bool {
	resolve := func(p string) string {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		abs, _ := filepath.Abs(p)
		return abs
	}
	return resolve(a) == resolve(b)
}
