#!/usr/bin/env bash
# valgrind.sh - one run of each tool under valgrind's memcheck, each on a
# path that exercises most of its code: no definite or indirect leak, no
# invalid access (make test-valgrind, .ci/run). Prints one line per run and
# "N passed, N failed" at the end (also to $BUILD/test-valgrind-summary).
#
# What counts: memcheck errors and "definitely"/"indirectly lost" blocks.
# "Still reachable" and "possibly lost" are librdkafka's and libcurl's
# process-lifetime state (global init, thread-local caches), not leaks a
# long-running relay or consumer could grow by.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
export PATH="$top/$BUILD/bin:$top/$BUILD/tests:$PATH" LC_ALL=C
summary=$top/$BUILD/test-valgrind-summary
rm -f "$summary"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is missing (make deps)" >&2; echo "0 passed, 1 failed" | tee "$summary"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/valgrind.XXXXXX") || exit 70
mock_pid=
cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
passed=0 failed=0

# vg NAME CMD...: run CMD under memcheck, its log in $W/NAME.vg; the
# verdict goes to fd 3 (the script's stdout), as CMD's stdout may be a file.
exec 3>&1
vg() {
	local name=$1 rc=0
	shift
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$W/$name.vg" \
		"$@" || rc=$?
	if [ "$rc" -eq 99 ] || grep -q '^==[0-9]*== .' "$W/$name.vg"; then
		{ echo "not ok $name: memcheck found errors or leaks:"; sed 's/^/    /' "$W/$name.vg"; } >&3
		failed=$((failed + 1))
	elif [ "$rc" -ne "${want:-0}" ]; then
		echo "not ok $name: exit $rc, wanted ${want:-0}" >&3
		failed=$((failed + 1))
	else
		echo "ok $name" >&3
		passed=$((passed + 1))
	fi
}

# A mock cluster on its own: the relay and the consumer need a broker.
mkfifo "$W/mock.in" || exit 70
kafka-mock -b 1 -t vg:2 -t error.vg.g:2 --port-file "$W/port" <"$W/mock.in" >"$W/mock.out" 2>&1 &
mock_pid=$!
exec 9>"$W/mock.in" # held open: the mock runs until this script ends
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
[ -s "$W/port" ] || { echo "valgrind.sh: the mock cluster did not start" >&2; exit 70; }
export KAFKA_BROKERS=$(cat "$W/port")
printf 'producer x.E xProducer-out-0 vg\n' >"$W/b.conf"

seq 1 20 | awk '{ printf "{\"n\":%d,\"k\":\"k%d\"}\n", $1, $1 % 3 }' >"$W/payloads"
vg cloudevent-wrap cloudevent-wrap -t x.E -s /vg --partition-key-from /k --subject-from /n <"$W/payloads" >"$W/events"
vg outbox-enqueue outbox-enqueue -q --db "$W/o.db" "$W/events"
vg event-bindings-explain event-bindings -B "$W/b.conf" explain "$W/events" >/dev/null
vg event-bindings-check event-bindings -B "$W/b.conf" -q check
vg outbox-relay outbox-relay --once -q --db "$W/o.db" -B "$W/b.conf" --metrics-file "$W/r.prom"
vg outbox-relay-status outbox-relay status --json --db "$W/o.db" >/dev/null
vg outbox-relay-list outbox-relay list --status any --db "$W/o.db" >/dev/null
# The consumer with a group, a handler that dead-letters one event, a
# dedupe store and metrics: its widest path.
vg event-consume event-consume -q -t vg -g g -X session.timeout.ms=6000 --exit-eof \
	--dedupe "$W/d.db" --metrics-file "$W/c.prom" --max-attempts 1 \
	--exec 'cat >/dev/null; [ "$CE_SUBJECT" != 7 ]'
vg event-consume-print event-consume -q -t vg --from beginning --exit-eof -c 20 >/dev/null
echo "$passed passed, $failed failed" | tee "$summary"
[ "$failed" -eq 0 ]
