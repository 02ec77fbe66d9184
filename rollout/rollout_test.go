package rollout

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/ssm"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func testManifest(k int) *manifest.Manifest {
	m := &manifest.Manifest{}
	m.Name = "bitcoin"
	m.Version = "31.1"
	m.Deploy.Instances = manifest.Instances{Tag: "Component", Value: "nodes/bitcoin"}
	m.Deploy.MaxUnavailable = k
	m.Deploy.HealthTimeout = manifest.Duration(15 * time.Minute)
	m.Runtime.StopTimeout = manifest.Duration(10 * time.Minute)
	return m
}

// scriptedHost is a host of scriptedFleet.
type scriptedHost struct {
	tag        string // the active node@ instance, "" none
	height     int64
	offline    bool
	marker     string // the marker's line
	markerAge  int64  // seconds
	badVersion string // a tag that fails the gate here
	atTip      bool   // the new daemon answers without a new block: "ready"
	units      []string
}

// scriptedFleet answers the rollout's commands from a table of hosts: it
// recognises each script by its text, so it checks the orchestration
// (which host gets which command when); the scripts themselves run on
// internal/fake/ssm's fleet in internal/cli's tests.
type scriptedFleet struct {
	s     scripts
	mu    sync.Mutex
	hosts map[string]*scriptedHost
	down  map[string]bool
	// maxDown is the most hosts switched and not yet healthy at once.
	maxDown int
	sent    []string // "<step> <ids>"
	// logHeights records the heights step too.
	logHeights bool
}

