package ssm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// FleetOptions describe a simulated fleet. Zero values take the defaults.
type FleetOptions struct {
	Coin  string // the container name; required
	Hosts int    // default 1
	// TagKey and TagValue tag every host (default Component, nodes/<coin>).
	TagKey, TagValue string
	// Description is the unit's description before the instance (default
	// "<coin> node"), as list-units prints it.
	Description string
	// Running is the tag every host runs at start (node@<Running> active),
	// "" for none. It is the "old" version: faults spare it.
	Running string
	// Registry lists the tags that can be pulled besides Running (Push adds
	// more later); starting an instance whose tag is neither pulled nor
	// here fails as a failed pull does.
	Registry []string
	// Height is the chain height on every host at start (default 800000).
	Height int64
	// BlockInterval is how often a running daemon's height advances
	// (default 1s).
	BlockInterval time.Duration
	// StopDelay and StartDelay are how long systemctl stop (the daemon's
	// shutdown) and systemctl start (pull and launch) take.
	StopDelay, StartDelay time.Duration
	// Warmup is how long a started daemon answers coinpipe-height with
	// bitcoin-cli's "Loading block index" error (exit 1).
	Warmup time.Duration
	// Visibility is how long after SendCommand GetCommandInvocation answers
	// InvocationDoesNotExist and ListCommandInvocations leaves the
	// invocation out (default 100ms).
	Visibility time.Duration
	// DeliveryTimeout is how long an invocation to an offline host stays
	// Delayed before it is Undeliverable (default 1s; SSM takes the
	// command's TimeoutSeconds, at least 30s).
	DeliveryTimeout time.Duration
	// PageSize caps DescribeInstanceInformation's page (default 50, SSM's
	// maximum MaxResults) so tests can force pagination.
	PageSize int
	// Rate and Burst throttle the API (token bucket, per second); over it a
	// request gets ThrottlingException. Rate 0 never throttles.
	Rate  float64
	Burst int
}

// Fault is something going wrong on a host. Crash, Stall and Backwards
// affect daemons of any tag but FleetOptions.Running (the old version), so
// a rollback to it works.
type Fault string

const (
	// Crash: systemctl start succeeds (Type=exec) but the daemon dies at
	// once; the unit stays activating (auto-restart), no container runs.
	Crash Fault = "crash"
	// Stall: the daemon's height never moves.
	Stall Fault = "stall"
	// Backwards: the daemon reports a height below the one on disk, and
	// falling.
	Backwards Fault = "backwards"
	// Offline: the SSM agent loses its connection (PingStatus
	// ConnectionLost); invocations stay Delayed, then Undeliverable. The
	// daemon keeps running.
	Offline Fault = "offline"
	// Hang: every systemctl and docker call on the host blocks, so
	// commands end in SSM's execution timeout (TimedOut).
	Hang Fault = "hang"
)

// Event kinds in the history.
const (
	EventStarting = "starting" // systemctl start began (the host is still down)
	EventStarted  = "started"  // the daemon's container runs: the host is up
	EventCrashed  = "crashed"  // the daemon died at start
	EventStopping = "stopping" // systemctl/docker stop began: the host is down from here
	EventStopped  = "stopped"  // the container is gone
	EventKilled   = "killed"   // docker kill / rm -f: never legitimate in a rollout
	EventConflict = "conflict" // a start refused: another instance's container runs
	EventOffline  = "offline"  // the agent lost its connection
	EventOnline   = "online"   // the agent is back
)

// Event is one entry of the fleet's history.
type Event struct {
	At   time.Time
	Host int    // index, as Host(i)
	ID   string // instance ID
	Kind string // one of the Event constants
	Tag  string // the node@ instance concerned ("" for offline/online)
}

// Fleet is a simulated fleet of managed nodes behind a fake SSM API.
type Fleet struct {
	t     testing.TB
	opt   FleetOptions
	dir   string
	api   *Server
	hosts []*Host

	mu      sync.Mutex
	url     string
	running map[*exec.Cmd]bool
	closed  bool
	done    chan struct{} // closed when the test ends
	wg      sync.WaitGroup
}

