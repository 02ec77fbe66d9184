// Package cli holds coinpipe's commands, one file per verb. It is the only
// place that reads the environment and the only place that turns errors
// into exit codes (docs/architecture.md §5, §8): 0 ok, 1 operational failure,
// 2 invalid input, 3 verification failed, 128+N stopped by signal N.
//
// A verb is an xOptions struct, a newXCmd(d *deps) that only fills it from
// flags and arguments, and a runX(ctx, d, opts) that does the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Run executes coinpipe with args against the process environment and
// clock, and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, defaultDeps(stdout, stderr), args)
}

// execute runs one command line with the given dependencies.
func execute(ctx context.Context, d *deps, args []string) int {
	root := newRoot(d)
	root.SetArgs(args)
	root.SetOut(d.stdout)
	root.SetErr(d.stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	var (
		problems manifest.Problems
		sig      Signalled
	)
	switch {
	case err == nil:
	case errors.As(context.Cause(ctx), &sig):
		// What the interrupted work returned (a cancelled download) is
		// noise next to why it stopped.
		fmt.Fprintf(d.stderr, "coinpipe: %v\n", sig)
	case errors.As(err, &problems):
		// One line per mistake, in the compiler format editors jump to.
		for _, p := range problems {
			fmt.Fprintln(d.stderr, p)
		}
		fmt.Fprintf(d.stderr, "coinpipe: %s\n", plural(len(problems), "problem"))
	default:
		fmt.Fprintln(d.stderr, "coinpipe: "+indentLines(err.Error()))
	}
	return code
}

func newRoot(d *deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "coinpipe",
		Short: "Build, verify and roll out cryptocurrency node images from coin manifests",
		Long: `coinpipe turns coins/<coin>/coin.yaml manifests into daemon repositories
(Dockerfile, entry point, systemd unit, CI), verifies upstream releases against
pinned OpenPGP keys, and proposes, builds and rolls out upgrades.

Exit codes: 0 ok, 1 operational failure, 2 invalid input, 3 verification
failed, 130 interrupted (SIGINT), 143 terminated (SIGTERM).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runnable so that an unknown verb is a usage error (exit 2) rather
		// than cobra's untyped one.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q%s", args[0], suggest(cmd, args[0], "run coinpipe --help"))
			}
			return cmd.Help()
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newValidateCmd(d),
		newGenerateCmd(d),
		newVerifyCmd(d),
		newVerifySignatureCmd(d),
		newWatchCmd(d),
		newSyncCmd(d),
		newConformanceCmd(d),
		newPushCmd(d),
		newRolloutCmd(d),
		newNotifyCmd(d),
		newVersionCmd(d),
	)
	root.SetHelpCommand(newHelpCmd(root))
	return root
}

// newHelpCmd replaces cobra's help verb, which prints "Unknown help topic"
// and exits 0: a script asking for help on a verb that does not exist
// learns it from the exit code.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				return usagef("unknown help topic %q%s", topic, suggest(root, args[0], "run coinpipe help"))
			}
			return cmd.Help()
		},
	}
}

// suggest completes an "unknown command" message: the verbs within a typo's
// reach, or where to look.
func suggest(root *cobra.Command, typed, otherwise string) string {
	if root.SuggestionsMinimumDistance <= 0 {
		root.SuggestionsMinimumDistance = 2
	}
	var quoted []string
	for _, s := range root.SuggestionsFor(typed) {
		quoted = append(quoted, fmt.Sprintf("%q", s))
	}
	if len(quoted) == 0 {
		return "; " + otherwise
	}
	return "; did you mean " + strings.Join(quoted, " or ") + "?"
}

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

// indentLines keeps multi-line errors (one problem per line) readable.
func indentLines(s string) string {
	return strings.ReplaceAll(s, "\n", "\n  ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
