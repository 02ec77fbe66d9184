package rollout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gitlab.com/coinpipe/coinpipe/generator"
)

// The commands the rollout sends. SSM runs each with /bin/sh on the host
// (AWS-RunShellScript): every value is quoted with the generator's quoting,
// they only ever stop and start node@<tag> (the unit waits stop_timeout and
// never kills the daemon), and they write nothing but the marker beside the
// data dir, never in it.

var q = generator.ShellQuote

// DefaultMarkerDir holds the marker file <coin>.rollout, next to (not in)
// the data dir /var/lib/coinpipe/<coin>.
const DefaultMarkerDir = "/var/lib/coinpipe"

// markerFailed starts the line a command prints when it could not write
// the marker, and stops.
const markerFailed = "marker-failed: cannot write"

// Survey lines a host answers, one fact per line, besides systemctl's own
// lines of the active node@ units.
const (
	keyNow         = "now"          // the host's clock, unix seconds (with a marker)
	keyHeight      = "height"       // the running node's height
	keyHeightError = "height-error" // why there is none
	keyMarker      = "marker"       // the marker's line: <unix> <target> <who>
)

// activeUnits lists the active node@ units, one name per line.
const activeUnits = `systemctl list-units 'node@*' --state=active --plain --no-legend | while read -r name _; do echo "$name"; done`

type scripts struct {
	coin, target, who, markerDir string
	healthTimeout                time.Duration
}

func (s scripts) marker() string { return s.markerDir + "/" + s.coin + ".rollout" }

func (s scripts) height() string { return "docker exec " + q(s.coin) + " coinpipe-height" }

// survey records what the host runs, its height and the marker, in one command.
func (s scripts) survey() string {
	m := q(s.marker())
	// As few processes as can be: a host runs it while it serves.
	return strings.Join([]string{
		`systemctl list-units 'node@*' --state=active --plain --no-legend`,
		`if h=$(` + s.height() + ` 2>&1); then echo "height=$h"; else echo "height-error=$h" | head -n 1; fi`,
		`if [ -f ` + m + ` ]; then echo "now=$(date +%s)"; read -r line < ` + m + `; echo "marker=$line"; fi`,
	}, "\n") + "\n"
}

// writeMarker claims the hosts (again) for this rollout: the marker's time
// is the host's own clock, which the survey compares it with.
func (s scripts) writeMarker() string {
	m := q(s.marker())
	// Unique per shell: written whole, then renamed into place.
	tmp := q(s.marker()) + ".$$"
	// A host that cannot hold the marker is not switched: another rollout
	// could not see this one.
	return fmt.Sprintf("if ! { { [ -d %s ] || mkdir -p %s; } && printf '%%s %%s %%s\\n' \"$(date +%%s)\" %s %s > %s && mv -f %s %s; }; then echo %s; exit 1; fi\n",
		q(s.markerDir), q(s.markerDir), q(s.target), q(s.who), tmp, tmp, m, q(markerFailed+" "+s.marker()))
}

// removeMarker removes the marker when it is still this rollout's.
func (s scripts) removeMarker() string {
	m := q(s.marker())
	return fmt.Sprintf("if [ -f %s ] && [ \"$(head -n 1 %s | cut -d ' ' -f 3-)\" = %s ]; then rm -f %s; fi\n", m, m, q(s.who), m)
}

// switchTo stops every active node@ instance but the target's, starts the
// target and runs the health gate on it, all in one command, the same text
// for every host of a batch whatever each ran: so a batch costs one SSM
// round trip, not one per step. The text being the same, the gate's floor
// (each host's height in the survey) is held by the rollout when the host
// answers. An instance already running the target is left as it is.
func (s scripts) switchTo(tag string) string {
	return s.writeMarker() + strings.Join([]string{
		"set -u",
		"unit=" + q("node@"+tag+".service"),
		"before=0",
		"for u in $(" + activeUnits + "); do",
		"  if [ \"$u\" != \"$unit\" ]; then",
		"    echo \"stopping $u\"",
		"    systemctl stop \"$u\" || { echo \"stopping $u failed\" >&2; exit 1; }",
		"  fi",
		"done",
		"echo \"starting $unit\"",
		"systemctl start \"$unit\" || exit 1",
	}, "\n") + "\n" + s.gateLoop(s.healthTimeout, true)
}

