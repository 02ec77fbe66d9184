// Package rollout upgrades a coin's hosts to a new image tag over SSM, in
// batches bounded by deploy.max_unavailable, behind a health gate that asks
// the chain itself, rolling a failing host back to exactly what it ran
// (docs/architecture.md §5, §9).
//
// What a host runs is the systemd unit node@<tag> that coinpipe generates:
// the rollout stops the active instance (the unit waits stop_timeout, never
// kills) and starts the target's, whose container has the coin's name.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/ssm"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// Fleet is the SSM side: *ssm.Client.
type Fleet interface {
	Instances(ctx context.Context, tagKey, tagValue string) ([]ssm.Instance, error)
	Run(ctx context.Context, instanceIDs []string, cmd ssm.Command) (map[string]ssm.Result, error)
}

// Options configure one rollout.
type Options struct {
	Manifest *manifest.Manifest
	// Target is the image tag the hosts switch to (node@<Target>).
	Target string
	// Who names this rollout in the marker: another rollout meeting it
	// says whose it is.
	Who    string
	DryRun bool
	// Progress receives one line per host and step (stderr).
	Progress io.Writer
	// Notify is told what happens (Slack); it must not fail the rollout.
	Notify func(context.Context, Event)
	// MarkerDir holds <coin>.rollout on each host; DefaultMarkerDir when empty.
	MarkerDir string
	// SwitchGrace and GateGrace are how long past runtime.stop_timeout and
	// deploy.health_timeout SSM is given to finish a switch (rollback) and
	// a gate before the host counts as failed; DefaultSwitchGrace and
	// DefaultGateGrace when zero.
	SwitchGrace, GateGrace time.Duration
	Now                    func() time.Time
	Log                    *slog.Logger
}

// EventKind is what Notify is told about.
type EventKind string

// Events, named as coinpipe notify names them.
const (
	EventStarted    EventKind = "rollout-started"
	EventHostDone   EventKind = "host-done"
	EventFinished   EventKind = "rollout-finished"
	EventFailed     EventKind = "rollout-failed"
	EventRolledBack EventKind = "rolled-back"
)

// Event is one notification.
type Event struct {
	Kind         EventKind
	Coin, Target string
	// Message says it in one line: "3 of 3 hosts on 31.1", a host's result.
	Message string
}

// Host results.
const (
	ResultUpdated        = "updated"
	ResultUnchanged      = "unchanged"   // already on the target
	ResultUntouched      = "untouched"   // left on the old version: the rollout stopped first
	ResultOffline        = "offline"     // SSM cannot reach it
	ResultNotRunning     = "not running" // no active node@ instance
	ResultSurveyFailed   = "survey failed"
	ResultRolledBack     = "rolled back"
	ResultRollbackFailed = "rollback failed"
	ResultPlanned        = "planned" // dry run
	// ResultInterrupted: the rollout was stopped (Ctrl-C) while the host's
	// command ran; it may still be running there.
	ResultInterrupted = "interrupted"
)

