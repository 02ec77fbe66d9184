package download

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"gitlab.com/coinpipe/coinpipe/internal/ctxio"
	"gitlab.com/coinpipe/coinpipe/internal/readcap"
)

func isFileURL(rawURL string) bool { return strings.HasPrefix(rawURL, "file:") }

// readFileURL serves file:///path URLs (local mirrors, tests, air-gapped
// runs) under the same size limit, regular files only (readcap); there is
// nothing to retry.
func readFileURL(ctx context.Context, rawURL string, limit int64, consume func(io.Reader) error) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
		return fmt.Errorf("invalid file URL %q: use file:///absolute/path", rawURL)
	}
	// readcap refuses what is not a regular file and says which limit a
	// file passed; its errors are the local file's fault.
	f, err := readcap.Open(u.Path, limit)
	if err != nil {
		return fmt.Errorf("reading %s: %w", rawURL, err)
	}
	defer f.Close()
	if err := consume(ctxio.Reader(ctx, f)); err != nil {
		return fmt.Errorf("reading %s: %w", rawURL, err)
	}
	return nil
}