// Host is one simulated managed node.
type Host struct {
	fleet *Fleet
	index int
	id    string
	name  string
	dir   string
	tags  map[string]string

	mu       sync.Mutex
	online   bool
	after    map[Fault]int // faults that turn on after that many more commands
	commands []string
}

// NewFleet builds the hosts, each with its own directory under t.TempDir(),
// the stand-ins on its PATH and node@<Running> active. Commands still
// running when the test ends are killed.
func NewFleet(t testing.TB, o FleetOptions) *Fleet {
	t.Helper()
	if o.Coin == "" {
		t.Fatal("fakessm.NewFleet: FleetOptions.Coin is required")
	}
	if o.Hosts <= 0 {
		o.Hosts = 1
	}
	if o.TagKey == "" {
		o.TagKey = "Component"
	}
	if o.TagValue == "" {
		o.TagValue = "nodes/" + o.Coin
	}
	if o.Description == "" {
		o.Description = o.Coin + " node"
	}
	if o.Height == 0 {
		o.Height = 800000
	}
	if o.BlockInterval <= 0 {
		o.BlockInterval = time.Second
	}
	if o.Visibility <= 0 {
		o.Visibility = 100 * time.Millisecond
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = time.Second
	}
	if o.PageSize <= 0 || o.PageSize > 50 {
		o.PageSize = 50
	}
	f := &Fleet{t: t, opt: o, dir: t.TempDir(), running: map[*exec.Cmd]bool{}, done: make(chan struct{})}
	f.api = newServer(f)
	must := func(err error) {
		if err != nil {
			t.Fatalf("fakessm.NewFleet: %v", err)
		}
	}
	must(os.MkdirAll(filepath.Join(f.dir, "registry"), 0o755))
	for _, tag := range append([]string{o.Running}, o.Registry...) {
		if tag != "" {
			f.Push(tag)
		}
	}
	for i := range o.Hosts {
		h := &Host{
			fleet:  f,
			index:  i,
			id:     fmt.Sprintf("i-%017x", 0x0c0ffee00000000+i),
			name:   fmt.Sprintf("%s-%d", o.Coin, i+1),
			dir:    filepath.Join(f.dir, fmt.Sprintf("host-%d", i+1)),
			tags:   map[string]string{o.TagKey: o.TagValue, "Name": fmt.Sprintf("%s-%d", o.Coin, i+1)},
			online: true,
			after:  map[Fault]int{},
		}
		must(h.setup())
		f.hosts = append(f.hosts, h)
	}
	t.Cleanup(f.close)
	return f
}

func (h *Host) setup() error {
	o := h.fleet.opt
	s := h.state()
	for _, d := range []string{"bin", "work", "state/units", "state/images", "state/faults"} {
		if err := os.MkdirAll(filepath.Join(h.dir, d), 0o755); err != nil {
			return err
		}
	}
	conf := fmt.Sprintf("S=%s\nCOIN=%s\nORIG=%s\nDESC=%s\nREGISTRY=%s\nINTERVAL_NS=%d\nWARMUP_NS=%d\nSTOP_DELAY=%s\nSTART_DELAY=%s\n",
		shq(s), shq(o.Coin), shq(o.Running), shq(o.Description), shq(filepath.Join(h.fleet.dir, "registry")),
		o.BlockInterval.Nanoseconds(), o.Warmup.Nanoseconds(), secs(o.StopDelay), secs(o.StartDelay))
	files := []struct {
		path, content string
		mode          os.FileMode
	}{
		{"state/conf", conf, 0o644},
		{"state/lib.sh", libSh, 0o644},
		{"state/height", fmt.Sprintln(o.Height), 0o644},
		{"state/events", "", 0o644},
		{"bin/systemctl", systemctlSh, 0o755},
		{"bin/docker", dockerSh, 0o755},
	}
	if o.Running != "" {
		now := time.Now().UnixNano()
		files = append(files,
			struct {
				path, content string
				mode          os.FileMode
			}{"state/units/node@" + o.Running + ".service", "active\n", 0o644},
			struct {
				path, content string
				mode          os.FileMode
			}{"state/images/" + o.Running, "", 0o644},
			// Started long enough ago that the warm-up is over.
			struct {
				path, content string
				mode          os.FileMode
			}{"state/container", fmt.Sprintf("%s %d %d\n", o.Running, now-o.Warmup.Nanoseconds(), o.Height-o.Warmup.Nanoseconds()/o.BlockInterval.Nanoseconds()), 0o644},
		)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(h.dir, f.path), []byte(f.content), f.mode); err != nil {
			return err
		}
	}
	return nil
}

