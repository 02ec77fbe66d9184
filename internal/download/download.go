// Package download fetches release files over HTTP(S) or from file:// URLs,
// with timeouts, size limits, retries and the download mirror of
// docs/architecture.md §4. What it returns is never trusted: callers verify
// signatures and pinned digests.
package download

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// MirrorEnv names the variable that routes every download through a mirror.
const MirrorEnv = "COINPIPE_DOWNLOAD_MIRROR"

// Defaults for a zero Client.
const (
	DefaultMaxBytes       = 64 << 20 // checksums and signatures, held in memory
	DefaultMaxStreamBytes = 2 << 30  // release archives, streamed
	DefaultAttempts       = 4
	DefaultBackoff        = time.Second
	DefaultIdleTimeout    = time.Minute
	DefaultFetchTimeout   = 2 * time.Minute  // a checksums or signature file, all attempts
	DefaultStreamTimeout  = 30 * time.Minute // a release archive, all attempts
	maxBackoff            = 30 * time.Second
)

// Client downloads files. The zero value is ready to use.
type Client struct {
	// HTTP does the requests; nil means a client with connection, TLS and
	// response-header timeouts and no transparent decompression.
	HTTP *http.Client
	// MaxBytes caps what Fetch holds in memory; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxStreamBytes caps what Stream reads; 0 means DefaultMaxStreamBytes.
	MaxStreamBytes int64
	// Attempts is how often a request is tried on 5xx, 429 and transport
	// errors; 0 means DefaultAttempts.
	Attempts int
	// Backoff is the first wait between attempts, doubled after each; 0
	// means DefaultBackoff.
	Backoff time.Duration
	// IdleTimeout abandons a response body that sends nothing for this
	// long; 0 means DefaultIdleTimeout. The attempt is retried.
	IdleTimeout time.Duration
	// FetchTimeout and StreamTimeout bound one download, every attempt and
	// wait included: a server that drips a byte now and then never trips
	// IdleTimeout. 0 means DefaultFetchTimeout and DefaultStreamTimeout.
	FetchTimeout, StreamTimeout time.Duration
	// Mirror, when set, maps https://host/path to <Mirror>/host/path.
	Mirror string
	// Log, when set, hears about retries.
	Log *slog.Logger
}

// defaultHTTP never decompresses on its own: a server that labels a
// .tar.gz with Content-Encoding: gzip would otherwise make us hash the
// unpacked bytes.
var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: time.Minute,
	IdleConnTimeout:       90 * time.Second,
	DisableCompression:    true,
	ForceAttemptHTTP2:     true,
}}

// Fetch downloads a small file (checksums, signatures) into memory.
func (c *Client) Fetch(ctx context.Context, rawURL string) ([]byte, error) {
	var data []byte
	err := c.get(ctx, rawURL, or(c.MaxBytes, DefaultMaxBytes), or(c.FetchTimeout, DefaultFetchTimeout), func(r io.Reader) error {
		var err error
		data, err = io.ReadAll(r)
		return err
	})
	return data, err
}

// Stream downloads a file and hands its body to consume without holding it
// in memory. On a transport failure the download starts over and consume
// is called again with a fresh body, so consume must start from scratch
// each time (a new hash, a truncated file); an error consume returns
// itself is returned as is, not retried.
func (c *Client) Stream(ctx context.Context, rawURL string, consume func(io.Reader) error) error {
	return c.get(ctx, rawURL, or(c.MaxStreamBytes, DefaultMaxStreamBytes), or(c.StreamTimeout, DefaultStreamTimeout), consume)
}

// SHA256 streams a file and returns its SHA-256 (lower-case hex) and size.
func (c *Client) SHA256(ctx context.Context, rawURL string) (string, int64, error) {
	var sum string
	var n int64
	err := c.Stream(ctx, rawURL, func(r io.Reader) error {
		h := sha256.New()
		var err error
		n, err = io.Copy(h, r)
		sum = hex.EncodeToString(h.Sum(nil))
		return err
	})
	if err != nil {
		return "", 0, err
	}
	return sum, n, nil
}

// errDeadline is the cause of a download cancelled by its overall timeout.
var errDeadline = errors.New("download deadline passed")

// get resolves the mirror, then reads a file:// URL or retries an HTTP GET
// until timeout.
func (c *Client) get(ctx context.Context, rawURL string, limit int64, timeout time.Duration, consume func(io.Reader) error) error {
	target, err := MirrorURL(c.Mirror, rawURL)
	if err != nil {
		return err
	}
	if isFileURL(target) {
		return readFileURL(ctx, target, limit, consume)
	}
	parent := ctx
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errDeadline)
	defer cancel()
	// Whatever an attempt returned, a passed deadline or an interruption
	// is why it failed.
	stopped := func(err error) error {
		switch {
		case parent.Err() != nil:
			return fmt.Errorf("downloading %s: %w", Redact(target), context.Cause(parent))
		case errors.Is(context.Cause(ctx), errDeadline):
			return &TimeoutError{URL: Redact(target), After: timeout}
		}
		return err
	}
	backoff := or(c.Backoff, DefaultBackoff)
	attempts := or(c.Attempts, DefaultAttempts)
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, target, limit, consume)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return stopped(err)
		}
		if !retryable(err) || attempt >= attempts {
			return err
		}
		if c.Log != nil {
			c.Log.Warn("download failed, retrying", "url", Redact(target), "attempt", attempt, "wait", backoff, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return stopped(err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attempt is one GET, its body watched for stalls and capped at limit.
func (c *Client) attempt(ctx context.Context, target string, limit int64, consume func(io.Reader) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", Redact(target), err)
	}
	req.Header.Set("User-Agent", "coinpipe")
	client := c.HTTP
	if client == nil {
		client = defaultHTTP
	}
	resp, err := client.Do(req)
	if err != nil {
		return &transportError{url: target, err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &APIError{Service: "download", Method: http.MethodGet, URL: Redact(target), StatusCode: resp.StatusCode}
	}
	if resp.ContentLength > limit {
		return &TooLargeError{URL: Redact(target), Limit: limit, Size: resp.ContentLength}
	}
	body := newIdleReader(resp.Body, or(c.IdleTimeout, DefaultIdleTimeout), cancel)
	defer body.stop()
	capped := &cappedReader{r: body, left: limit}
	err = consume(capped)
	switch {
	case capped.exceeded:
		return &TooLargeError{URL: Redact(target), Limit: limit}
	case body.err != nil:
		// The body failed under consume: the network's fault, worth a retry.
		cause := unwrapURLError(body.err)
		if errors.Is(context.Cause(ctx), errIdle) {
			cause = fmt.Errorf("no data for %s", or(c.IdleTimeout, DefaultIdleTimeout))
		}
		return &transportError{url: target, err: cause}
	case err != nil:
		return fmt.Errorf("downloading %s: %w", Redact(target), err)
	}
	return nil
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
