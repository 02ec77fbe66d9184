package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"path/filepath"

	"gitlab.com/coinpipe/coinpipe/internal/ctxio"
	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/internal/readcap"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Source reads the files of a release. signer names a per-signer file's
// signer ("" otherwise).
type Source interface {
	Fetch(ctx context.Context, rawURL, signer string) ([]byte, error)
	Stream(ctx context.Context, rawURL, signer string, consume func(io.Reader) error) error
}

// Download fetches release files over the network (or file://), through
// the client's mirror.
type Download struct {
	Client *download.Client
	Log    *slog.Logger
}

func (d Download) Fetch(ctx context.Context, rawURL, _ string) ([]byte, error) {
	d.Log.Info("downloading", "url", download.Redact(rawURL))
	return d.Client.Fetch(ctx, rawURL)
}

func (d Download) Stream(ctx context.Context, rawURL, _ string, consume func(io.Reader) error) error {
	d.Log.Info("downloading", "url", download.Redact(rawURL))
	return d.Client.Stream(ctx, rawURL, consume)
}

// Dir reads release files fetched beforehand: DIR/<file name>, or
// DIR/<signer>/<file name> for per-signer files.
type Dir string

func (d Dir) path(rawURL, signer string) string {
	return filepath.Join(string(d), filepath.FromSlash(layoutPath(rawURL, signer)))
}

// layoutPath is where a release file lives in a Dir, in a coin's committed
// release/ folder and in Attestation.Files: <file name>, or
// <signer>/<file name> for a per-signer file.
func layoutPath(rawURL, signer string) string {
	return path.Join(signer, manifest.URLFileName(rawURL))
}

// Files in a Dir are local input: regular files only, capped as downloads
// are (a missing one is a missing input, exit 2, or a signer who did not
// publish).
func (d Dir) Fetch(_ context.Context, rawURL, signer string) ([]byte, error) {
	data, err := readcap.ReadFile(d.path(rawURL, signer), download.DefaultMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("reading %s for --dir: %w", fileName(rawURL), err)
	}
	return data, nil
}

func (d Dir) Stream(ctx context.Context, rawURL, signer string, consume func(io.Reader) error) error {
	f, err := readcap.Open(d.path(rawURL, signer), download.DefaultMaxStreamBytes)
	if err != nil {
		return fmt.Errorf("reading %s for --dir: %w", fileName(rawURL), err)
	}
	defer f.Close()
	return consume(ctxio.Reader(ctx, f))
}

func fileName(rawURL string) string { return manifest.URLFileName(rawURL) }

// Committed reads the signed files a coin commits under its release/
// folder (manifest.ReleaseDir, layout as Dir), through the coin folder's
// reader: regular files only, no links, size-capped. Artifacts are never
// committed: Stream reads them from Artifacts (a download), and fails
// when there is none. A file the folder lacks is not published
// (NotPublished): a per-signer builder who did not sign.
type Committed struct {
	Manifest  *manifest.Manifest
	Artifacts Source
}

func (c Committed) Fetch(_ context.Context, rawURL, signer string) ([]byte, error) {
	data, err := c.Manifest.ReadFile(manifest.ReleaseDir + layoutPath(rawURL, signer))
	if err != nil {
		return nil, fmt.Errorf("reading the committed %s: %w", layoutPath(rawURL, signer), err)
	}
	return data, nil
}

func (c Committed) Stream(ctx context.Context, rawURL, signer string, consume func(io.Reader) error) error {
	if c.Artifacts == nil {
		return fmt.Errorf("reading %s: artifacts are not committed, and no download was allowed", fileName(rawURL))
	}
	return c.Artifacts.Stream(ctx, rawURL, signer, consume)
}

// NotPublished reports whether err says a file is not there (HTTP 404, or
// missing from a Dir).
func NotPublished(err error) bool {
	var api *download.APIError
	return errors.Is(err, fs.ErrNotExist) || (errors.As(err, &api) && api.StatusCode == http.StatusNotFound)
}
