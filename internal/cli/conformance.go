package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/generator"
	"gitlab.com/coinpipe/coinpipe/internal/daemonsync"
)

type conformanceOptions struct {
	coin, dir string
	toolkit   generator.Options
}

func newConformanceCmd(d *deps) *cobra.Command {
	opts := conformanceOptions{toolkit: generator.Options{CIProject: generator.DefaultOptions.CIProject}}
	cmd := &cobra.Command{
		Use:   "conformance --coin COIN --toolkit-ref SHA [--toolkit-project P] [--dir DIR]",
		Short: "Check a daemon repository against the toolkit commit it was synced from",
		Long: `conformance is the daemon pipeline's first job. Run in the daemon repository, it
checks, through the GitLab API (CI_API_V4_URL; CI_JOB_TOKEN, or GITLAB_TOKEN
outside CI):

  1. that --toolkit-ref is a full commit SHA on the toolkit project's default
     branch (what was merged there, not a branch anyone can push);
  2. that the repository's coin.yaml, SOURCES.md, keys/, files/ and release/
     are byte for byte the toolkit's coins/<coin>/ at that commit: pins change
     only in the toolkit, by merge request (exit 3 otherwise, one line per
     file missing, extra or different);
  3. that every rendered file is what that commit renders, like generate
     --check (exit 1 on drift, one line per file). Files coinpipe never
     rendered are not drift.

The job token must be allowed to read the toolkit project: in the toolkit,
Settings → CI/CD → Job token permissions, add the daemon projects' group.

Exit codes: 0 conforms, 1 drift or failure, 2 bad input, 3 pins differ from
the toolkit or the ref is not on its default branch.`,
		Example: `  # the daemon pipeline's conformance job
  coinpipe conformance --coin bitcoin --toolkit-project coinpipe/coinpipe \
    --toolkit-ref 4f0c3a1e9b2d7c6e5f4a3b2c1d0e9f8a7b6c5d4e`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConformance(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coin, "coin", "", "the coin this repository holds (required)")
	cmd.Flags().StringVar(&opts.dir, "dir", ".", "the daemon repository's checkout")
	cmd.Flags().StringVar(&opts.toolkit.CIProject, "toolkit-project", opts.toolkit.CIProject, "the toolkit's GitLab project path")
	cmd.Flags().StringVar(&opts.toolkit.CIRef, "toolkit-ref", "", "the toolkit commit (full SHA) the repository was synced from (required)")
	return cmd
}

func runConformance(ctx context.Context, d *deps, opts conformanceOptions) error {
	if opts.coin == "" {
		return usagef("conformance needs --coin")
	}
	if opts.toolkit.CIRef == "" {
		return usagef("conformance needs --toolkit-ref, the toolkit commit the repository records")
	}
	if err := requireDir("--dir", opts.dir); err != nil {
		return err
	}
	gl, err := newGitLabClient(d)
	if err != nil {
		return err
	}
	c := &daemonsync.Conformance{GitLab: gl, Toolkit: opts.toolkit, Coin: opts.coin, Dir: opts.dir, Log: d.log}
	drift, err := c.Check(ctx)
	if err != nil {
		return err
	}
	at := fmt.Sprintf("%s@%.12s", opts.toolkit.CIProject, opts.toolkit.CIRef)
	if len(drift) > 0 {
		report(d, filepath.Clean(opts.dir), drift, true)
		return fmt.Errorf("%s out of date: this repository is not what %s renders; it changes only through coinpipe sync", plural(len(drift), "file"), at)
	}
	fmt.Fprintf(d.stdout, "%s: conforms to %s\n", opts.coin, at)
	return nil
}
