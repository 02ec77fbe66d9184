package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
)

func TestNotify(t *testing.T) {
	sl := fakeslack.New()
	hook := sl.Start(t)
	env := map[string]string{
		"SLACK_WEBHOOK_URL": hook,
		"CI_PIPELINE_URL":   "https://gitlab.example/coins/bitcoin/-/pipelines/42", "CI_PIPELINE_ID": "42",
		"CI_JOB_URL": "https://gitlab.example/coins/bitcoin/-/jobs/7", "CI_JOB_NAME": "deploy",
	}
	code, out, errOut := runEnv(t, env, "notify", "--event", "pipeline-failed", "--coin", "bitcoin", "--message", "build <failed> & stopped")
	if code != ExitOK || out != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	msgs := sl.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	blocks, _ := json.Marshal(msgs[0].Blocks)
	want := `[{"text":{"text":":x: *bitcoin*: pipeline failed: build \u0026lt;failed\u0026gt; \u0026amp; stopped","type":"mrkdwn"},"type":"section"},` +
		`{"elements":[{"text":"\u003chttps://gitlab.example/coins/bitcoin/-/pipelines/42|pipeline #42\u003e · \u003chttps://gitlab.example/coins/bitcoin/-/jobs/7|job deploy\u003e","type":"mrkdwn"}],"type":"context"}]`
	if msgs[0].Text != "bitcoin: pipeline failed: build <failed> & stopped" || string(blocks) != want {
		t.Errorf("text %q\nblocks %s\nwant   %s", msgs[0].Text, blocks, want)
	}
}

// Slack down, refusing, or not configured never fails the pipeline; the
// webhook's secret path never shows.
func TestNotifySlackFailureIsNotFatal(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(*fakeslack.Server)
		log   string
	}{
		{"down", func(s *fakeslack.Server) { s.SetDown(true) }, "could not post to Slack"},
		{"no service", func(s *fakeslack.Server) { s.SetNoService(true) }, "no_service"},
		{"unreachable", func(s *fakeslack.Server) { s.Stop() }, "could not post to Slack"},
		{"not configured", nil, "no Slack webhook configured"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sl := fakeslack.New()
			env := map[string]string{}
			if tt.setup != nil {
				env["SLACK_WEBHOOK_URL"] = sl.Start(t)
				tt.setup(sl)
			}
			code, _, errOut := runEnv(t, env, "notify", "--event", "rollout-finished", "--coin", "bitcoin")
			if code != ExitOK || !strings.Contains(errOut, tt.log) || strings.Contains(errOut, sl.Path) {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

func TestNotifyUnknownEvent(t *testing.T) {
	sl := fakeslack.New()
	code, _, errOut := runEnv(t, map[string]string{"SLACK_WEBHOOK_URL": sl.Start(t)}, "notify", "--event", "deployed")
	want := `coinpipe: --event "deployed" is not an event; use one of pushed, rollout-started, host-done, rollout-finished, rollout-failed, rolled-back, pipeline-failed` + "\n"
	if code != ExitInvalidInput || errOut != want {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	for _, r := range sl.Requests() {
		if r.Method == http.MethodPost {
			t.Errorf("an unknown event posted")
		}
	}
}
