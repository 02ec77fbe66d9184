package ssm_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	fakessm "gitlab.com/coinpipe/coinpipe/internal/fake/ssm"
	"gitlab.com/coinpipe/coinpipe/internal/ssm"
	"gitlab.com/coinpipe/coinpipe/internal/testenv"
)

func config() aws.Config {
	return aws.Config{
		Region: "eu-west-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "test-secret"}, nil
		}),
	}
}

func client(fleet *fakessm.Fleet) *ssm.Client {
	return ssm.New(config(), ssm.Options{Endpoint: fleet.URL(), PollInterval: 50 * time.Millisecond,
		MaxPollInterval: 200 * time.Millisecond, Grace: 2 * time.Second})
}

func TestInstances(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 12, PageSize: 5})
	fleet.Host(4).Fail(fakessm.Offline)
	c := client(fleet)
	got, err := c.Instances(t.Context(), "Component", "nodes/bitcoin")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Fatalf("%d instances, want 12: %+v", len(got), got)
	}
	for i, in := range got {
		h := fleet.Host(i)
		want := ssm.Instance{ID: h.ID(), Name: h.Name(), PingStatus: "Online", Online: true}
		if i == 4 {
			want.PingStatus, want.Online = "ConnectionLost", false
		}
		if in != want {
			t.Errorf("instance %d = %+v, want %+v", i, in, want)
		}
	}
	if n := fleet.API().Count("DescribeInstanceInformation"); n != 3 || c.Calls() != 3 {
		t.Errorf("%d DescribeInstanceInformation requests, Calls() = %d; want 3 pages of 5", n, c.Calls())
	}
	for _, tag := range [][2]string{{"Component", "nodes/monero"}, {"Role", "nodes/bitcoin"}} {
		got, err := c.Instances(t.Context(), tag[0], tag[1])
		if err != nil || len(got) != 0 {
			t.Errorf("Instances(%s=%s) = %+v, %v; want none", tag[0], tag[1], got, err)
		}
	}
}

func TestRun(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 3, Running: "31.0", Registry: []string{"31.1"},
		BlockInterval: time.Hour, StopDelay: 100 * time.Millisecond, StartDelay: 100 * time.Millisecond,
		Visibility: 300 * time.Millisecond})
	fleet.Host(2).Fail(fakessm.Crash)
	c := ssm.New(config(), ssm.Options{Endpoint: fleet.URL(), PollInterval: 200 * time.Millisecond, MaxPollInterval: time.Second})
	ids := []string{fleet.Host(0).ID(), fleet.Host(1).ID(), fleet.Host(2).ID()}
	script := "set -e\n" +
		"systemctl stop 'node@*'\n" +
		"systemctl start node@31.1\n" +
		"systemctl is-active node@31.1\n" +
		`echo "height's $(docker exec bitcoin coinpipe-height)"` + "\n"
	start := time.Now()
	got, err := c.Run(t.Context(), ids, ssm.Command{Script: script, Timeout: 10 * time.Second})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ssm.Result{
		ids[0]: {InstanceID: ids[0], Status: "Success", Details: "Success", Stdout: "active\nheight's 800000\n"},
		ids[1]: {InstanceID: ids[1], Status: "Success", Details: "Success", Stdout: "active\nheight's 800000\n"},
		ids[2]: {InstanceID: ids[2], Status: "Failed", Details: "Failed", ExitCode: 3, Stdout: "activating\n"},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("result of %s:\n got %+v\nwant %+v", id, got[id], w)
		}
	}
	// The invocations were not listed at first (SSM is eventually
	// consistent): the client kept polling the command, and read each
	// ended invocation once.
	if lists := fleet.API().Count("ListCommandInvocations"); lists < 2 {
		t.Errorf("%d ListCommandInvocations: the first poll, before the invocations show, should not end the wait", lists)
	}
	if gets := fleet.API().Count("GetCommandInvocation"); gets != 3 {
		t.Errorf("%d GetCommandInvocation, want one per host", gets)
	}
	if sends := fleet.API().Count("SendCommand"); sends != 1 {
		t.Errorf("%d SendCommand, want 1", sends)
	}
	if c.Calls() != fleet.API().Count("") {
		t.Errorf("Calls() = %d, the fake answered %d", c.Calls(), fleet.API().Count(""))
	}
	// Polls are per command, so the calls per host shrink with the batch:
	// here at most one List per 0.2 s of the run, whatever its length.
	if lists, most := fleet.API().Count("ListCommandInvocations"), int(elapsed/(200*time.Millisecond))+1; lists > most {
		t.Errorf("%d ListCommandInvocations in %s polled from 0.2s, want at most %d", lists, elapsed.Round(time.Millisecond), most)
	}
	for i, tag := range []string{"31.1", "31.1", ""} {
		if fleet.Active(i) != tag {
			t.Errorf("host %d runs %q, want %q", i, fleet.Active(i), tag)
		}
	}
}

