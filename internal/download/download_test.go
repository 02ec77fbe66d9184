package download

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
)

func fastClient() *Client { return &Client{Backoff: time.Millisecond, Attempts: 3} }

func TestFetchRetries(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(m *mirror.Server, url string)
		want     string
		requests int
		status   int // expected *APIError status, 0 for success
	}{
		{"5xx then success", func(m *mirror.Server, u string) { m.FailNext(u, 2, 503) }, "sums", 3, 0},
		{"404 is not retried", func(m *mirror.Server, u string) { m.Fail(u, 404) }, "", 1, 404},
		{"403 is not retried", func(m *mirror.Server, u string) { m.Fail(u, 403) }, "", 1, 403},
		{"429 is retried", func(m *mirror.Server, u string) { m.FailNext(u, 1, 429) }, "sums", 2, 0},
		{"5xx until attempts run out", func(m *mirror.Server, u string) { m.Fail(u, 500) }, "", 3, 500},
		{"body cut short, then success", func(m *mirror.Server, u string) { m.CutNext(u, 1) }, "sums", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirror.New(t)
			url := m.URL + "/bin/SHA256SUMS"
			m.Put(url, []byte("sums"))
			tt.setup(m, url)
			var logs bytes.Buffer
			c := fastClient()
			c.Log = slog.New(slog.NewTextHandler(&logs, nil))
			got, err := c.Fetch(t.Context(), url)
			var apiErr *APIError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.status != 0 && !errors.As(err, &apiErr):
				t.Fatalf("err = %v, want an *APIError", err)
			case tt.status != 0:
				if apiErr.StatusCode != tt.status || apiErr.URL != url || apiErr.Method != "GET" {
					t.Errorf("APIError %+v", apiErr)
				}
				if !strings.Contains(err.Error(), strconv.Itoa(tt.status)) || !strings.Contains(err.Error(), url) {
					t.Errorf("error %q names neither status nor URL", err)
				}
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if n := m.Count(url); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if n := strings.Count(logs.String(), "retrying"); n != tt.requests-1 {
				t.Errorf("%d retries logged, want %d:\n%s", n, tt.requests-1, logs.String())
			}
		})
	}
}

// closedURL is an http URL on loopback where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

func TestTransportErrorRetried(t *testing.T) {
	url := closedURL(t) + "/x"
	_, err := fastClient().Fetch(t.Context(), url)
	if err == nil || !strings.HasPrefix(err.Error(), "downloading "+url+": ") {
		t.Fatalf("err = %v", err)
	}
	if !retryable(err) {
		t.Errorf("a refused connection is not retryable: %v", err)
	}
}

