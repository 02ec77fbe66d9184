// Package gitlab is coinpipe's client for GitLab's REST API (v4): a thin
// layer over gitlab.com/gitlab-org/api/client-go that speaks in the few
// shapes coinpipe needs (merge requests, one atomic commit, branches) and
// reports failures as *APIError with a redacted URL and GitLab's own
// message, never a token.
//
// The base URL is GitLab's CI_API_V4_URL and the credential GITLAB_TOKEN
// (sent as PRIVATE-TOKEN) or else CI_JOB_TOKEN (JOB-TOKEN); internal/cli
// reads them and fills Options.
package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Options configures a Client.
type Options struct {
	BaseURL  string // CI_API_V4_URL, e.g. https://gitlab.example/api/v4
	Token    string // GITLAB_TOKEN (PRIVATE-TOKEN) ...
	JobToken string // ... else CI_JOB_TOKEN (JOB-TOKEN header)
	HTTP     *http.Client
	Log      *slog.Logger
	// PerPage is the page size of list requests; 0 means 100, GitLab's
	// maximum.
	PerPage int
	// MaxRetryWait is the longest Retry-After a 429 may ask for before the
	// request gives up instead of waiting (default 30s).
	MaxRetryWait time.Duration
}

// Client talks to one GitLab instance. It is safe for concurrent use.
type Client struct {
	api          *gl.Client
	log          *slog.Logger
	perPage      int
	maxRetryWait time.Duration
	requests     atomic.Int64
}

const (
	defaultTimeout      = 30 * time.Second
	defaultMaxRetryWait = 30 * time.Second
	// retries after the first attempt: a transient 5xx gets two more
	// chances, a real outage fails within about a second.
	retryMax = 2
	// maxPages bounds a listing (maxPages × PerPage items): past it the
	// answer is an error, not a silently truncated list.
	maxPages = 50
)

// ConfigError is a missing or malformed setting (exit code 2).
type ConfigError struct{ msg string }

func (e *ConfigError) Error() string    { return e.msg }
func (*ConfigError) InvalidInput() bool { return true }

// New returns a client for o.BaseURL. It sends no request.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.BaseURL)
	if o.BaseURL == "" {
		return nil, &ConfigError{"creating GitLab client: no API URL (CI_API_V4_URL, e.g. https://gitlab.example/api/v4)"}
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{fmt.Sprintf("creating GitLab client: API URL %q is not an http(s) URL", redact(o.BaseURL))}
	}
	if o.Token == "" && o.JobToken == "" {
		return nil, &ConfigError{"creating GitLab client: no token (GITLAB_TOKEN, or CI_JOB_TOKEN inside a job)"}
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{log: log, perPage: o.PerPage, maxRetryWait: o.MaxRetryWait}
	if c.perPage <= 0 || c.perPage > 100 {
		c.perPage = 100
	}
	if c.maxRetryWait <= 0 {
		c.maxRetryWait = defaultMaxRetryWait
	}

	// A copy of the caller's client, so counting requests (and the default
	// deadline) never changes a client others share.
	hc := &http.Client{Timeout: defaultTimeout}
	if o.HTTP != nil {
		cp := *o.HTTP
		hc = &cp
		if hc.Timeout == 0 {
			hc.Timeout = defaultTimeout
		}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = countingTransport{base: base, n: &c.requests}

	opts := []gl.ClientOptionFunc{
		gl.WithBaseURL(o.BaseURL),
		gl.WithHTTPClient(hc),
		gl.WithURLWarningLogger(log),
		gl.WithCustomRetryMax(retryMax),
		gl.WithCustomRetry(c.retryIdempotent),
		gl.WithCustomBackoff(c.backoff),
	}
	if o.Token != "" {
		c.api, err = gl.NewClient(o.Token, opts...)
	} else {
		c.api, err = gl.NewJobClient(o.JobToken, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("creating GitLab client for %s: %w", redact(o.BaseURL), err)
	}
	return c, nil
}

// Requests is how many HTTP requests this client sent, retries included.
func (c *Client) Requests() int { return int(c.requests.Load()) }

type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(r)
}

// retryIdempotent is the retry rule of GET and PUT, which GitLab applies
// the same way twice: 5xx (but 501), 429 within MaxRetryWait, and transport
// errors.
func (c *Client) retryIdempotent(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		c.logRetry(resp, err)
		return true, nil
	}
	return c.retryStatus(resp), nil
}

// retryOnce is the retry rule of POSTs that create something (a commit, a
// merge request, a note). A 5xx or a dropped connection may come after
// GitLab applied the request, and trying again could make a second MR note
// or report a 409 for the MR just made; so only failures that prove the
// request was not applied are retried: 429 (refused before processing)
// and a connection that was never made.
func (c *Client) retryOnce(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			c.logRetry(resp, err)
			return true, nil
		}
		return false, nil
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return c.retryStatus(resp), nil
	}
	return false, nil
}

func (c *Client) retryStatus(resp *http.Response) bool {
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		if retryAfter(resp) > c.maxRetryWait {
			return false
		}
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
	default:
		return false
	}
	c.logRetry(resp, nil)
	return true
}

func (c *Client) logRetry(resp *http.Response, err error) {
	attrs := []any{}
	if resp != nil && resp.Request != nil {
		attrs = append(attrs, "method", resp.Request.Method, "url", redact(resp.Request.URL.String()), "status", resp.StatusCode)
	}
	if err != nil {
		attrs = append(attrs, "error", unwrapURLError(err).Error())
	}
	c.log.Warn("retrying GitLab request", attrs...)
}

// backoff waits Retry-After on a 429, else 250 ms, 500 ms, ...
func (c *Client) backoff(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		if d := retryAfter(resp); d > 0 {
			return d
		}
	}
	return time.Duration(float64(250*time.Millisecond) * math.Pow(2, float64(attempt)))
}

// retryAfter reads Retry-After (seconds) or GitLab's RateLimit-Reset (Unix
// time); 0 when neither is there.
func retryAfter(resp *http.Response) time.Duration {
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil {
		if d := time.Until(time.Unix(t, 0)); d > 0 {
			return d
		}
	}
	return 0
}

// fetch is call for a request that answers a value: fn is the client-go
// method with its arguments bound, taking the request options.
func fetch[T any](ctx context.Context, c *Client, create bool, fn func(opts ...gl.RequestOptionFunc) (T, *gl.Response, error)) (T, *gl.Response, error) {
	var out T
	var resp *gl.Response
	err := c.call(ctx, create, func(o ...gl.RequestOptionFunc) (*gl.Response, error) {
		var err error
		out, resp, err = fn(o...)
		return resp, err
	})
	return out, resp, err
}

// call runs one client-go request with ctx, turning its failure into an
// *APIError (or a transport error naming the redacted URL). create marks a
// POST that makes something, retried only when it surely was not applied.
func (c *Client) call(ctx context.Context, create bool, fn func(opts ...gl.RequestOptionFunc) (*gl.Response, error)) error {
	opts := []gl.RequestOptionFunc{gl.WithContext(ctx)}
	if create {
		opts = append(opts, gl.WithRequestRetry(c.retryOnce))
	}
	resp, err := fn(opts...)
	if err == nil {
		return nil
	}
	return toAPIError(resp, err)
}
