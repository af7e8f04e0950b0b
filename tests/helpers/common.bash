# common.bash - shared bats set-up: load it first in every bats file with
#   load helpers/common
# It gives each test a private temp dir ($T), puts the built tools first on
# PATH, and loads bats-support and bats-assert.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

# The project root: the nearest directory above the test file that holds
# the Makefile (bats files live in tests/ and in tests/*/).
TOP=$BATS_TEST_DIRNAME
while [ ! -f "$TOP/Makefile" ] && [ "$TOP" != / ]; do TOP=$(dirname "$TOP"); done
TOP=$(cd "$TOP" && pwd)
BUILD_DIR="$TOP/${BUILD:-build}"
export PATH="$BUILD_DIR/bin:$BUILD_DIR/tests:$PATH"
export LC_ALL=C
# The read-only shared material (seed, conformance vectors): $SHARED_DIR as
# tests/run found it, else beside the checkout.
SHARED_DIR=${SHARED_DIR:-$TOP/../shared}
CONFORMANCE="$SHARED_DIR/conformance/cloudevents-json"

common_setup() {
	T="$BATS_TEST_TMPDIR"
	unset OUTBOX_DB EVENT_BINDINGS CE_SOURCE TRACEPARENT TRACESTATE KAFKA_BROKERS
}

# wait_for TIMEOUT_SECONDS COMMAND...: poll COMMAND until it succeeds;
# fail the test if it does not within the bound. Never a fixed sleep.
wait_for() {
	local limit=$1 i=0
	shift
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt $((limit * 20)) ]; then
			echo "wait_for: timed out after ${limit}s: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# stops_on_closed_pipe INPUT CMD...: feed INPUT to CMD through a fifo that
# never reaches end of file, read one output line, close the pipe, and
# succeed only if CMD then exits 0 by itself (bounded wait). The first output
# line is left in $T/first.
stops_on_closed_pipe() {
	local input=$1 pid feeder rc=0
	shift
	rm -f "$T/spin" "$T/spout"
	mkfifo "$T/spin" "$T/spout"
	exec 5<>"$T/spin"
	"$@" <"$T/spin" >"$T/spout" 5>&- &
	pid=$!
	cat "$input" >&5 &
	feeder=$!
	head -n 1 <"$T/spout" >"$T/first"
	wait_for 20 eval "! kill -0 $pid" || rc=1
	[ "$rc" -eq 0 ] && { wait "$pid" || rc=$?; }
	kill "$feeder" "$pid" 2>/dev/null || true
	exec 5>&-
	return "$rc"
}

# man_examples PAGE DIR: write each command of PAGE's EXAMPLES section to
# DIR/exN (a "$ " line and the lines continuing it after a trailing "|" or
# "\"), and the lines shown after it, if any, to DIR/exN.out. mdoc's \e
# becomes a backslash. Prints the number of commands.
man_examples() {
	awk -v dir="$2" '
		/^\.Sh EXAMPLES/ { e = 1; next }
		/^\.Sh / { e = 0 }
		!e { next }
		/^\.Bd -literal/ { b = 1; cont = 0; next }
		/^\.Ed/ { b = 0; cont = 0; next }
		!b { next }
		{ gsub(/\\e/, "\\") }
		/^\$ / { n++; sub(/^\$ /, ""); print > (dir "/ex" n); cont = /[|\\]$/; next }
		cont { print > (dir "/ex" n); cont = /[|\\]$/; next }
		n { print > (dir "/ex" n ".out") }
		END { print n + 0 }' "$1"
}