package generator

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gitlab.com/coinpipe/coinpipe/internal/testenv"
	"gitlab.com/coinpipe/coinpipe/manifest"
)

// unitDirective returns the values of a directive of a rendered unit, with
// continuation lines joined, as systemd reads them.
func unitDirective(unit []byte, key string) []string {
	var values []string
	for _, line := range strings.Split(strings.ReplaceAll(string(unit), "\\\n", " "), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			values = append(values, v)
		}
	}
	return values
}

// dockerRun is the unit's `docker run` command line as words.
func dockerRun(t *testing.T, unit []byte) []string {
	t.Helper()
	start := unitDirective(unit, "ExecStart")
	if len(start) != 1 {
		t.Fatalf("%d ExecStart lines, want 1", len(start))
	}
	words := strings.Fields(start[0])
	if len(words) < 2 || words[0] != "/usr/bin/docker" || words[1] != "run" {
		t.Fatalf("ExecStart is not docker run: %s", start[0])
	}
	return words
}

// flagValues are the values of every `--flag value` in a command line.
func flagValues(words []string, flag string) []string {
	var values []string
	for i, w := range words[:len(words)-1] {
		if w == flag {
			values = append(values, words[i+1])
		}
	}
	return values
}

// unitVariants are every shipped coin as shipped, and again with a memory
// limit and a private RPC address, which no shipped coin sets.
func unitVariants(t *testing.T) []renderedCoin {
	t.Helper()
	coins := shippedCoins(t)
	for _, c := range coins[:len(coins):len(coins)] {
		m := *c.m
		m.Runtime.Memory = "8g"
		m.Deploy.RPCAddress = "10.0.1.5"
		files, err := Render(&m, DefaultOptions)
		if err != nil {
			t.Fatal(err)
		}
		rc := renderedCoin{m: &m, files: map[string][]byte{}}
		for _, f := range files {
			rc.files[f.Path] = f.Data
		}
		coins = append(coins, rc)
	}
	return coins
}

// The unit runs the instance's tag hardened, publishes RPC only on
// deploy.rpc_address and P2P everywhere, limits memory only when the
// manifest says so, and never kills the daemon before stop_timeout.
func TestSystemdUnit(t *testing.T) {
	for _, c := range unitVariants(t) {
		name := fmt.Sprintf("%s/memory=%q,rpc_address=%s", c.m.Name, c.m.Runtime.Memory, c.m.Deploy.RPCAddress)
		t.Run(name, func(t *testing.T) {
			unit := c.files["node@.service"]
			run := dockerRun(t, unit)
			image := "${REGISTRY}/" + c.m.Deploy.ECRRepository + ":%i"
			if run[len(run)-1] != image {
				t.Errorf("docker run ends with %s, want the instance's tag %s", run[len(run)-1], image)
			}
			secs := c.m.Runtime.StopTimeout.Seconds()
			overlay := slices.ContainsFunc(c.m.Runtime.Config, func(f manifest.ConfigFile) bool { return f.Overlay })
			want := map[string][]string{
				"--cap-drop":     {"ALL"},
				"--security-opt": {"no-new-privileges"},
				"--tmpfs": {
					"/tmp:rw,noexec,nosuid,size=64m",
					fmt.Sprintf("/run/coinpipe:rw,noexec,nosuid,size=8m,uid=%d,gid=%d,mode=0700", c.m.Image.UID, c.m.Image.UID),
				},
				"--volume":              {"/var/lib/coinpipe/" + c.m.Name + ":" + c.m.Runtime.DataDir},
				"--env-file":            {"/etc/coinpipe/" + c.m.Name + ".env"},
				"--health-cmd":          {"coinpipe-health"},
				"--health-interval":     {"60s"},
				"--health-timeout":      {"30s"},
				"--health-retries":      {"3"},
				"--health-start-period": {fmt.Sprintf("%ds", max(2*secs, 300))},
				"--stop-signal":         {c.m.Runtime.StopSignal},
				"--stop-timeout":        {fmt.Sprint(secs)},
				"--memory":              nil,
			}
			if overlay {
				want["--volume"] = append(want["--volume"], "/etc/coinpipe/"+c.m.Name+".conf:/etc/coinpipe/overlay.conf:ro")
			}
			if c.m.Runtime.Memory != "" {
				want["--memory"] = []string{c.m.Runtime.Memory}
			}
			for flag, values := range want {
				if got := flagValues(run, flag); !slices.Equal(got, values) {
					t.Errorf("docker run %s %q, want %q", flag, got, values)
				}
			}
			if !slices.Contains(run, "--read-only") {
				t.Error("docker run without --read-only")
			}
			// Every port once: p2p on every address, the rest on
			// deploy.rpc_address only.
			var ports []string
			for group, list := range c.m.Runtime.Ports {
				for _, p := range list {
					if group == "p2p" {
						ports = append(ports, fmt.Sprintf("%d:%s", p.Number, p))
					} else {
						ports = append(ports, fmt.Sprintf("%s:%d:%s", c.m.Deploy.RPCAddress, p.Number, p))
					}
				}
			}
			slices.Sort(ports)
			published := flagValues(run, "--publish")
			slices.Sort(published)
			if !slices.Equal(published, ports) {
				t.Errorf("--publish %q, want %q", published, ports)
			}
			for _, line := range []string{
				fmt.Sprintf("ExecStop=/usr/bin/docker stop --time %d %s", secs, c.m.Name),
				fmt.Sprintf("TimeoutStopSec=%d", secs+60),
				"Restart=on-failure",
			} {
				if !bytes.Contains(unit, []byte("\n"+line+"\n")) {
					t.Errorf("no line %q", line)
				}
			}
			pre := strings.Join(unitDirective(unit, "ExecStartPre"), "\n")
			conf := "/etc/coinpipe/" + c.m.Name + ".conf"
			if creates := strings.Contains(pre, fmt.Sprintf("install -m 0640 -o root -g %d /dev/null %s", c.m.Image.UID, conf)); creates != overlay {
				t.Errorf("unit creates an empty %s: %v, want %v (overlay config: %v)", conf, creates, overlay, overlay)
			}
		})
	}
}

