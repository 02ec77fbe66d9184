package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/readcap"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

type validateOptions struct {
	coinsDir string
	coins    []string // none: every coin
}

func newValidateCmd(d *deps) *cobra.Command {
	var opts validateOptions
	cmd := &cobra.Command{
		Use:   "validate [--coins DIR] [COIN...]",
		Short: "Check coin manifests and report every mistake at once",
		Long: `validate loads coins/<coin>/coin.yaml for the named coins (all coins when none
are named), checks every field, the pinned key files and fingerprints, and the
config files, and prints one line per mistake:

  coins/<coin>/coin.yaml:LINE:COL: field.path: message

It exits 2 when any manifest has a mistake.`,
		Example: `  coinpipe validate
  coinpipe validate bitcoin monero
  coinpipe validate --coins ./my-coins`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.coins = args
			return runValidate(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin")
	return cmd
}

func runValidate(ctx context.Context, d *deps, opts validateOptions) error {
	ms, err := loadCoins(ctx, opts.coinsDir, opts.coins)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Fprintf(d.stdout, "ok\t%s\t%s\n", m.Name, m.Version)
	}
	return nil
}

// loadCoins opens and validates the named coins (or all) on every core,
// collecting the problems of every manifest before failing.
func loadCoins(ctx context.Context, coinsDir string, names []string) ([]*manifest.Manifest, error) {
	if err := requireDir("--coins", coinsDir); err != nil {
		return nil, err
	}
	dirs, err := manifest.Discover(coinsDir, names)
	if err != nil {
		return nil, err
	}
	return manifest.OpenAll(ctx, dirs)
}

// requireDir refuses a folder flag naming nothing, or not a folder: a
// typo is the input's fault (exit 2), not a failed verification or an
// operational failure.
func requireDir(flag, dir string) error {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("%s %s: no such folder", flag, dir)
	case err != nil:
		return usagef("%s %s: %w", flag, dir, err)
	case !info.IsDir():
		return usagef("%s %s: is %s, not a folder", flag, dir, readcap.Kind(info.Mode()))
	}
	return nil
}
