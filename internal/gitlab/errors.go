package gitlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	gl "gitlab.com/gitlab-org/api/client-go"

	"gitlab.com/coinpipe/coinpipe/internal/download"
)

var (
	// ErrNotFound is a 404: no such project, branch or merge request.
	ErrNotFound = errors.New("not found")
	// ErrConflict is a 409, e.g. another open merge request for the branch.
	ErrConflict = errors.New("conflict")
)

// APIError is an answer from GitLab other than success.
type APIError struct {
	Service    string // "GitLab"
	Method     string
	URL        string // redacted
	StatusCode int
	// Message is GitLab's own, from the body's "message" or "error"
	// ("A file with this name doesn't exist"), or "" when it sent none.
	Message string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		msg += " (check that GITLAB_TOKEN or CI_JOB_TOKEN is set, valid and not expired)"
	case http.StatusForbidden:
		msg += " (the token lacks the permission: a project or personal access token with the api scope and Developer role is needed; CI_JOB_TOKEN cannot write)"
	}
	return msg
}

// Is makes errors.Is(err, ErrNotFound) and errors.Is(err, ErrConflict)
// hold for 404 and 409.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrConflict:
		return e.StatusCode == http.StatusConflict
	}
	return false
}

// toAPIError turns what client-go returned into an *APIError. client-go
// answers a 404 with its bare gl.ErrNotFound (no URL, body dropped), so the
// URL comes from the response it returns alongside.
func toAPIError(resp *gl.Response, err error) error {
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return &APIError{
			Service:    "GitLab",
			Method:     er.Response.Request.Method,
			URL:        redact(er.Response.Request.URL.String()),
			StatusCode: er.Response.StatusCode,
			Message:    message(er.Body),
		}
	}
	if errors.Is(err, gl.ErrNotFound) && resp != nil && resp.Response != nil && resp.Request != nil {
		return &APIError{
			Service:    "GitLab",
			Method:     resp.Request.Method,
			URL:        redact(resp.Request.URL.String()),
			StatusCode: resp.StatusCode,
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redact(ue.URL), ue.Err)
	}
	return err
}

// message extracts GitLab's error text from a body: {"message": "..."},
// {"message": ["..."]}, {"message": {"field": ["..."]}} or {"error": "..."}.
// A body that is not JSON (a proxy's HTML page) gives "".
func message(body []byte) string {
	var v struct {
		Message any    `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	if m := flatten(v.Message); m != "" {
		return m
	}
	return v.Error
}

func flatten(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			if s := flatten(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+" "+flatten(v[k]))
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact is the one redaction rule (download.Redact): no user info, no
// query.
func redact(rawURL string) string { return download.Redact(rawURL) }
