package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/verify"
)

func newVerifySignatureCmd(e *env) *cobra.Command {
	var (
		keyFiles  []string
		threshold int
		sigFile   string
	)
	cmd := &cobra.Command{
		Use:   "verify-signature --key FILE [--key FILE...] [--threshold N] [--signature SIG] FILE",
		Short: "Check OpenPGP signatures on a file against pinned keys, with a threshold",
		Long: `verify-signature checks the signatures on FILE the way gpgv would, under
coinpipe's policy, and counts how many distinct pinned keys signed it.

Every key in the --key files is pinned. With --signature, SIG holds detached
signatures over FILE (armored or binary; several armor blocks one after the
other, as in Bitcoin Core's SHA256SUMS.asc, are all read). Without it, FILE
is a clearsigned message.

It prints one line per signature, tab-separated (status, fingerprint or key
ID, user ID, detail), then a verdict line:

  good                                 a pinned key, valid when it signed
  good (key expired since 2024-07-16)  counted; the key has expired since
  good (key already counted)           a second signature by the same key
  unknown key                          not pinned: reported and ignored
  not counted                          e.g. a SHA-1 signature or a revoked key
  BAD                                  fails the whole verification

Exit codes: 0 the threshold is met, 3 verification failed, 2 bad flags or
unreadable input files.`,
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
			if len(keyFiles) == 0 {
				return usagef("at least one --key FILE is required")
			}
			if threshold < 1 {
				return usagef("--threshold must be at least 1, got %d", threshold)
			}
			var keys []*verify.Key
			for _, f := range keyFiles {
				k, err := verify.ReadKeyFile(f)
				if err != nil {
					return usageError{fmt.Errorf("--key: %w", err)}
				}
				keys = append(keys, k...)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			v := &verify.Verifier{Keys: keys, Threshold: threshold}
			var verdict *verify.Verdict
			if sigFile != "" {
				sigs, err := os.ReadFile(sigFile)
				if err != nil {
					return usageError{fmt.Errorf("--signature: %w", err)}
				}
				verdict, err = v.Detached(bytes.NewReader(data), sigs)
				return reportVerdict(e, verdict, err)
			}
			_, verdict, err = v.Clearsigned(data)
			return reportVerdict(e, verdict, err)
		},
	}
	cmd.Flags().StringArrayVar(&keyFiles, "key", nil, "pinned public key file, armored or binary; repeat for more keys")
	cmd.Flags().IntVar(&threshold, "threshold", 1, "how many distinct pinned keys must have signed")
	cmd.Flags().StringVar(&sigFile, "signature", "", "detached signature file over FILE; without it FILE must be clearsigned")
	return cmd
}

// reportVerdict prints every signature and the verdict, and passes err on.
func reportVerdict(e *env, verdict *verify.Verdict, err error) error {
	var f *verify.Failure
	if verdict == nil && errors.As(err, &f) {
		verdict = f.Verdict
	}
	if verdict != nil {
		printVerdict(e, verdict, true)
	}
	return err
}

// printVerdict prints every signature, logs its warnings and, with
// summary, ends with the verdict line.
func printVerdict(e *env, v *verify.Verdict, summary bool) {
	printSignatures(e.stdout, v)
	for _, w := range v.Warnings() {
		e.log.Warn(w)
	}
	if summary {
		fmt.Fprintln(e.stdout, v.Summary())
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
