package github

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNotFound is a repository GitHub does not show: it does not exist, or
// it is private and the token cannot read it. Match it with errors.Is.
var ErrNotFound = errors.New("not found")

// APIError is an answer GitHub gave that is not a rate limit.
type APIError struct {
	Service    string // "github"
	Method     string
	URL        string // redacted
	StatusCode int
	Message    string // GitHub's "message", if any
	// Tries is how many times the request was sent (server errors are
	// tried again once).
	Tries int
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		s += ": " + e.Message
	}
	if e.Tries > 1 {
		s += fmt.Sprintf(" (tried %d times)", e.Tries)
	}
	return s
}

// Unwrap makes a 404 match ErrNotFound.
func (e *APIError) Unwrap() error {
	if e.StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	return nil
}

// RateLimitError is a rate limit that lasts longer than Options.MaxWait,
// or that was still there after waiting once.
type RateLimitError struct {
	// Reset is when GitHub accepts requests again.
	Reset time.Time
	// Unauthenticated is the 60-an-hour limit of requests without a token.
	Unauthenticated bool
	// Secondary is GitHub's secondary ("too fast") limit, not the hourly one.
	Secondary bool
	Limit     int           // requests per hour, when GitHub said
	Wait      time.Duration // from when the error was made to Reset
	MaxWait   time.Duration
}

func (e *RateLimitError) Error() string {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	s := fmt.Sprintf("github %s exceeded until %s (in %s", kind, e.Reset.UTC().Format(time.RFC3339), e.Wait.Round(time.Second))
	if e.Wait > e.MaxWait {
		s += fmt.Sprintf(", longer than the %s this run waits)", e.MaxWait)
	} else {
		s += ", still limited after waiting once)"
	}
	if e.Unauthenticated {
		limit := e.Limit
		if limit == 0 {
			limit = 60
		}
		s += fmt.Sprintf(": unauthenticated requests are limited to %d an hour, set GITHUB_TOKEN", limit)
	}
	return s
}
