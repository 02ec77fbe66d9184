package download

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

var errIdle = errors.New("no data received")

// idleReader cancels the request when the body sends nothing for too long;
// it records the body's own read errors so that they can be told from the
// consumer's.
type idleReader struct {
	r     io.Reader
	idle  time.Duration
	timer *time.Timer
	err   error
	once  sync.Once
}

func newIdleReader(r io.Reader, idle time.Duration, cancel context.CancelCauseFunc) *idleReader {
	return &idleReader{r: r, idle: idle, timer: time.AfterFunc(idle, func() { cancel(errIdle) })}
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.timer.Reset(i.idle)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		i.err = err
	}
	return n, err
}

func (i *idleReader) stop() { i.once.Do(func() { i.timer.Stop() }) }

// cappedReader fails once more than left bytes have been read.
type cappedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errTooLarge = errors.New("size limit exceeded")

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		c.exceeded = true
		return 0, errTooLarge
	}
	// Read one byte past the limit to tell "exactly the limit" from "more".
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		c.exceeded = true
		return 0, errTooLarge
	}
	return n, err
}
