package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"syscall"
	"testing"
	"time"

	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
	"gitlab.com/coinpipe/coinpipe/internal/slack"
)

// start runs a fake webhook and a client on it that logs into the returned buffer.
func start(t *testing.T) (*fakeslack.Server, string, *slack.Client, *bytes.Buffer) {
	t.Helper()
	fake := fakeslack.New()
	webhook := fake.Start(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return fake, webhook, slack.New(webhook, &http.Client{Timeout: 5 * time.Second}, log), &logs
}

// assertNoSecret fails when text holds the webhook URL or its secret token.
func assertNoSecret(t *testing.T, what, text, webhook string) {
	t.Helper()
	token := path.Base(webhook)
	if strings.Contains(text, webhook) || strings.Contains(text, token) {
		t.Errorf("%s reveals the webhook secret:\n%s", what, text)
	}
}

func TestPostBlockKit(t *testing.T) {
	fake, webhook, c, logs := start(t)
	m := slack.Message{
		Text: "bitcoin: 31.1 → 32.0: !14 opened",
		Blocks: []slack.Block{
			slack.Header("bitcoin 31.1 → 32.0"),
			slack.Section("*" + slack.Link("https://gitlab.example/t/-/merge_requests/14", "!14 bitcoin: 31.1 → 32.0") + "* verified by 3 of 15 pinned keys"),
			slack.Divider(),
			slack.Context("release notes: "+slack.Link("https://github.com/bitcoin/bitcoin/releases/tag/v32.0", "v32.0"), "R&D <team>"),
		},
	}
	if err := c.Post(t.Context(), m); err != nil {
		t.Fatalf("Post: %v", err)
	}
	got := fake.Messages()
	if len(got) != 1 {
		t.Fatalf("the fake accepted %d messages, want 1 (requests: %+v)", len(got), fake.Requests())
	}
	want := `{"blocks":[` +
		`{"text":{"emoji":true,"text":"bitcoin 31.1 → 32.0","type":"plain_text"},"type":"header"},` +
		`{"text":{"text":"*<https://gitlab.example/t/-/merge_requests/14|!14 bitcoin: 31.1 → 32.0>* verified by 3 of 15 pinned keys","type":"mrkdwn"},"type":"section"},` +
		`{"type":"divider"},` +
		`{"elements":[{"text":"release notes: <https://github.com/bitcoin/bitcoin/releases/tag/v32.0|v32.0>","type":"mrkdwn"},{"text":"R&D <team>","type":"mrkdwn"}],"type":"context"}` +
		`],"text":"bitcoin: 31.1 → 32.0: !14 opened"}`
	if canon(t, got[0].Raw) != canon(t, []byte(want)) {
		t.Errorf("payload:\n got %s\nwant %s", canon(t, got[0].Raw), want)
	}
	if r := fake.Requests(); len(r) != 1 || r[0].ContentType != "application/json; charset=utf-8" {
		t.Errorf("requests = %+v, want one JSON post", r)
	}
	assertNoSecret(t, "the log", logs.String(), webhook)
}

// canon re-encodes JSON with sorted keys and without HTML escaping.
func canon(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func TestPostErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakeslack.Server)
		want  string // %s is the fake's host:port
		posts int    // requests the fake should see
	}{
		{"invalid_payload", func(f *fakeslack.Server) { f.Fail(fakeslack.Route, 400, "invalid_payload", 1) },
			"posting to slack: %s answered HTTP 400 invalid_payload: Slack could not read the message (a coinpipe bug: report it)", 1},
		{"no_service", func(f *fakeslack.Server) { f.SetNoService(true) },
			"posting to slack: %s answered HTTP 404 no_service: the webhook was disabled or removed; create a new one and update SLACK_WEBHOOK_URL", 1},
		{"channel_not_found", func(f *fakeslack.Server) { f.Fail(fakeslack.Route, 404, "channel_not_found", 1) },
			"posting to slack: %s answered HTTP 404 channel_not_found: the webhook's channel no longer exists; create a new webhook and update SLACK_WEBHOOK_URL", 1},
		{"an error word with 200", func(f *fakeslack.Server) { f.Fail(fakeslack.Route, 200, "no_service", 1) },
			"posting to slack: %s answered HTTP 200 no_service: the webhook was disabled or removed; create a new one and update SLACK_WEBHOOK_URL", 1},
		{"429 twice: one retry, then the error", func(f *fakeslack.Server) { f.RateLimit(2, "1") },
			"posting to slack: %s answered HTTP 429 rate_limited: rate limited; Slack asked to wait 1s", 2},
		{"429 with a wait over 30s: no retry", func(f *fakeslack.Server) { f.RateLimit(1, "120") },
			"posting to slack: %s answered HTTP 429 rate_limited: rate limited; Slack asked to wait 2m0s", 1},
		{"down: 503", func(f *fakeslack.Server) { f.SetDown(true) },
			"posting to slack: %s answered HTTP 503 service unavailable: Slack is unavailable; the message was not posted", 1},
		{"a proxy page quoting the URL", nil, // set in the loop: needs the URL
			"posting to slack: %s answered HTTP 502 bad gateway for <webhook>: Slack is unavailable; the message was not posted", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake, webhook, c, logs := start(t)
			if tc.setup != nil {
				tc.setup(fake)
			} else {
				fake.Fail(fakeslack.Route, 502, "bad gateway for "+webhook, 1)
			}
			err := c.Post(t.Context(), slack.Message{Text: "hello"})
			if err == nil {
				t.Fatal("Post succeeded")
			}
			host := strings.TrimPrefix(webhook, "http://")
			host = host[:strings.IndexByte(host, '/')]
			if want := fmt.Sprintf(tc.want, host); err.Error() != want {
				t.Errorf("error:\n got %q\nwant %q", err, want)
			}
			var api *slack.APIError
			if !errors.As(err, &api) {
				t.Errorf("error %T is not an *APIError", err)
			}
			if n := len(fake.Requests()); n != tc.posts {
				t.Errorf("%d requests, want %d", n, tc.posts)
			}
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("the fake accepted %d messages, want 0", n)
			}
			assertNoSecret(t, "the error", err.Error(), webhook)
			assertNoSecret(t, "the log", logs.String(), webhook)
		})
	}
}