// Host is one host's line in the report.
type Host struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Before string `json:"before,omitempty"` // tag it ran
	After  string `json:"after,omitempty"`  // tag it runs now
	Height int64  `json:"height,omitempty"` // last height seen
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`

	online, running bool
	marker          markerLine
}

// Report is a rollout's outcome, or a dry run's plan.
type Report struct {
	Coin           string     `json:"coin"`
	Target         string     `json:"target"`
	MaxUnavailable int        `json:"max_unavailable"`
	Unavailable    int        `json:"unavailable"` // hosts already down: offline, not running
	Batches        [][]string `json:"batches"`     // instance IDs
	Hosts          []*Host    `json:"hosts"`
	// Commands: the exact scripts, by step (dry run only).
	Commands []Command `json:"commands,omitempty"`
	DryRun   bool      `json:"dry_run,omitempty"`
	Status   string    `json:"status"` // planned, finished, failed, rolled back, interrupted, refused
}

// Command is a script the rollout sends, for the dry run.
type Command struct {
	Step   string `json:"step"`
	Script string `json:"script"`
}

// Failure is a rollout that stopped: a host failed the gate (and was rolled
// back, or not), or a command failed. The report says which hosts.
type Failure struct{ msg string }

func (f *Failure) Error() string { return f.msg }

// RefusedError is a rollout that did not start: another one holds the
// hosts, or too many are down already.
type RefusedError struct{ msg string }

func (e *RefusedError) Error() string { return e.msg }

// tagPattern is a docker tag: it names a unit and reaches shell lines.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidTag reports whether tag can be a node@ instance's tag.
func ValidTag(tag string) error {
	if !tagPattern.MatchString(tag) {
		return fmt.Errorf("%q is not an image tag (letters, digits, _ . -, at most 128, not starting with . or -)", tag)
	}
	return nil
}

type run struct {
	o       Options
	fleet   Fleet
	s       scripts
	m       *manifest.Manifest
	start   time.Time
	report  *Report
	mu      sync.Mutex // progress lines
	switchT time.Duration
	gateT   time.Duration
	touched []string // hosts sent a switch: they hold the marker
	// inflight: hosts whose command was running when the rollout was
	// stopped; their marker stays.
	inflight []string
	// lastBatch is how long the last batch's command took.
	lastBatch time.Duration
}

// Command timeouts: SSM stops waiting for a host after these.
const (
	surveyTimeout = 2 * time.Minute // list-units, a 20 s height probe, the marker
	markerTimeout = time.Minute
	// DefaultSwitchGrace: systemd's minute past stop_timeout, the unit's
	// own 10-minute bound on docker pull, and 2 minutes of delivery.
	DefaultSwitchGrace = time.Minute + 10*time.Minute + 2*time.Minute
	// DefaultGateGrace: the height probe's 20 s, delivery and reporting.
	DefaultGateGrace = 2 * time.Minute
)

// Run rolls the coin out, or plans it with DryRun. The report is returned
// with the error too, so the table shows where it stopped.
func Run(ctx context.Context, fleet Fleet, o Options) (*Report, error) {
	if err := ValidTag(o.Target); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.MarkerDir == "" {
		o.MarkerDir = DefaultMarkerDir
	}
	if o.SwitchGrace <= 0 {
		o.SwitchGrace = DefaultSwitchGrace
	}
	if o.GateGrace <= 0 {
		o.GateGrace = DefaultGateGrace
	}
	m := o.Manifest
	stop := time.Duration(m.Runtime.StopTimeout)
	r := &run{
		o: o, fleet: fleet, m: m, start: o.Now(),
		s:       scripts{coin: m.Name, target: o.Target, who: o.Who, markerDir: o.MarkerDir, healthTimeout: time.Duration(m.Deploy.HealthTimeout)},
		report:  &Report{Coin: m.Name, Target: o.Target, MaxUnavailable: m.Deploy.MaxUnavailable, DryRun: o.DryRun, Batches: [][]string{}},
		switchT: stop + o.SwitchGrace,
		gateT:   time.Duration(m.Deploy.HealthTimeout) + o.GateGrace,
	}
	err := r.run(ctx)
	var refused *RefusedError
	switch {
	case err == nil || r.report.Status != "":
	case errors.As(err, &refused):
		r.report.Status = "refused"
	default:
		r.report.Status = "failed"
	}
	return r.report, err
}

func (r *run) run(ctx context.Context) error {
	d := r.m.Deploy
	instances, err := r.fleet.Instances(ctx, d.Instances.Tag, d.Instances.Value)
	if err != nil {
		return fmt.Errorf("listing the hosts tagged %s=%s: %w", d.Instances.Tag, d.Instances.Value, err)
	}
	if len(instances) == 0 {
		return fmt.Errorf("no SSM-managed instance is tagged %s=%s (deploy.instances in coins/%s/coin.yaml)", d.Instances.Tag, d.Instances.Value, r.m.Name)
	}
	// Instance ID order: stable across runs, whatever the host names.
	slices.SortFunc(instances, func(a, b ssm.Instance) int { return strings.Compare(a.ID, b.ID) })
	var online []string
	for _, in := range instances {
		h := &Host{ID: in.ID, Name: in.Name, online: in.Online}
		if !in.Online {
			h.Result, h.Detail = ResultOffline, "SSM ping status "+in.PingStatus
			r.report.Unavailable++
			r.progress(h, "offline (%s): counted as unavailable, left alone", in.PingStatus)
		} else {
			online = append(online, in.ID)
		}
		r.report.Hosts = append(r.report.Hosts, h)
	}
	if r.o.DryRun {
		return r.plan(online)
	}
	if len(online) == 0 {
		return fmt.Errorf("none of the %d hosts tagged %s=%s is online in SSM", len(instances), d.Instances.Tag, d.Instances.Value)
	}
	if err := r.survey(ctx, online); err != nil {
		return err
	}
	todo, err := r.check()
	if err != nil {
		return err
	}
	batches := r.batches(todo)
	if len(todo) == 0 {
		r.report.Status = "finished"
		r.logf("nothing to do: every running host is on %s", r.o.Target)
		return nil
	}
	// Each switch writes this rollout's marker on its hosts; it goes when
	// the rollout ends, even interrupted.
	defer r.unlock(context.WithoutCancel(ctx))
	r.notify(ctx, EventStarted, fmt.Sprintf("%d hosts in %d batches of at most %d", len(todo), len(batches), len(batches[0])))
	for i, batch := range batches {
		if err := r.batch(ctx, i+1, len(batches), batch); err != nil {
			r.stopped()
			if ctx.Err() != nil {
				r.report.Status = "interrupted"
				r.notify(context.WithoutCancel(ctx), EventFailed, err.Error())
			}
			return err
		}
	}
	r.report.Status = "finished"
	updated := 0
	for _, h := range r.report.Hosts {
		if h.Result == ResultUpdated || h.Result == ResultUnchanged {
			updated++
		}
	}
	msg := fmt.Sprintf("%d of %d hosts on %s", updated, len(r.report.Hosts), r.o.Target)
	if n := len(r.report.Hosts) - updated; n > 0 {
		msg += fmt.Sprintf("; %d left alone (offline or not running)", n)
	}
	r.logf("finished: %s", msg)
	r.notify(ctx, EventFinished, msg)
	return nil
}

// survey asks every online host, in one command, what it runs, its height
// and whether another rollout holds it.
func (r *run) survey(ctx context.Context, ids []string) error {
	res, err := r.fleet.Run(ctx, ids, ssm.Command{Script: r.s.survey(), Timeout: surveyTimeout})
	if err != nil {
		return fmt.Errorf("surveying %d hosts: %w", len(ids), err)
	}
	for _, h := range r.report.Hosts {
		if !h.online {
			continue
		}
		out, ok := res[h.ID]
		if !ok || out.Status != ssm.StatusSuccess {
			h.Result, h.Detail = ResultSurveyFailed, describe(out, ok)
			r.report.Unavailable++
			r.progress(h, "survey failed: %s; counted as unavailable, left alone", h.Detail)
			continue
		}
		s, err := parseSurvey(out.Stdout)
		if err != nil {
			h.Result, h.Detail = ResultSurveyFailed, err.Error()
			r.report.Unavailable++
			r.progress(h, "survey failed: %s; counted as unavailable, left alone", h.Detail)
			continue
		}
		h.marker = s.marker
		if s.marker.present {
			h.marker.age = time.Duration(s.now-s.marker.unix) * time.Second
		}
		switch len(s.units) {
		case 0:
			h.Result, h.Detail = ResultNotRunning, "no active node@ instance"
			r.report.Unavailable++
			r.progress(h, "runs no node@ instance: counted as unavailable, left alone")
			continue
		case 1:
		default:
			return &RefusedError{fmt.Sprintf("%s (%s) runs %d node@ instances at once (%s): they share the container name %s; stop all but one by hand first",
				h.Name, h.ID, len(s.units), strings.Join(s.units, ", "), r.m.Name)}
		}
		h.running, h.Before, h.After, h.Height = true, s.units[0], s.units[0], s.height
		if s.heightErr != "" {
			r.progress(h, "runs node@%s, height unknown (%s)", h.Before, s.heightErr)
		} else {
			r.progress(h, "runs node@%s at height %d", h.Before, h.Height)
		}
	}
	return nil
}

// check refuses when another rollout holds the hosts or too many are down,
// and lists the hosts to switch.
func (r *run) check() ([]*Host, error) {
	fresh := r.freshFor()
	for _, h := range r.report.Hosts {
		mk := h.marker
		if mk.present && mk.who != r.o.Who && mk.age < fresh {
			return nil, &RefusedError{fmt.Sprintf("another rollout of %s holds the hosts: %s started rolling out %s %s ago (marker %s on %s); wait for it, or remove the marker when it is gone for good",
				r.m.Name, mk.who, mk.target, mk.age.Round(time.Second), r.s.marker(), h.ID)}
		}
	}
	var todo []*Host
	for _, h := range r.report.Hosts {
		switch {
		case !h.running:
		case h.Before == r.o.Target:
			h.Result = ResultUnchanged
			r.progress(h, "already runs node@%s: nothing to do", r.o.Target)
		default:
			h.Result = ResultUntouched
			todo = append(todo, h)
		}
	}
	k, down := r.m.Deploy.MaxUnavailable, r.report.Unavailable
	if len(todo) > 0 && down >= k {
		return nil, &RefusedError{fmt.Sprintf("%d hosts are down already (offline, not running or not answering) and deploy.max_unavailable is %d: taking one more down would exceed it", down, k)}
	}
	return todo, nil
}

// freshFor is how long a marker holds the hosts: the longest a step may
// take without refreshing it (a switch, or a gate).
func (r *run) freshFor() time.Duration { return r.switchT + r.gateT }

// batches splits the hosts to switch into groups of max_unavailable minus
// the hosts already down.
func (r *run) batches(todo []*Host) [][]*Host {
	size := max(r.m.Deploy.MaxUnavailable-r.report.Unavailable, 1)
	var out [][]*Host
	for len(todo) > 0 {
		n := min(size, len(todo))
		out = append(out, todo[:n])
		ids := make([]string, n)
		for i, h := range todo[:n] {
			ids[i] = h.ID
		}
		r.report.Batches = append(r.report.Batches, ids)
		todo = todo[n:]
	}
	return out
}

// unlock removes the marker from the hosts this rollout sent a switch to,
// where it is still ours. A failure leaves a marker that goes stale by
// itself; it is logged, not fatal.
func (r *run) unlock(ctx context.Context) {
	var ids []string
	for _, id := range r.touched {
		if !slices.Contains(r.inflight, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return
	}
	res, err := r.fleet.Run(ctx, ids, ssm.Command{Script: r.s.removeMarker(), Timeout: markerTimeout, StatusOnly: true})
	if err != nil {
		r.o.Log.Warn("could not remove the rollout marker", "marker", r.s.marker(), "error", err.Error())
		return
	}
	for _, id := range ids {
		if out, ok := res[id]; !ok || out.Status != ssm.StatusSuccess {
			r.o.Log.Warn("could not remove the rollout marker", "marker", r.s.marker(), "instance", id, "error", describe(out, ok))
		}
	}
}

// batch switches one batch and gates each host, in one command; a host
// that fails is rolled back, and the rollout stops after the batch.
func (r *run) batch(ctx context.Context, n, of int, hosts []*Host) error {
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
		r.touched = append(r.touched, h.ID)
		r.progress(h, "batch %d/%d: stopping node@%s, starting node@%s, health gate (up to %s)", n, of, h.Before, r.o.Target, r.s.healthTimeout)
	}
	// A batch takes about as long as the one before: SSM is first asked
	// then, not every few seconds all along.
	sent := time.Now()
	res, err := r.fleet.Run(ctx, ids, ssm.Command{Script: r.s.switchTo(r.o.Target), Timeout: r.switchT + r.gateT, Expect: r.lastBatch * 9 / 10})
	r.lastBatch = time.Since(sent)
	if err != nil && ctx.Err() != nil {
		for _, h := range hosts {
			r.interrupted(h)
		}
		return fmt.Errorf("rollout of %s %s interrupted in batch %d/%d: %w", r.m.Name, r.o.Target, n, of, context.Cause(ctx))
	}
	// The other hosts' height, asked once per batch and only when a host
	// answers without advancing (it may be at the tip already).
	best := sync.OnceValue(func() int64 { return r.bestHeight(ctx, hosts) })
	var wg sync.WaitGroup
	for _, h := range hosts {
		out, ok := res[h.ID]
		if err != nil {
			out, ok = ssm.Result{Status: ssm.StatusNoAnswer, Details: err.Error()}, true
		}
		h.After = r.o.Target
		if why, ok := strings.CutPrefix(lastLine(out.Stdout), markerFailed); ok && out.Status == ssm.StatusFailed {
			h.After, h.Result = h.Before, ResultUntouched
			h.Detail = "could not write the rollout marker" + why + ": nothing was switched"
			r.progress(h, "%s", h.Detail)
			continue
		}
		wg.Go(func() {
			height, reason := r.verdict(ctx, h, r.o.Target, out, ok, best)
			if reason == "" {
				h.Result, h.Height = ResultUpdated, height
				r.progress(h, "healthy on node@%s at height %d", r.o.Target, height)
				r.notify(ctx, EventHostDone, fmt.Sprintf("%s: node@%s → node@%s, height %d", h.label(), h.Before, r.o.Target, height))
				return
			}
			if ctx.Err() != nil {
				r.interrupted(h)
				return
			}
			h.Detail = reason
			r.progress(h, "%s", reason)
			r.rollback(ctx, h)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("rollout of %s %s interrupted in batch %d/%d: %w", r.m.Name, r.o.Target, n, of, context.Cause(ctx))
	}
	var failed []string
	for _, h := range hosts {
		if h.Result != ResultUpdated {
			failed = append(failed, fmt.Sprintf("%s %s (%s)", h.label(), h.Result, h.Detail))
		}
	}
	if len(failed) > 0 {
		return &Failure{fmt.Sprintf("rollout of %s %s stopped in batch %d/%d: %s", r.m.Name, r.o.Target, n, of, strings.Join(failed, "; "))}
	}
	return ctx.Err()
}

// verdict reads a switch's (or a rollback's) answer: the height the host
// is healthy at, or why it is not. A host that answered "ready" (no new
// block within the window) is healthy at the other hosts' best height, or
// gated again for the rest of the health timeout.
func (r *run) verdict(ctx context.Context, h *Host, tag string, out ssm.Result, ok bool, best func() int64) (int64, string) {
	last := lastLine(out.Stdout)
	if !ok || out.Status != ssm.StatusSuccess {
		if ok && out.Status == ssm.StatusFailed {
			if why, found := strings.CutPrefix(last, "unhealthy "); found {
				return 0, "health gate failed: " + why
			}
		}
		return 0, "switch failed: " + describe(out, ok)
	}
	var height, elapsed int64
	switch {
	case strings.HasPrefix(last, "healthy "):
		if _, err := fmt.Sscanf(last, "healthy height=%d", &height); err != nil {
			return 0, fmt.Sprintf("health gate failed: unexpected answer %q", last)
		}
	case strings.HasPrefix(last, "ready "):
		if _, err := fmt.Sscanf(last, "ready height=%d elapsed=%d", &height, &elapsed); err != nil {
			return 0, fmt.Sprintf("health gate failed: unexpected answer %q", last)
		}
		b := best()
		if b == 0 || height < b {
			left := time.Duration(r.s.healthTimeout) - time.Duration(elapsed)*time.Second
			r.progress(h, "answers at height %d without a new block yet; best among the other hosts %d; gating again (up to %s)", height, b, max(left, time.Second))
			var reason string
			if height, reason = r.gate(ctx, h, tag, h.Height, b, left); reason != "" {
				return 0, "health gate failed: " + reason
			}
		}
	default:
		return 0, fmt.Sprintf("health gate failed: unexpected answer %q", last)
	}
	if height < h.Height {
		return 0, fmt.Sprintf("health gate failed: height %d is below %d, recorded before the switch", height, h.Height)
	}
	return height, ""
}

// interrupted marks a host whose command was still running when the
// rollout was stopped: its switch may go on there, so its marker stays
// (it goes stale by itself) and another rollout waits for it.
func (r *run) interrupted(h *Host) {
	h.Result, h.After = ResultInterrupted, ""
	h.Detail = "stopped while its command ran: it may still be switching; check the host (its marker stays until it goes stale)"
	r.mu.Lock()
	r.inflight = append(r.inflight, h.ID)
	r.mu.Unlock()
	r.progress(h, "interrupted: its command may still be running on the host; its marker stays")
}

// rollback brings a failed host back to exactly the tag it ran, and gates it.
func (r *run) rollback(ctx context.Context, h *Host) {
	r.progress(h, "rolling back: stopping node@%s, starting node@%s", r.o.Target, h.Before)
	res, err := r.fleet.Run(ctx, []string{h.ID}, ssm.Command{Script: r.s.rollback(r.o.Target, h.Before, h.Height), Timeout: r.switchT + r.gateT})
	if ctx.Err() != nil {
		// Stopped while the rollback ran: it may still be switching.
		r.interrupted(h)
		return
	}
	out, ok := res[h.ID]
	if err != nil {
		out, ok = ssm.Result{Status: ssm.StatusNoAnswer, Details: err.Error()}, true
	}
	height, reason := r.verdict(ctx, h, h.Before, out, ok, sync.OnceValue(func() int64 { return r.bestHeight(ctx, []*Host{h}) }))
	if strings.HasPrefix(reason, "switch failed: ") {
		h.Result, h.After = ResultRollbackFailed, ""
		h.Detail += "; rollback failed: " + strings.TrimPrefix(reason, "switch failed: ")
		r.progress(h, "rollback failed: %s", strings.TrimPrefix(reason, "switch failed: "))
		r.notify(ctx, EventFailed, fmt.Sprintf("%s: %s", h.label(), h.Detail))
		return
	}
	h.After = h.Before
	if reason != "" {
		h.Result = ResultRollbackFailed
		h.Detail += "; back on node@" + h.Before + " but unhealthy: " + strings.TrimPrefix(reason, "health gate failed: ")
		r.progress(h, "rolled back to node@%s, still unhealthy: %s", h.Before, strings.TrimPrefix(reason, "health gate failed: "))
		r.notify(ctx, EventFailed, fmt.Sprintf("%s: %s", h.label(), h.Detail))
		return
	}
	h.Result, h.Height = ResultRolledBack, height
	r.progress(h, "rolled back to node@%s, healthy at height %d", h.Before, height)
	r.notify(ctx, EventRolledBack, fmt.Sprintf("%s: %s; back on node@%s at height %d", h.label(), h.Detail, h.Before, height))
}

// gate runs the rest of a health gate on one host: the height, or why it
// failed.
func (r *run) gate(ctx context.Context, h *Host, tag string, before, best int64, left time.Duration) (int64, string) {
	left = max(left, time.Second)
	res, err := r.fleet.Run(ctx, []string{h.ID}, ssm.Command{Script: r.s.gate(tag, before, best, left), Timeout: left + r.o.GateGrace})
	if err != nil {
		return 0, err.Error()
	}
	out, ok := res[h.ID]
	if !ok || out.Status != ssm.StatusSuccess {
		if ok && out.Status == ssm.StatusFailed {
			if line := lastLine(out.Stdout); line != "" {
				return 0, strings.TrimPrefix(line, "unhealthy ")
			}
		}
		return 0, describe(out, ok)
	}
	v, found := strings.CutPrefix(lastLine(out.Stdout), "healthy height=")
	height, perr := strconv.ParseInt(v, 10, 64)
	if !found || perr != nil {
		return 0, fmt.Sprintf("unexpected answer %q", lastLine(out.Stdout))
	}
	return height, ""
}

// bestHeight asks the running hosts outside these for their height now:
// a new daemon that reaches it is synced. 0 when none answers.
func (r *run) bestHeight(ctx context.Context, these []*Host) int64 {
	var ids []string
	for _, h := range r.report.Hosts {
		if h.running && !slices.Contains(these, h) {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) == 0 {
		return 0
	}
	res, err := r.fleet.Run(ctx, ids, ssm.Command{Script: r.s.heights(), Timeout: surveyTimeout})
	if err != nil {
		r.o.Log.Warn("could not ask the other hosts for their height", "error", err.Error())
		return 0
	}
	var best int64
	for _, out := range res {
		if n, err := strconv.ParseInt(lastLine(out.Stdout), 10, 64); err == nil && out.Status == ssm.StatusSuccess {
			best = max(best, n)
		}
	}
	return best
}

// stopped marks the report after a failure.
func (r *run) stopped() {
	r.report.Status = "failed"
	rolledBack := false
	for _, h := range r.report.Hosts {
		switch h.Result {
		case ResultRollbackFailed:
			return
		case ResultRolledBack:
			rolledBack = true
		}
	}
	if rolledBack {
		r.report.Status = "rolled back"
	}
}

func (r *run) notify(ctx context.Context, kind EventKind, msg string) {
	if r.o.Notify != nil {
		r.o.Notify(ctx, Event{Kind: kind, Coin: r.m.Name, Target: r.o.Target, Message: msg})
	}
}

// progress writes one line: elapsed time, host, step.
func (r *run) progress(h *Host, format string, args ...any) {
	r.logf("%s: %s", h.label(), fmt.Sprintf(format, args...))
}

func (r *run) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.o.Progress, "%7.1fs  %s\n", r.o.Now().Sub(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (h *Host) label() string {
	if h.Name == "" || h.Name == h.ID {
		return h.ID
	}
	return h.Name + " (" + h.ID + ")"
}

// describe says why a host's command did not succeed.
func describe(out ssm.Result, ok bool) string {
	if !ok {
		return "no answer from SSM"
	}
	msg := "SSM status " + out.Status
	if out.Details != "" && out.Details != out.Status {
		msg += " (" + out.Details + ")"
	}
	if out.Status == ssm.StatusFailed {
		msg += fmt.Sprintf(", exit %d", out.ExitCode)
	}
	if line := lastLine(out.Stderr); line != "" {
		msg += ": " + line
	} else if line := lastLine(out.Stdout); line != "" {
		msg += ": " + line
	}
	return msg
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
