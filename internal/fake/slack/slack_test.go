package slack

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, contentType, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func section(n int) string {
	return `{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("x", n) + `"}}`
}

func blocks(bs ...string) string { return `{"blocks":[` + strings.Join(bs, ",") + `]}` }

// TestFakeValidates: the fake answers payloads as Slack does.
func TestFakeValidates(t *testing.T) {
	many := make([]string, 51)
	for i := range many {
		many[i] = `{"type":"divider"}`
	}
	tests := []struct {
		name, contentType, body string
		status                  int
		answer                  string
	}{
		{"text", "application/json", `{"text":"hi"}`, 200, "ok"},
		{"all four block types", "application/json", blocks(`{"type":"header","text":{"type":"plain_text","text":"h"}}`, section(3000), `{"type":"context","elements":[{"type":"mrkdwn","text":"c"}]}`, `{"type":"divider"}`), 200, "ok"},
		{"50 blocks", "application/json", blocks(many[:50]...), 200, "ok"},
		{"not JSON", "application/json", `{"text":`, 400, "invalid_payload"},
		{"form encoded", "application/x-www-form-urlencoded", `text=hi`, 400, "invalid_payload"},
		{"neither text nor blocks", "application/json", `{}`, 400, "no_text"},
		{"empty text", "application/json", `{"text":""}`, 400, "no_text"},
		{"51 blocks", "application/json", blocks(many...), 400, "invalid_blocks"},
		{"section text over 3000", "application/json", blocks(section(3001)), 400, "invalid_blocks"},
		{"empty section text", "application/json", blocks(section(0)), 400, "invalid_blocks"},
		{"header over 150", "application/json", blocks(`{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}`), 400, "invalid_blocks"},
		{"mrkdwn header", "application/json", blocks(`{"type":"header","text":{"type":"mrkdwn","text":"h"}}`), 400, "invalid_blocks"},
		{"empty context", "application/json", blocks(`{"type":"context","elements":[]}`), 400, "invalid_blocks"},
		{"unknown block", "application/json", blocks(`{"type":"sectoin","text":{"type":"mrkdwn","text":"x"}}`), 400, "invalid_blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			url := s.Start(t)
			status, answer, _ := post(t, url, tc.contentType, tc.body)
			if status != tc.status || answer != tc.answer {
				t.Errorf("got %d %q, want %d %q", status, answer, tc.status, tc.answer)
			}
			wantMessages := 0
			if tc.status == 200 {
				wantMessages = 1
			}
			if n := len(s.Messages()); n != wantMessages {
				t.Errorf("%d messages recorded, want %d", n, wantMessages)
			}
		})
	}
}

func TestFakeSwitches(t *testing.T) {
	s := New()
	url := s.Start(t)
	base := strings.TrimSuffix(url, s.Path)
	type answer struct {
		status int
		body   string
	}
	step := func(name string, target string, want answer, retryAfter string) {
		t.Helper()
		status, body, h := post(t, target, "application/json", `{"text":"hi"}`)
		if status != want.status || body != want.body || h.Get("Retry-After") != retryAfter {
			t.Errorf("%s: got %d %q Retry-After %q, want %d %q Retry-After %q", name, status, body, h.Get("Retry-After"), want.status, want.body, retryAfter)
		}
	}
	step("another path", base+"/services/T0/B0/nope", answer{404, "no_service"}, "")
	s.RateLimit(2, "3")
	step("rate limited 1", url, answer{429, "rate_limited"}, "3")
	step("rate limited 2", url, answer{429, "rate_limited"}, "3")
	step("after the rate limit", url, answer{200, "ok"}, "")
	s.Fail(Route, 500, "rollup_error", 1)
	step("fault", url, answer{500, "rollup_error"}, "")
	step("after the fault", url, answer{200, "ok"}, "")
	s.SetDown(true)
	step("down", url, answer{503, "service unavailable"}, "")
	s.SetDown(false)
	s.SetNoService(true)
	step("no service", url, answer{404, "no_service"}, "")
	s.Reset()
	step("reset", url, answer{200, "ok"}, "")
	if n := len(s.Messages()); n != 3 {
		t.Errorf("%d messages accepted, want 3", n)
	}
	reqs := s.Requests()
	if len(reqs) != 9 {
		t.Errorf("%d requests logged, want 9", len(reqs))
	}
	if strings.Contains(fmt.Sprintf("%+v", reqs), s.Path) {
		t.Errorf("the request log holds the secret path: %+v", reqs)
	}
	s.Stop()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"text":"hi"}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("a post after Stop was answered %d", resp.StatusCode)
	}
}
