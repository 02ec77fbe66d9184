package ssm_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	fakessm "gitlab.com/coinpipe/coinpipe/internal/fake/ssm"
)

func TestStandIns(t *testing.T) {
	// One script per case, run in order on the same host: each starts from
	// the state the previous one left.
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Running: "31.0", Registry: []string{"31.1"},
		Description: "Bitcoin Core full node", BlockInterval: time.Hour})
	h := fleet.Host(0)
	const conflict = "Job for node@31.1.service failed because the control process exited with error code.\n" +
		"See \"systemctl status node@31.1.service\" and \"journalctl -xeu node@31.1.service\" for details.\n"
	steps := []struct {
		name, script   string
		stdout, stderr string
		code           int
	}{
		{"active instance", "systemctl list-units 'node@*' --state=active --plain --no-legend",
			"node@31.0.service loaded active running Bitcoin Core full node 31.0 (coinpipe)\n", "", 0},
		{"legend", "systemctl list-units 'node@*'",
			"UNIT LOAD ACTIVE SUB DESCRIPTION\nnode@31.0.service loaded active running Bitcoin Core full node 31.0 (coinpipe)\n\n1 loaded units listed.\n", "", 0},
		{"is-active", "systemctl is-active node@31.0", "active\n", "", 0},
		{"is-active of another", "systemctl is-active node@31.1.service", "inactive\n", "", 3},
		{"show", "systemctl show node@31.0 -p ActiveState,SubState", "ActiveState=active\nSubState=running\n", "", 0},
		{"height", "docker exec bitcoin coinpipe-height", "800000\n", "", 0},
		{"image", "docker inspect -f '{{.Config.Image}}' bitcoin", "coin-daemons/bitcoin:31.0\n", "", 0},
		{"wrong container", "docker exec bitcoind coinpipe-height", "", "Error response from daemon: No such container: bitcoind\n", 1},
		{"not in the image", "docker exec bitcoin bitcoin-cli getblockcount", "",
			"OCI runtime exec failed: exec failed: unable to start container process: exec: \"bitcoin-cli\": executable file not found in $PATH: unknown\n", 126},
		{"rm while running", "docker rm bitcoin", "",
			"Error response from daemon: cannot remove container \"/bitcoin\": container is running: stop the container before removing or force remove\n", 1},
		{"start beside the running one", "systemctl start node@31.1", "", conflict, 1},
		{"wrong unit", "systemctl start bitcoin@31.1", "", "Failed to start bitcoin@31.1.service: Unit bitcoin@31.1.service not found.\n", 5},
		{"unset variable", `systemctl start "node@$TAG"`, "", "Failed to start node@.service: Unit node@.service not found.\n", 5},
		{"unterminated quote", "systemctl start 'node@31.1", "", "/bin/sh: 1: Syntax error: Unterminated quoted string\n", 2},
		{"no set -e: the last status counts", "systemctl start bitcoin@31.1\ntrue", "", "Failed to start bitcoin@31.1.service: Unit bitcoin@31.1.service not found.\n", 0},
		{"switch", "systemctl stop 'node@*' && systemctl start node@31.1 && systemctl list-units 'node@*' --plain --no-legend",
			"node@31.1.service loaded active running Bitcoin Core full node 31.1 (coinpipe)\n", "", 0},
		{"old unit after the switch", "systemctl is-active node@31.0", "inactive\n", "", 3},
		{"height kept across the switch", "docker exec bitcoin coinpipe-height", "800000\n", "", 0},
		{"tag not in the registry", "systemctl stop node@31.1 && systemctl start node@31.2",
			"", "Job for node@31.2.service failed because the control process exited with error code.\n" +
				"See \"systemctl status node@31.2.service\" and \"journalctl -xeu node@31.2.service\" for details.\n", 1},
		{"failed unit listed", "systemctl list-units --plain --no-legend", "node@31.2.service loaded failed failed Bitcoin Core full node 31.2 (coinpipe)\n", "", 0},
		{"no daemon", "docker exec bitcoin coinpipe-height", "", "Error response from daemon: No such container: bitcoin\n", 1},
		{"rollback from a local image", "systemctl reset-failed 'node@*' && systemctl start node@31.0 && systemctl is-active node@31.0", "active\n", "", 0},
		{"unsupported", "systemctl status node@31.0", "", "systemctl (coinpipe fake): unsupported command status\n", 64},
	}
	for _, s := range steps {
		stdout, stderr, code := h.Sh(s.script)
		if stdout != s.stdout || stderr != s.stderr || code != s.code {
			t.Fatalf("%s: %q\n got stdout %q stderr %q exit %d\nwant stdout %q stderr %q exit %d",
				s.name, s.script, stdout, stderr, code, s.stdout, s.stderr, s.code)
		}
	}
	if got := fleet.Active(0); got != "31.0" {
		t.Errorf("Active(0) = %q, want 31.0", got)
	}
	var kinds []string
	for _, e := range fleet.History() {
		kinds = append(kinds, e.Kind+" "+e.Tag)
	}
	want := []string{"conflict 31.1", "stopping 31.0", "stopped 31.0", "starting 31.1", "started 31.1",
		"stopping 31.1", "stopped 31.1", "starting 31.0", "started 31.0"}
	if !slices.Equal(kinds, want) {
		t.Errorf("history:\n got %q\nwant %q", kinds, want)
	}
}

