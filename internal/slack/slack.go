// Package slack posts Block Kit messages to a Slack incoming webhook
// (SLACK_WEBHOOK_URL), for the watcher and the pipeline's notify step.
//
// The webhook URL is a secret: its path is the credential. It never appears
// in an error or a log line; errors name the host only.
package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits Slack documents for Block Kit; a message over them is refused
// whole (400 invalid_blocks), so the builders keep within them.
const (
	MaxBlocks       = 50   // blocks in one message
	MaxSectionText  = 3000 // characters in a section's text
	MaxHeaderText   = 150  // characters in a header's plain_text
	MaxContextItems = 10   // elements in a context block
	// MaxRetryAfter is the longest Retry-After a 429 is waited out for, once.
	MaxRetryAfter = 30 * time.Second
)

// Block is one Block Kit block, marshalled as it is.
type Block = map[string]any

// Message is what is posted to the webhook.
type Message struct {
	// Text is the notification and fallback text (plain mrkdwn).
	Text string `json:"text,omitempty"`
	// Blocks is the Block Kit layout shown in the channel.
	Blocks []Block `json:"blocks,omitempty"`
}

// Header is a header block: text is plain text (not mrkdwn, not escaped),
// cut to 150 characters.
func Header(text string) Block {
	return Block{"type": "header", "text": Block{"type": "plain_text", "text": truncate(text, MaxHeaderText), "emoji": true}}
}

// Section is a section block of mrkdwn, which the caller has escaped with
// Escape and Link; cut to 3000 characters without splitting an entity or a link.
func Section(mrkdwn string) Block {
	return Block{"type": "section", "text": Block{"type": "mrkdwn", "text": truncate(mrkdwn, MaxSectionText)}}
}

// Context is a context block: small grey mrkdwn lines, at most 10.
func Context(mrkdwn ...string) Block {
	elements := []Block{}
	for _, s := range mrkdwn {
		if len(elements) == MaxContextItems {
			break
		}
		if s == "" {
			continue // Slack refuses an empty text element
		}
		elements = append(elements, Block{"type": "mrkdwn", "text": truncate(s, MaxSectionText)})
	}
	return Block{"type": "context", "elements": elements}
}

// Divider is a divider block.
func Divider() Block { return Block{"type": "divider"} }

// escaper replaces the three characters Slack's text formatting reserves.
var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s literal text in mrkdwn: & < > become entities, as Slack's
// formatting reference asks; everything else is left as it is.
func Escape(s string) string { return escaper.Replace(s) }

// Link is a mrkdwn link <url|text>. Both parts are escaped; a | in the URL
// is percent-encoded and one in the text replaced, since | ends the URL
// and nothing escapes it inside the text.
func Link(rawURL, text string) string {
	u := Escape(strings.ReplaceAll(rawURL, "|", "%7C"))
	if text == "" {
		return "<" + u + ">"
	}
	return "<" + u + "|" + Escape(strings.ReplaceAll(text, "|", "¦")) + ">"
}

// truncate cuts mrkdwn to max characters, ending with "…", backing off so
// that an entity (&amp;) or a link (<url|text>) is never cut in half.
func truncate(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	// Keep max-1 characters and room for the ellipsis.
	cut, n := 0, 0
	for i := range s {
		if n == max-1 {
			cut = i
			break
		}
		n++
	}
	head := s[:cut]
	if i := strings.LastIndexByte(head, '&'); i >= 0 && !strings.Contains(head[i:], ";") {
		head = head[:i]
	}
	if i := strings.LastIndexByte(head, '<'); i >= 0 && !strings.Contains(head[i:], ">") {
		head = head[:i]
	}
	return head + "…"
}

// Client posts to one incoming webhook.
type Client struct {
	webhook string // secret: never printed
	http    *http.Client
	log     *slog.Logger
	off     sync.Once
}

// New returns a client for webhookURL. With an empty webhookURL, Post sends
// nothing and says so once in the log. A nil httpClient gets a 15 s timeout;
// a nil log discards.
func New(webhookURL string, httpClient *http.Client, log *slog.Logger) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 15 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{webhook: webhookURL, http: httpClient, log: log}
}

// Enabled reports whether a webhook is configured.
func (c *Client) Enabled() bool { return c.webhook != "" }

