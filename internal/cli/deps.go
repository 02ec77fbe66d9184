package cli

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/download"
)

// deps are what every verb is given, built once per run (docs/architecture.md §8):
// output streams, logger, HTTP client, environment and clock. Verbs never
// read the process environment or the wall clock themselves, so tests
// inject both.
type deps struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	// http does every request; nil means download's default client.
	http   *http.Client
	getenv func(string) string
	now    func() time.Time
	// downloads configures the download client of verbs that fetch
	// (timeouts, retries); tests shorten them.
	downloads download.Client
	// rollout tunes rollout's SSM polling and marker folder; tests
	// shorten the one and move the other off the machine's /var/lib.
	rollout rolloutTuning
}

// defaultDeps wires the process: os.Getenv and the wall clock.
func defaultDeps(stdout, stderr io.Writer) *deps {
	return newDeps(stdout, stderr, os.Getenv, time.Now)
}

func newDeps(stdout, stderr io.Writer, getenv func(string) string, now func() time.Time) *deps {
	return &deps{
		stdout: stdout,
		stderr: stderr,
		log:    newLogger(stderr, getenv("CI") == "true"),
		getenv: getenv,
		now:    now,
	}
}

// downloader is the download client of this run, through the mirror of
// COINPIPE_DOWNLOAD_MIRROR.
func (d *deps) downloader() *download.Client {
	c := d.downloads
	c.HTTP = d.http
	c.Mirror = d.getenv(download.MirrorEnv)
	c.Log = d.log
	return &c
}

// newLogger logs text on a terminal and JSON in CI, where logs are parsed.
func newLogger(w io.Writer, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