func TestPostConnectionRefused(t *testing.T) {
	fake, webhook, c, logs := start(t)
	fake.Stop()
	err := c.Post(t.Context(), slack.Message{Text: "hello"})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Post = %v, want connection refused", err)
	}
	if !strings.HasPrefix(err.Error(), "posting to slack: dial tcp ") {
		t.Errorf("error %q does not say what failed", err)
	}
	assertNoSecret(t, "the error", err.Error(), webhook)
	assertNoSecret(t, "the log", logs.String(), webhook)
}

func TestPostRetryAfterOnce(t *testing.T) {
	fake, webhook, c, logs := start(t)
	fake.RateLimit(1, "1")
	begin := time.Now()
	if err := c.Post(t.Context(), slack.Message{Text: "hello"}); err != nil {
		t.Fatalf("Post: %v", err)
	}
	if waited := time.Since(begin); waited < time.Second {
		t.Errorf("retried after %s, before the 1s Retry-After", waited)
	}
	reqs := fake.Requests()
	if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 {
		t.Errorf("requests = %+v, want 429 then 200", reqs)
	}
	if m := fake.Messages(); len(m) != 1 || m[0].Text != "hello" {
		t.Errorf("messages = %+v, want the one message", m)
	}
	if !strings.Contains(logs.String(), "slack rate limit: waiting before one retry") {
		t.Errorf("the wait is not logged:\n%s", logs)
	}
	assertNoSecret(t, "the log", logs.String(), webhook)
}

func TestPostRetryWaitHonoursContext(t *testing.T) {
	fake, _, c, _ := start(t)
	fake.RateLimit(1, "30")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := c.Post(ctx, slack.Message{Text: "hello"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Post = %v, want the context's deadline", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Post returned after %s: the wait ignored the context", d)
	}
}

// failTransport fails the test when any request is made.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("a request was made to %s", r.URL.Host)
	return nil, errors.New("no requests expected")
}

