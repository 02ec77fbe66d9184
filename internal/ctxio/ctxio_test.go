package ctxio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReaderStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(t.Context())
	r := Reader(ctx, strings.NewReader("0123456789"))
	buf := make([]byte, 4)
	if n, err := r.Read(buf); n != 4 || err != nil || string(buf) != "0123" {
		t.Fatalf("before cancel: %d %v %q", n, err, buf)
	}
	stop := errors.New("interrupted by SIGINT")
	cancel(stop)
	if n, err := r.Read(buf); n != 0 || !errors.Is(err, stop) {
		t.Fatalf("after cancel: %d bytes, %v; want 0 and the cause", n, err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, stop) {
		t.Fatalf("ReadAll after cancel: %v", err)
	}
}
