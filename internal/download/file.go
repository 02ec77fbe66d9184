package download

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

func isFileURL(rawURL string) bool { return strings.HasPrefix(rawURL, "file:") }

// readFileURL serves file:///path URLs (local mirrors, tests, air-gapped
// runs) under the same size limit; there is nothing to retry.
func readFileURL(rawURL string, limit int64, consume func(io.Reader) error) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Path == "" || (u.Host != "" && u.Host != "localhost") {
		return fmt.Errorf("invalid file URL %q: use file:///absolute/path", rawURL)
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", rawURL, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > limit {
		return &TooLargeError{URL: rawURL, Limit: limit, Size: info.Size()}
	}
	capped := &cappedReader{r: f, left: limit}
	err = consume(capped)
	switch {
	case capped.exceeded:
		return &TooLargeError{URL: rawURL, Limit: limit}
	case err != nil:
		return fmt.Errorf("reading %s: %w", rawURL, err)
	}
	return nil
}
