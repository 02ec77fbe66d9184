package cli

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// Exit codes: the one mapping from errors to process status (docs/architecture.md §5).
const (
	ExitOK           = 0
	ExitFailure      = 1
	ExitInvalidInput = 2
	ExitVerification = 3
	// A run stopped by a signal exits 128+signal, as a shell reports it:
	// 130 for SIGINT, 143 for SIGTERM.
	exitSignalBase = 128
)

// Signalled is the cause main cancels the run's context with when the
// process receives a signal; Run turns it into exit code 128+signal.
type Signalled struct{ Signal syscall.Signal }

func (s Signalled) Error() string { return "interrupted by " + signalName(s.Signal) }

// ExitCode is the status of a process stopped by the signal: main exits
// with it when a second signal comes before the command has stopped.
func (s Signalled) ExitCode() int { return exitSignalBase + int(s.Signal) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// usageError is a mistake in flags or arguments.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// invalidInputError marks errors that are the input's fault (exit 2).
type invalidInputError interface{ InvalidInput() bool }

// verificationError marks failed verification (exit 3).
type verificationError interface{ VerificationFailed() bool }

// exitCode maps the error a verb returned, on a context that may have been
// cancelled by a signal, to the process exit code.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		sig   Signalled
		usage usageError
		bad   invalidInputError
		ver   verificationError
	)
	switch {
	// A signal wins over what the interrupted work returned: its error is
	// a consequence (a cancelled download, an unfinished hash).
	case errors.As(context.Cause(ctx), &sig):
		return sig.ExitCode()
	case errors.As(err, &ver) && ver.VerificationFailed():
		return ExitVerification
	case errors.As(err, &usage), errors.As(err, &bad) && bad.InvalidInput():
		return ExitInvalidInput
	default:
		return ExitFailure
	}
}
