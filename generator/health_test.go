package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// probe is a folder of rendered scripts and fake commands, put first on
// PATH: the shipped scripts run unchanged, and what they call (the
// daemon's CLI, date, docker, uname, aws) answers as the test says.
type probe struct {
	t   *testing.T
	dir string // files the fakes read and write
	bin string // on PATH
	tmp string // TMPDIR, where coinpipe-health keeps its state
}

func newProbe(t *testing.T, m *manifest.Manifest) *probe {
	t.Helper()
	testenv.RequireTools(t, "sh", "timeout", "tr", "date")
	p := &probe{t: t, dir: t.TempDir()}
	p.bin, p.tmp = filepath.Join(p.dir, "bin"), filepath.Join(p.dir, "tmp")
	for _, d := range []string{p.bin, p.tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range mustRender(t, m) {
		switch f.Path {
		case "coinpipe-height", "coinpipe-health", "node-height", "node-metrics":
			p.write("bin/"+f.Path, string(f.Data), 0o755)
		}
	}
	realDate, err := exec.LookPath("date")
	if err != nil {
		t.Fatal(err)
	}
	// date answers at the clock the test sets; -u +FORMAT too.
	p.fake("date", `now=$(cat `+p.path("now")+`)
[ "$1" = -u ] && shift
exec `+realDate+` -u -d "@$now" "$@"`)
	p.setNow(1764590400) // 2025-12-01T12:00:00Z
	if len(m.Runtime.Height) > 0 {
		// The daemon's CLI prints what the test put in height.out, exits
		// with height.status, and records its arguments.
		p.fake(m.Runtime.Height[0], `printf '%s\n' "$@" >`+p.path("height.args")+`
cat `+p.path("height.out")+`
exit "$(cat `+p.path("height.status")+`)"`)
		p.answer("812345\n", 0)
	}
	return p
}

func (p *probe) path(name string) string { return filepath.Join(p.dir, name) }

func (p *probe) write(name, data string, mode os.FileMode) {
	p.t.Helper()
	if err := os.WriteFile(p.path(name), []byte(data), mode); err != nil {
		p.t.Fatal(err)
	}
}

func (p *probe) fake(name, body string) { p.write("bin/"+name, "#!/bin/sh\n"+body+"\n", 0o755) }

func (p *probe) setNow(epoch int64) { p.write("now", strconv.FormatInt(epoch, 10), 0o644) }

// answer sets what the daemon's height command prints and its exit status.
func (p *probe) answer(out string, status int) {
	p.write("height.out", out, 0o644)
	p.write("height.status", strconv.Itoa(status), 0o644)
}

// run runs a rendered script with sh, as docker and the host do.
func (p *probe) run(script string, args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	cmd := exec.CommandContext(p.t.Context(), "sh", append([]string{filepath.Join(p.bin, script)}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+p.bin+string(os.PathListSeparator)+os.Getenv("PATH"), "TMPDIR="+p.tmp)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		p.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func openCoin(t *testing.T, name string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Open(filepath.Join("../coins", name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// coinpipe-height prints exactly one height, or fails saying why.
func TestCoinpipeHeight(t *testing.T) {
	tests := []struct {
		name       string
		out        string
		status     int
		wantOut    string
		wantCode   int
		wantStderr string
	}{
		{"a height", "812345\n", 0, "812345\n", 0, ""},
		{"surrounding whitespace", " \t812345 \r\n\n", 0, "812345\n", 0, ""},
		{"genesis", "0\n", 0, "0\n", 0, ""},
		{"nothing", "", 0, "", 1, "coinpipe-height: bitcoin-cli printed nothing, not a block height\n"},
		{"an error text", "error: couldn't connect to server\n", 0, "", 1,
			`coinpipe-height: bitcoin-cli printed "error: couldn't connect to server", not a block height (one non-negative integer)` + "\n"},
		{"two heights", "812345\n812346\n", 0, "", 1,
			`coinpipe-height: bitcoin-cli printed "812345?812346", not a block height (one non-negative integer)` + "\n"},
		{"negative", "-5\n", 0, "", 1, `coinpipe-height: bitcoin-cli printed "-5", not a block height (one non-negative integer)` + "\n"},
		{"leading zero", "0812345\n", 0, "", 1, `coinpipe-height: bitcoin-cli printed "0812345", not a block height (one non-negative integer)` + "\n"},
		{"a float", "812345.0\n", 0, "", 1, `coinpipe-height: bitcoin-cli printed "812345.0", not a block height (one non-negative integer)` + "\n"},
		{"too long for a double", "1234567890123456\n", 0, "", 1,
			`coinpipe-height: bitcoin-cli printed "1234567890123456", not a block height (one non-negative integer)` + "\n"},
		{"the longest height", "123456789012345\n", 0, "123456789012345\n", 0, ""},
		{"command fails", "812345\n", 28, "", 1, "coinpipe-height: bitcoin-cli failed (exit 28)\n"},
	}
	m := openCoin(t, "bitcoin")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProbe(t, m)
			p.answer(tt.out, tt.status)
			out, stderr, code := p.run("coinpipe-height")
			if out != tt.wantOut || code != tt.wantCode || stderr != tt.wantStderr {
				t.Errorf("printed %q, stderr %q, exit %d; want %q, %q, exit %d", out, stderr, code, tt.wantOut, tt.wantStderr, tt.wantCode)
			}
			args, err := os.ReadFile(p.path("height.args"))
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(m.Runtime.Height[1:], "\n") + "\n"; string(args) != want {
				t.Errorf("bitcoin-cli got %q, want runtime.height's %q", args, want)
			}
		})
	}
}

// The manifest's argv reaches the command word for word: monero's
// --log-level=*:ERROR is not a glob to the shell.
func TestCoinpipeHeightArgv(t *testing.T) {
	m := openCoin(t, "monero")
	p := newProbe(t, m)
	p.write("tmp/--log-level=x:ERROR", "", 0o644) // what an unquoted glob would match
	cmd := exec.CommandContext(t.Context(), "sh", filepath.Join(p.bin, "coinpipe-height"))
	cmd.Dir = p.tmp
	cmd.Env = append(os.Environ(), "PATH="+p.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.Output(); err != nil || string(out) != "812345\n" {
		t.Fatalf("coinpipe-height: %q, %v", out, err)
	}
	args, _ := os.ReadFile(p.path("height.args"))
	if want := strings.Join(m.Runtime.Height[1:], "\n") + "\n"; string(args) != want {
		t.Errorf("monerod got %q, want %q", args, want)
	}
}

// A height command that hangs is given up after 20s, so docker's 30s
// health check timeout never fires first.
func TestCoinpipeHeightTimeout(t *testing.T) {
	t.Parallel()
	p := newProbe(t, openCoin(t, "bitcoin"))
	p.fake("bitcoin-cli", "sleep 120")
	start := time.Now()
	out, stderr, code := p.run("coinpipe-height")
	if took := time.Since(start); took < 19*time.Second || took > 60*time.Second {
		t.Errorf("gave up after %s, want about 20s", took)
	}
	if out != "" || code != 1 || stderr != "coinpipe-height: bitcoin-cli did not answer within 20s\n" {
		t.Errorf("printed %q, stderr %q, exit %d", out, stderr, code)
	}
}

func TestCoinpipeHeightWithoutHeight(t *testing.T) {
	p := newProbe(t, openFixture(t, "bitcoin-guix"))
	out, stderr, code := p.run("coinpipe-height")
	if out != "" || code != 2 || stderr != "coinpipe-height: coins/bitcoin-guix/coin.yaml sets no runtime.height: there is no height to print\n" {
		t.Errorf("printed %q, stderr %q, exit %d", out, stderr, code)
	}
}

// healthStep is one run of coinpipe-health: what the daemon answers, how
// many seconds after the first step, and what the check must say.
type healthStep struct {
	answer string
	status int
	at     int64
	want   string
	code   int
}

// coinpipe-health: healthy while the height moves within stall_after,
// unhealthy once it has stood still that long or cannot be read.
func TestCoinpipeHealth(t *testing.T) {
	tests := []struct {
		name  string
		stall time.Duration // runtime.stall_after; 0: the default 1h
		steps []healthStep
	}{
		{"advancing", 0, []healthStep{
			{"100", 0, 0, "healthy: height 100 (first answer)", 0},
			{"101", 0, 600, "healthy: height 101 (was 100)", 0},
			{"102", 0, 7200, "healthy: height 102 (was 101)", 0}, // moved, however long since the last check
		}},
		{"stalled past stall_after", 0, []healthStep{
			{"100", 0, 0, "healthy: height 100 (first answer)", 0},
			{"100", 0, 59, "healthy: height 100, unchanged for 59s (stall_after 1h)", 0},
			{"100", 0, 3599, "healthy: height 100, unchanged for 59m59s (stall_after 1h)", 0},
			{"100", 0, 3600, "unhealthy: height 100 has not moved for 1h (stall_after 1h)", 1},
			{"100", 0, 3720, "unhealthy: height 100 has not moved for 1h2m (stall_after 1h)", 1},
			{"101", 0, 3780, "healthy: height 101 (was 100)", 0},
		}},
		{"manifest's stall_after", 90 * time.Second, []healthStep{
			{"7", 0, 0, "healthy: height 7 (first answer)", 0},
			{"7", 0, 89, "healthy: height 7, unchanged for 1m29s (stall_after 1m30s)", 0},
			{"7", 0, 90, "unhealthy: height 7 has not moved for 1m30s (stall_after 1m30s)", 1},
		}},
		{"a lower height is movement", 0, []healthStep{
			{"100", 0, 0, "healthy: height 100 (first answer)", 0},
			{"50", 0, 3600, "healthy: height 50 (was 100)", 0},
		}},
		{"height command fails", 0, []healthStep{
			{"100", 0, 0, "healthy: height 100 (first answer)", 0},
			{"", 1, 60, "unhealthy: no block height", 1},
			// a failure does not reset the clock
			{"100", 0, 3600, "unhealthy: height 100 has not moved for 1h (stall_after 1h)", 1},
		}},
		{"garbage", 0, []healthStep{
			{"error code: -28\nLoading block index...", 0, 0, "unhealthy: no block height", 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := openCoin(t, "bitcoin")
			if tt.stall != 0 {
				m.Runtime.StallAfter = manifest.Duration(tt.stall)
			}
			p := newProbe(t, m)
			const t0 = 1764590400
			for i, s := range tt.steps {
				p.answer(s.answer, s.status)
				p.setNow(t0 + s.at)
				out, stderr, code := p.run("coinpipe-health")
				if out != s.want+"\n" || code != s.code {
					t.Errorf("step %d (+%ds): printed %q (stderr %q), exit %d; want %q, exit %d", i, s.at, out, stderr, code, s.want, s.code)
				}
				if code != 0 && strings.HasPrefix(s.want, "unhealthy: no block height") && !strings.HasPrefix(stderr, "coinpipe-height: bitcoin-cli ") {
					t.Errorf("step %d: the reason is not passed on: stderr %q", i, stderr)
				}
			}
		})
	}
}

func TestCoinpipeHealthState(t *testing.T) {
	p := newProbe(t, openCoin(t, "bitcoin"))
	// A damaged state file starts the clock again.
	p.write("tmp/coinpipe-health", "garbage\n", 0o644)
	if out, _, code := p.run("coinpipe-health"); out != "healthy: height 812345 (first answer)\n" || code != 0 {
		t.Errorf("damaged state: printed %q, exit %d", out, code)
	}
	state, _ := os.ReadFile(p.path("tmp/coinpipe-health"))
	if string(state) != "812345 1764590400\n" {
		t.Errorf("state file holds %q, want the height and the time it moved", state)
	}
	// Nowhere to keep the state: the check cannot tell, so it says so.
	if err := os.RemoveAll(p.tmp); err != nil {
		t.Fatal(err)
	}
	out, _, code := p.run("coinpipe-health")
	if want := "unhealthy: height 812345, but it cannot be recorded in " + p.tmp + "/coinpipe-health to tell whether it moves\n"; out != want || code != 1 {
		t.Errorf("no state dir: printed %q, exit %d; want %q", out, code, want)
	}
}

func TestCoinpipeHealthWithoutHeight(t *testing.T) {
	p := newProbe(t, openFixture(t, "bitcoin-guix"))
	if out, _, code := p.run("coinpipe-health"); out != "healthy: running (coins/bitcoin-guix/coin.yaml sets no runtime.height to check)\n" || code != 0 {
		t.Errorf("printed %q, exit %d", out, code)
	}
}

// hostProbe adds the host's commands: docker exec runs the image's
// scripts (the rendered ones, on the same PATH) unless the container is
// "stopped"; uname names the host; aws records its arguments.
func hostProbe(t *testing.T, m *manifest.Manifest) *probe {
	t.Helper()
	p := newProbe(t, m)
	p.write("container", "running", 0o644)
	p.fake("docker", `printf '%s\n' "$*" >>`+p.path("docker.calls")+`
if [ "$(cat `+p.path("container")+`)" != running ]; then
	echo "Error response from daemon: container $2 is not running" >&2
	exit 1
fi
[ "$1" = exec ] && [ "$2" = `+m.Name+` ] || exit 125
shift 2
exec "$@"`)
	p.fake("uname", `[ "$1" = -n ] && echo ip-10-0-1-23.ec2.internal`)
	p.fake("aws", `printf '%s\n' "$@" >`+p.path("aws.args"))
	return p
}

func TestNodeHeight(t *testing.T) {
	p := hostProbe(t, openCoin(t, "bitcoin"))
	if out, stderr, code := p.run("node-height"); out != "812345\n" || stderr != "" || code != 0 {
		t.Errorf("printed %q, stderr %q, exit %d", out, stderr, code)
	}
	if calls, _ := os.ReadFile(p.path("docker.calls")); string(calls) != "exec bitcoin coinpipe-height\n" {
		t.Errorf("docker called as %q", calls)
	}
	p.answer("", 0)
	if out, stderr, code := p.run("node-height"); out != "" || stderr != "coinpipe-height: bitcoin-cli printed nothing, not a block height\n" || code != 1 {
		t.Errorf("no height: printed %q, stderr %q, exit %d", out, stderr, code)
	}
	p.write("container", "stopped", 0o644)
	if out, stderr, code := p.run("node-height"); out != "" || stderr != "Error response from daemon: container bitcoin is not running\n" || code != 1 {
		t.Errorf("stopped: printed %q, stderr %q, exit %d", out, stderr, code)
	}
	if _, stderr, code := p.run("node-height", "bitcoin"); stderr != "usage: node-height\n" || code != 2 {
		t.Errorf("with an argument: stderr %q, exit %d", stderr, code)
	}
}

// metricDatum is PutMetricData's MetricDatum as far as node-metrics uses it;
// decoding refuses any other field.
type metricDatum struct {
	MetricName string
	Dimensions []struct{ Name, Value string }
	Value      float64
	Unit       string
	Timestamp  string
}

// node-metrics prints what `aws cloudwatch put-metric-data --metric-data`
// takes, and with --put sends exactly that.
func TestNodeMetrics(t *testing.T) {
	const dims = `"Dimensions":[{"Name":"Coin","Value":"bitcoin"},{"Name":"Host","Value":"ip-10-0-1-23.ec2.internal"}]`
	const ts = `"Timestamp":"2025-12-01T12:00:00Z"`
	height := func(v string) string {
		return `{"MetricName":"BlockHeight",` + dims + `,"Value":` + v + `,"Unit":"Count",` + ts + `}`
	}
	healthy := func(v string) string {
		return `{"MetricName":"Healthy",` + dims + `,"Value":` + v + `,"Unit":"None",` + ts + `}`
	}
	tests := []struct {
		name       string
		setup      func(p *probe)
		want       string
		wantStderr string
	}{
		{"syncing", func(p *probe) {}, "[" + height("812345") + "," + healthy("1") + "]", ""},
		{"stalled", func(p *probe) {
			p.write("tmp/coinpipe-health", "812345 1764586000\n", 0o644) // 4400s ago
		}, "[" + height("812345") + "," + healthy("0") + "]",
			"node-metrics: unhealthy: height 812345 has not moved for 1h13m (stall_after 1h)\n"},
		{"daemon not answering", func(p *probe) { p.answer("", 1) }, "[" + healthy("0") + "]",
			"coinpipe-height: bitcoin-cli failed (exit 1)\nnode-metrics: no block height; BlockHeight left out\n" +
				"node-metrics: coinpipe-height: bitcoin-cli failed (exit 1)\nunhealthy: no block height\n"},
		{"container stopped", func(p *probe) { p.write("container", "stopped", 0o644) }, "[" + healthy("0") + "]",
			"Error response from daemon: container bitcoin is not running\nnode-metrics: no block height; BlockHeight left out\n" +
				"node-metrics: Error response from daemon: container bitcoin is not running\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := hostProbe(t, openCoin(t, "bitcoin"))
			tt.setup(p)
			out, stderr, code := p.run("node-metrics")
			if out != tt.want+"\n" || stderr != tt.wantStderr || code != 0 {
				t.Errorf("printed %s\nstderr %q, exit %d\nwant %s\nstderr %q", out, stderr, code, tt.want, tt.wantStderr)
			}
			checkMetricData(t, out)
		})
	}

	t.Run("--put sends the same list", func(t *testing.T) {
		p := hostProbe(t, openCoin(t, "bitcoin"))
		out, stderr, code := p.run("node-metrics", "--put")
		if out != "" || stderr != "" || code != 0 {
			t.Fatalf("printed %q, stderr %q, exit %d", out, stderr, code)
		}
		args, _ := os.ReadFile(p.path("aws.args"))
		want := "cloudwatch\nput-metric-data\n--namespace\nCoinpipe\n--metric-data\n[" + height("812345") + "," + healthy("1") + "]\n"
		if string(args) != want {
			t.Errorf("aws called with\n%s\nwant\n%s", args, want)
		}
	})
	t.Run("usage", func(t *testing.T) {
		p := hostProbe(t, openCoin(t, "bitcoin"))
		for _, args := range [][]string{{"--dry-run"}, {"--put", "--put"}, {""}} {
			if out, stderr, code := p.run("node-metrics", args...); out != "" || stderr != "usage: node-metrics [--put]\n" || code != 2 {
				t.Errorf("%q: printed %q, stderr %q, exit %d", args, out, stderr, code)
			}
		}
	})
	t.Run("a host name that is not one", func(t *testing.T) {
		p := hostProbe(t, openCoin(t, "bitcoin"))
		p.fake("uname", `echo 'evil","Value":"x'`)
		if out, stderr, code := p.run("node-metrics"); out != "" || code != 1 ||
			stderr != "node-metrics: the host name from uname -n is not a plain host name; not sending it\n" {
			t.Errorf("printed %q, stderr %q, exit %d", out, stderr, code)
		}
	})
	t.Run("a coin without a height sends Healthy only", func(t *testing.T) {
		p := hostProbe(t, openFixture(t, "bitcoin-guix"))
		out, _, code := p.run("node-metrics")
		if want := "[" + strings.Replace(healthy("1"), `"bitcoin"`, `"bitcoin-guix"`, 1) + "]\n"; out != want || code != 0 {
			t.Errorf("printed %q, exit %d", out, code)
		}
	})
}

// checkMetricData decodes node-metrics' line as PutMetricData's MetricData:
// only MetricDatum's fields, a unit CloudWatch knows, an ISO 8601 UTC time.
func checkMetricData(t *testing.T, line string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	var data []metricDatum
	if err := dec.Decode(&data); err != nil {
		t.Fatalf("not a MetricData list: %v", err)
	}
	for _, d := range data {
		if d.Unit != "Count" && d.Unit != "None" {
			t.Errorf("%s: unit %q", d.MetricName, d.Unit)
		}
		if _, err := time.Parse(time.RFC3339, d.Timestamp); err != nil || !strings.HasSuffix(d.Timestamp, "Z") {
			t.Errorf("%s: timestamp %q is not ISO 8601 UTC", d.MetricName, d.Timestamp)
		}
		if len(d.Dimensions) != 2 || d.Dimensions[0].Name != "Coin" || d.Dimensions[1].Name != "Host" {
			t.Errorf("%s: dimensions %v", d.MetricName, d.Dimensions)
		}
	}
}
