package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fakeslack "gitlab.com/coinpipe/coinpipe/internal/fake/slack"
	fakessm "gitlab.com/coinpipe/coinpipe/internal/fake/ssm"
	"gitlab.com/coinpipe/coinpipe/internal/ssm"
)

const (
	oldTag    = "0.18.4.0"
	newTag    = "0.18.5.1" // the monero fixture's version: its ImageTag
	awsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRET"
)

// rolloutWorld is a simulated fleet of the monero fixture's hosts running
// oldTag, the fake Slack, and the environment pointing coinpipe at them.
type rolloutWorld struct {
	coins string
	fleet *fakessm.Fleet
	slack *fakeslack.Server
	env   map[string]string
	tune  rolloutTuning
}

func newRolloutWorld(t testing.TB, hosts, k int) *rolloutWorld {
	return newRolloutFleet(t, hosts, k, 50*time.Millisecond, 700*time.Millisecond, 300*time.Millisecond)
}

// newRolloutFleet is newRolloutWorld with the fleet's stop and start delays
// and block interval chosen.
func newRolloutFleet(t testing.TB, hosts, k int, stopDelay, startDelay, blockInterval time.Duration, tweak ...func(*fakessm.FleetOptions)) *rolloutWorld {
	t.Helper()
	coins := copyCoin(t)
	file := filepath.Join(coins, "monero", "coin.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A short health timeout and stop timeout keep the faults' tests quick.
	yaml := strings.NewReplacer("max_unavailable: 1", fmt.Sprintf("max_unavailable: %d", k),
		"health_timeout: 30m", "health_timeout: 3s", "stop_timeout: 5m", "stop_timeout: 5s").Replace(string(src))
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	fo := fakessm.FleetOptions{
		Coin: "monero", Hosts: hosts, TagKey: "Component", TagValue: "nodes/monero",
		Running: oldTag, Registry: []string{newTag}, Height: 3200000,
		BlockInterval: blockInterval, StopDelay: stopDelay, StartDelay: startDelay,
		Visibility: 50 * time.Millisecond, DeliveryTimeout: 500 * time.Millisecond,
	}
	for _, f := range tweak {
		f(&fo)
	}
	fleet := fakessm.NewFleet(t, fo)
	sl := fakeslack.New()
	w := &rolloutWorld{coins: coins, fleet: fleet, slack: sl}
	w.env = map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE0001", "AWS_SECRET_ACCESS_KEY": awsSecret,
		"AWS_ENDPOINT_URL_SSM": fleet.URL(), "SLACK_WEBHOOK_URL": sl.Start(t),
		"CI_PIPELINE_URL": "https://gitlab.example/coins/monero/-/pipelines/42", "CI_PIPELINE_ID": "42",
		"CI_JOB_URL": "https://gitlab.example/coins/monero/-/jobs/7", "CI_JOB_NAME": "rollout", "GITLAB_USER_LOGIN": "alice",
	}
	w.tune = rolloutTuning{
		ssm:         ssm.Options{PollInterval: 100 * time.Millisecond, MaxPollInterval: 500 * time.Millisecond, Grace: 2 * time.Second},
		markerDir:   t.TempDir(),
		switchGrace: 3 * time.Second, gateGrace: 3 * time.Second,
	}
	return w
}

func (w *rolloutWorld) rollout(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return w.rolloutCtx(t.Context(), t, args...)
}