// The pull's shell, as systemd runs it: $$ becomes $, and the image is the
// first argument.
func pullScript(t *testing.T, unit []byte) (script string, args []string) {
	t.Helper()
	for _, pre := range unitDirective(unit, "ExecStartPre") {
		m := regexp.MustCompile(`^/bin/sh -c '([^']*)' (pull \S+)$`).FindStringSubmatch(pre)
		if m != nil && strings.Contains(m[1], "docker pull") {
			return strings.ReplaceAll(m[1], "$$", "$"), strings.Fields(m[2])
		}
	}
	t.Fatal("no ExecStartPre pulls the image")
	return "", nil
}

// A failed pull starts the image of the same tag already on the host, and
// says so in the journal; only when there is none does the start fail.
func TestUnitPullFallsBackToLocalImage(t *testing.T) {
	testenv.RequireTools(t, "shellcheck")
	const image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/coin-daemons/bitcoin:31.1"
	tests := []struct {
		name           string
		pull, inspect  int // exit codes of the fake docker
		wantCode       int
		wantStderr     string
		wantInvocation string
	}{
		{"pull works", 0, 0, 0, "", "pull --quiet " + image + "\n"},
		{"registry down, image on the host", 1, 0, 0,
			"pulling " + image + " failed; starting the local image of that tag\n",
			"pull --quiet " + image + "\nimage inspect " + image + "\n"},
		{"registry down, no image on the host", 1, 1, 1,
			"pulling " + image + " failed; starting the local image of that tag\nno local image " + image + " either: cannot start\n",
			"pull --quiet " + image + "\nimage inspect " + image + "\n"},
		{"pull timed out", 124, 0, 0,
			"pulling " + image + " failed; starting the local image of that tag\n",
			"pull --quiet " + image + "\nimage inspect " + image + "\n"},
	}
	var bitcoin renderedCoin
	for _, c := range renderAll(t, "../coins") {
		if c.m.Name == "bitcoin" {
			bitcoin = c
		}
	}
	script, args := pullScript(t, bitcoin.files["node@.service"])
	if want := []string{"pull", "${REGISTRY}/coin-daemons/bitcoin:%i"}; !slices.Equal(args, want) {
		t.Fatalf("pull arguments %q, want %q", args, want)
	}
	cmd := exec.Command("shellcheck", "--shell=sh", "--severity=style", "-")
	cmd.Stdin = strings.NewReader("#!/bin/sh\n" + script + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "docker.log")
			docker := filepath.Join(dir, "docker")
			os.WriteFile(docker, fmt.Appendf(nil, `#!/bin/sh
echo "$*" >>%s
case $1 in pull) exit %d;; image) exit %d;; esac
exit 99
`, log, tt.pull, tt.inspect), 0o755)
			// timeout passes its command through, as coreutils' does
			// when the command finishes in time.
			timeout := filepath.Join(dir, "timeout")
			os.WriteFile(timeout, []byte("#!/bin/sh\nshift\nexec \"$@\"\n"), 0o755)
			local := strings.NewReplacer("/usr/bin/docker", docker, "/usr/bin/timeout", timeout).Replace(script)
			if local == script {
				t.Fatal("the pull does not call /usr/bin/docker and /usr/bin/timeout")
			}
			var stderr bytes.Buffer
			run := exec.CommandContext(t.Context(), "sh", "-c", local, "pull", image)
			run.Stderr = &stderr
			err := run.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			calls, _ := os.ReadFile(log)
			if code != tt.wantCode || stderr.String() != tt.wantStderr || string(calls) != tt.wantInvocation {
				t.Errorf("exit %d, stderr %q, docker calls %q\nwant exit %d, stderr %q, docker calls %q",
					code, stderr.String(), calls, tt.wantCode, tt.wantStderr, tt.wantInvocation)
			}
		})
	}
}
