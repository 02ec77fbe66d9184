// Package github lists a repository's releases through GitHub's REST API
// (go-github), cheaply and politely enough for a scheduled job:
//
//   - every GET is conditional: the ETag and body of each page are kept
//     under the state dir, and a run against an unchanged upstream sends
//     one request per repository, answered 304 (free against the primary
//     rate limit for an authorized request, as GitHub documents);
//   - rate limits are waited out when they end within Options.MaxWait,
//     else reported as *RateLimitError, saying to set GITHUB_TOKEN when
//     the limit is the unauthenticated one;
//   - a server error or a dropped connection is tried again once.
//
// The token goes only into the Authorization header: never into a URL,
// an error, a log line or the cache.
package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"gitlab.com/coinpipe/coinpipe/internal/download"
)

// Release is one GitHub release.
type Release struct {
	Tag         string
	Name        string
	Draft       bool
	Prerelease  bool
	PublishedAt time.Time // zero for a draft
	HTMLURL     string
	Body        string // release notes (markdown)
}

// Options configure a Client. No field is read from the environment:
// internal/cli does that.
type Options struct {
	// BaseURL is GITHUB_API_URL's form: https://api.github.com, or
	// https://ghe.example/api/v3 for GitHub Enterprise Server; no
	// trailing slash needed. "" is https://api.github.com.
	BaseURL string
	Token   string       // GITHUB_TOKEN, may be ""
	HTTP    *http.Client // nil: a default with a 30 s timeout
	// StateDir is COINPIPE_STATE_DIR; "" disables the conditional-request
	// cache. Entries go to <StateDir>/github/.
	StateDir string
	// MaxWait is the longest rate-limit wait before giving up on a
	// repository (0: 60 s).
	MaxWait time.Duration
	Log     *slog.Logger // nil: discard
	// Now stamps cache entries (nil: time.Now). Rate-limit waits follow
	// the wall clock, as GitHub's reset times and go-github do.
	Now func() time.Time

	// sleep waits d or until ctx ends; tests replace it. nil: a timer.
	sleep func(ctx context.Context, d time.Duration) error
	// backoff is the pause before trying a server error again (0: 1 s).
	backoff time.Duration
}

const (
	defaultBaseURL = "https://api.github.com"
	defaultMaxWait = 60 * time.Second
	// perPage and maxPages bound a listing to 500 releases, newest first:
	// far more than any coin's supported release lines.
	perPage  = 100
	maxPages = 5
	// serverTries is how many times a request meeting a 5xx or a dropped
	// connection is sent.
	serverTries = 2
	// secondaryDefaultWait is GitHub's advice for a secondary limit
	// without Retry-After: "wait for at least one minute".
	secondaryDefaultWait = time.Minute
)

// Client lists releases. It is safe for concurrent use.
type Client struct {
	gh      *gh.Client
	t       *transport
	token   bool
	maxWait time.Duration
	log     *slog.Logger
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	backoff time.Duration
}

// OptionsError is a Client option that cannot work (exit code 2).
type OptionsError struct{ Reason string }

func (e *OptionsError) Error() string { return e.Reason }

// InvalidInput marks the options as the input's fault (exit code 2).
func (e *OptionsError) InvalidInput() bool { return true }

