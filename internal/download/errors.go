package download

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
		return fmt.Sprintf("fetching %s: %d bytes announced, more than the %d-byte limit", e.URL, e.Size, e.Limit)
	}
	return fmt.Sprintf("fetching %s: more than the %d-byte limit", e.URL, e.Limit)
}

// transportError is a failure below HTTP: connection refused or reset,
// timeouts, a body cut short.
type transportError struct {
	url string
	err error
}

func (e *transportError) Error() string { return fmt.Sprintf("fetching %s: %v", Redact(e.url), e.err) }
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

// Redact returns rawURL without user info and with query values replaced,
// so that credentials never reach output, logs or errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
