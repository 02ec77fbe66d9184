package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a loopback HTTP server that answers from a script, one entry
// per request (the last one repeats), and records what it was asked.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func newServer(t *testing.T, script ...http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, r)
		s.mu.Unlock()
		script[min(n, len(script)-1)](w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func body(b string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, b) }
}

// cutShort announces more than it sends and drops the connection.
func cutShort(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "1000")
	io.WriteString(w, "partial")
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func fastClient() *Client { return &Client{Backoff: time.Millisecond, Attempts: 3} }

func TestFetchRetries(t *testing.T) {
	tests := []struct {
		name     string
		script   []http.HandlerFunc
		want     string
		requests int
		status   int // expected *APIError status, 0 for success
	}{
		{"5xx then success", []http.HandlerFunc{status(503), status(502), body("sums")}, "sums", 3, 0},
		{"404 is not retried", []http.HandlerFunc{status(404), body("sums")}, "", 1, 404},
		{"403 is not retried", []http.HandlerFunc{status(403), body("sums")}, "", 1, 403},
		{"429 is retried", []http.HandlerFunc{status(429), body("sums")}, "sums", 2, 0},
		{"5xx until attempts run out", []http.HandlerFunc{status(500)}, "", 3, 500},
		{"body cut short, then success", []http.HandlerFunc{cutShort, body("sums")}, "sums", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.script...)
			var logs bytes.Buffer
			c := fastClient()
			c.Log = slog.New(slog.NewTextHandler(&logs, nil))
			got, err := c.Fetch(t.Context(), s.URL+"/bin/SHA256SUMS")
			var apiErr *APIError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.status != 0 && !errors.As(err, &apiErr):
				t.Fatalf("err = %v, want an *APIError", err)
			case tt.status != 0:
				if apiErr.StatusCode != tt.status || apiErr.URL != s.URL+"/bin/SHA256SUMS" || apiErr.Method != "GET" {
					t.Errorf("APIError %+v", apiErr)
				}
				if !strings.Contains(err.Error(), strconv.Itoa(tt.status)) || !strings.Contains(err.Error(), s.URL+"/bin/SHA256SUMS") {
					t.Errorf("error %q names neither status nor URL", err)
				}
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if n := s.count(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if n := strings.Count(logs.String(), "retrying"); n != tt.requests-1 {
				t.Errorf("%d retries logged, want %d:\n%s", n, tt.requests-1, logs.String())
			}
		})
	}
}

func TestTransportErrorRetried(t *testing.T) {
	s := newServer(t, body("x"))
	url := s.URL + "/x"
	s.Close() // connection refused from now on
	c := fastClient()
	_, err := c.Fetch(t.Context(), url)
	if err == nil || !strings.Contains(err.Error(), "fetching "+url) {
		t.Fatalf("err = %v", err)
	}
	if !retryable(err) {
		t.Errorf("a refused connection is not retryable: %v", err)
	}
}

func TestSizeLimits(t *testing.T) {
	big := strings.Repeat("x", 100)
	chunked := func(w http.ResponseWriter, _ *http.Request) {
		for range 10 {
			io.WriteString(w, big[:10])
			w.(http.Flusher).Flush()
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		limit   int64
		ok      bool
	}{
		{"announced size over the limit", body(big), 99, false},
		{"exactly the limit", body(big), 100, true},
		{"no announced size, over the limit while reading", chunked, 50, false},
		{"no announced size, under the limit", chunked, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, tt.handler)
			c := &Client{MaxBytes: tt.limit, MaxStreamBytes: tt.limit, Backoff: time.Millisecond}
			got, err := c.Fetch(t.Context(), s.URL+"/f")
			_, _, streamErr := c.SHA256(t.Context(), s.URL+"/f")
			var tooLarge *TooLargeError
			if tt.ok {
				if err != nil || streamErr != nil || len(got) != 100 {
					t.Fatalf("Fetch: %d bytes, %v; SHA256: %v", len(got), err, streamErr)
				}
				return
			}
			if !errors.As(err, &tooLarge) || !errors.As(streamErr, &tooLarge) {
				t.Fatalf("Fetch: %v; SHA256: %v; want *TooLargeError", err, streamErr)
			}
			if s.count() != 2 {
				t.Errorf("%d requests: a file too large must not be retried", s.count())
			}
		})
	}
}

