package download

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// APIError is an HTTP response other than 200 OK.
type APIError struct {
	Service    string
	Method     string
	URL        string // without credentials
	StatusCode int
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode == http.StatusNotFound {
		msg += " (check the URL and that the release and version exist)"
	}
	return msg
}

// TooLargeError is a file bigger than the configured limit.
type TooLargeError struct {
	URL   string // without credentials
	Limit int64
	Size  int64 // announced size; 0 when the limit was hit while reading
}

func (e *TooLargeError) Error() string {
	if e.Size > 0 {
		return fmt.Sprintf("downloading %s: %d bytes announced, more than the %d-byte limit", e.URL, e.Size, e.Limit)
	}
	return fmt.Sprintf("downloading %s: more than the %d-byte limit", e.URL, e.Limit)
}

// TimeoutError is a download that did not finish within its overall
// timeout (Client.FetchTimeout or StreamTimeout), retries included.
type TimeoutError struct {
	URL   string // without credentials
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("downloading %s: took longer than %s", e.URL, e.After)
}

// transportError is a failure below HTTP: connection refused or reset,
// timeouts, a body cut short.
type transportError struct {
	url string
	err error
}

func (e *transportError) Error() string {
	return fmt.Sprintf("downloading %s: %v", Redact(e.url), e.err)
}
func (e *transportError) Unwrap() error { return e.err }

// retryable: transport errors and server-side statuses. 429 is a 4xx but
// means "try again later" by definition; other 4xx will not change.
func retryable(err error) bool {
	var t *transportError
	var a *APIError
	switch {
	case errors.As(err, &t):
		return true
	case errors.As(err, &a):
		return a.StatusCode >= 500 || a.StatusCode == http.StatusTooManyRequests
	}
	return false
}

// unwrapURLError drops net/http's *url.Error wrapper, whose message repeats
// the URL with its query (which may hold a token).
func unwrapURLError(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// Redact returns rawURL fit to print: user info (everything up to the last
// @, so a password holding @ is hidden whole) becomes ***@, and the query
// and fragment, where pre-signed URLs keep their signature, are dropped.
// The generated scripts' redact() applies the same rule, tested by one
// table (testenv.RedactCases).
func Redact(rawURL string) string {
	if i := strings.IndexAny(rawURL, "?#"); i >= 0 {
		rawURL = rawURL[:i]
	}
	at := strings.LastIndexByte(rawURL, '@')
	if at < 0 {
		return rawURL
	}
	prefix := ""
	if m := schemePrefix.FindString(rawURL); m != "" {
		prefix = m
	}
	return prefix + "***" + rawURL[at:]
}

var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)
