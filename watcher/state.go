package watcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"gitlab.com/coinpipe/coinpipe/internal/atomicfile"
)

// announced remembers which prereleases were announced to Slack, per
// coin, so each is announced once however often the watcher runs. It
// lives in the state dir the scheduled job caches.
type announced struct {
	path string
	mu   sync.Mutex
	Tags map[string][]string `json:"announced_prereleases"`
}

func loadAnnounced(stateDir string) (*announced, error) {
	a := &announced{Tags: map[string][]string{}}
	if stateDir == "" {
		return a, nil
	}
	a.path = filepath.Join(stateDir, "watch", "announced.json")
	b, err := os.ReadFile(a.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("reading watch state: %w", err)
	}
	if err := json.Unmarshal(b, a); err != nil {
		// A damaged state file costs at most one repeated announcement;
		// refusing to run would cost every upgrade.
		return &announced{path: a.path, Tags: map[string][]string{}}, nil
	}
	if a.Tags == nil {
		a.Tags = map[string][]string{}
	}
	return a, nil
}

func (a *announced) has(coin, tag string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Contains(a.Tags[coin], tag)
}

func (a *announced) add(coin, tag string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.Tags[coin], tag) {
		a.Tags[coin] = append(a.Tags[coin], tag)
		slices.Sort(a.Tags[coin])
	}
}

// save writes the state atomically: a run killed mid-write keeps the old file.
func (a *announced) save() error {
	if a.path == "" {
		return nil
	}
	a.mu.Lock()
	b, err := json.MarshalIndent(a, "", "  ")
	a.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("writing watch state: %w", err)
	}
	if err := atomicfile.Write(a.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing watch state: %w", err)
	}
	return nil
}
