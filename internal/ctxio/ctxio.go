// Package ctxio makes long reads interruptible: hashing a large file or
// streaming it through a signature check stops when the context is done
// (Ctrl-C), instead of running to the end of the file.
package ctxio

import (
	"context"
	"io"
)

// Reader returns r, failing with ctx's cause once ctx is done. The check
// runs before each Read, so a read stops within one buffer (32 KiB with
// io.Copy) of the cancellation.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx: ctx, r: r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}