func (f *scriptedFleet) Instances(_ context.Context, key, value string) ([]ssm.Instance, error) {
	if key != "Component" || value != "nodes/bitcoin" {
		return nil, fmt.Errorf("unexpected filter %s=%s", key, value)
	}
	var out []ssm.Instance
	for id, h := range f.hosts {
		ping := "Online"
		if h.offline {
			ping = "ConnectionLost"
		}
		out = append(out, ssm.Instance{ID: id, Name: "node-" + strings.TrimPrefix(id, "i-"), PingStatus: ping, Online: !h.offline})
	}
	slices.SortFunc(out, func(a, b ssm.Instance) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

var gateRE = regexp.MustCompile(`unit='?node@([^'. ]+(?:\.[0-9]+)*)\.service'? before=(\d+) best=(\d+)`)

func (f *scriptedFleet) Run(_ context.Context, ids []string, cmd ssm.Command) (map[string]ssm.Result, error) {
	script := cmd.Script
	f.mu.Lock()
	defer f.mu.Unlock()
	res := map[string]ssm.Result{}
	step := ""
	var healthy []string
	defer func() {
		f.maxDown = max(f.maxDown, len(f.down))
		for _, id := range healthy {
			delete(f.down, id)
		}
	}()
	for _, id := range ids {
		h := f.hosts[id]
		ok := func(out string) { res[id] = ssm.Result{InstanceID: id, Status: ssm.StatusSuccess, Stdout: out} }
		fail := func(out string) {
			res[id] = ssm.Result{InstanceID: id, Status: ssm.StatusFailed, ExitCode: 1, Stdout: out}
		}
		switch {
		case script == f.s.survey():
			step = "survey"
			out := ""
			units := h.units
			if units == nil && h.tag != "" {
				units = []string{h.tag}
			}
			for _, u := range units {
				out += "node@" + u + ".service loaded active running Bitcoin Core " + u + " (coinpipe)\n"
			}
			if h.tag != "" {
				out += fmt.Sprintf("height=%d\n", h.height)
			} else {
				out += "height-error=Error response from daemon: No such container: bitcoin\n"
			}
			if h.marker != "" {
				out += fmt.Sprintf("now=1000000\nmarker=%d %s\n", 1000000-h.markerAge, h.marker)
			}
			ok(out)
		case script == f.s.heights():
			step = "heights"
			ok(fmt.Sprintf("%d\n", h.height))
		case script == f.s.removeMarker():
			step = "unlock"
			ok("")
		case script == f.s.switchTo(f.s.target):
			step = "switch"
			h.tag = f.s.target
			f.down[id] = true
			out := "stopping node@31.0.service\nstarting node@" + f.s.target + ".service\n"
			switch {
			case h.tag == h.badVersion:
				fail(out + "unhealthy after 15m0s: height 100 has not advanced\n")
			case h.atTip:
				ok(out + fmt.Sprintf("ready height=%d elapsed=60\n", h.height))
			default:
				h.height += 3
				healthy = append(healthy, id)
				ok(out + fmt.Sprintf("healthy height=%d\n", h.height))
			}
		case strings.HasPrefix(script, f.s.writeMarker()) && strings.Contains(script, "systemctl stop node@"+f.s.target):
			step = "rollback"
			m := regexp.MustCompile(`unit=node@(.+)\.service`).FindStringSubmatch(script)
			h.tag = m[1]
			h.height += 3
			healthy = append(healthy, id)
			ok(fmt.Sprintf("starting node@%s.service\nhealthy height=%d\n", h.tag, h.height))
		case gateRE.MatchString(script):
			step = "gate"
			m := gateRE.FindStringSubmatch(script)
			if m[1] != h.tag || h.tag == h.badVersion {
				fail("unhealthy after 15m0s: height 100 has not advanced\n")
				continue
			}
			h.height += 3
			healthy = append(healthy, id)
			ok(fmt.Sprintf("healthy height=%d\n", h.height))
		default:
			return nil, fmt.Errorf("unexpected script:\n%s", script)
		}
	}
	if step != "heights" || f.logHeights {
		f.sent = append(f.sent, step+" "+strings.Join(ids, ","))
	}
	return res, nil
}

func newScripted(k int, hosts map[string]*scriptedHost) (*scriptedFleet, Options) {
	m := testManifest(k)
	o := Options{Manifest: m, Target: "31.1", Who: "ci@runner", Now: time.Now}
	f := &scriptedFleet{
		s:     scripts{coin: m.Name, target: o.Target, who: o.Who, markerDir: DefaultMarkerDir, healthTimeout: time.Duration(m.Deploy.HealthTimeout)},
		hosts: hosts, down: map[string]bool{},
	}
	return f, o
}

func hostsOn(n int, tag string) map[string]*scriptedHost {
	hs := map[string]*scriptedHost{}
	for i := range n {
		hs[fmt.Sprintf("i-%02d", i+1)] = &scriptedHost{tag: tag, height: int64(900000 + i)}
	}
	return hs
}

func results(rep *Report) string {
	var b strings.Builder
	for _, h := range rep.Hosts {
		fmt.Fprintf(&b, "%s %s→%s %s\n", h.ID, or(h.Before, "-"), or(h.After, "-"), h.Result)
	}
	return b.String()
}

func TestRolloutBatches(t *testing.T) {
	for _, tt := range []struct {
		name      string
		k, n      int
		offline   int
		wantSteps []string
	}{
		{"one host", 1, 1, 0, []string{"survey i-01", "switch i-01", "unlock i-01"}},
		{"three hosts, k=1", 1, 3, 0, []string{"survey i-01,i-02,i-03",
			"switch i-01", "switch i-02", "switch i-03", "unlock i-01,i-02,i-03"}},
		{"five hosts, k=2", 2, 5, 0, []string{"survey i-01,i-02,i-03,i-04,i-05",
			"switch i-01,i-02", "switch i-03,i-04", "switch i-05", "unlock i-01,i-02,i-03,i-04,i-05"}},
		// An offline host takes one of the k slots.
		{"four hosts, k=3, one offline", 3, 4, 1, []string{"survey i-02,i-03,i-04",
			"switch i-02,i-03", "switch i-04", "unlock i-02,i-03,i-04"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := hostsOn(tt.n, "31.0")
			for i := range tt.offline {
				hs[fmt.Sprintf("i-%02d", i+1)].offline = true
			}
			f, o := newScripted(tt.k, hs)
			var progress bytes.Buffer
			o.Progress = &progress
			rep, err := Run(t.Context(), f, o)
			if err != nil {
				t.Fatalf("rollout: %v\n%s", err, progress.String())
			}
			// Gates of one batch run at once: compare them in order.
			got := slices.Clone(f.sent)
			sortGates(got)
			if !slices.Equal(got, tt.wantSteps) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantSteps, "\n"))
			}
			if f.maxDown > tt.k-tt.offline {
				t.Errorf("%d hosts were down at once; max_unavailable %d with %d offline", f.maxDown, tt.k, tt.offline)
			}
			if rep.Status != "finished" {
				t.Errorf("status %q", rep.Status)
			}
			for _, h := range rep.Hosts {
				want := ResultUpdated
				if hs[h.ID].offline {
					want = ResultOffline
				}
				if h.Result != want {
					t.Errorf("%s: %s, want %s", h.ID, h.Result, want)
				}
			}
		})
	}
}

