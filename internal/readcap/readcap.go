// Package readcap reads local input files with a size cap: regular files
// only, so that a device (/dev/zero), a named pipe or a directory named by
// mistake or by a hostile manifest fails at once with a message instead of
// growing memory or blocking for ever.
package readcap

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// Error is a file that cannot be used as input: missing, not a regular file,
// a link where none is allowed, or over the size cap. It is the input's
// fault (exit code 2).
type Error struct {
	Path string
	// Reason completes "<path> <reason>", e.g. "is 3.1 GiB, more than the 16 MiB limit".
	Reason string
	Err    error // the underlying error, if any
	// Type is the type of a file refused for not being a regular one (a
	// symbolic link, a directory...), for callers that word the refusal
	// of some types their own way; 0 otherwise.
	Type fs.FileMode
}

func (e *Error) Error() string { return e.Path + " " + e.Reason }

func (e *Error) Unwrap() error { return e.Err }

// InvalidInput marks the file as the input's fault (exit code 2).
func (e *Error) InvalidInput() bool { return true }

// ReadFile reads the regular file at path, following symbolic links, and
// refuses it if it holds more than max bytes without reading more than
// max+1 of them.
func ReadFile(path string, max int64) ([]byte, error) {
	return read(nil, path, max, os.Stat)
}

// ReadFileNoLink is ReadFile for a path whose last component must not be a
// symbolic link. Callers that refuse links anywhere check the parent
// folders themselves.
func ReadFileNoLink(path string, max int64) ([]byte, error) {
	return read(nil, path, max, os.Lstat)
}

// AppendFileNoLink is ReadFileNoLink appending the file to dst, for a
// caller that reads many files through one buffer (a fleet's key files):
// memory already in use is written over instead of fresh memory being
// allocated, zeroed and faulted in for each file.
func AppendFileNoLink(dst []byte, path string, max int64) ([]byte, error) {
	return read(dst, path, max, os.Lstat)
}

// Open opens the regular file at path, following symbolic links, for a
// caller that streams it (a large signed file): the checks of ReadFile, and
// a reader whose Read fails with an *Error once more than max bytes came.
func Open(path string, max int64) (io.ReadCloser, error) {
	f, _, err := open(path, max, os.Stat)
	if err != nil {
		return nil, err
	}
	return &capped{f: f, path: path, max: max}, nil
}

// capped reads at most max bytes, and one more to know the cap was passed.
type capped struct {
	f    *os.File
	path string
	max  int64
	read int64
}

func (c *capped) Read(p []byte) (int, error) {
	if left := c.max + 1 - c.read; int64(len(p)) > left {
		p = p[:left]
	}
	n, err := c.f.Read(p)
	c.read += int64(n)
	if c.read > c.max {
		return 0, &Error{Path: c.path, Reason: fmt.Sprintf("is more than the %s limit", Size(c.max))}
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading %s: %w", c.path, err)
	}
	return n, err
}

func (c *capped) Close() error { return c.f.Close() }

// read appends the file to dst (nil: a buffer of the file's size).
func read(dst []byte, path string, max int64, stat func(string) (fs.FileInfo, error)) ([]byte, error) {
	f, size, err := open(path, max, stat)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The size can lie (files in /proc say 0) or grow: read one byte past
	// the cap to know it was reached.
	data, err := readAll(dst, f, size, max+1)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)-len(dst)) > max {
		return nil, &Error{Path: path, Reason: fmt.Sprintf("is more than the %s limit", Size(max))}
	}
	return data, nil
}

// open opens a regular file no larger than max, as far as its size says,
// and returns that size.
func open(path string, max int64, stat func(string) (fs.FileInfo, error)) (*os.File, int64, error) {
	before, err := stat(path)
	if err != nil {
		return nil, 0, statError(path, err)
	}
	// Checked before opening: opening a FIFO for reading blocks until a
	// writer comes, and opening some devices has side effects.
	if err := regular(path, before); err != nil {
		return nil, 0, err
	}
	// O_NONBLOCK: should a FIFO be swapped in after the check, open returns
	// at once and the check on the descriptor below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, statError(path, err)
	}
	size, err := checkOpened(path, max, before, f)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// checkOpened checks the descriptor is the regular file stat saw and
// returns its size.
func checkOpened(path string, max int64, before fs.FileInfo, f *os.File) (int64, error) {
	after, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if err := regular(path, after); err != nil {
		return 0, err
	}
	if !os.SameFile(before, after) {
		return 0, &Error{Path: path, Reason: "changed while it was being opened; try again"}
	}
	if after.Size() > max {
		return 0, &Error{Path: path, Reason: tooLarge(after.Size(), max)}
	}
	return after.Size(), nil
}

// tooLarge says by how much a file is over the cap, in bytes when rounding
// would make both look the same.
func tooLarge(size, max int64) string {
	if Size(size) == Size(max) {
		return fmt.Sprintf("is %d bytes, more than the %s (%d bytes) limit", size, Size(max), max)
	}
	return fmt.Sprintf("is %s, more than the %s limit", Size(size), Size(max))
}

func statError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Path: path, Reason: "does not exist", Err: err}
	case errors.Is(err, syscall.ENOTDIR):
		return &Error{Path: path, Reason: "does not exist (a parent is not a folder)", Err: err}
	}
	return fmt.Errorf("reading %s: %w", path, err)
}

// regular refuses anything but a regular file, naming what it is.
func regular(path string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return &Error{Path: path, Reason: "is " + Kind(info.Mode()) + ", not a regular file; name a regular file", Type: info.Mode().Type()}
}

// Kind names a file type for messages: "a directory", "a named pipe (FIFO)".
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "an irregular file (" + m.Type().String() + ")"
}

// Size writes a byte count the way limits are stated: 512 bytes, 1 MiB, 3.1 GiB.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	value, suffix := float64(n)/unit, "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB", "PiB", "EiB"} {
		if value < unit {
			break
		}
		value, suffix = value/unit, s
	}
	s := fmt.Sprintf("%.1f", value)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + " " + suffix
}

// readAll appends f to dst, to its end or to limit bytes, making room for
// size (what f's descriptor said) and one more byte, as os.ReadFile does:
// one read and the one that meets the end, where io.ReadAll grows from 512
// bytes (generate reads a fleet's key files).
func readAll(dst []byte, f *os.File, size, limit int64) ([]byte, error) {
	want := 512
	if size < limit {
		want = int(size) + 1 // +1: room for the read that meets the end
	}
	data := slices.Grow(dst, want) // never nil: an empty file reads as empty
	r := io.LimitReader(f, limit)
	for {
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // grow
		}
	}
}