// shq quotes s for sh.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// secs formats d as sleep(1) takes it.
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func (h *Host) state() string { return filepath.Join(h.dir, "state") }

// Server is the fake SSM API over the fleet.
func (f *Fleet) Server() http.Handler { return f.api }

// API is the fake SSM API, for its request log and counters.
func (f *Fleet) API() *Server { return f.api }

// URL serves the API on a local httptest server (started on first use,
// closed when the test ends) and returns its URL, for
// AWS_ENDPOINT_URL_SSM or ssm.Options.Endpoint.
func (f *Fleet) URL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.url == "" {
		srv := httptest.NewServer(f.api)
		f.t.Cleanup(srv.Close)
		f.url = srv.URL
	}
	return f.url
}

// Host is the i-th host (from 0).
func (f *Fleet) Host(i int) *Host { return f.hosts[i] }

// Hosts are all the hosts, in order.
func (f *Fleet) Hosts() []*Host { return slices.Clone(f.hosts) }

// Active is the tag of host i's active node@ unit ("" when none is).
func (f *Fleet) Active(i int) string { return f.hosts[i].Active() }

// Push adds tag to the registry the hosts pull from.
func (f *Fleet) Push(tag string) {
	if err := os.WriteFile(filepath.Join(f.dir, "registry", tag), nil, 0o644); err != nil {
		f.t.Fatalf("fakessm: pushing %s: %v", tag, err)
	}
}

// ID is the host's instance ID (i-0c0ffee0000000000 and on).
func (h *Host) ID() string { return h.id }

// Name is the host's computer name (<coin>-<n>).
func (h *Host) Name() string { return h.name }

// Dir is the host's directory: bin/ (the stand-ins), state/, work/.
func (h *Host) Dir() string { return h.dir }

// Fail turns fault on now.
func (h *Host) Fail(fault Fault) { h.FailAfter(fault, 0) }

// FailAfter turns fault on once the host has run n more commands: with
// n = 2 the third command on the host meets it (e.g. Offline after the
// survey and the stop).
func (h *Host) FailAfter(fault Fault, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > 0 {
		h.after[fault] = n
		return
	}
	h.turnOn(fault)
}

// Clear turns fault off (Offline: the agent is back).
func (h *Host) Clear(fault Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.after, fault)
	if fault == Offline {
		if !h.online {
			h.online = true
			h.event(EventOnline)
		}
		return
	}
	if err := os.Remove(filepath.Join(h.state(), "faults", string(fault))); err != nil && !errors.Is(err, os.ErrNotExist) {
		h.fleet.t.Errorf("fakessm: clearing %s on %s: %v", fault, h.name, err)
	}
}

// turnOn needs h.mu.
func (h *Host) turnOn(fault Fault) {
	if fault == Offline {
		if h.online {
			h.online = false
			h.event(EventOffline)
		}
		return
	}
	if err := os.WriteFile(filepath.Join(h.state(), "faults", string(fault)), nil, 0o644); err != nil {
		h.fleet.t.Errorf("fakessm: setting %s on %s: %v", fault, h.name, err)
	}
}

func (h *Host) event(kind string) {
	line := fmt.Sprintf("%d %s -\n", time.Now().UnixNano(), kind)
	fh, err := os.OpenFile(filepath.Join(h.state(), "events"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = fh.WriteString(line)
		err = errors.Join(err, fh.Close())
	}
	if err != nil {
		h.fleet.t.Errorf("fakessm: recording %s on %s: %v", kind, h.name, err)
	}
}

// Online reports whether the host's agent is connected.
func (h *Host) Online() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.online
}

// Commands are the scripts the host ran (or began), in order.
func (h *Host) Commands() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.commands)
}

// Active is the tag of the host's active node@ unit, "" when none is.
func (h *Host) Active() string {
	units, _ := filepath.Glob(filepath.Join(h.state(), "units", "node@*.service"))
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err == nil && strings.TrimSpace(string(b)) == "active" {
			return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(u), "node@"), ".service")
		}
	}
	return ""
}

