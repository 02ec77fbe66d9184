// Package slack is a fake Slack incoming webhook for tests: an http.Handler
// with in-memory state that answers as hooks.slack.com does (200 "ok";
// 400 "invalid_payload", "no_text", "invalid_blocks"; 404 "no_service";
// 429 with Retry-After), validates Block Kit payloads within Slack's
// documented limits, records the messages it accepted and every request,
// and misbehaves on request.
package slack

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Route is the one route a webhook has, for Fail.
const Route = "webhook"

// Message is a payload the fake accepted.
type Message struct {
	Text   string
	Blocks []map[string]any
	Raw    []byte // the body as sent
}

// Request is one request the fake answered. The secret path is not kept.
type Request struct {
	Method      string
	Route       string // Route, or "unknown" for any other path
	ContentType string
	Status      int
	Answer      string // the plain-text body answered
}

// Server is the fake webhook. Its zero value is not usable: call New.
type Server struct {
	// Path is the secret webhook path, /services/T…/B…/<token>.
	Path string

	mu        sync.Mutex
	srv       *httptest.Server
	messages  []Message
	requests  []Request
	faults    []fault
	latency   time.Duration
	down      bool
	noService bool
}

type fault struct {
	route      string
	status     int
	body       string
	retryAfter string
	count      int // answers left; < 0: forever
}

// New returns a fake webhook with a fresh random secret path.
func New() *Server {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return &Server{Path: "/services/T0FAKE0001/B0FAKE0001/" + hex.EncodeToString(b)}
}

// Start serves the fake on loopback until the test ends and returns the
// webhook URL (the secret).
func (s *Server) Start(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.srv = httptest.NewServer(s)
	srv := s.srv
	s.mu.Unlock()
	t.Cleanup(srv.Close)
	return srv.URL + s.Path
}

// Stop closes the listener Start opened: later posts find the connection
// refused, as when Slack cannot be reached at all.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Fail answers the next count requests on route with status and body
// (count < 0: every request until Reset).
func (s *Server) Fail(route string, status int, body string, count int) {
	s.addFault(fault{route: route, status: status, body: body, count: count})
}

// RateLimit answers the next count posts 429 with the given Retry-After
// header value (seconds), as Slack does past one message a second.
func (s *Server) RateLimit(count int, retryAfter string) {
	s.addFault(fault{route: Route, status: http.StatusTooManyRequests, body: "rate_limited", retryAfter: retryAfter, count: count})
}

func (s *Server) addFault(f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// SetDown makes every post answer 503, as during a Slack outage.
func (s *Server) SetDown(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// SetNoService makes every post answer 404 "no_service", as once the
// webhook is disabled or removed.
func (s *Server) SetNoService(on bool) { s.mu.Lock(); s.noService = on; s.mu.Unlock() }

// SetLatency delays every answer by d.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Reset clears faults and switches, keeping the recorded messages.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults, s.down, s.noService, s.latency = nil, false, false, 0
}

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns every request answered so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ServeHTTP answers one post.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	route := "unknown"
	if r.URL.Path == s.Path {
		route = Route
	}

	s.mu.Lock()
	latency := s.latency
	status, answer, retryAfter := s.decide(r, route, body)
	s.requests = append(s.requests, Request{Method: r.Method, Route: route, ContentType: r.Header.Get("Content-Type"), Status: status, Answer: answer})
	s.mu.Unlock()

	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, answer)
}

// decide picks the answer, recording an accepted message; s.mu is held.
func (s *Server) decide(r *http.Request, route string, body []byte) (status int, answer, retryAfter string) {
	for i := range s.faults {
		f := &s.faults[i]
		if f.route != route || f.count == 0 {
			continue
		}
		if f.count > 0 {
			f.count--
		}
		return f.status, f.body, f.retryAfter
	}
	switch {
	case route != Route || s.noService:
		return http.StatusNotFound, "no_service", ""
	case s.down:
		return http.StatusServiceUnavailable, "service unavailable", ""
	case r.Method != http.MethodPost:
		return http.StatusBadRequest, "invalid_payload", ""
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusBadRequest, "invalid_payload", ""
	}
	var payload struct {
		Text   *string           `json:"text"`
		Blocks *[]map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		return http.StatusBadRequest, "invalid_payload", ""
	}
	m := Message{Raw: append([]byte(nil), body...)}
	if payload.Text != nil {
		m.Text = *payload.Text
	}
	if payload.Blocks != nil {
		m.Blocks = *payload.Blocks
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		return http.StatusBadRequest, "no_text", ""
	}
	if err := ValidateBlocks(m.Blocks); err != nil {
		return http.StatusBadRequest, "invalid_blocks", ""
	}
	s.messages = append(s.messages, m)
	return http.StatusOK, "ok", ""
}

// ValidateBlocks checks blocks as Slack does for a message, within the
// limits its Block Kit reference documents: at most 50 blocks; section
// text 1-3000 characters (or up to 10 fields of 1-2000); header plain_text
// 1-150; context 1-10 text or image elements; divider nothing else.
func ValidateBlocks(blocks []map[string]any) error {
	if len(blocks) > 50 {
		return fmt.Errorf("%d blocks, more than 50", len(blocks))
	}
	for i, b := range blocks {
		if err := validateBlock(b); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
	}
	return nil
}

func validateBlock(b map[string]any) error {
	switch b["type"] {
	case "section":
		if b["text"] == nil && b["fields"] == nil {
			return fmt.Errorf("section without text or fields")
		}
		if b["text"] != nil {
			if err := textObject(b["text"], 3000, "plain_text", "mrkdwn"); err != nil {
				return fmt.Errorf("section text: %w", err)
			}
		}
		if b["fields"] != nil {
			fields, ok := b["fields"].([]any)
			if !ok || len(fields) == 0 || len(fields) > 10 {
				return fmt.Errorf("section fields must be 1-10 text objects")
			}
			for _, f := range fields {
				if err := textObject(f, 2000, "plain_text", "mrkdwn"); err != nil {
					return fmt.Errorf("section field: %w", err)
				}
			}
		}
	case "header":
		if err := textObject(b["text"], 150, "plain_text"); err != nil {
			return fmt.Errorf("header text: %w", err)
		}
	case "context":
		elements, ok := b["elements"].([]any)
		if !ok || len(elements) == 0 || len(elements) > 10 {
			return fmt.Errorf("context elements must be 1-10")
		}
		for _, e := range elements {
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				if s, _ := m["image_url"].(string); s == "" {
					return fmt.Errorf("context image without image_url")
				}
				continue
			}
			if err := textObject(e, 3000, "plain_text", "mrkdwn"); err != nil {
				return fmt.Errorf("context element: %w", err)
			}
		}
	case "divider":
		for k := range b {
			if k != "type" && k != "block_id" {
				return fmt.Errorf("divider with %q", k)
			}
		}
	default:
		return fmt.Errorf("unknown block type %v", b["type"])
	}
	return nil
}

// textObject checks a Block Kit text object of one of the given types.
func textObject(v any, max int, types ...string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("not a text object")
	}
	typ, _ := m["type"].(string)
	known := false
	for _, t := range types {
		known = known || typ == t
	}
	if !known {
		return fmt.Errorf("type %q, want one of %v", typ, types)
	}
	text, ok := m["text"].(string)
	if n := utf8.RuneCountInString(text); !ok || n == 0 || n > max {
		return fmt.Errorf("text of %d characters, want 1-%d", n, max)
	}
	return nil
}