func TestMirrorURL(t *testing.T) {
	tests := []struct{ mirror, in, want string }{
		{"", "https://bitcoincore.org/bin/SHA256SUMS", "https://bitcoincore.org/bin/SHA256SUMS"},
		{"http://mirror.example", "https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS", "http://mirror.example/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS"},
		{"http://mirror.example/cache/", "https://github.com/a/b/releases/download/v1/x.tar.gz?raw=1", "http://mirror.example/cache/github.com/a/b/releases/download/v1/x.tar.gz?raw=1"},
		{"http://mirror.example", "https://host:8443/p%20q", "http://mirror.example/host:8443/p%20q"},
		{"http://mirror.example", "file:///srv/x", "file:///srv/x"},
	}
	for _, tt := range tests {
		got, err := MirrorURL(tt.mirror, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("MirrorURL(%q, %q) = %q, %v; want %q", tt.mirror, tt.in, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"ftp://m", "https://h/p"}, {"http://m", "ftp://h/p"}, {"", "no-scheme"}} {
		if _, err := MirrorURL(bad[0], bad[1]); err == nil {
			t.Errorf("MirrorURL(%q, %q): no error", bad[0], bad[1])
		}
	}
}

func TestMirrorServesRequests(t *testing.T) {
	s := newServer(t, body("from the mirror"))
	c := &Client{Mirror: s.URL + "/cache"}
	got, err := c.Fetch(t.Context(), "https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS?x=1")
	if err != nil || string(got) != "from the mirror" {
		t.Fatalf("got %q, %v", got, err)
	}
	r := s.requests[0]
	if r.URL.Path != "/cache/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS" || r.URL.RawQuery != "x=1" {
		t.Errorf("mirror asked for %s", r.URL)
	}
}

func TestFileURL(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "SHA256SUMS")
	if err := os.WriteFile(path, []byte("local sums"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Client{Mirror: "http://mirror.invalid"} // file:// is never mirrored
	got, err := c.Fetch(t.Context(), "file://"+path)
	if err != nil || string(got) != "local sums" {
		t.Fatalf("got %q, %v", got, err)
	}
	sum, n, err := c.SHA256(t.Context(), "file://"+path)
	want := sha256.Sum256([]byte("local sums"))
	if err != nil || sum != hex.EncodeToString(want[:]) || n != 10 {
		t.Errorf("SHA256 = %s, %d, %v", sum, n, err)
	}
	if _, err := c.Fetch(t.Context(), "file://"+filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	var tooLarge *TooLargeError
	if _, err := (&Client{MaxBytes: 5}).Fetch(t.Context(), "file://"+path); !errors.As(err, &tooLarge) {
		t.Errorf("size limit on file://: %v", err)
	}
}

func TestStreamRestartsAfterACutBody(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000)
	s := newServer(t, cutShort, func(w http.ResponseWriter, _ *http.Request) { w.Write(content) })
	sum, n, err := fastClient().SHA256(t.Context(), s.URL+"/archive.tar.gz")
	want := sha256.Sum256(content)
	if err != nil || sum != hex.EncodeToString(want[:]) || n != int64(len(content)) {
		t.Fatalf("SHA256 = %s, %d, %v; want the digest of the complete second response", sum, n, err)
	}
}

func TestStreamConsumerErrorNotRetried(t *testing.T) {
	s := newServer(t, body("data"))
	boom := errors.New("disk full")
	err := fastClient().Stream(t.Context(), s.URL+"/f", func(io.Reader) error { return boom })
	if !errors.Is(err, boom) || s.count() != 1 {
		t.Fatalf("err = %v after %d requests", err, s.count())
	}
}

func TestIdleBodyAbandoned(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "start")
		w.(http.Flusher).Flush()
		<-release
	})
	t.Cleanup(func() { close(release) }) // before the server's own cleanup, which waits for the handler
	c := &Client{Attempts: 1, IdleTimeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := c.Fetch(t.Context(), s.URL+"/stalls")
	if err == nil || !strings.Contains(err.Error(), "no data for 50ms") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	s := newServer(t, status(503))
	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{Attempts: 10, Backoff: time.Hour}
	go func() {
		for s.count() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Fetch(ctx, s.URL+"/f")
	if !errors.Is(err, context.Canceled) || s.count() != 1 {
		t.Fatalf("err = %v after %d requests", err, s.count())
	}
}

func TestErrorsNeverShowCredentials(t *testing.T) {
	s := newServer(t, status(404))
	url := strings.Replace(s.URL, "http://", "http://user:s3cret@", 1) + "/f?token=t0ken&x=1"
	_, err := fastClient().Fetch(t.Context(), url)
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{"s3cret", "t0ken", "user"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q shows %q", err, secret)
		}
	}
	s.Close()
	_, err = fastClient().Fetch(t.Context(), url)
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "t0ken") {
		t.Errorf("transport error %q shows a credential", err)
	}
}