// interruptWhen is a context that a SIGINT cancels (as main does) once the
// fleet's history holds an event matching happened.
func (w *rolloutWorld) interruptWhen(t *testing.T, happened func(fakessm.Event) bool) context.Context {
	ctx, cancel := context.WithCancelCause(t.Context())
	go func() {
		for ctx.Err() == nil {
			if slices.ContainsFunc(w.fleet.History(), happened) {
				cancel(Signalled{Signal: syscall.SIGINT})
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return ctx
}

func (w *rolloutWorld) rolloutCtx(ctx context.Context, t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	code, stdout, stderr = runDeps(ctx, w.env, func(d *deps) { d.rollout = w.tune },
		append([]string{"rollout", "--coins", w.coins, "--coin", "monero"}, args...)...)
	for _, secret := range []string{awsSecret, w.slack.Path} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("a secret is in the output:\n%s\n%s", stdout, stderr)
		}
	}
	return code, stdout, stderr
}

// maxDown asserts on the fleet's own history that at most k hosts were down at once.
func (w *rolloutWorld) maxDown(t testing.TB, k int) {
	t.Helper()
	if n := w.fleet.MaxDown(); n > k {
		t.Errorf("%d hosts were down at once; max_unavailable is %d", n, k)
	}
	for _, e := range w.fleet.History() {
		if e.Kind == fakessm.EventKilled {
			t.Errorf("%s: a daemon was killed: %+v", e.ID, e)
		}
	}
}

func (w *rolloutWorld) slackTexts() []string {
	var out []string
	for _, m := range w.slack.Messages() {
		out = append(out, m.Text)
	}
	return out
}

func TestRolloutEndToEnd(t *testing.T) {
	for _, tt := range []struct{ hosts, k int }{{1, 1}, {3, 1}, {5, 2}, {20, 5}} {
		t.Run(fmt.Sprintf("%d hosts k=%d", tt.hosts, tt.k), func(t *testing.T) {
			w := newRolloutWorld(t, tt.hosts, tt.k)
			code, out, errOut := w.rollout(t)
			if code != ExitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for i := range tt.hosts {
				if got := w.fleet.Active(i); got != newTag {
					t.Errorf("host %d runs %q, want %s", i, got, newTag)
				}
			}
			w.maxDown(t, tt.k)
			if !strings.HasSuffix(out, "monero "+newTag+": finished\n") || strings.Count(out, oldTag+" → "+newTag) != tt.hosts {
				t.Errorf("table:\n%s", out)
			}
			// SSM calls per host: a handful, whatever the fleet's size.
			calls := len(w.fleet.API().Requests())
			t.Logf("SSM calls: %d for %d hosts (%.1f per host): %d DescribeInstanceInformation, %d SendCommand, %d GetCommandInvocation, %d throttled",
				calls, tt.hosts, float64(calls)/float64(tt.hosts), w.fleet.API().Count("DescribeInstanceInformation"),
				w.fleet.API().Count("SendCommand"), w.fleet.API().Count("GetCommandInvocation"), w.fleet.API().Throttled())
			// The survey, one switch-and-gate per batch and the unlock;
			// more only for a host that answers without a new block within
			// the gate's window (the others' heights, the rest of its gate).
			batches := (tt.hosts + tt.k - 1) / tt.k
			if n, least := w.fleet.API().Count("SendCommand"), 2+batches; n < least || n > least+2*tt.hosts {
				t.Errorf("%d SendCommand calls; want %d (at most %d)", n, least, least+2*tt.hosts)
			}
			// Each host's answer is read once for the survey and once for
			// its switch; SSM is polled per command, not per host.
			sends := w.fleet.API().Count("SendCommand")
			if n := w.fleet.API().Count("GetCommandInvocation"); n < 2*tt.hosts || n > 2*tt.hosts+2*(sends-2-batches) {
				t.Errorf("%d GetCommandInvocation, want %d", n, 2*tt.hosts)
			}
			if n := w.fleet.API().Count("ListCommandInvocations"); n > 10*sends {
				t.Errorf("%d ListCommandInvocations for %d commands", n, sends)
			}
			if per := float64(calls) / float64(tt.hosts); tt.hosts >= 20 && per > 5 {
				t.Errorf("%.1f SSM calls per host, want at most 5", per)
			}
			texts := w.slackTexts()
			if len(texts) != tt.hosts+2 || !strings.HasPrefix(texts[0], "monero: rollout started: "+newTag) ||
				texts[len(texts)-1] != fmt.Sprintf("monero: rollout finished: %s: %d of %d hosts on %s", newTag, tt.hosts, tt.hosts, newTag) {
				t.Errorf("slack:\n%s", strings.Join(texts, "\n"))
			}
			// The marker is gone: a second rollout finds nothing to do.
			code, out, _ = w.rollout(t)
			if code != ExitOK || strings.Count(out, "unchanged") != tt.hosts {
				t.Errorf("second rollout: exit %d\n%s", code, out)
			}
		})
	}
}

func TestRolloutFaults(t *testing.T) {
	const hosts, k, bad = 4, 1, 1
	for _, tt := range []struct {
		name  string
		fault fakessm.Fault
		after int // commands the host runs before the fault: the survey, its switch-and-gate
		// what the bad host runs afterwards, and its line in the table
		active, result string
		kind           string // the Slack message about it
	}{
		{"new version crashes", fakessm.Crash, 0, oldTag, "rolled back: health gate failed: after 3s: node@" + newTag + ".service is not active", "host rolled back"},
		// No new block within the gate's window, and behind the other
		// hosts: gated again for the rest of the health timeout.
		{"height stalls", fakessm.Stall, 0, oldTag, "has not advanced", "host rolled back"},
		{"height goes backwards", fakessm.Backwards, 0, oldTag, "is below", "host rolled back"}, // "height N is below M, recorded before the switch"
		// Neither the switch nor the rollback reaches it: it still runs
		// the old version, but the rollout cannot know.
		{"host offline before its switch", fakessm.Offline, 1, oldTag, "rollback failed: SSM status Undeliverable", "rollout failed"},
		{"command times out", fakessm.Hang, 1, oldTag, "rollback failed: SSM status TimedOut", "rollout failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newRolloutWorld(t, hosts, k)
			w.fleet.Host(bad).FailAfter(tt.fault, tt.after)
			code, out, errOut := w.rollout(t)
			if code != ExitFailure {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			want := []string{newTag, tt.active, oldTag, oldTag} // host 0 done; 2 and 3 untouched
			for i, tag := range want {
				if got := w.fleet.Active(i); got != tag {
					t.Errorf("host %d runs %q, want %q", i, got, tag)
				}
			}
			w.maxDown(t, k)
			line := tableLine(out, w.fleet.Host(bad).ID())
			if !strings.Contains(line, tt.result) || (tt.kind == "host rolled back" && !strings.Contains(line, "rolled back: health gate failed: after ")) {
				t.Errorf("the failed host's line:\n%s\nwant it to contain %q; table:\n%s\nstderr:\n%s", line, tt.result, out, errOut)
			}
			for _, i := range []int{2, 3} {
				if l := tableLine(out, w.fleet.Host(i).ID()); !strings.Contains(l, oldTag+" → "+oldTag) || !strings.Contains(l, "untouched") {
					t.Errorf("host %d: %s", i, l)
				}
				for _, c := range w.fleet.Host(i).Commands() {
					if strings.Contains(c, "systemctl stop") || strings.Contains(c, "systemctl start") {
						t.Errorf("host %d was sent a switch:\n%s", i, c)
					}
				}
			}
			if !strings.Contains(errOut, "coinpipe: rollout of monero "+newTag+" stopped in batch 2/4") {
				t.Errorf("stderr:\n%s", errOut)
			}
			texts := strings.Join(w.slackTexts(), "\n")
			if !strings.Contains(texts, "monero: "+tt.kind+": "+newTag+": ") {
				t.Errorf("slack:\n%s", texts)
			}
		})
	}
}

func tableLine(table, id string) string {
	for line := range strings.SplitSeq(table, "\n") {
		if strings.Contains(line, id) {
			return line
		}
	}
	return ""
}

func TestRolloutDryRun(t *testing.T) {
	w := newRolloutWorld(t, 3, 2)
	w.fleet.Host(2).Fail(fakessm.Offline)
	code, out, errOut := w.rollout(t, "--dry-run")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, r := range w.fleet.API().Requests() {
		if r.Op != "DescribeInstanceInformation" {
			t.Errorf("the dry run called %s", r.Op)
		}
	}
	for i := range 3 {
		if n := len(w.fleet.Host(i).Commands()); n != 0 {
			t.Errorf("host %d ran %d commands", i, n)
		}
	}
	if len(w.slack.Messages()) != 0 {
		t.Errorf("the dry run posted to Slack")
	}
	ids := []string{w.fleet.Host(0).ID(), w.fleet.Host(1).ID(), w.fleet.Host(2).ID()}
	for _, want := range []string{
		"dry run: nothing is sent to any host\n",
		"rollout of monero to node@" + newTag + ", at most 2 hosts down at once (1 down already)\n",
		"batch 1: monero-1 (" + ids[0] + ")\nbatch 2: monero-2 (" + ids[1] + ")\n",
		"unit=node@" + newTag + ".service\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}

func TestRolloutRefusesWhileAnotherRuns(t *testing.T) {
	w := newRolloutWorld(t, 2, 1)
	marker := filepath.Join(w.tune.markerDir, "monero.rollout")
	// Fresh: younger than the longest step (here 5 s + 3 s of grace).
	stamp := fmt.Sprint(time.Now().Add(-2 * time.Second).Unix())
	if err := os.WriteFile(marker, []byte(stamp+" 0.18.5.2 bob https://gitlab.example/coins/monero/-/jobs/6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := w.rollout(t)
	want := regexp.MustCompile(`coinpipe: another rollout of monero holds the hosts: bob https://gitlab.example/coins/monero/-/jobs/6 started rolling out 0.18.5.2 [23]s ago`)
	if code != ExitFailure || !want.MatchString(errOut) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for i := range 2 {
		if w.fleet.Active(i) != oldTag {
			t.Errorf("host %d changed", i)
		}
	}
}

func TestRolloutInvalidInput(t *testing.T) {
	w := newRolloutWorld(t, 1, 1)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--version", "0.18; reboot"}, `coinpipe: --version: "0.18; reboot" is not an image tag`},
		{[]string{"--coin", "dogecoin"}, `unknown coin "dogecoin"`},
	} {
		code, _, errOut := w.rollout(t, tt.args...)
		if code != ExitInvalidInput || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q", tt.args, code, errOut)
		}
	}
	if n := len(w.fleet.API().Requests()); n != 0 {
		t.Errorf("invalid input made %d SSM calls", n)
	}
}

// TestRollout20HostsOneFailure is the closing scenario: 20 hosts,
// k=5, the new version crashes on the 8th; its output is logged for the note.
func TestRollout20HostsOneFailure(t *testing.T) {
	w := newRolloutWorld(t, 20, 5)
	w.fleet.Host(7).Fail(fakessm.Crash)
	code, out, errOut := w.rollout(t)
	t.Logf("exit %d\nstderr:\n%s\nstdout:\n%s", code, errOut, out)
	if code != ExitFailure {
		t.Fatalf("exit %d", code)
	}
	w.maxDown(t, 5)
	for i := range 20 {
		want := oldTag
		switch {
		case i < 10 && i != 7:
			want = newTag // batches 1 and 2 (the failing host's batch-mates pass)
		}
		if got := w.fleet.Active(i); got != want {
			t.Errorf("host %d runs %q, want %q", i, got, want)
		}
	}
	if !strings.Contains(tableLine(out, w.fleet.Host(7).ID()), "rolled back") {
		t.Errorf("table:\n%s", out)
	}
}

// BenchmarkRollout20Hosts: 20 simulated hosts, k = 5, each switch taking 2 s
// on the host: the ideal is ceil(20/5)·2 s = 8 s; the ratio to it is what
// coinpipe's survey, gates and SSM polling add. The stand-ins cost some
// time of their own on a loaded machine, so the fleet's stop and start
// delays are calibrated first for a switch (systemctl stop, then start, on
// one host) to take 2 s.
func BenchmarkRollout20Hosts(b *testing.B) {
	const hosts, k = 20, 5
	const perSwitch = 2 * time.Second
	ideal := time.Duration((hosts+k-1)/k) * perSwitch
	delay := calibrateSwitch(b, perSwitch)
	var total, direct time.Duration
	var calls int
	for b.Loop() {
		b.StopTimer()
		w := newRolloutFleet(b, hosts, k, delay, delay, 100*time.Millisecond)
		b.StartTimer()
		start := time.Now()
		if code, out, errOut := w.rollout(b); code != ExitOK {
			b.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		total += time.Since(start)
		calls += len(w.fleet.API().Requests())
		w.maxDown(b, k)
		b.StopTimer()
		direct += directRollout(b, delay, k)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()/n, "s/rollout")
	b.ReportMetric(float64(total)/n/float64(ideal), "x-ideal")
	b.ReportMetric(direct.Seconds()/n, "s/direct")
	b.ReportMetric(float64(total)/float64(direct), "x-direct")
	b.ReportMetric(float64(calls)/n/hosts, "ssm-calls/host")
	b.ReportMetric(delay.Seconds(), "s-stop-and-start-delay")
}

// calibrateSwitch is the fleet's stop (and start) delay for which a switch
// on one host takes perSwitch.
func calibrateSwitch(b *testing.B, perSwitch time.Duration) time.Duration {
	b.Helper()
	half := perSwitch / 2
	fleet := fakessm.NewFleet(b, fakessm.FleetOptions{Coin: "monero", Hosts: 1, Running: oldTag, Registry: []string{newTag},
		StopDelay: half, StartDelay: half})
	start := time.Now()
	if _, errOut, code := fleet.Host(0).Sh("systemctl stop node@" + oldTag + ".service && systemctl start node@" + newTag + ".service"); code != 0 {
		b.Fatalf("switch: exit %d: %s", code, errOut)
	}
	overhead := time.Since(start) - perSwitch
	return max(half-overhead/2, 0).Round(time.Millisecond)
}

// directRollout runs the rollout's own host commands (from its dry run)
// straight on a fresh fleet of 20 hosts, without SSM: the survey and the
// unlock on every host at once, the switch-and-gate batch after batch. It
// is what the simulated hosts themselves cost on this machine, against
// which the rollout's orchestration (SSM round trips, polling) shows.
func directRollout(b *testing.B, delay time.Duration, k int) time.Duration {
	b.Helper()
	w := newRolloutFleet(b, 20, k, delay, delay, 100*time.Millisecond)
	code, out, errOut := w.rollout(b, "--dry-run", "--json")
	if code != ExitOK {
		b.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	var plan struct {
		Commands []struct{ Step, Script string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		b.Fatal(err)
	}
	script := func(prefix string) string {
		for _, c := range plan.Commands {
			if strings.HasPrefix(c.Step, prefix) {
				return c.Script
			}
		}
		b.Fatalf("no %q command in the plan", prefix)
		return ""
	}
	on := func(hosts []*fakessm.Host, s string) {
		var wg sync.WaitGroup
		for _, h := range hosts {
			wg.Go(func() {
				if _, errOut, code := h.Sh(s); code != 0 {
					b.Errorf("%s: exit %d: %s", h.ID(), code, errOut)
				}
			})
		}
		wg.Wait()
	}
	all := w.fleet.Hosts()
	start := time.Now()
	on(all, script("survey"))
	for batch := range slices.Chunk(all, k) {
		on(batch, script("switch"))
	}
	on(all, script("unlock"))
	return time.Since(start)
}

// TestRolloutInterrupted: Ctrl-C while a batch switches stops the rollout
// (exit 130): later hosts are untouched, the host whose command was
// running is reported as such and keeps its marker, so another rollout
// waits for it.
func TestRolloutInterrupted(t *testing.T) {
	w := newRolloutFleet(t, 3, 1, 50*time.Millisecond, 1500*time.Millisecond, 300*time.Millisecond)
	ctx := w.interruptWhen(t, func(e fakessm.Event) bool { return e.Host == 0 && e.Kind == fakessm.EventStarting })
	code, out, errOut := w.rolloutCtx(ctx, t)
	if code != 130 {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, i := range []int{1, 2} {
		if got := w.fleet.Active(i); got != oldTag {
			t.Errorf("host %d runs %q: it should be untouched", i, got)
		}
		if l := tableLine(out, w.fleet.Host(i).ID()); !strings.Contains(l, "untouched") {
			t.Errorf("host %d: %s", i, l)
		}
	}
	if l := tableLine(out, w.fleet.Host(0).ID()); !strings.Contains(l, "interrupted") {
		t.Errorf("host 0: %s\n%s", l, out)
	}
	if !strings.Contains(errOut, "interrupted: its command may still be running on the host") || !strings.HasSuffix(errOut, "coinpipe: interrupted by SIGINT\n") {
		t.Errorf("stderr:\n%s", errOut)
	}
	if _, err := os.Stat(filepath.Join(w.tune.markerDir, "monero.rollout")); err != nil {
		t.Errorf("the marker of the host still switching is gone: %v", err)
	}
	if texts := strings.Join(w.slackTexts(), "\n"); !strings.Contains(texts, "interrupted in batch 1/3") {
		t.Errorf("slack:\n%s", texts)
	}
}

// TestRolloutJSONUnderThrottling: --json prints the report a machine reads,
// and a rollout whose SSM calls are throttled (about one a second per
// account in SSM) still finishes, the SDK's adaptive retry waiting.
func TestRolloutJSONUnderThrottling(t *testing.T) {
	w := newRolloutFleet(t, 4, 2, 50*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond,
		func(o *fakessm.FleetOptions) { o.Rate, o.Burst = 5, 3 })
	code, out, errOut := w.rollout(t, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var rep struct {
		Coin, Target, Status string
		MaxUnavailable       int `json:"max_unavailable"`
		Batches              [][]string
		Hosts                []struct{ ID, Before, After, Result string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Coin != "monero" || rep.Target != newTag || rep.Status != "finished" || rep.MaxUnavailable != 2 || len(rep.Batches) != 2 || len(rep.Hosts) != 4 {
		t.Errorf("report: %+v", rep)
	}
	for _, h := range rep.Hosts {
		if h.Before != oldTag || h.After != newTag || h.Result != "updated" {
			t.Errorf("host %+v", h)
		}
	}
	if w.fleet.API().Throttled() == 0 {
		t.Error("no call was throttled: the test does not cover throttling")
	}
}

// TestRolloutMarkerUnwritable: a host that cannot hold the marker is not
// switched (another rollout could not see this one), and the rollout stops.
func TestRolloutMarkerUnwritable(t *testing.T) {
	w := newRolloutWorld(t, 2, 1)
	blocker := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.tune.markerDir = filepath.Join(blocker, "coinpipe")
	code, out, errOut := w.rollout(t)
	if code != ExitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for i := range 2 {
		if got := w.fleet.Active(i); got != oldTag {
			t.Errorf("host %d runs %q, want it untouched on %s", i, got, oldTag)
		}
	}
	if l := tableLine(out, w.fleet.Host(0).ID()); !strings.Contains(l, "untouched: could not write the rollout marker") || !strings.Contains(l, "nothing was switched") {
		t.Errorf("host 0: %s\n%s", l, out)
	}
	w.maxDown(t, 0)
}

// TestRolloutInterruptedRollback: Ctrl-C while a failed host is being
// rolled back: the host is "interrupted" (its rollback may still be
// switching units) and keeps its marker; exit 130.
func TestRolloutInterruptedRollback(t *testing.T) {
	w := newRolloutFleet(t, 2, 1, 50*time.Millisecond, 1500*time.Millisecond, 300*time.Millisecond)
	w.fleet.Host(0).Fail(fakessm.Crash)
	// The rollback starting the old version again.
	ctx := w.interruptWhen(t, func(e fakessm.Event) bool {
		return e.Host == 0 && e.Kind == fakessm.EventStarting && e.Tag == oldTag
	})
	code, out, errOut := w.rolloutCtx(ctx, t)
	if code != 130 {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if l := tableLine(out, w.fleet.Host(0).ID()); !strings.Contains(l, "interrupted") {
		t.Errorf("host 0: %s\n%s", l, out)
	}
	if l := tableLine(out, w.fleet.Host(1).ID()); !strings.Contains(l, "untouched") || w.fleet.Active(1) != oldTag {
		t.Errorf("host 1: %s", l)
	}
	if _, err := os.Stat(filepath.Join(w.tune.markerDir, "monero.rollout")); err != nil {
		t.Errorf("the marker of the host still rolling back is gone: %v", err)
	}
}
