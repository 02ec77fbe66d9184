package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

type generateOptions struct {
	coinsDir, outDir string
	check            bool
	coins            []string // none: every coin, and out/ is pruned
	render           generator.Options
}

func newGenerateCmd(d *deps) *cobra.Command {
	opts := generateOptions{render: generator.DefaultOptions}
	cmd := &cobra.Command{
		Use:   "generate [--coins DIR] [--out DIR] [--check] [COIN...]",
		Short: "Render coin manifests into daemon repositories",
		Long: `generate validates coins/<coin>/coin.yaml and renders the coin's daemon
repository into out/<coin>/: Dockerfile, release.sh, docker-entrypoint.sh,
node@.service, README.md, .gitlab-ci.yml, coin.yaml, keys/ and config files.

Output is byte-identical across runs. Each coin is written atomically: a
failure or an interruption (Ctrl-C) leaves its previous output intact, and
files that did not change are not rewritten. Staging folders a killed run
left in the output folder (.<coin>.new-*) are removed and reported.
Coins are rendered on every core, and reported in coins/' order; a coin
that fails does not stop the others.

Without COIN arguments the output folder is made to match coins/: a folder
out/<coin> that coinpipe generated (it holds coin.yaml and a Dockerfile
with coinpipe's header) for a coin no longer in coins/ is removed. Nothing
else in the output folder is touched.

With --check nothing is written: every file that would change, every
folder that would be removed and every leftover staging folder is listed,
and the exit code is 1 when there is drift.`,
		Example: `  coinpipe generate                      # every coin into out/
  coinpipe generate bitcoin monero       # just these
  coinpipe generate --check              # fail (exit 1) if out/ is stale`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.coins = args
			return runGenerate(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().StringVar(&opts.outDir, "out", "out", "folder the daemon repositories are written to, one folder per coin")
	cmd.Flags().BoolVar(&opts.check, "check", false, "write nothing; list what would change and exit 1 if anything would")
	cmd.Flags().StringVar(&opts.render.CIProject, "ci-project", opts.render.CIProject, "toolkit GitLab project the daemon repos include templates/ci/daemon.yml from")
	cmd.Flags().StringVar(&opts.render.CIRef, "ci-ref", opts.render.CIRef, "toolkit ref (branch, tag or commit) the include is pinned to and the conformance job installs coinpipe from")
	return cmd
}

func runGenerate(ctx context.Context, d *deps, opts generateOptions) error {
	start := d.now()
	ms, err := loadCoins(ctx, opts.coinsDir, opts.coins)
	if err != nil {
		return err
	}
	for _, m := range ms {
		// --check may compare a repository with itself (the daemon
		// repo's conformance job); writing over the input may not.
		if !opts.check && samePath(filepath.Join(opts.outDir, m.Name), m.Dir) {
			return usagef("--out %s would write over the coin's own folder %s; choose another --out", opts.outDir, m.Dir)
		}
	}
	drift, err := leftovers(ctx, d, opts, start)
	if err != nil {
		return err
	}
	// Coins run on every core; what they print follows coins/' order, each
	// line as soon as the coins before it are done.
	var failed []error
	_, interrupted := generator.GenerateEach(ctx, opts.outDir, ms, opts.render, opts.check, func(r generator.Result) {
		if r.Err == nil {
			drift += len(r.Changes)
			report(d, filepath.Join(opts.outDir, r.Name), r.Changes, opts.check)
		} else {
			failed = append(failed, r.Err)
		}
	})
	if interrupted != nil {
		return interrupted
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	if len(opts.coins) == 0 {
		n, err := prune(ctx, d, opts, ms)
		if err != nil {
			return err
		}
		drift += n
	}
	if opts.check && drift > 0 {
		return fmt.Errorf("%s out of date: run coinpipe generate", plural(drift, "file"))
	}
	return nil
}

// leftovers removes (or, with --check, lists) the staging folders a killed
// run left in the output folder, older than this run; it returns how many
// count as drift.
func leftovers(ctx context.Context, d *deps, opts generateOptions, start time.Time) (int, error) {
	if opts.check {
		stale, err := generator.StaleStaging(opts.outDir, start)
		for _, p := range stale {
			fmt.Fprintf(d.stdout, "%s: left by an interrupted run; would be removed\n", p)
		}
		return len(stale), err
	}
	done, err := generator.CleanStaging(ctx, opts.outDir, start)
	for _, l := range done {
		if l.Restored {
			d.log.Warn("restored the previous output from a staging folder left by an interrupted run", "path", l.Path)
		} else {
			d.log.Warn("removed a staging folder left by an interrupted run", "path", l.Path)
		}
	}
	return 0, err
}

// prune removes (or, with --check, lists) the generated folders of coins
// no longer in coins/; it returns how many count as drift.
func prune(ctx context.Context, d *deps, opts generateOptions, ms []*manifest.Manifest) (int, error) {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	orphans, err := generator.Orphans(opts.outDir, names)
	if err != nil {
		return 0, err
	}
	for _, name := range orphans {
		dir, src := filepath.Join(opts.outDir, name), filepath.Join(opts.coinsDir, name)
		if opts.check {
			fmt.Fprintf(d.stdout, "%s: no %s; would be removed\n", dir, src)
			continue
		}
		if err := generator.RemoveOrphan(ctx, opts.outDir, name); err != nil {
			return 0, err
		}
		fmt.Fprintf(d.stdout, "%s: removed (no %s)\n", dir, src)
	}
	return len(orphans), nil
}

// report prints one line per coin, and with --check one line per stale file.
func report(d *deps, dir string, changes []generator.Change, check bool) {
	switch {
	case len(changes) == 0:
		fmt.Fprintf(d.stdout, "%s: up to date\n", dir)
	case check:
		for _, c := range changes {
			fmt.Fprintf(d.stdout, "%s: would be %s\n", filepath.Join(dir, c.Path), c.Kind)
		}
	default:
		fmt.Fprintf(d.stdout, "%s: %s written\n", dir, plural(len(changes), "change"))
		for _, c := range changes {
			d.log.Debug("generated", "file", filepath.Join(dir, c.Path), "change", c.Kind)
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
