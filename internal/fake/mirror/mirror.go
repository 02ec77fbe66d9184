// Package mirror is the loopback download mirror the tests share: an
// http.Handler with in-memory state that serves release files by URL path
// and misbehaves on request (an error status, a body that drips one byte
// at a time or stalls, a connection cut short, a redirect), and records
// every request.
//
// Files are put under their upstream https URL and served in the layout
// COINPIPE_DOWNLOAD_MIRROR and release.sh's DOWNLOAD_MIRROR expect:
// https://host/path is served at <URL>/host/path. A path ("/x/y"), or a
// URL on the mirror itself (<URL>/x/y), is served as it is.
package mirror

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a started mirror, closed when the test ends.
type Server struct {
	// URL is the mirror's base, http://127.0.0.1:PORT.
	URL string

	srv  *httptest.Server
	done chan struct{} // closed before the server, to release slow handlers

	mu       sync.Mutex
	files    map[string]*file
	requests []Request
}

// Request is one request the mirror answered.
type Request struct {
	Method, Path, Query string
	// Status is what was answered (200 also for a body then cut or stalled).
	Status int
}

// file is what one path serves, and how.
type file struct {
	body     []byte
	status   int           // non-zero: answer this instead of the body
	failNext int           // answer failWith this many more times first
	failWith int           //
	cutNext  int           // announce the body, send half, drop the connection, this many more times first
	drip     time.Duration // send one byte per drip
	stall    bool          // send the headers and the first byte, then nothing
	redirect string        // answer 302 to this location
	unsized  bool          // no Content-Length (chunked)
}

// New starts a mirror on loopback.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{files: map[string]*file{}, done: make(chan struct{})}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	// Cleanups run last-in first-out: the slow handlers are released
	// first, then Close waits for them.
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.done) })
	return s
}

// key maps a URL to the path it is served at: a URL on the mirror itself
// to its path, an upstream URL to /host/path, a path to itself.
func (s *Server) key(rawURL string) string {
	if rest, ok := strings.CutPrefix(rawURL, s.URL+"/"); ok {
		rawURL = "/" + rest
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "" && u.Host != "" {
		return "/" + u.Host + u.EscapedPath()
	}
	if i := strings.IndexByte(rawURL, '?'); i >= 0 {
		rawURL = rawURL[:i]
	}
	return "/" + strings.TrimPrefix(rawURL, "/")
}

// For returns the mirror URL rawURL is served at.
func (s *Server) For(rawURL string) string { return s.URL + s.key(rawURL) }

// Put serves body at rawURL, replacing whatever was there and its switches.
func (s *Server) Put(rawURL string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[s.key(rawURL)] = &file{body: body}
}

// Fail answers every request for rawURL with status.
func (s *Server) Fail(rawURL string, status int) { s.set(rawURL, func(f *file) { f.status = status }) }

// FailNext answers the next n requests for rawURL with status, then the body.
func (s *Server) FailNext(rawURL string, n, status int) {
	s.set(rawURL, func(f *file) { f.failNext, f.failWith = n, status })
}

// CutNext makes the next n responses for rawURL announce the whole body,
// send half of it and drop the connection.
func (s *Server) CutNext(rawURL string, n int) { s.set(rawURL, func(f *file) { f.cutNext = n }) }

// SlowDrip sends rawURL's body one byte every interval.
func (s *Server) SlowDrip(rawURL string, interval time.Duration) {
	s.set(rawURL, func(f *file) { f.drip = interval })
}

// Stall sends rawURL's headers and first byte, then nothing until the
// client gives up or the test ends.
func (s *Server) Stall(rawURL string) { s.set(rawURL, func(f *file) { f.stall = true }) }

// Redirect answers rawURL with 302 Found to location (a URL, or a path
// on this mirror).
func (s *Server) Redirect(rawURL, location string) {
	s.set(rawURL, func(f *file) { f.redirect = location })
}

// Unsized serves rawURL's body without a Content-Length, in chunks.
func (s *Server) Unsized(rawURL string) { s.set(rawURL, func(f *file) { f.unsized = true }) }

func (s *Server) set(rawURL string, change func(*file)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[s.key(rawURL)]
	if f == nil {
		f = &file{}
		s.files[s.key(rawURL)] = f
	}
	change(f)
}

// Requests returns every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is how many requests for rawURL were answered.
func (s *Server) Count(rawURL string) int {
	key := s.key(rawURL)
	n := 0
	for _, r := range s.Requests() {
		if r.Path == key {
			n++
		}
	}
	return n
}

// ServeHTTP answers from the files and their switches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.files[r.URL.Path]
	var serve file
	if ok {
		serve = *f
		if f.failNext > 0 {
			f.failNext--
			serve.status = f.failWith
		} else if f.cutNext > 0 {
			f.cutNext--
		} else {
			serve.cutNext = 0
		}
	}
	status := http.StatusOK
	switch {
	case !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead):
		status = http.StatusNotFound
	case serve.status != 0:
		status = serve.status
	case serve.redirect != "":
		status = http.StatusFound
	}
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status})
	s.mu.Unlock()

	switch {
	case status == http.StatusFound:
		http.Redirect(w, r, serve.redirect, status)
		return
	case status != http.StatusOK:
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if !serve.unsized {
		w.Header().Set("Content-Length", strconv.Itoa(len(serve.body)))
	}
	if r.Method == http.MethodHead {
		return
	}
	switch {
	case serve.cutNext > 0:
		w.Write(serve.body[:len(serve.body)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	case serve.stall:
		w.Write(serve.body[:min(1, len(serve.body))])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
	case serve.drip > 0:
		s.dripBody(w, r, serve.body, serve.drip)
	case serve.unsized:
		for chunk := range slices.Chunk(serve.body, 10) {
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	default:
		w.Write(serve.body)
	}
}

// dripBody sends body one byte per interval, until done or abandoned.
func (s *Server) dripBody(w http.ResponseWriter, r *http.Request, body []byte, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range body {
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		if i == len(body)-1 {
			return
		}
		select {
		case <-tick.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}
