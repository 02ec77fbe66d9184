package github

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/download"
	"gitlab.com/coinpipe/coinpipe/internal/readcap"

	"gitlab.com/coinpipe/coinpipe/internal/atomicfile"
)

const (
	// cacheVersion changes when the entry layout does; other versions are ignored.
	cacheVersion = 1
	// maxBody caps one page held in memory and on disk: 100 releases with
	// long notes (Bitcoin Core's run to ~50 KiB each) fit many times.
	maxBody = 32 << 20
	// fromCacheHeader marks a response served from the cache, as
	// gregjones/httpcache does; go-github then leaves its rate-limit
	// bookkeeping alone, and Releases knows page 1 was unchanged.
	fromCacheHeader = "X-From-Cache"
)

// entry is one cached GET: <StateDir>/github/<sha256 of key>.json.
type entry struct {
	Version    int         `json:"version"`
	URL        string      `json:"url"` // redacted, for people reading the file
	ETag       string      `json:"etag"`
	Header     http.Header `json:"header"` // Content-Type and Link only
	BodySHA256 string      `json:"body_sha256"`
	Body       []byte      `json:"body"` // base64 in the file
	Stored     time.Time   `json:"stored"`
}

// keptHeaders are the response headers a cached answer needs: Link for
// pagination. Never a request header: the token must not reach the disk.
var keptHeaders = []string{"Content-Type", "Link"}

type preferCacheKey struct{}

// preferCache asks the transport to answer from the cache without a
// request when it holds the URL: the later pages of a listing whose first
// page GitHub just answered 304.
func preferCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, preferCacheKey{}, true)
}

// transport counts requests and, with a dir, makes every GET conditional:
// the ETag and body of each 200 are stored, the ETag is sent back as
// If-None-Match, and a 304 is turned into the stored 200.
type transport struct {
	base     http.RoundTripper
	dir      string // "" disables the cache
	log      *slog.Logger
	now      func() time.Time
	requests atomic.Int64
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.dir == "" || req.Method != http.MethodGet {
		return t.send(req)
	}
	path := filepath.Join(t.dir, cacheKey(req)+".json")
	e := t.load(path)
	if e != nil && req.Context().Value(preferCacheKey{}) != nil {
		t.log.Debug("github response from cache", "url", download.Redact(req.URL.String()))
		return e.response(req, nil), nil
	}
	if e != nil {
		req = req.Clone(req.Context())
		req.Header.Set("If-None-Match", e.ETag)
	}
	resp, err := t.send(req)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && e != nil:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.log.Debug("github response not modified", "url", download.Redact(req.URL.String()))
		return e.response(req, resp.Header), nil
	case resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "":
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", download.Redact(req.URL.String()), err)
		}
		if len(body) > maxBody {
			return nil, fmt.Errorf("reading %s: more than %d MiB", download.Redact(req.URL.String()), maxBody>>20)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		// A body that is not JSON would be replayed on every 304 and fail
		// every run; go-github reports it this once.
		if json.Valid(body) {
			t.store(path, req, resp, body)
		}
		return resp, nil
	}
	return resp, nil
}

func (t *transport) send(req *http.Request) (*http.Response, error) {
	t.requests.Add(1)
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		t.log.Debug("github request", "method", req.Method, "url", download.Redact(req.URL.String()), "status", resp.StatusCode,
			"conditional", req.Header.Get("If-None-Match") != "", "rate_remaining", resp.Header.Get("X-RateLimit-Remaining"))
	}
	return resp, err
}

// cacheKey names a request's entry: its URL, what it accepts, and whether
// it is authenticated (drafts are listed only to authorized callers). The
// token itself is not part of it, not even hashed.
func cacheKey(req *http.Request) string {
	auth := "anonymous"
	if req.Header.Get("Authorization") != "" {
		auth = "authorized"
	}
	sum := sha256.Sum256([]byte(req.Method + " " + req.URL.String() + "\n" + req.Header.Get("Accept") + "\n" + auth))
	return hex.EncodeToString(sum[:])
}

// load returns the entry at path, or nil when there is none or it is
// damaged: a cache is an optimisation, so a bad file costs one full
// request, never the run.
func (t *transport) load(path string) *entry {
	data, err := readcap.ReadFile(path, 2*maxBody)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.log.Debug("github cache entry unreadable, ignored", "path", path, "error", err)
		}
		return nil
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil || e.Version != cacheVersion || e.ETag == "" || !sameSHA256(e.Body, e.BodySHA256) {
		t.log.Warn("github cache entry damaged, ignored", "path", path)
		return nil
	}
	return &e
}

func sameSHA256(body []byte, want string) bool {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:]) == want
}

// store writes the entry atomically (a temporary file renamed over the
// old one), so a run killed mid-write leaves the old entry or none. A
// failure is logged: the answer in hand is still good.
func (t *transport) store(path string, req *http.Request, resp *http.Response, body []byte) {
	sum := sha256.Sum256(body)
	e := entry{
		Version:    cacheVersion,
		URL:        download.Redact(req.URL.String()),
		ETag:       resp.Header.Get("ETag"),
		Header:     http.Header{},
		BodySHA256: hex.EncodeToString(sum[:]),
		Body:       body,
		Stored:     t.now().UTC(),
	}
	for _, k := range keptHeaders {
		if v := resp.Header.Values(k); len(v) > 0 {
			e.Header[k] = v
		}
	}
	if err := writeAtomic(path, e); err != nil {
		t.log.Warn("github cache entry not written", "path", path, "error", err)
	}
}

func writeAtomic(path string, e entry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	// The state dir may hold a private repository's releases.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o600)
}

// response rebuilds the stored 200 for req. live holds the 304's headers,
// whose rate-limit figures are current; nil when no request was sent.
func (e *entry) response(req *http.Request, live http.Header) *http.Response {
	h := http.Header{}
	for k, v := range live {
		h[k] = v
	}
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("ETag", e.ETag)
	h.Set(fromCacheHeader, "1")
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.Body)),
		ContentLength: int64(len(e.Body)),
		Request:       req,
	}
}
