package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

func newValidateCmd(e *env) *cobra.Command {
	var coinsDir string
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
			ms, err := loadCoins(coinsDir, args)
			if err != nil {
				return err
			}
			for _, m := range ms {
				fmt.Fprintf(e.stdout, "ok\t%s\t%s\n", m.Name, m.Version)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&coinsDir, "coins", "coins", "folder holding one folder per coin")
	return cmd
}

// loadCoins opens and validates the named coins (or all), collecting the
// problems of every manifest before failing.
func loadCoins(coinsDir string, names []string) ([]*manifest.Manifest, error) {
	dirs, err := manifest.Discover(coinsDir, names)
	if err != nil {
		return nil, err
	}
	var (
		all    manifest.Problems
		loaded []*manifest.Manifest
	)
	for _, dir := range dirs {
		m, err := manifest.Open(dir)
		var ps manifest.Problems
		switch {
		case errors.As(err, &ps):
			all = append(all, ps...)
		case err != nil:
			return nil, err
		default:
			loaded = append(loaded, m)
		}
	}
	if len(all) > 0 {
		return nil, all
	}
	return loaded, nil
}