// rollback stops the new instance (whatever its state: a crashing one
// keeps restarting) and starts the one the host ran before, then gates it
// against the height recorded before the switch, in one command.
func (s scripts) rollback(from, to string, floor int64) string {
	return s.writeMarker() + strings.Join([]string{
		"set -u",
		"systemctl stop " + q("node@"+from+".service") + " || exit 1",
		"unit=" + q("node@"+to+".service"),
		fmt.Sprintf("before=%d", floor),
		"echo \"starting $unit\"",
		"systemctl start \"$unit\" || exit 1",
	}, "\n") + "\n" + s.gateLoop(s.healthTimeout, true)
}

// gate is the rest of a health gate whose first part ended "ready": the
// daemon answered but did not advance within the window, and best is the
// height the other hosts have now. It runs for the time left.
func (s scripts) gate(tag string, before, best int64, left time.Duration) string {
	return strings.Join([]string{
		"set -u",
		fmt.Sprintf("unit=%s before=%d best=%d", q("node@"+tag+".service"), before, best),
	}, "\n") + "\n" + s.gateLoop(left, false)
}

// gateLoop is the health gate, polled on the host itself: the unit ($unit)
// is active, the height answers, is not below $before, and advances past
// its first answer (or reaches $best, the other hosts' height, when set),
// until timeout ends: then "healthy height=N", or "unhealthy after …:
// why" and exit 1. With window, a daemon that answers but has not
// advanced after a fifth of the timeout (at most a minute) ends the command
// with "ready height=N elapsed=S": a node already at the chain's tip waits
// for the next block otherwise, so the rollout compares it with the other
// hosts and gates it again with gate for the rest of the time.
func (s scripts) gateLoop(timeout time.Duration, window bool) string {
	secs := max(int64(timeout/time.Second), 1)
	poll := pollInterval(s.healthTimeout)
	var ready []string // no window: wait for the advance or the best height
	if window {
		n := max(int64(min(s.healthTimeout/5, time.Minute)/poll), 1)
		ready = []string{
			fmt.Sprintf("      elif [ \"$polls\" -ge %d ]; then", n),
			"        echo \"ready height=$h elapsed=$(( $(date +%s) - started ))\"",
			"        exit 0",
		}
	}
	return strings.Join(slices.Concat([]string{
		"[ -n \"${best:-}\" ] || best=0",
		"started=$(date +%s)",
		fmt.Sprintf("deadline=$(( started + %d ))", secs),
		"first='' polls=0",
		"while :; do",
		"  if ! systemctl is-active --quiet \"$unit\"; then",
		"    reason=\"$unit is not active\"",
		"  elif ! h=$(" + s.height() + " 2>&1); then",
		"    reason=\"the height does not answer: $(echo \"$h\" | head -n 1)\"",
		"  else",
		"    case $h in",
		"    '' | *[!0-9]*) reason=\"the height answered $(echo \"$h\" | head -n 1)\" ;;",
		"    *)",
		"      [ -n \"$first\" ] || first=$h",
		"      polls=$(( polls + 1 ))",
		"      if [ \"$h\" -lt \"$before\" ]; then",
		"        reason=\"height $h is below $before, recorded before the switch\"",
		"      elif [ \"$h\" -gt \"$first\" ] || { [ \"$best\" -gt 0 ] && [ \"$h\" -ge \"$best\" ]; }; then",
		"        echo \"healthy height=$h\"",
		"        exit 0",
	}, ready, []string{
		"      else",
		"        reason=\"height $h has not advanced\"",
		"      fi",
		"      ;;",
		"    esac",
		"  fi",
		"  if [ \"$(date +%s)\" -ge \"$deadline\" ]; then",
		fmt.Sprintf("    echo \"unhealthy after %s: $reason\"", timeout.Round(time.Second)),
		"    exit 1",
		"  fi",
		// Fractions of a second where sleep takes them (GNU, busybox).
		fmt.Sprintf("  sleep %s 2>/dev/null || sleep 1", seconds(poll)),
		"done",
	}), "\n") + "\n"
}

// heights asks the other hosts for their height, for the gate's best.
func (s scripts) heights() string { return s.height() + "\n" }

// pollInterval is how often the gate asks: a thirtieth of the health
// timeout, between 0.1 s and 5 s.
func pollInterval(healthTimeout time.Duration) time.Duration {
	return min(max(healthTimeout/30, 100*time.Millisecond), 5*time.Second).Round(100 * time.Millisecond)
}

// seconds writes d for sleep: "0.3", "5".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
