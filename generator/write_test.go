package generator

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A cancelled Write changes nothing: the previous output stays as it was
// and no staging folder is left behind.
func TestWriteCancelledKeepsPreviousOutput(t *testing.T) {
	out := t.TempDir()
	files := mustRender(t, openFixture(t, "monero-clearsigned"))
	if _, err := Write(t.Context(), out, "monero-clearsigned", files); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, out)
	changed := append([]File(nil), files...)
	for i := range changed {
		changed[i].Data = append([]byte("# changed\n"), changed[i].Data...)
	}
	stop := errors.New("interrupted by SIGINT")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(stop)
	if _, err := Write(ctx, out, "monero-clearsigned", changed); !errors.Is(err, stop) {
		t.Fatalf("Write on a cancelled context: %v, want the cause", err)
	}
	if after := snapshot(t, out); after != before {
		t.Fatal("a cancelled Write changed the output folder")
	}
}

// Only the generator's own staging names, older than the run, are stale.
func TestStaleStaging(t *testing.T) {
	out := t.TempDir()
	start := time.Now()
	past := start.Add(-time.Minute)
	for name, old := range map[string]bool{
		".bitcoin.new-1":        true,
		".bitcoin-cash.new-2":   true,
		".bitcoin.new-3.old":    true,
		".bitcoin.new-4":        false, // this run's own
		".bitcoin.new-x":        true,
		".Bitcoin.new-5":        true,
		"bitcoin.new-6":         true,
		".bitcoin.new-7.backup": true,
		".git":                  true,
	} {
		p := filepath.Join(out, name)
		os.Mkdir(p, 0o755)
		// Set both ways: the file system's clock is coarser than time.Now.
		when := start.Add(time.Minute)
		if old {
			when = past
		}
		os.Chtimes(p, when, when)
	}
	os.WriteFile(filepath.Join(out, ".bitcoin.new-8"), nil, 0o644) // a file, not a folder
	os.Chtimes(filepath.Join(out, ".bitcoin.new-8"), past, past)

	got, err := StaleStaging(out, start)
	want := []string{filepath.Join(out, ".bitcoin-cash.new-2"), filepath.Join(out, ".bitcoin.new-1"), filepath.Join(out, ".bitcoin.new-3.old")}
	if err != nil || len(got) != len(want) {
		t.Fatalf("StaleStaging = %v, %v; want %v", got, err, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("StaleStaging[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := StaleStaging(filepath.Join(out, "missing"), start); err != nil {
		t.Errorf("a missing output folder: %v", err)
	}
}