func TestRunFaults(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 3, Running: "31.0", DeliveryTimeout: 300 * time.Millisecond})
	fleet.Host(1).Fail(fakessm.Hang)
	fleet.Host(2).Fail(fakessm.Offline)
	c := client(fleet)
	ids := []string{fleet.Host(0).ID(), fleet.Host(1).ID(), fleet.Host(2).ID()}
	start := time.Now()
	got, err := c.Run(t.Context(), ids, ssm.Command{Script: "systemctl is-active node@31.0", Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The timeout is SSM's executionTimeout, in whole seconds: 2s.
	if took := time.Since(start); took < 2*time.Second || took > 4*time.Second {
		t.Errorf("Run took %v, want about 2s", took)
	}
	want := map[string]ssm.Result{
		ids[0]: {InstanceID: ids[0], Status: "Success", Details: "Success", Stdout: "active\n"},
		ids[1]: {InstanceID: ids[1], Status: "TimedOut", Details: "Execution Timed Out", ExitCode: -1},
		ids[2]: {InstanceID: ids[2], Status: "Undeliverable", Details: "Undeliverable", ExitCode: -1},
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("result of %s:\n got %+v\nwant %+v", id, got[id], w)
		}
	}
}

func TestRunNoAnswer(t *testing.T) {
	// SSM never makes the invocation visible within the client's wait.
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Running: "31.0", Visibility: 10 * time.Second})
	c := ssm.New(config(), ssm.Options{Endpoint: fleet.URL(), PollInterval: 100 * time.Millisecond, Grace: 500 * time.Millisecond})
	id := fleet.Host(0).ID()
	got, err := c.Run(t.Context(), []string{id}, ssm.Command{Script: "true", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[id]; r.Status != ssm.StatusNoAnswer || r.ExitCode != -1 || !strings.HasPrefix(r.Details, "no result from SSM after") {
		t.Errorf("result %+v, want NoAnswer", r)
	}
	// Waiting 1.5 s (the timeout and the grace), never faster than every
	// 0.1 s, even near the end.
	if n := fleet.API().Count("ListCommandInvocations"); n > 16 {
		t.Errorf("%d ListCommandInvocations in 1.5 s polled from 0.1 s", n)
	}
}

func TestRunErrors(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin"})
	c := client(fleet)
	_, err := c.Run(t.Context(), []string{"i-00000000000000bad"}, ssm.Command{Script: "true", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "sending a command to i-00000000000000bad: ") || !strings.Contains(err.Error(), "InvalidInstanceId") {
		t.Errorf("unknown instance: %v", err)
	}
	got, err := c.Run(t.Context(), nil, ssm.Command{Script: "true", Timeout: time.Second})
	if err != nil || len(got) != 0 || fleet.API().Count("SendCommand") != 1 {
		t.Errorf("no instances: %v, %v, %d SendCommand", got, err, fleet.API().Count("SendCommand"))
	}
}

func TestRunThrottled(t *testing.T) {
	// SSM allows about one request a second; adaptive retry gets through.
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 4, Running: "31.0", Rate: 10, Burst: 2})
	c := client(fleet)
	var ids []string
	for _, h := range fleet.Hosts() {
		ids = append(ids, h.ID())
	}
	got, err := c.Run(t.Context(), ids, ssm.Command{Script: "systemctl is-active node@31.0", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got[id].Status != "Success" {
			t.Errorf("%s: %+v", id, got[id])
		}
	}
	if fleet.API().Throttled() == 0 {
		t.Error("nothing throttled: the test does not cover throttling")
	}
	if c.Calls() != fleet.API().Count("") {
		t.Errorf("Calls() = %d, the fake answered %d (retries count)", c.Calls(), fleet.API().Count(""))
	}
}

func TestOfflineMidway(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Running: "31.0", DeliveryTimeout: 200 * time.Millisecond})
	h := fleet.Host(0)
	h.FailAfter(fakessm.Offline, 1)
	c := client(fleet)
	var statuses []string
	for range 2 {
		got, err := c.Run(t.Context(), []string{h.ID()}, ssm.Command{Script: "systemctl is-active node@31.0", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, got[h.ID()].Status)
	}
	if statuses[0] != "Success" || statuses[1] != "Undeliverable" || len(h.Commands()) != 1 {
		t.Errorf("statuses %v, %d commands run; want Success then Undeliverable, 1 run", statuses, len(h.Commands()))
	}
	list, err := c.Instances(t.Context(), "Component", "nodes/bitcoin")
	if err != nil || len(list) != 1 || list[0].Online || list[0].PingStatus != "ConnectionLost" {
		t.Errorf("Instances = %+v, %v; want the host ConnectionLost", list, err)
	}
	if got := fleet.Active(0); got != "31.0" {
		t.Errorf("the daemon of an offline host keeps running: Active = %q", got)
	}
}