func TestPostWithoutWebhook(t *testing.T) {
	var logs bytes.Buffer
	c := slack.New("", &http.Client{Transport: failTransport{t}}, slog.New(slog.NewTextHandler(&logs, nil)))
	if c.Enabled() {
		t.Error("Enabled() = true without a webhook")
	}
	for range 3 {
		if err := c.Post(t.Context(), slack.Message{Text: "hello"}); err != nil {
			t.Fatalf("Post = %v, want nil", err)
		}
	}
	if n := strings.Count(logs.String(), "no Slack webhook configured"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
}

func TestPostRefusesBadInput(t *testing.T) {
	tests := []struct {
		name, webhook string
		m             slack.Message
		want          string
	}{
		{"empty message", "https://hooks.example/services/T/B/secret", slack.Message{}, "posting to slack: the message has neither text nor blocks"},
		{"not a URL", "hooks.example/services/T/B/secret", slack.Message{Text: "x"}, "posting to slack: the webhook URL is not an http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := slack.New(tc.webhook, &http.Client{Transport: failTransport{t}}, nil)
			err := c.Post(t.Context(), tc.m)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Post = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEscapeAndLink(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"escape", slack.Escape("a & b <c> d"), "a &amp; b &lt;c&gt; d"},
		{"escape leaves mrkdwn", slack.Escape("*bold* _it_ `c`"), "*bold* _it_ `c`"},
		{"escape is not idempotent", slack.Escape("&amp;"), "&amp;amp;"},
		{"link", slack.Link("https://e.example/a?b=1&c=2", "R&D <x>"), "<https://e.example/a?b=1&amp;c=2|R&amp;D &lt;x&gt;>"},
		{"link with | in both parts", slack.Link("https://e.example/a|b", "x|y"), "<https://e.example/a%7Cb|x¦y>"},
		{"link without text", slack.Link("https://e.example/", ""), "<https://e.example/>"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestPostKeepsWithinLimits: text and block counts over Slack's limits are
// cut so that Slack (the fake) still accepts the message.
func TestPostKeepsWithinLimits(t *testing.T) {
	fake, _, c, _ := start(t)
	long := strings.Repeat("a", 2998) + "&amp;" + strings.Repeat("b", 100) // the cut falls inside the entity
	link := strings.Repeat("c", 2990) + slack.Link("https://e.example/x", "notes")
	blocks := []slack.Block{slack.Header(strings.Repeat("h", 200)), slack.Section(long), slack.Section(link)}
	for range 57 {
		blocks = append(blocks, slack.Divider())
	}
	if err := c.Post(t.Context(), slack.Message{Text: "t", Blocks: blocks}); err != nil {
		t.Fatalf("Post: %v (requests %+v)", err, fake.Requests())
	}
	m := fake.Messages()
	if len(m) != 1 {
		t.Fatalf("accepted %d messages, want 1", len(m))
	}
	b := m[0].Blocks
	if len(b) != 50 {
		t.Fatalf("%d blocks, want 50", len(b))
	}
	text := func(i int) string { return b[i]["text"].(map[string]any)["text"].(string) }
	if got := text(0); got != strings.Repeat("h", 149)+"…" {
		t.Errorf("header = %q", got)
	}
	if got := text(1); got != strings.Repeat("a", 2998)+"…" {
		t.Errorf("section cut inside an entity: ends %q", got[len(got)-10:])
	}
	if got := text(2); got != strings.Repeat("c", 2990)+"…" {
		t.Errorf("section cut inside a link: ends %q", got[len(got)-10:])
	}
	last := b[49]["elements"].([]any)[0].(map[string]any)["text"]
	if last != "… 11 more blocks left out" {
		t.Errorf("last block says %q", last)
	}
}

// The request must target the webhook exactly as given (path and query).
func TestPostTargetsWebhook(t *testing.T) {
	fake, webhook, _, _ := start(t)
	u, err := url.Parse(webhook)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/services/T0/B0/wrong"
	c := slack.New(u.String(), nil, nil)
	err = c.Post(t.Context(), slack.Message{Text: "x"})
	var api *slack.APIError
	if !errors.As(err, &api) || api.StatusCode != 404 || api.Message != "no_service" {
		t.Fatalf("Post to a wrong path = %v, want 404 no_service", err)
	}
	if r := fake.Requests(); len(r) != 1 || r[0].Route != "unknown" {
		t.Errorf("requests = %+v", r)
	}
}