// sortGates orders each run of consecutive gate lines.
func sortGates(steps []string) {
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && strings.HasPrefix(steps[j], "gate ") {
			j++
		}
		slices.Sort(steps[i:j])
		i = max(j, i+1)
	}
}

func TestRolloutFailureRollsBackAndStops(t *testing.T) {
	hs := hostsOn(5, "31.0")
	hs["i-03"].badVersion = "31.1"
	f, o := newScripted(2, hs)
	var progress bytes.Buffer
	o.Progress = &progress
	var events []string
	o.Notify = func(_ context.Context, e Event) { events = append(events, string(e.Kind)+": "+e.Message) }
	rep, err := Run(t.Context(), f, o)
	var failure *Failure
	if !errors.As(err, &failure) {
		t.Fatalf("rollout: %v, want a *Failure", err)
	}
	want := "rollout of bitcoin 31.1 stopped in batch 2/3: node-03 (i-03) rolled back (health gate failed: after 15m0s: height 100 has not advanced)"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	wantHosts := "i-01 31.0→31.1 updated\ni-02 31.0→31.1 updated\ni-03 31.0→31.0 rolled back\ni-04 31.0→31.1 updated\ni-05 31.0→31.0 untouched\n"
	if got := results(rep); got != wantHosts || rep.Status != "rolled back" {
		t.Errorf("hosts:\n%sstatus %q; want:\n%s", got, rep.Status, wantHosts)
	}
	if hs["i-05"].tag != "31.0" || hs["i-03"].tag != "31.0" {
		t.Errorf("i-03 runs %s, i-05 runs %s; want both on 31.0", hs["i-03"].tag, hs["i-05"].tag)
	}
	if last := f.sent[len(f.sent)-1]; last != "unlock i-01,i-02,i-03,i-04" {
		t.Errorf("last command %q: the marker must go", last)
	}
	wantEvents := []string{
		"rollout-started: 5 hosts in 3 batches of at most 2",
		"host-done: node-01 (i-01): node@31.0 → node@31.1, height 900003",
		"host-done: node-02 (i-02): node@31.0 → node@31.1, height 900004",
		"host-done: node-04 (i-04): node@31.0 → node@31.1, height 900006",
		"rolled-back: node-03 (i-03): health gate failed: after 15m0s: height 100 has not advanced; back on node@31.0 at height 900005",
	}
	slices.Sort(events[1:])
	slices.Sort(wantEvents[1:])
	if !slices.Equal(events, wantEvents) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(wantEvents, "\n"))
	}
	if !strings.Contains(progress.String(), "node-03 (i-03): rolling back: stopping node@31.1, starting node@31.0\n") {
		t.Errorf("progress lacks the rollback:\n%s", progress.String())
	}
}

func TestRolloutRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		k     int
		setup func(map[string]*scriptedHost)
		want  string // "" when it proceeds
	}{
		{"fresh marker of another rollout", 1, func(hs map[string]*scriptedHost) {
			hs["i-02"].marker, hs["i-02"].markerAge = "31.2 alice https://gitlab.example/coins/-/jobs/7", 120
		}, "another rollout of bitcoin holds the hosts: alice https://gitlab.example/coins/-/jobs/7 started rolling out 31.2 2m0s ago (marker /var/lib/coinpipe/bitcoin.rollout on i-02); wait for it, or remove the marker when it is gone for good"},
		{"stale marker", 1, func(hs map[string]*scriptedHost) {
			hs["i-02"].marker, hs["i-02"].markerAge = "31.2 alice", 3*3600
		}, ""},
		{"own marker", 1, func(hs map[string]*scriptedHost) {
			hs["i-02"].marker, hs["i-02"].markerAge = "31.1 ci@runner", 10
		}, ""},
		{"too many down", 2, func(hs map[string]*scriptedHost) {
			hs["i-01"].offline = true
			hs["i-03"].tag = ""
		}, "2 hosts are down already (offline, not running or not answering) and deploy.max_unavailable is 2: taking one more down would exceed it"},
		{"two instances at once", 1, func(hs map[string]*scriptedHost) {
			hs["i-02"].units = []string{"31.0", "30.2"}
		}, "node-02 (i-02) runs 2 node@ instances at once (31.0, 30.2): they share the container name bitcoin; stop all but one by hand first"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := hostsOn(3, "31.0")
			tt.setup(hs)
			f, o := newScripted(tt.k, hs)
			_, err := Run(t.Context(), f, o)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rollout: %v", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) || err.Error() != tt.want {
				t.Fatalf("error %v; want a refusal:\n%s", err, tt.want)
			}
			for _, s := range f.sent {
				if !strings.HasPrefix(s, "survey ") {
					t.Errorf("sent %q after refusing", s)
				}
			}
		})
	}
}