// TestRunStatusOnlyAndExpect: a status-only command reads the output of the
// invocations that failed only, and a command expected to take a while is
// not polled before then.
func TestRunStatusOnlyAndExpect(t *testing.T) {
	fleet := fakessm.NewFleet(t, fakessm.FleetOptions{Coin: "bitcoin", Hosts: 4, Running: "31.0", Visibility: 50 * time.Millisecond})
	c := ssm.New(config(), ssm.Options{Endpoint: fleet.URL(), PollInterval: 100 * time.Millisecond, MaxPollInterval: time.Second})
	var ids []string
	for i := range 4 {
		ids = append(ids, fleet.Host(i).ID())
	}
	script := "sleep 1\nsystemctl is-active node@31.0 >/dev/null && test -e \"$PWD/../state/ok\" || { echo 'not ok' >&2; exit 4; }\n"
	for i := range 3 {
		testenv.WriteFile(t, filepath.Join(fleet.Host(i).Dir(), "state", "ok"), nil)
	}
	start := time.Now()
	got, err := c.Run(t.Context(), ids, ssm.Command{Script: script, Timeout: 10 * time.Second, Expect: time.Second, StatusOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		want := ssm.Result{InstanceID: id, Status: "Success", Details: "Success"}
		if i == 3 {
			want = ssm.Result{InstanceID: id, Status: "Failed", Details: "Failed", ExitCode: 4, Stderr: "not ok\n"}
		}
		if got[id] != want {
			t.Errorf("host %d:\n got %+v\nwant %+v", i, got[id], want)
		}
	}
	if n := fleet.API().Count("GetCommandInvocation"); n != 1 {
		t.Errorf("%d GetCommandInvocation, want 1: the failed invocation's output only", n)
	}
	// Expected to take a second: not asked before.
	for _, r := range fleet.API().Requests() {
		if r.Op == "ListCommandInvocations" && r.At.Sub(start) < time.Second {
			t.Errorf("polled %s after sending a command expected to take 1 s", r.At.Sub(start).Round(time.Millisecond))
		}
	}
}