// New returns a client for o.
func New(o Options) (*Client, error) {
	base, err := parseBaseURL(o.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		token:   o.Token != "",
		maxWait: o.MaxWait,
		log:     o.Log,
		now:     o.Now,
		sleep:   o.sleep,
		backoff: o.backoff,
	}
	if c.maxWait <= 0 {
		c.maxWait = defaultMaxWait
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleep
	}
	if c.backoff <= 0 {
		c.backoff = time.Second
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if o.HTTP != nil {
		copied := *o.HTTP
		hc = &copied
	}
	c.t = &transport{base: hc.Transport, log: c.log, now: c.now}
	if c.t.base == nil {
		c.t.base = http.DefaultTransport
	}
	if o.StateDir != "" {
		c.t.dir = filepath.Join(o.StateDir, "github")
	}
	hc.Transport = c.t
	// go-github's token wrapper sits above the cache, so the cache sees
	// whether a request is authorized, and the base transport sends it.
	c.gh = gh.NewClient(hc)
	if o.Token != "" {
		c.gh = c.gh.WithAuthToken(o.Token)
	}
	c.gh.BaseURL = base
	return c, nil
}

// parseBaseURL takes GITHUB_API_URL as GitHub sets it and adds the
// trailing slash go-github requires. WithEnterpriseURLs is not used: it
// would append /api/v3 to any host not named api.*, a test server's too.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = defaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, &OptionsError{Reason: fmt.Sprintf("github API URL %q: want http(s)://host[/path] without credentials or query, e.g. https://api.github.com or https://ghe.example/api/v3", download.Redact(raw))}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

// Requests is how many HTTP requests this client sent (304s included,
// pages answered from the cache without a request not).
func (c *Client) Requests() int { return int(c.t.requests.Load()) }

// Releases lists a repository's releases (drafts included when the token
// may see them: callers filter), newest first as GitHub returns them, at
// most 5 pages of 100. With a state dir every page is a conditional
// request; when page 1 is answered 304 the following pages are taken from
// the cache without a request, since a new or changed release always
// changes page 1: an unchanged upstream costs one request.
//
// Errors: *RateLimitError; an error matching ErrNotFound for a repository
// GitHub does not show; *APIError for other answers. They name the URL,
// hence the repository, but not the operation: callers add it.
func (c *Client) Releases(ctx context.Context, ownerRepo string) ([]Release, error) {
	owner, repo, ok := strings.Cut(ownerRepo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, &OptionsError{Reason: fmt.Sprintf("github repository %q: want owner/repo", ownerRepo)}
	}
	var out []Release
	opts := &gh.ListOptions{PerPage: perPage}
	unchanged := false
	for page := 1; ; page++ {
		pctx := ctx
		if unchanged {
			pctx = preferCache(ctx)
		}
		rels, resp, err := c.listPage(pctx, owner, repo, opts)
		if err != nil {
			return nil, err
		}
		if page == 1 {
			unchanged = resp.Header.Get(fromCacheHeader) != ""
		}
		for _, r := range rels {
			out = append(out, Release{
				Tag:         r.GetTagName(),
				Name:        r.GetName(),
				Draft:       r.GetDraft(),
				Prerelease:  r.GetPrerelease(),
				PublishedAt: r.GetPublishedAt().Time,
				HTMLURL:     r.GetHTMLURL(),
				Body:        r.GetBody(),
			})
		}
		if resp.NextPage == 0 {
			break
		}
		if page == maxPages {
			c.log.Warn("github releases listing cut short", "repo", ownerRepo, "pages", maxPages, "releases", len(out))
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// listPage gets one page, waiting out a short rate limit once and trying
// a server error or a dropped connection again once.
func (c *Client) listPage(ctx context.Context, owner, repo string, opts *gh.ListOptions) ([]*gh.RepositoryRelease, *gh.Response, error) {
	waited := false
	for try := 1; ; try++ {
		rels, resp, err := c.gh.Repositories.ListReleases(ctx, owner, repo, opts)
		if err == nil {
			return rels, resp, nil
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if rl := c.rateLimit(resp, err); rl != nil {
			if waited || rl.Wait > c.maxWait {
				return nil, nil, rl
			}
			c.log.Info("waiting for the github rate limit", "repo", owner+"/"+repo, "wait", rl.Wait.Round(time.Second).String(), "secondary", rl.Secondary)
			if err := c.sleep(ctx, rl.Wait); err != nil {
				return nil, nil, err
			}
			waited = true
			continue
		}
		var er *gh.ErrorResponse
		retryable := !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode >= 500
		if retryable && try < serverTries {
			c.log.Info("github request failed, trying again", "repo", owner+"/"+repo, "error", err.Error(), "after", c.backoff.String())
			if err := c.sleep(ctx, c.backoff); err != nil {
				return nil, nil, err
			}
			continue
		}
		if er != nil && er.Response != nil {
			ae := &APIError{Service: "github", Method: http.MethodGet, StatusCode: er.Response.StatusCode, Message: er.Message, Tries: try}
			if er.Response.Request != nil {
				ae.URL = download.Redact(er.Response.Request.URL.String())
			}
			return nil, nil, ae
		}
		if try > 1 {
			return nil, nil, fmt.Errorf("%w (tried %d times)", err, try)
		}
		return nil, nil, err
	}
}

// rateLimit recognises GitHub's rate-limit answers, documented as 403 or
// 429: the primary limit (X-RateLimit-Remaining: 0, wait until
// X-RateLimit-Reset) and the secondary one (wait Retry-After seconds, or
// a minute). go-github v60 types only the 403s it recognises (by
// X-RateLimit-Remaining, or by the documentation URL's suffix); a 429, or
// a 403 with Retry-After and another URL, comes as a plain *ErrorResponse
// and is read from its headers here.
func (c *Client) rateLimit(resp *gh.Response, err error) *RateLimitError {
	// The wall clock, not Options.Now: X-RateLimit-Reset is wall-clock
	// time, the wait is a real one, and go-github refuses to send before
	// a known reset by time.Now.
	now := time.Now()
	rl := &RateLimitError{MaxWait: c.maxWait, Unauthenticated: !c.token}
	var primary *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	var er *gh.ErrorResponse
	switch {
	case errors.As(err, &primary):
		rl.Reset, rl.Limit = primary.Rate.Reset.Time, primary.Rate.Limit
	case errors.As(err, &abuse):
		rl.Secondary = true
		rl.Reset = now.Add(secondaryDefaultWait)
		if abuse.RetryAfter != nil {
			rl.Reset = now.Add(*abuse.RetryAfter)
		}
	case errors.As(err, &er) && er.Response != nil && (er.Response.StatusCode == http.StatusTooManyRequests ||
		er.Response.StatusCode == http.StatusForbidden && er.Response.Header.Get("Retry-After") != ""):
		h := er.Response.Header
		if d, ok := retryAfter(h.Get("Retry-After"), now); ok {
			rl.Secondary, rl.Reset = true, now.Add(d)
			break
		}
		if resp != nil && h.Get("X-RateLimit-Remaining") == "0" && !resp.Rate.Reset.Time.IsZero() {
			rl.Reset, rl.Limit = resp.Rate.Reset.Time, resp.Rate.Limit
			break
		}
		rl.Secondary, rl.Reset = true, now.Add(secondaryDefaultWait)
	default:
		return nil
	}
	if resp != nil && rl.Limit == 0 {
		rl.Limit = resp.Rate.Limit
	}
	if rl.Limit == 60 {
		rl.Unauthenticated = true
	}
	rl.Wait = max(0, rl.Reset.Sub(now))
	return rl
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
