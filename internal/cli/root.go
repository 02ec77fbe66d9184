// Package cli holds coinpipe's commands, one file per verb. It is the only
// place that turns errors into exit codes (ARCHITECTURE §5):
// 0 ok, 1 operational failure, 2 invalid input, 3 verification failed.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Exit codes.
const (
	ExitOK           = 0
	ExitFailure      = 1
	ExitInvalidInput = 2
	ExitVerification = 3
)

// env is what every command gets: where to print and how to log.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
}

// Run executes coinpipe with args and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr, log: newLogger(stderr)}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var problems manifest.Problems
	if errors.As(err, &problems) {
		// One line per mistake, in the compiler format editors jump to.
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "coinpipe: %s\n", plural(len(problems), "problem"))
	} else {
		fmt.Fprintln(stderr, "coinpipe: "+indentLines(err.Error()))
	}
	return exitCode(err)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "coinpipe",
		Short: "Build, verify and roll out cryptocurrency node images from coin manifests",
		Long: `coinpipe turns coins/<coin>/coin.yaml manifests into daemon repositories
(Dockerfile, entry point, systemd unit, CI), verifies upstream releases against
pinned OpenPGP keys, and proposes, builds and rolls out upgrades.

Exit codes: 0 ok, 1 operational failure, 2 invalid input, 3 verification failed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable so that an unknown verb is a usage error (exit 2) rather
		// than cobra's untyped one.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q; run coinpipe --help", args[0])
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(e),
		newGenerateCmd(e),
		newVerifyCmd(e),
		newVerifySignatureCmd(e),
		newVersionCmd(e),
	)
	return root
}

// usageError is a mistake in flags or arguments.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// noArgs and exactArgs are cobra's argument checks returning usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d; see %s --help", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// invalidInputError marks errors that are the input's fault (exit 2).
type invalidInputError interface{ InvalidInput() bool }

// verificationError marks failed verification (exit 3).
type verificationError interface{ VerificationFailed() bool }

func exitCode(err error) int {
	var (
		usage usageError
		bad   invalidInputError
		ver   verificationError
	)
	switch {
	case errors.As(err, &ver) && ver.VerificationFailed():
		return ExitVerification
	case errors.As(err, &usage), errors.As(err, &bad) && bad.InvalidInput():
		return ExitInvalidInput
	default:
		return ExitFailure
	}
}

// newLogger logs text on a terminal and JSON in CI, where logs are parsed.
func newLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if os.Getenv("CI") == "true" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// indentLines keeps multi-line errors (one problem per line) readable.
func indentLines(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' {
			out = append(out, []byte("  ")...)
		}
	}
	return string(out)
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