func TestRolloutNoOp(t *testing.T) {
	hs := hostsOn(3, "31.1")
	hs["i-02"].tag = "" // not running: left alone
	f, o := newScripted(2, hs)
	rep, err := Run(t.Context(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := results(rep), "i-01 31.1→31.1 unchanged\ni-02 -→- not running\ni-03 31.1→31.1 unchanged\n"; got != want {
		t.Errorf("hosts:\n%swant:\n%s", got, want)
	}
	if !slices.Equal(f.sent, []string{"survey i-01,i-02,i-03"}) {
		t.Errorf("sent %q; a host already on the target needs nothing", f.sent)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	hs := hostsOn(4, "31.0")
	hs["i-04"].offline = true
	f, o := newScripted(2, hs)
	o.DryRun = true
	o.Who = "alice@laptop"
	rep, err := Run(t.Context(), f, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 0 {
		t.Errorf("the dry run sent %q", f.sent)
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "dry-run.txt", b.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		testenv.WriteFile(t, path, got)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
	}
}

// TestScriptsShellcheck: every command is POSIX sh that shellcheck passes,
// with hostile values quoted.
func TestScriptsShellcheck(t *testing.T) {
	testenv.RequireTools(t, "shellcheck")
	s := scripts{coin: "bitcoin", target: "31.1-2", who: "alice https://gitlab.example/coins/-/jobs/7", markerDir: DefaultMarkerDir, healthTimeout: 15 * time.Minute}
	for name, script := range map[string]string{
		"survey": s.survey(), "marker": s.writeMarker(), "unlock": s.removeMarker(),
		"switch": s.switchTo("31.1-2"), "gate": s.gate("31.1-2", 812345, 812400, 10*time.Minute), "rollback": s.rollback("31.1-2", "31.0", 812345),
	} {
		cmd := exec.Command("shellcheck", "--shell=sh", "--severity=style", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: shellcheck: %v\n%s\n%s", name, err, out, script)
		}
	}
}

// TestMarkerScripts runs the lock and unlock commands with sh: a hostile
// owner name is written literally, and only its own marker is removed.
func TestMarkerScripts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "coinpipe")
	who := `o'brien $(touch pwned) "x" \ *`
	s := scripts{coin: "bitcoin", target: "31.1-2", who: who, markerDir: dir}
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Dir = t.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(cmd.Dir, "pwned")); err == nil {
			t.Fatal("the owner's name ran as a command")
		}
	}
	sh(s.writeMarker())
	b, err := os.ReadFile(filepath.Join(dir, "bitcoin.rollout"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseSurvey("now=1\nmarker=" + strings.TrimSuffix(string(b), "\n"))
	if err != nil || m.marker.who != who || m.marker.target != "31.1-2" {
		t.Fatalf("marker %q parsed as %+v, %v", b, m.marker, err)
	}
	other := s
	other.who = "bob@laptop"
	sh(other.removeMarker())
	if _, err := os.Stat(filepath.Join(dir, "bitcoin.rollout")); err != nil {
		t.Fatalf("another rollout's unlock removed the marker: %v", err)
	}
	sh(s.removeMarker())
	if _, err := os.Stat(filepath.Join(dir, "bitcoin.rollout")); !os.IsNotExist(err) {
		t.Fatalf("the marker is still there: %v", err)
	}
}

func TestParseSurvey(t *testing.T) {
	for _, tt := range []struct {
		name, out string
		want      surveyed
		err       string
	}{
		{"running", "node@31.0.service loaded active running Bitcoin Core 31.0 (coinpipe)\nheight=812345\n", surveyed{units: []string{"31.0"}, height: 812345}, ""},
		{"not running", "height-error=Error response from daemon: No such container: bitcoin\n",
			surveyed{heightErr: "Error response from daemon: No such container: bitcoin"}, ""},
		{"marker", "node@31.0.service loaded active running Bitcoin Core 31.0 (coinpipe)\nheight=5\nnow=100\nmarker=40 31.1 alice https://gitlab.example/-/jobs/1\n",
			surveyed{now: 100, units: []string{"31.0"}, height: 5, marker: markerLine{present: true, unix: 40, target: "31.1", who: "alice https://gitlab.example/-/jobs/1"}}, ""},
		{"garbled marker", "now=100\nmarker=junk\n", surveyed{now: 100, marker: markerLine{present: true, unix: 100, who: `an unknown rollout (marker "junk")`}}, ""},
		{"height not a number", "node@31.0.service loaded active running Bitcoin Core 31.0 (coinpipe)\nheight=error: loading block index\n",
			surveyed{units: []string{"31.0"}, heightErr: `the height answered "error: loading block index"`}, ""},
		{"marker without the clock", "node@31.0.service loaded active running x\nmarker=40 31.1 alice\n", surveyed{}, "the survey has no now= line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSurvey(tt.out)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	for tag, ok := range map[string]bool{"31.1": true, "31.1-2": true, "0.18.5.1": true, "v1_2": true,
		"": false, "-1": false, ".x": false, "31.1; rm -rf /": false, "a b": false, "31.1'": false} {
		if err := ValidTag(tag); (err == nil) != ok {
			t.Errorf("ValidTag(%q) = %v", tag, err)
		}
	}
}

// TestRolloutAtTip: a new daemon that answers but sees no new block within
// the gate's window ("ready") is healthy when it is at the other hosts'
// height, and gated again when it is behind them.
func TestRolloutAtTip(t *testing.T) {
	for _, tt := range []struct {
		name      string
		othersAt  int64
		wantSteps []string
	}{
		{"at the others' height", 900000, []string{"survey i-01,i-02,i-03", "switch i-01", "heights i-02,i-03", "switch i-02", "switch i-03", "unlock i-01,i-02,i-03"}},
		{"behind the others", 900100, []string{"survey i-01,i-02,i-03", "switch i-01", "heights i-02,i-03", "gate i-01", "switch i-02", "switch i-03", "unlock i-01,i-02,i-03"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hs := hostsOn(3, "31.0")
			hs["i-01"].atTip, hs["i-01"].height = true, 900000
			hs["i-02"].height, hs["i-03"].height = tt.othersAt, tt.othersAt
			f, o := newScripted(1, hs)
			f.logHeights = true
			rep, err := Run(t.Context(), f, o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.sent, tt.wantSteps) {
				t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(f.sent, "\n"), strings.Join(tt.wantSteps, "\n"))
			}
			if rep.Hosts[0].Result != ResultUpdated || rep.Hosts[0].After != "31.1" {
				t.Errorf("i-01: %+v", rep.Hosts[0])
			}
		})
	}
}