func height(t *testing.T, h *fakessm.Host) int {
	t.Helper()
	stdout, stderr, code := h.Sh("docker exec bitcoin coinpipe-height")
	if code != 0 {
		t.Fatalf("coinpipe-height on %s: exit %d: %s", h.Name(), code, stderr)
	}
	n, err := strconv.Atoi(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("coinpipe-height on %s: %q", h.Name(), stdout)
	}
	return n
}

func TestHeight(t *testing.T) {
	const interval = 20 * time.Millisecond
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 4, Running: "31.0", Registry: []string{"31.1"},
		BlockInterval: interval, Warmup: 300 * time.Millisecond})
	fleet.Host(1).Fail(fakessm.Stall)
	fleet.Host(2).Fail(fakessm.Backwards)
	fleet.Host(3).Fail(fakessm.Crash)
	for i, h := range fleet.Hosts() {
		// Warming up: bitcoin-cli's error.
		_, stderr, code := h.Sh("systemctl stop node@31.0 && systemctl start node@31.1 && docker exec bitcoin coinpipe-height")
		if i != 3 && (code != 1 || stderr != "error code: -28\nerror message:\nLoading block index…\n") {
			t.Fatalf("%s: height while warming up: exit %d, %q", h.Name(), code, stderr)
		}
	}
	time.Sleep(350 * time.Millisecond)
	before := []int{height(t, fleet.Host(0)), height(t, fleet.Host(1)), height(t, fleet.Host(2))}
	time.Sleep(10 * interval)
	after := []int{height(t, fleet.Host(0)), height(t, fleet.Host(1)), height(t, fleet.Host(2))}
	if after[0] < before[0]+5 || before[0] < 800000 {
		t.Errorf("healthy daemon: height %d then %d, want ≥ 800000 and advancing", before[0], after[0])
	}
	// The old daemon ran a few blocks before the switch.
	if after[1] != before[1] || before[1] < 800000 || before[1] > before[0] {
		t.Errorf("stalled daemon: height %d then %d, want the same ≥ 800000", before[1], after[1])
	}
	// Below the height the old daemon left on disk (how far it got
	// depends on the machine's load), and falling.
	b, err := os.ReadFile(filepath.Join(fleet.Host(2).Dir(), "state", "height"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || onDisk < 800000 || before[2] >= onDisk || after[2] >= before[2] {
		t.Errorf("daemon going backwards: height %d then %d, want below %d (on disk) and falling", before[2], after[2], onDisk)
	}
	crashed := fleet.Host(3)
	if stdout, _, code := crashed.Sh("systemctl is-active node@31.1"); stdout != "activating\n" || code != 3 {
		t.Errorf("crashed daemon: is-active %q exit %d, want activating, 3", stdout, code)
	}
	if _, stderr, code := crashed.Sh("docker exec bitcoin coinpipe-height"); code != 1 || !strings.Contains(stderr, "No such container") {
		t.Errorf("crashed daemon: coinpipe-height exit %d %q", code, stderr)
	}
	// Faults spare the old version: the rollback works everywhere, and the
	// chain height on disk is the one from before the faulty daemon.
	for _, h := range fleet.Hosts()[1:] {
		if _, stderr, code := h.Sh("systemctl stop node@31.1 && systemctl start node@31.0"); code != 0 {
			t.Fatalf("%s: rolling back: exit %d: %s", h.Name(), code, stderr)
		}
		time.Sleep(350 * time.Millisecond) // warm-up
		if got := height(t, h); got < 800000 {
			t.Errorf("%s: height %d after the rollback, want ≥ 800000", h.Name(), got)
		}
	}
}

func TestMaxDown(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 4, Running: "31.0", Registry: []string{"31.1"},
		StopDelay: 50 * time.Millisecond, StartDelay: 50 * time.Millisecond})
	switchHost := func(h *fakessm.Host, tag string) {
		if _, stderr, code := h.Sh("systemctl stop 'node@*' && systemctl start node@" + tag); code != 0 {
			t.Errorf("%s: exit %d: %s", h.Name(), code, stderr)
		}
	}
	for _, h := range fleet.Hosts()[:2] {
		switchHost(h, "31.1")
	}
	if got := fleet.MaxDown(); got != 1 {
		t.Errorf("one host after the other: MaxDown = %d, want 1", got)
	}
	var wg sync.WaitGroup
	for _, h := range fleet.Hosts() {
		wg.Go(func() { switchHost(h, "31.0") })
	}
	wg.Wait()
	if got := fleet.MaxDown(); got != 4 {
		t.Errorf("all at once: MaxDown = %d, want 4", got)
	}
	// Killing the daemon is recorded.
	if _, _, code := fleet.Host(0).Sh("docker rm -f bitcoin"); code != 0 {
		t.Fatal("docker rm -f failed")
	}
	h := fleet.History()
	if last := h[len(h)-1]; last.Kind != fakessm.EventKilled || last.Host != 0 || last.Tag != "31.0" || last.ID != fleet.Host(0).ID() {
		t.Errorf("last event %+v, want host 0's 31.0 killed", last)
	}
}
