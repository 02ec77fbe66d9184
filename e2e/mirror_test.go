package e2e

import (
	"net/http"
	"strings"
	"testing"

	fake "gitlab.com/coinpipe/coinpipe/internal/fake/mirror"
)

// mirror is the shared loopback download mirror, laid out as
// DOWNLOAD_MIRROR expects: https://host/path is served at <mirror>/host/path.
// Each case publishes its own release under its own prefix, so cases never
// see each other's files.
type mirror struct{ *fake.Server }

func newMirror(t *testing.T) *mirror { return &mirror{fake.New(t)} }

// publish serves files (keyed by their https URL) under prefix and returns
// the DOWNLOAD_MIRROR value that reaches them.
func (m *mirror) publish(prefix string, files map[string][]byte) string {
	for url, body := range files {
		m.Put(m.path(prefix, url), body)
	}
	return m.URL + "/" + prefix
}

// downloads reports how often an https URL was fetched whole under prefix.
func (m *mirror) downloads(prefix, url string) int {
	n := 0
	for _, r := range m.Requests() {
		if r.Path == m.path(prefix, url) && r.Method == http.MethodGet && r.Status == http.StatusOK {
			n++
		}
	}
	return n
}

func (m *mirror) path(prefix, url string) string {
	return "/" + prefix + "/" + strings.TrimPrefix(url, "https://")
}
