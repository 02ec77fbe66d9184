package ssm

// The stand-ins every simulated host has on its PATH. They are POSIX sh
// (plus GNU date's %N) and keep the host's state in files under the host's
// state directory, so the scripts coinpipe sends run against them exactly
// as on a host. lib.sh is shared; conf (written by the fleet) sets S (the
// state dir), COIN, ORIG, DESC, REGISTRY, INTERVAL_NS, WARMUP_NS,
// STOP_DELAY and START_DELAY.
//
// State: units/<unit> holds the unit's ActiveState; container holds
// "<tag> <start ns> <start height>" while the daemon's container runs;
// images/<tag> are the images pulled; height is the chain height in the
// data dir; faults/<name> are the faults on; events is the history,
// "<ns> <kind> <tag>" a line.

const libSh = `# Shared by the systemctl and docker stand-ins (internal/fake/ssm).
now() { date +%s%N; }
event() { echo "$(now) $1 $2" >> "$S/events"; }
lock() { until mkdir "$S/lock" 2>/dev/null; do sleep 0.01; done; }
unlock() { rmdir "$S/lock"; }
fault() { [ -e "$S/faults/$1" ] && [ "$2" != "$ORIG" ]; }
[ -e "$S/faults/hang" ] && exec sleep 86400
# Builtins only where it is cheap: a fleet of hosts shares the test's cores.
unitstate() { if [ -f "$S/units/$1" ]; then read -r _st < "$S/units/$1"; echo "$_st"; else echo inactive; fi; }
setunit() { echo "$2" > "$S/units/$1"; }
# height prints the running daemon's height (the container must exist).
height() {
	read -r ctag cstart ch0 < "$S/container"
	[ -n "${t_now:-}" ] || t_now=$(now)
	blocks=$(( (t_now - cstart) / INTERVAL_NS ))
	if fault stall "$ctag"; then echo "$ch0"
	elif fault backwards "$ctag"; then echo $(( ch0 - 1 - blocks ))
	else echo $(( ch0 + blocks )); fi
}
# stopcontainer ends the daemon the way docker stop does: it flushes its
# chain state (a faulty daemon's is not kept) after STOP_DELAY.
stopcontainer() {
	read -r ctag cstart ch0 < "$S/container"
	u="node@$ctag.service"
	setunit "$u" deactivating
	event stopping "$ctag"
	unlock
	sleep "$STOP_DELAY"
	lock
	if ! fault stall "$ctag" && ! fault backwards "$ctag"; then height > "$S/height"; fi
	rm -f "$S/container"
	setunit "$u" inactive
	event stopped "$ctag"
}
`