// APIError is an answer from the webhook other than 200 "ok".
type APIError struct {
	Host       string // the webhook's host; the path is the secret
	StatusCode int
	// Message is Slack's plain-text answer: invalid_payload, no_text,
	// invalid_blocks, action_prohibited, no_service, channel_not_found,
	// channel_is_archived, ... (bounded, one line).
	Message    string
	RetryAfter time.Duration // 429 only
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s answered HTTP %d", e.Host, e.StatusCode)
	if e.Message != "" {
		msg += " " + e.Message
	}
	if hint := hints[e.Message]; hint != "" {
		return msg + ": " + hint
	}
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return msg + fmt.Sprintf(": rate limited; Slack asked to wait %s", e.RetryAfter)
	case e.StatusCode >= 500:
		return msg + ": Slack is unavailable; the message was not posted"
	}
	return msg
}

// hints say what each documented answer means for the person reading the log.
var hints = map[string]string{
	"invalid_payload":     "Slack could not read the message (a coinpipe bug: report it)",
	"no_text":             "the message had neither text nor blocks (a coinpipe bug: report it)",
	"invalid_blocks":      "Slack refused the message's blocks (a coinpipe bug: report it)",
	"action_prohibited":   "the workspace does not allow this webhook to post here",
	"no_service":          "the webhook was disabled or removed; create a new one and update SLACK_WEBHOOK_URL",
	"channel_not_found":   "the webhook's channel no longer exists; create a new webhook and update SLACK_WEBHOOK_URL",
	"channel_is_archived": "the webhook's channel is archived; unarchive it or create a new webhook",
	"invalid_token":       "the webhook URL is not valid; check SLACK_WEBHOOK_URL",
}

// transportError is a failure below HTTP, with the webhook URL scrubbed
// from its message (net/http's *url.Error quotes the whole URL).
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

// Post sends m to the webhook. A 429 whose Retry-After is at most 30 s is
// waited out (ctx-aware) and the message sent once more; every other
// answer but 200 "ok" is an *APIError. Errors never contain the webhook URL.
func (c *Client) Post(ctx context.Context, m Message) error {
	if c.webhook == "" {
		c.off.Do(func() { c.log.Info("no Slack webhook configured (SLACK_WEBHOOK_URL): Slack messages are not sent") })
		return nil
	}
	u, err := url.Parse(c.webhook)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("posting to slack: the webhook URL is not an http(s) URL")
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		return errors.New("posting to slack: the message has neither text nor blocks")
	}
	if len(m.Blocks) > MaxBlocks {
		left := len(m.Blocks) - (MaxBlocks - 1)
		m.Blocks = append(m.Blocks[:MaxBlocks-1:MaxBlocks-1], Context(fmt.Sprintf("… %d more blocks left out", left)))
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("posting to slack: encoding the message: %w", err)
	}

	err = c.send(ctx, u.Host, body)
	var api *APIError
	if errors.As(err, &api) && api.StatusCode == http.StatusTooManyRequests && api.RetryAfter <= MaxRetryAfter {
		c.log.Warn("slack rate limit: waiting before one retry", "host", u.Host, "retry_after", api.RetryAfter.String())
		t := time.NewTimer(api.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("posting to slack: %w", ctx.Err())
		case <-t.C:
		}
		err = c.send(ctx, u.Host, body)
	}
	if err != nil {
		return fmt.Errorf("posting to slack: %w", err)
	}
	c.log.Debug("posted to slack", "host", u.Host, "blocks", len(m.Blocks))
	return nil
}

// send makes one POST.
func (c *Client) send(ctx context.Context, host string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.webhook, bytes.NewReader(body))
	if err != nil {
		return &transportError{msg: c.scrub(err.Error()), err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		return &transportError{msg: c.scrub(err.Error()), err: err}
	}
	defer resp.Body.Close()
	// Slack answers a short word; anything longer is a proxy's page.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return &transportError{msg: "reading the answer: " + c.scrub(err.Error()), err: err}
	}
	answer := c.scrub(oneLine(string(raw)))
	// Some failures come back as 200 with an error word: only "ok" is success.
	if resp.StatusCode == http.StatusOK && answer == "ok" {
		return nil
	}
	e := &APIError{Host: host, StatusCode: resp.StatusCode, Message: answer}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	}
	return e
}

// scrub removes the webhook URL, and its path on its own, from s.
func (c *Client) scrub(s string) string {
	s = strings.ReplaceAll(s, c.webhook, "<webhook>")
	if u, err := url.Parse(c.webhook); err == nil && len(u.Path) > 1 {
		s = strings.ReplaceAll(s, u.Path, "/<secret>")
		s = strings.ReplaceAll(s, u.EscapedPath(), "/<secret>")
	}
	return s
}

// oneLine bounds an answer to one printable line of at most 200 characters.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200]) + "…"
	}
	return s
}

// retryAfter reads Retry-After in seconds or as an HTTP date; absent or
// unreadable means Slack's documented pace of one message a second.
func retryAfter(v string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return time.Second
}