func TestSizeLimits(t *testing.T) {
	big := []byte(strings.Repeat("x", 100))
	tests := []struct {
		name    string
		unsized bool
		limit   int64
		ok      bool
	}{
		{"announced size over the limit", false, 99, false},
		{"exactly the limit", false, 100, true},
		{"no announced size, over the limit while reading", true, 50, false},
		{"no announced size, under the limit", true, 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirror.New(t)
			url := m.URL + "/f"
			m.Put(url, big)
			if tt.unsized {
				m.Unsized(url)
			}
			c := &Client{MaxBytes: tt.limit, MaxStreamBytes: tt.limit, Backoff: time.Millisecond}
			got, err := c.Fetch(t.Context(), url)
			_, _, streamErr := c.SHA256(t.Context(), url)
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
			if n := m.Count(url); n != 2 {
				t.Errorf("%d requests: a file too large must not be retried", n)
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
	m := mirror.New(t)
	m.Put("/cache/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS", []byte("from the mirror"))
	c := &Client{Mirror: m.URL + "/cache"}
	got, err := c.Fetch(t.Context(), "https://bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS?x=1")
	if err != nil || string(got) != "from the mirror" {
		t.Fatalf("got %q, %v", got, err)
	}
	r := m.Requests()[0]
	if r.Path != "/cache/bitcoincore.org/bin/bitcoin-core-26.0/SHA256SUMS" || r.Query != "x=1" {
		t.Errorf("mirror asked for %s?%s", r.Path, r.Query)
	}
}

func TestRedirectFollowed(t *testing.T) {
	m := mirror.New(t)
	m.Put("/releases/SHA256SUMS", []byte("sums"))
	m.Redirect("/latest/SHA256SUMS", m.URL+"/releases/SHA256SUMS")
	got, err := fastClient().Fetch(t.Context(), m.URL+"/latest/SHA256SUMS")
	if err != nil || string(got) != "sums" {
		t.Fatalf("got %q, %v", got, err)
	}
	if r := m.Requests(); len(r) != 2 || r[0].Status != http.StatusFound || r[1].Path != "/releases/SHA256SUMS" {
		t.Errorf("requests %+v", r)
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
	for _, tt := range []struct {
		name, url string
		client    *Client
		want      string
	}{
		{"missing", "file://" + filepath.Join(dir, "missing"), c, "reading file://" + dir + "/missing: " + dir + "/missing does not exist"},
		{"over the limit", "file://" + path, &Client{MaxBytes: 5}, "reading file://" + path + ": " + path + " is 10 bytes, more than the 5 bytes limit"},
		{"a device", "file:///dev/zero", c, "reading file:///dev/zero: /dev/zero is a character device, not a regular file; name a regular file"},
		{"a folder", "file://" + dir, c, "reading file://" + dir + ": " + dir + " is a directory, not a regular file; name a regular file"},
	} {
		if _, err := tt.client.Fetch(t.Context(), tt.url); err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v\nwant %s", tt.name, err, tt.want)
		}
	}
}

func TestStreamRestartsAfterACutBody(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 1000)
	m := mirror.New(t)
	url := m.URL + "/archive.tar.gz"
	m.Put(url, content)
	m.CutNext(url, 1)
	sum, n, err := fastClient().SHA256(t.Context(), url)
	want := sha256.Sum256(content)
	if err != nil || sum != hex.EncodeToString(want[:]) || n != int64(len(content)) {
		t.Fatalf("SHA256 = %s, %d, %v; want the digest of the complete second response", sum, n, err)
	}
}

func TestStreamConsumerErrorNotRetried(t *testing.T) {
	m := mirror.New(t)
	url := m.URL + "/f"
	m.Put(url, []byte("data"))
	boom := errors.New("disk full")
	err := fastClient().Stream(t.Context(), url, func(io.Reader) error { return boom })
	if !errors.Is(err, boom) || m.Count(url) != 1 {
		t.Fatalf("err = %v after %d requests", err, m.Count(url))
	}
}

// A server that stops sending, or sends a byte now and then, fails the
// download with a message naming the URL: the idle timeout catches the
// first, only the overall timeout the second.
func TestSlowServers(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1000)
	tests := []struct {
		name   string
		setup  func(m *mirror.Server, url string)
		stream bool
		want   string // after "downloading <url>: "
		tries  int
	}{
		{"stalls after the first byte", func(m *mirror.Server, u string) { m.Stall(u) }, false, "no data for 50ms", 2},
		{"stalls, streamed", func(m *mirror.Server, u string) { m.Stall(u) }, true, "no data for 50ms", 2},
		{"one byte every 10ms", func(m *mirror.Server, u string) { m.SlowDrip(u, 10*time.Millisecond) }, false, "took longer than 200ms", 1},
		{"one byte every 10ms, streamed", func(m *mirror.Server, u string) { m.SlowDrip(u, 10*time.Millisecond) }, true, "took longer than 300ms", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirror.New(t)
			url := m.URL + "/bin/SHA256SUMS"
			m.Put(url, body)
			tt.setup(m, url)
			c := &Client{Attempts: 2, Backoff: time.Millisecond, IdleTimeout: 50 * time.Millisecond,
				FetchTimeout: 200 * time.Millisecond, StreamTimeout: 300 * time.Millisecond}
			start := time.Now()
			var err error
			if tt.stream {
				_, _, err = c.SHA256(t.Context(), url)
			} else {
				_, err = c.Fetch(t.Context(), url)
			}
			took := time.Since(start)
			if want := "downloading " + url + ": " + tt.want; err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if n := m.Count(url); n != tt.tries {
				t.Errorf("%d requests, want %d", n, tt.tries)
			}
			var timeout *TimeoutError
			if strings.Contains(tt.want, "took longer") != errors.As(err, &timeout) {
				t.Errorf("err %T: a passed deadline is a *TimeoutError, nothing else is", err)
			}
		})
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	m := mirror.New(t)
	url := m.URL + "/f"
	m.Fail(url, 503)
	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{Attempts: 10, Backoff: time.Hour}
	go func() {
		for m.Count(url) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := c.Fetch(ctx, url)
	if !errors.Is(err, context.Canceled) || m.Count(url) != 1 {
		t.Fatalf("err = %v after %d requests", err, m.Count(url))
	}
}

func TestErrorsNeverShowCredentials(t *testing.T) {
	m := mirror.New(t)
	m.Fail("/f", 404)
	for _, base := range []string{m.URL, closedURL(t)} {
		url := strings.Replace(base, "http://", "http://user:s3cret@", 1) + "/f?token=t0ken&x=1"
		_, err := fastClient().Fetch(t.Context(), url)
		if err == nil {
			t.Fatal("no error")
		}
		for _, secret := range []string{"s3cret", "t0ken", "user"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows %q", err, secret)
			}
		}
	}
}
