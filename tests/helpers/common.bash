# common.bash - shared bats set-up: load it first in every bats file with
#   load helpers/common
# It gives each test a private temp dir ($T), puts the built tools first on
# PATH, and loads bats-support and bats-assert.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BUILD_DIR="$TOP/${BUILD:-build}"
export PATH="$BUILD_DIR/bin:$BUILD_DIR/tests:$PATH"
export LC_ALL=C
CONFORMANCE="$TOP/../shared/conformance/cloudevents-json"

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
