package rollout

import (
	"fmt"
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

// Survey lines a host answers, one fact per line.
const (
	keyNow         = "now"          // the host's clock, unix seconds
	keyUnit        = "unit"         // an active node@ unit
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
	return strings.Join([]string{
		`echo "now=$(date +%s)"`,
		`systemctl list-units 'node@*' --state=active --plain --no-legend | while read -r name _; do echo "unit=$name"; done`,
		`if h=$(` + s.height() + ` 2>&1); then echo "height=$h"; else echo "height-error=$h" | head -n 1; fi`,
		`if [ -f ` + m + ` ]; then echo "marker=$(head -n 1 ` + m + `)"; fi`,
	}, "\n") + "\n"
}

// writeMarker claims the hosts (again) for this rollout: the marker's time
// is the host's own clock, which the survey compares it with.
func (s scripts) writeMarker() string {
	m := q(s.marker())
	// Unique per shell: written whole, then renamed into place.
	tmp := q(s.marker()) + ".$$"
	return fmt.Sprintf("mkdir -p %s && printf '%%s %%s %%s\\n' \"$(date +%%s)\" %s %s > %s && mv -f %s %s\n",
		q(s.markerDir), q(s.target), q(s.who), tmp, tmp, m)
}

// removeMarker removes the marker when it is still this rollout's.
func (s scripts) removeMarker() string {
	m := q(s.marker())
	return fmt.Sprintf("if [ -f %s ] && [ \"$(head -n 1 %s | cut -d ' ' -f 3-)\" = %s ]; then rm -f %s; fi\n", m, m, q(s.who), m)
}

// switchTo stops every active node@ instance but the target's and starts
// the target: the same text for every host of a batch, whatever each ran.
// An instance already running the target is left as it is.
func (s scripts) switchTo(tag string) string {
	unit := "node@" + tag + ".service"
	return s.writeMarker() + strings.Join([]string{
		"set -u",
		// The height right before the switch: the gate's floor.
		"if h=$(" + s.height() + " 2>/dev/null); then echo \"height=$h\"; fi",
		"for unit in $(" + activeUnits + "); do",
		"  if [ \"$unit\" != " + q(unit) + " ]; then",
		"    echo \"stopping $unit\"",
		"    systemctl stop \"$unit\" || { echo \"stopping $unit failed\" >&2; exit 1; }",
		"  fi",
		"done",
		"echo " + q("starting "+unit),
		"systemctl start " + q(unit),
	}, "\n") + "\n"
}

// gate is the health gate, polled on the host itself (one SSM command per
// host however long it takes): the unit is active, the height answers, is
// not below the height recorded right before the switch, and advances past
// its first answer or reaches best, the height the other hosts had when
// the gate began (a synced node waits for the next block otherwise); until
// the health timeout ends.
func (s scripts) gate(tag string, before, best int64) string {
	unit := "node@" + tag + ".service"
	secs := int64(s.healthTimeout / time.Second)
	return strings.Join([]string{
		"set -u",
		fmt.Sprintf("unit=%s before=%d best=%d", q(unit), before, best),
		fmt.Sprintf("deadline=$(( $(date +%%s) + %d ))", secs),
		"first=''",
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
		"      if [ \"$h\" -lt \"$before\" ]; then",
		"        reason=\"height $h is below $before, recorded before the switch\"",
		"      elif [ \"$h\" -gt \"$first\" ] || { [ \"$best\" -gt 0 ] && [ \"$h\" -ge \"$best\" ]; }; then",
		"        echo \"healthy height=$h\"",
		"        exit 0",
		"      else",
		"        reason=\"height $h has not advanced\"",
		"      fi",
		"      ;;",
		"    esac",
		"  fi",
		"  if [ \"$(date +%s)\" -ge \"$deadline\" ]; then",
		fmt.Sprintf("    echo \"unhealthy after %s: $reason\"", s.healthTimeout),
		"    exit 1",
		"  fi",
		fmt.Sprintf("  sleep %d", pollInterval(s.healthTimeout)),
		"done",
	}, "\n") + "\n"
}

// heights asks the other hosts for their height, for the gate's best.
func (s scripts) heights() string { return s.height() + "\n" }

// rollback stops the new instance and starts the one the host ran before.
func (s scripts) rollback(from, to string) string {
	return s.writeMarker() + strings.Join([]string{
		"set -u",
		"systemctl stop " + q("node@"+from+".service") + " || exit 1",
		"systemctl start " + q("node@"+to+".service"),
	}, "\n") + "\n"
}

// pollInterval is how often the gate asks: a tenth of the health timeout,
// between 1 s (sleep takes whole seconds) and 10 s.
func pollInterval(healthTimeout time.Duration) int64 {
	return min(max(int64(healthTimeout/time.Second)/10, 1), 10)
}
