package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/ctxio"
	"gitlab.com/coinpipe/coinpipe/internal/readcap"
	"gitlab.com/coinpipe/coinpipe/verify"
)

// Caps on the local files verify-signature reads. Real material is far
// below them (a key file is a few KiB, Bitcoin Core's SHA256SUMS.asc with
// 15 builders about 15 KiB, SHA256SUMS a few KiB): they only stop a
// device, a wrong path or a hostile file from growing memory for ever.
const (
	maxKeyFile       = 1 << 20 // one --key file
	maxSignatureFile = 1 << 20 // --signature
	// maxClearsigned caps a clearsigned FILE, held in memory; the same as
	// a downloaded checksums file.
	maxClearsigned = 64 << 20
	// maxSignedStream caps a FILE with a detached signature, streamed
	// through the hashes (a release archive): twice download's cap on
	// streamed archives, so that anything verify can download can also
	// be checked here.
	maxSignedStream = 4 << 30
)

type verifySignatureOptions struct {
	keyFiles  []string
	threshold int
	sigFile   string // "": FILE is clearsigned
	file      string
}

func newVerifySignatureCmd(d *deps) *cobra.Command {
	var opts verifySignatureOptions
	cmd := &cobra.Command{
		Use:   "verify-signature --key FILE [--key FILE...] [--threshold N] [--signature SIG] FILE",
		Short: "Check OpenPGP signatures on a file against pinned keys, with a threshold",
		Long: `verify-signature checks the signatures on FILE the way gpgv would, under
coinpipe's policy, and counts how many distinct pinned keys signed it.

Every key in the --key files is pinned. With --signature, SIG holds detached
signatures over FILE (armored or binary; several armor blocks one after the
other, as in Bitcoin Core's SHA256SUMS.asc, are all read). Without it, FILE
is a clearsigned message.

Inputs must be regular files (not /dev/stdin, a pipe or a device) within
these limits: a --key file 1 MiB, SIG 1 MiB, a clearsigned FILE 64 MiB, a
FILE with a detached signature 4 GiB (it is streamed, not held in memory).

It prints one line per signature, tab-separated (status, fingerprint or key
ID, user ID, detail), then a verdict line:

  good                                 a pinned key, valid when it signed
  good (key expired since 2024-07-16)  counted; the key has expired since
  good (key already counted)           a second signature by the same key
  unknown key                          not pinned: reported and ignored
  not counted                          e.g. a SHA-1 signature or a revoked key
  BAD                                  fails the whole verification

Exit codes: 0 the threshold is met, 3 verification failed, 2 bad flags,
missing, unreadable or oversized input files, or a --threshold larger than
the number of distinct keys given.`,
		Example: `  # Bitcoin Core: three builders must have signed SHA256SUMS
  coinpipe verify-signature --threshold 3 \
    --key keys/achow101.asc --key keys/fanquake.asc --key keys/laanwj.asc \
    --signature SHA256SUMS.asc SHA256SUMS

  # Monero: hashes.txt is clearsigned by binaryFate
  coinpipe verify-signature --key keys/binaryfate.asc hashes.txt

  # Dogecoin Gitian: a binary signature over a build assert
  coinpipe verify-signature --key keys/alamshafil.asc \
    --signature dogecoin-linux-1.14-build.assert.sig dogecoin-linux-1.14-build.assert`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runVerifySignature(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.keyFiles, "key", nil, "pinned public key file, armored or binary; repeat for more keys")
	cmd.Flags().IntVar(&opts.threshold, "threshold", 1, "how many distinct pinned keys must have signed")
	cmd.Flags().StringVar(&opts.sigFile, "signature", "", "detached signature file over FILE; without it FILE must be clearsigned")
	return cmd
}

func runVerifySignature(ctx context.Context, d *deps, opts verifySignatureOptions) error {
	if len(opts.keyFiles) == 0 {
		return usagef("at least one --key FILE is required")
	}
	if opts.threshold < 1 {
		return usagef("--threshold must be at least 1, got %d", opts.threshold)
	}
	keys, err := readKeys(opts.keyFiles)
	if err != nil {
		return err
	}
	if n := distinctKeys(keys); opts.threshold > n {
		return usagef("--threshold %d can never be met: the --key files hold %s", opts.threshold, plural(n, "distinct key"))
	}
	v := &verify.Verifier{Keys: keys, Threshold: opts.threshold, Now: d.now()}
	if opts.sigFile == "" {
		data, err := readcap.ReadFile(opts.file, maxClearsigned)
		if err != nil {
			return err
		}
		_, verdict, err := v.Clearsigned(data)
		return reportVerdict(d, verdict, err)
	}
	sigs, err := readcap.ReadFile(opts.sigFile, maxSignatureFile)
	if err != nil {
		return usageError{fmt.Errorf("--signature: %w", err)}
	}
	f, err := readcap.Open(opts.file, maxSignedStream)
	if err != nil {
		return err
	}
	defer f.Close()
	verdict, err := v.Detached(ctxio.Reader(ctx, f), sigs)
	if ctx.Err() != nil {
		return context.Cause(ctx) // an interrupted hash says nothing about the signatures
	}
	return reportVerdict(d, verdict, err)
}

// readKeys reads and parses every --key file.
func readKeys(files []string) ([]*verify.Key, error) {
	var keys []*verify.Key
	for _, f := range files {
		data, err := readcap.ReadFile(f, maxKeyFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("--key: %w", err)}
		}
		k, err := verify.ParseKeys(data)
		if err != nil {
			return nil, usageError{fmt.Errorf("--key %s: %w", f, err)}
		}
		keys = append(keys, k...)
	}
	return keys, nil
}

// distinctKeys counts primary keys: the same key in two files counts once,
// as it does towards the threshold.
func distinctKeys(keys []*verify.Key) int {
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k.Fingerprint] = true
	}
	return len(seen)
}

// reportVerdict prints every signature and the verdict, and passes err on.
func reportVerdict(d *deps, verdict *verify.Verdict, err error) error {
	if verdict != nil {
		printVerdict(d, verdict, true)
	}
	return err
}

// printVerdict prints every signature, logs its warnings and, with
// summary, ends with the verdict line.
func printVerdict(d *deps, v *verify.Verdict, summary bool) {
	printSignatures(d.stdout, v)
	for _, w := range v.Warnings() {
		d.log.Warn(w)
	}
	if summary {
		fmt.Fprintln(d.stdout, v.Summary())
	}
}

// printSignatures writes one tab-separated line per signature: status,
// fingerprint (key ID for unknown keys), user ID, detail.
func printSignatures(w io.Writer, v *verify.Verdict) {
	for _, r := range v.Results {
		status, id, detail := r.Status.String(), r.Fingerprint, r.Reason
		switch r.Status {
		case verify.StatusGood:
			if !r.Counted {
				status = "good (key already counted)"
			}
		case verify.StatusGoodExpiredSince:
			status, detail = "good (key "+r.Reason+")", ""
		case verify.StatusUnknownKey:
			id, detail = r.KeyID, "not pinned: ignored"
		}
		if id == "" {
			id = "-"
		}
		line := status + "\t" + id + "\t" + r.UserID
		if detail != "" {
			line += "\t" + detail
		}
		fmt.Fprintln(w, line)
	}
}