// Sh runs a shell command on the host as a command from SSM would run,
// for tests to look at the host (e.g. "docker exec bitcoin coinpipe-height").
// It does not count as a command and ignores Offline.
func (h *Host) Sh(script string) (stdout, stderr string, exitCode int) {
	cmd := h.command(script, "")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		h.fleet.t.Errorf("fakessm: running on %s: %v", h.name, err)
	}
	return o.String(), e.String(), code
}

// command is how the agent runs a script: /bin/sh with the stand-ins
// first on PATH, in its own process group so a timeout kills it all.
func (h *Host) command(script, dir string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", script)
	if dir == "" {
		dir = filepath.Join(h.dir, "work")
	}
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + filepath.Join(h.dir, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + filepath.Join(h.dir, "work"),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// deliver is called when an invocation reaches the host: it counts the
// command, turns on the faults due, and says whether the agent is online.
func (h *Host) deliver(script string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for fault, n := range h.after {
		if n <= 0 {
			h.turnOn(fault)
			delete(h.after, fault)
		} else {
			h.after[fault] = n - 1
		}
	}
	if !h.online {
		return false
	}
	h.commands = append(h.commands, script)
	return true
}

// exec runs script like the agent, killing it after timeout.
func (f *Fleet) exec(h *Host, script, dir string, timeout time.Duration) (stdout, stderr string, code int, timedOut bool) {
	cmd := h.command(script, dir)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return "", "the test is over", -1, false
	}
	if err := cmd.Start(); err != nil {
		f.mu.Unlock()
		return "", err.Error(), -1, false
	}
	f.running[cmd] = true
	f.mu.Unlock()
	var killed atomic.Bool
	timer := time.AfterFunc(timeout, func() {
		killed.Store(true)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	err := cmd.Wait()
	timer.Stop()
	f.mu.Lock()
	delete(f.running, cmd)
	f.mu.Unlock()
	code = cmd.ProcessState.ExitCode()
	if killed.Load() {
		return o.String(), e.String(), -1, true
	}
	if err != nil && code < 0 {
		return o.String(), e.String() + err.Error(), -1, false
	}
	return o.String(), e.String(), code, false
}

func (f *Fleet) close() {
	f.mu.Lock()
	f.closed = true
	close(f.done)
	for cmd := range f.running {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// sleep waits d, or less when the test ends (false then).
func (f *Fleet) sleep(d time.Duration) bool {
	select {
	case <-f.done:
		return false
	case <-time.After(d):
		return true
	}
}

// History is every host's events, oldest first.
func (f *Fleet) History() []Event {
	var all []Event
	for _, h := range f.hosts {
		fh, err := os.Open(filepath.Join(h.state(), "events"))
		if err != nil {
			f.t.Errorf("fakessm: reading %s's history: %v", h.name, err)
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) != 3 {
				continue // a line still being written
			}
			ns, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				f.t.Errorf("fakessm: %s's history: bad line %q", h.name, sc.Text())
				continue
			}
			tag := fields[2]
			if tag == "-" {
				tag = ""
			}
			all = append(all, Event{At: time.Unix(0, ns), Host: h.index, ID: h.id, Kind: fields[1], Tag: tag})
		}
		_ = fh.Close()
	}
	slices.SortStableFunc(all, func(a, b Event) int { return a.At.Compare(b.At) })
	return all
}

// MaxDown is the most hosts down at once over the history: a host is down
// from stopping, crashed or killed until started (hosts start up when
// FleetOptions.Running is set, down otherwise). Offline hosts are not
// counted: their daemon runs.
func (f *Fleet) MaxDown() int {
	down := make([]bool, len(f.hosts))
	n := 0
	if f.opt.Running == "" {
		n = len(f.hosts)
		for i := range down {
			down[i] = true
		}
	}
	most := n
	for _, e := range f.History() {
		switch e.Kind {
		case EventStopping, EventCrashed, EventKilled:
			if !down[e.Host] {
				down[e.Host] = true
				n++
			}
		case EventStarted:
			if down[e.Host] {
				down[e.Host] = false
				n--
			}
		}
		most = max(most, n)
	}
	return most
}
