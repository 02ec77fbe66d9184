package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/manifest"
	"gitlab.com/coinpipe/coinpipe/release"
)

type verifyOptions struct {
	coinsDir  string
	dir       string // "": the committed files, else download
	upstream  bool   // download even when the coin commits its signed files
	artifacts bool
	coin      string
}

func newVerifyCmd(d *deps) *cobra.Command {
	var opts verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--coins DIR] [--dir DIR | --upstream] [--artifacts] COIN",
		Short: "Verify a coin's pinned release against upstream's signed checksums",
		Long: `verify checks the release pinned in coins/<COIN>/coin.yaml:

  1. it downloads the checksums and signatures named by release.checksums and
     release.signatures (one of each per signer when the URLs use {signer});
  2. it verifies the signatures against the pinned keys, and that at least
     release.signatures.threshold distinct pinned keys signed;
  3. it checks that every pinned artifact sha256 is what the verified
     checksums say for the artifact's file name (the last part of its URL).

With --artifacts it also downloads every artifact and checks its sha256. In
artifact mode (one <url>.asc per artifact) the artifacts are always downloaded:
their signatures cover them directly. In mode none upstream signs nothing and
only --artifacts can check anything.

When the coin commits the signed files of its pinned version
(coins/<COIN>/release/, laid out as --dir), those are verified and nothing but
artifacts is downloaded; the first line says so. --upstream downloads them
instead (to check upstream still serves what was committed).

With --dir nothing is downloaded: each file is read from DIR/<file name>, or
DIR/<signer>/<file name> for per-signer URLs. Downloads honour
COINPIPE_DOWNLOAD_MIRROR (https://host/path is fetched from $MIRROR/host/path).
A download that sends nothing for 60s, or takes longer than 2m (checksums and
signatures) or 30m (an artifact), fails.

Output: one line per signature (as verify-signature prints them), one line
per artifact, then a verdict line. Exit codes: 0 verified, 3 verification
failed, 2 invalid manifest or flags or a missing --dir, 1 download or I/O
failure.`,
		Example: `  coinpipe verify bitcoin
  coinpipe verify --artifacts monero        # also download and hash the archives
  coinpipe verify --dir ./release dogecoin  # files fetched beforehand, no network
  coinpipe verify --upstream monero         # download even with coins/monero/release/
  COINPIPE_DOWNLOAD_MIRROR=http://mirror.internal coinpipe verify bitcoin`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.coin = args[0]
			return runVerify(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.coinsDir, "coins", "coins", "folder holding one folder per coin")
	cmd.Flags().StringVar(&opts.dir, "dir", "", "read release files from this folder instead of downloading them")
	cmd.Flags().BoolVar(&opts.upstream, "upstream", false, "download the signed files even when the coin commits them in release/")
	cmd.Flags().BoolVar(&opts.artifacts, "artifacts", false, "also download every artifact and check its sha256")
	return cmd
}

func runVerify(ctx context.Context, d *deps, opts verifyOptions) error {
	// A mistyped --dir would otherwise read as "no signer published
	// anything": a verification failure (3) instead of a typo (2).
	if opts.dir != "" {
		if opts.upstream {
			return usagef("--dir and --upstream cannot be used together: --dir reads the files, --upstream downloads them")
		}
		if err := requireDir("--dir", opts.dir); err != nil {
			return err
		}
	}
	ms, err := loadCoins(ctx, opts.coinsDir, []string{opts.coin})
	if err != nil {
		return err
	}
	m := ms[0]
	var src release.Source = release.Download{Client: d.downloader(), Log: d.log}
	committed, err := m.Committed()
	if err != nil {
		return err
	}
	switch {
	case opts.dir != "":
		src = release.Dir(opts.dir)
	case len(committed) > 0 && !opts.upstream:
		// Offline, like --dir: the files the bump committed are what the
		// image build verifies; only artifacts are downloaded.
		src = release.Committed{Manifest: m, Artifacts: src}
		fmt.Fprintf(d.stdout, "using the committed release files in %s (--upstream downloads them instead)\n",
			filepath.ToSlash(m.Dir)+"/"+manifest.ReleaseDir)
	}
	rep, err := release.Verify(ctx, m, src, opts.artifacts)
	printReport(d, m, rep, err)
	return err
}

// printReport prints what was verified, as far as it got: one line per
// missing signer file and per signature, one per artifact check, then the
// verdict when everything passed (a failure goes to stderr as the error).
func printReport(d *deps, m *manifest.Manifest, rep *release.Report, err error) {
	for _, miss := range rep.Missing {
		fmt.Fprintf(d.stdout, "missing\t-\t%s\t%v\n", miss.Signer, miss.Err)
	}
	if rep.Checksums != nil {
		// A failed verdict ends with its FAILED line; a good one is summed
		// up by the final verdict.
		printVerdict(d, rep.Checksums, !rep.Checksums.OK())
	}
	for _, a := range rep.Artifacts {
		switch {
		case a.Unsigned:
			fmt.Fprintf(d.stdout, "unsigned\t%s\t%s\tupstream signs nothing: only the pinned sha256 protects the build\n", a.Platform, a.File)
		case a.Listed:
			fmt.Fprintf(d.stdout, "checksum ok\t%s\t%s\t%s\n", a.Platform, a.File, a.SHA256)
		}
	}
	for _, a := range rep.Artifacts {
		if a.Signatures != nil {
			printVerdict(d, a.Signatures, true)
		}
		if a.Hashed {
			fmt.Fprintf(d.stdout, "artifact ok\t%s\t%s\t%s\n", a.Platform, a.File, a.SHA256)
		}
	}
	if err == nil {
		fmt.Fprintf(d.stdout, "OK: %s %s verified: %s\n", m.Name, m.Version, rep.Summary)
	}
}
