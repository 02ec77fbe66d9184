package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"path/filepath"

	"gitlab.com/coinpipe/coinpipe/internal/ctxio"
	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/internal/readcap"
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
	return filepath.Join(string(d), signer, fileName(rawURL))
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

func fileName(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(rawURL)
}

// NotPublished reports whether err says a file is not there (HTTP 404, or
// missing from a Dir).
func NotPublished(err error) bool {
	var api *download.APIError
	return errors.Is(err, fs.ErrNotExist) || (errors.As(err, &api) && api.StatusCode == http.StatusNotFound)
}