const systemctlSh = `#!/bin/sh
# systemctl stand-in of a simulated coinpipe host (internal/fake/ssm): the
# node@.service template only, one container named $COIN at a time.
. "${0%/*}/../state/conf"
. "$S/lib.sh"

unit() {
	case $1 in *.service) echo "$1" ;; *) echo "$1.service" ;; esac
}
# tagof prints the instance of a node@ unit, fails for any other unit.
tagof() {
	t=${1#node@}
	t=${t%.service}
	case $1 in node@?*.service) echo "$t" ;; *) return 1 ;; esac
}
# expand prints the loaded units a pattern names (a glob, as systemctl's).
expand() {
	case $1 in
	*'*'* | *'?'* | *'['*)
		for f in "$S"/units/*; do
			[ -e "$f" ] || continue
			n=${f##*/}
			# shellcheck disable=SC2254
			case $n in $1 | $1.service) echo "$n" ;; esac
		done ;;
	*) unit "$1" ;;
	esac
}
failed_job() {
	echo "Job for $1 failed because the control process exited with error code." >&2
	echo "See \"systemctl status $1\" and \"journalctl -xeu $1\" for details." >&2
	exit 1
}
sub() {
	case $1 in
	active) echo running ;; activating) echo auto-restart ;; deactivating) echo stop-sigterm ;;
	failed) echo failed ;; *) echo dead ;;
	esac
}

start() {
	u=$(unit "$1")
	tag=$(tagof "$u") || { echo "Failed to start $u: Unit $u not found." >&2; exit 5; }
	lock
	if [ "$(unitstate "$u")" = active ]; then unlock; return 0; fi
	# The unit's ExecStartPre docker rm and its docker run --name $COIN fail
	# while another instance's container runs.
	if [ -e "$S/container" ]; then
		setunit "$u" failed
		event conflict "$tag"
		unlock
		failed_job "$u"
	fi
	if [ -e "$REGISTRY/$tag" ]; then
		: > "$S/images/$tag"
	elif [ ! -e "$S/images/$tag" ]; then
		setunit "$u" failed
		unlock
		failed_job "$u"
	fi
	setunit "$u" activating
	event starting "$tag"
	unlock
	sleep "$START_DELAY"
	lock
	if fault crash "$tag"; then
		# Type=exec: start succeeds, the daemon dies at once, and
		# Restart=on-failure keeps the unit activating (auto-restart).
		event crashed "$tag"
	else
		read -r h0 < "$S/height"
		echo "$tag $(now) $h0" > "$S/container"
		setunit "$u" active
		event started "$tag"
	fi
	unlock
}

stop() {
	for u in $(expand "$1"); do
		tagof "$u" > /dev/null || { echo "Failed to stop $u: Unit $u not loaded." >&2; exit 5; }
		lock
		case $(unitstate "$u") in
		active)
			if [ -e "$S/container" ]; then stopcontainer; else setunit "$u" inactive; fi ;;
		activating) setunit "$u" inactive ;;
		esac
		unlock
	done
}

cmd=
quiet=
value=
props=
states=
legend=yes
patterns=
while [ $# -gt 0 ]; do
	case $1 in
	-q | --quiet) quiet=yes ;;
	--value) value=yes ;;
	-p) shift; props=$1 ;;
	--property=*) props=${1#--property=} ;;
	--state=*) states=${1#--state=} ;;
	--no-legend) legend= ;;
	--plain | --no-pager | --type=service | --all | --full) ;;
	-*) echo "systemctl (coinpipe fake): unsupported option $1" >&2; exit 64 ;;
	*) if [ -z "$cmd" ]; then cmd=$1; else patterns="$patterns $1"; fi ;;
	esac
	shift
done

case $cmd in
start)
	[ -n "$patterns" ] || { echo "Too few arguments." >&2; exit 1; }
	for p in $patterns; do start "$p"; done ;;
stop)
	[ -n "$patterns" ] || { echo "Too few arguments." >&2; exit 1; }
	for p in $patterns; do stop "$p"; done ;;
restart)
	for p in $patterns; do stop "$p"; start "$p"; done ;;
is-active)
	rc=0
	for p in $patterns; do
		st=$(unitstate "$(unit "$p")")
		[ -n "$quiet" ] || echo "$st"
		[ "$st" = active ] || rc=3
	done
	exit $rc ;;
list-units)
	[ -z "$patterns" ] && patterns='*'
	n=0
	[ -z "$legend" ] || printf '%s\n' 'UNIT LOAD ACTIVE SUB DESCRIPTION'
	for p in $patterns; do
		for u in $(expand "$p"); do
			[ -f "$S/units/$u" ] || continue
			read -r st < "$S/units/$u"
			if [ -n "$states" ]; then
				case ",$states," in *",$st,"*) ;; *) continue ;; esac
			elif [ "$st" = inactive ]; then
				continue
			fi
			# sub and tagof inline: no subshell per unit.
			case $st in
			active) sb=running ;; activating) sb=auto-restart ;; deactivating) sb=stop-sigterm ;;
			failed) sb=failed ;; *) sb=dead ;;
			esac
			t=${u#node@}
			echo "$u loaded $st $sb $DESC ${t%.service} (coinpipe)"
			n=$((n + 1))
		done
	done
	[ -z "$legend" ] || printf '\n%s loaded units listed.\n' "$n" ;;
show)
	for p in $patterns; do
		u=$(unit "$p")
		st=$(unitstate "$u")
		for prop in $(echo "$props" | tr ',' ' '); do
			case $prop in
			ActiveState) v=$st ;; SubState) v=$(sub "$st") ;; Id) v=$u ;;
			*) echo "systemctl (coinpipe fake): unsupported property $prop" >&2; exit 64 ;;
			esac
			if [ -n "$value" ]; then echo "$v"; else echo "$prop=$v"; fi
		done
	done ;;
reset-failed)
	for p in $patterns; do
		for u in $(expand "$p"); do
			[ "$(unitstate "$u")" = failed ] && setunit "$u" inactive
		done
	done
	exit 0 ;;
daemon-reload) ;;
*) echo "systemctl (coinpipe fake): unsupported command ${cmd:-(none)}" >&2; exit 64 ;;
esac
`

