package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"gitlab.com/coinpipe/coinpipe/internal/slack"
	"gitlab.com/coinpipe/coinpipe/rollout"
)

// Events coinpipe tells Slack about: the notify verb's, and the ones push
// and rollout send themselves, through one builder (slackEvent).
const (
	eventPushed         = "pushed"
	eventPipelineFailed = "pipeline-failed"
)

var events = []string{
	eventPushed,
	string(rollout.EventStarted),
	string(rollout.EventHostDone),
	string(rollout.EventFinished),
	string(rollout.EventFailed),
	string(rollout.EventRolledBack),
	eventPipelineFailed,
}

// eventLook is how each event reads in the channel.
var eventLook = map[string]struct{ emoji, what string }{
	eventPushed:                     {":package:", "image pushed"},
	string(rollout.EventStarted):    {":rocket:", "rollout started"},
	string(rollout.EventHostDone):   {":white_check_mark:", "host updated"},
	string(rollout.EventFinished):   {":tada:", "rollout finished"},
	string(rollout.EventFailed):     {":rotating_light:", "rollout failed"},
	string(rollout.EventRolledBack): {":leftwards_arrow_with_hook:", "host rolled back"},
	eventPipelineFailed:             {":x:", "pipeline failed"},
}

type notifyOptions struct {
	event, coin, message string
}

func newNotifyCmd(d *deps) *cobra.Command {
	var opts notifyOptions
	cmd := &cobra.Command{
		Use:   "notify --event EVENT [--coin COIN] [--message TEXT]",
		Short: "Tell Slack what the pipeline did",
		Long: `notify posts one message to the Slack incoming webhook SLACK_WEBHOOK_URL, with
links to the GitLab pipeline and job (CI_PIPELINE_URL, CI_PIPELINE_ID,
CI_JOB_URL, CI_JOB_NAME) when they are set. push and rollout send the same
messages themselves; notify is for the pipeline's other steps.

Events: ` + strings.Join(events, ", ") + `.

Slack being down, or no webhook configured, is logged and never fails the
pipeline: the exit code is 0. An unknown event is exit 2.`,
		Example: `  coinpipe notify --event pipeline-failed --coin bitcoin
  coinpipe notify --event pushed --coin bitcoin --message "coin-daemons/bitcoin:31.1@sha256:…"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotify(cmd.Context(), d, opts)
		},
	}
	cmd.Flags().StringVar(&opts.event, "event", "", "what happened: "+strings.Join(events, ", "))
	cmd.Flags().StringVar(&opts.coin, "coin", "", "the coin it happened to")
	cmd.Flags().StringVar(&opts.message, "message", "", "one line of detail")
	return cmd
}

func runNotify(ctx context.Context, d *deps, opts notifyOptions) error {
	if !slices.Contains(events, opts.event) {
		return usagef("--event %q is not an event; use one of %s", opts.event, strings.Join(events, ", "))
	}
	d.slackEvent(ctx, opts.event, opts.coin, opts.message)
	return nil
}

// slackEvent posts one event with the pipeline's links. Slack failing is
// logged: it never fails a push, a rollout or a pipeline.
func (d *deps) slackEvent(ctx context.Context, event, coin, message string) {
	if err := d.slackClient().Post(ctx, eventMessage(d.getenv, event, coin, message)); err != nil {
		d.log.Warn("could not post to Slack", "event", event, "error", err.Error())
	}
}

func (d *deps) slackClient() *slack.Client {
	return slack.New(d.getenv("SLACK_WEBHOOK_URL"), d.http, d.log)
}

// eventMessage is the Block Kit message of an event: one line saying what
// happened to which coin, the detail, and the GitLab links.
func eventMessage(getenv func(string) string, event, coin, message string) slack.Message {
	look := eventLook[event]
	subject := look.what
	if coin != "" {
		subject = coin + ": " + look.what
	}
	text := subject
	line := look.emoji + " "
	if coin != "" {
		line += "*" + slack.Escape(coin) + "*: "
	}
	line += slack.Escape(look.what)
	if message != "" {
		text += ": " + message
		line += ": " + slack.Escape(message)
	}
	blocks := []slack.Block{slack.Section(line)}
	var links []string
	if u := getenv("CI_PIPELINE_URL"); u != "" {
		links = append(links, slack.Link(u, strings.TrimSpace("pipeline "+prefixed("#", getenv("CI_PIPELINE_ID")))))
	}
	if u := getenv("CI_JOB_URL"); u != "" {
		links = append(links, slack.Link(u, strings.TrimSpace("job "+getenv("CI_JOB_NAME"))))
	}
	if len(links) > 0 {
		blocks = append(blocks, slack.Context(strings.Join(links, " · ")))
	}
	return slack.Message{Text: text, Blocks: blocks}
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// notifyRollout adapts slackEvent to the rollout's events.
func (d *deps) notifyRollout(ctx context.Context, e rollout.Event) {
	d.slackEvent(ctx, string(e.Kind), e.Coin, fmt.Sprintf("%s: %s", e.Target, e.Message))
}
