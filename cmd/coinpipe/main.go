// Command coinpipe renders, verifies, builds and rolls out cryptocurrency
// daemon images. All logic lives in internal/cli; main only wires the
// process to it: arguments, streams, and signals.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"gitlab.com/coinpipe/coinpipe/internal/cli"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// The first signal asks the command to stop cleanly (exit 130 or
		// 143, previous output intact); a second one, for a command that
		// does not stop, ends the process at once.
		cancel(cli.Signalled{Signal: (<-signals).(syscall.Signal)})
		os.Exit(cli.Signalled{Signal: (<-signals).(syscall.Signal)}.ExitCode())
	}()
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	signal.Stop(signals)
	os.Exit(code)
}
