package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// mirror is a loopback download mirror laid out as DOWNLOAD_MIRROR expects:
// https://host/path is served at <mirror>/host/path. Each case publishes its
// own release under its own prefix, so cases never see each other's files.
type mirror struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte // URL path -> body
	hits  map[string]int    // URL path -> successful downloads
}

func newMirror(t *testing.T) *mirror {
	m := &mirror{files: map[string][]byte{}, hits: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *mirror) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	body, ok := m.files[r.URL.Path]
	if ok {
		m.hits[r.URL.Path]++
	}
	m.mu.Unlock()
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(body)
}

// publish serves files (keyed by their https URL) under prefix and returns
// the DOWNLOAD_MIRROR value that reaches them.
func (m *mirror) publish(prefix string, files map[string][]byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for url, body := range files {
		m.files[m.path(prefix, url)] = body
	}
	return m.srv.URL + "/" + prefix
}

// downloads reports how often an https URL was fetched under prefix.
func (m *mirror) downloads(prefix, url string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[m.path(prefix, url)]
}

func (m *mirror) path(prefix, url string) string {
	return "/" + prefix + "/" + strings.TrimPrefix(url, "https://")
}