const dockerSh = `#!/bin/sh
# docker stand-in of a simulated coinpipe host (internal/fake/ssm).
. "${0%/*}/../state/conf"
. "$S/lib.sh"

nosuch() { echo "Error response from daemon: No such container: $1" >&2; exit 1; }
running() { [ "$1" = "$COIN" ] && [ -e "$S/container" ]; }

case $1 in
exec)
	shift
	while :; do case $1 in -i | -t | -it) shift ;; *) break ;; esac; done
	name=$1
	shift
	running "$name" || nosuch "$name"
	case $1 in
	coinpipe-height)
		read -r ctag cstart ch0 < "$S/container"
		t_now=$(now)
		if [ $(( t_now - cstart )) -lt "$WARMUP_NS" ]; then
			printf 'error code: -28\nerror message:\nLoading block index…\n' >&2
			exit 1
		fi
		height ;;
	*)
		echo "OCI runtime exec failed: exec failed: unable to start container process: exec: \"$1\": executable file not found in \$PATH: unknown" >&2
		exit 126 ;;
	esac ;;
inspect)
	shift
	format=
	case $1 in -f | --format) format=$2; shift 2 ;; --format=*) format=${1#--format=}; shift ;; esac
	running "$1" || { echo "Error: No such object: $1" >&2; exit 1; }
	read -r ctag cstart ch0 < "$S/container"
	case $format in
	'{{.Config.Image}}') echo "coin-daemons/$COIN:$ctag" ;;
	'{{.State.Running}}') echo true ;;
	*) echo "docker (coinpipe fake): unsupported inspect format '$format'" >&2; exit 64 ;;
	esac ;;
stop)
	shift
	while :; do case $1 in -t | --time) shift 2 ;; --time=*) shift ;; *) break ;; esac; done
	running "$1" || nosuch "$1"
	lock
	[ -e "$S/container" ] && stopcontainer
	unlock
	echo "$1" ;;
kill | rm)
	op=$1
	shift
	force=
	case $1 in -f | --force) force=yes; shift ;; esac
	if ! running "$1"; then nosuch "$1"; fi
	if [ "$op" = rm ] && [ -z "$force" ]; then
		echo "Error response from daemon: cannot remove container \"/$1\": container is running: stop the container before removing or force remove" >&2
		exit 1
	fi
	# Killing the daemon is what a rollout must never do: it is recorded.
	lock
	read -r ctag cstart ch0 < "$S/container"
	rm -f "$S/container"
	setunit "node@$ctag.service" activating
	event killed "$ctag"
	unlock
	echo "$1" ;;
pull)
	shift
	[ "$1" = --quiet ] && shift
	tag=${1##*:}
	if [ -e "$REGISTRY/$tag" ]; then : > "$S/images/$tag"; echo "$1"; else
		echo "Error response from daemon: manifest for $1 not found: manifest unknown: Requested image not found" >&2
		exit 1
	fi ;;
image)
	[ "$2" = inspect ] || { echo "docker (coinpipe fake): unsupported image command $2" >&2; exit 64; }
	tag=${3##*:}
	if [ -e "$S/images/$tag" ]; then echo "[{\"RepoTags\":[\"$3\"]}]"; else
		echo "Error response from daemon: No such image: $3" >&2
		exit 1
	fi ;;
*) echo "docker (coinpipe fake): unsupported command $*" >&2; exit 64 ;;
esac
`
