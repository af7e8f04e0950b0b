# kafka.bash - bats helpers around the mock Kafka cluster ($BUILD/tests/kafka-mock,
# protocol at the top of tests/helpers/kafka-mock.c). Load after common:
#
#   load helpers/common
#   load helpers/kafka
#   setup_file()    { kafka_mock_start -b 3 -t orders:4; }
#   teardown_file() { kafka_mock_stop; }
#   setup()         { common_setup; kafka_mock_env; }
#
# kafka_mock_start runs one mock for the whole test file and exports
# KAFKA_MOCK_BROKERS and KAFKA_BROKERS (the bootstrap list). common_setup
# clears KAFKA_BROKERS so that no test picks it up by accident; call
# kafka_mock_env after it to export it again, or pass -b "$KAFKA_MOCK_BROKERS".
#
# Commands go through a FIFO and answers come back in a file, because each
# test runs in its own process: a coproc started in setup_file would not
# survive into the tests. Every wait is bounded by KAFKA_MOCK_TIMEOUT seconds.
#
# New files should use the tier-aware API at the end of this file
# (kafka_start, kafka_env, kafka_topic, kafka_fault): the same file then
# also runs against a real broker in `make test-kafka`.

KAFKA_MOCK_TIMEOUT=${KAFKA_MOCK_TIMEOUT:-20}

# True while the mock process exists and is not a zombie.
_kafka_mock_alive() {
	local pid=${KAFKA_MOCK_PID:-} stat
	[ -n "$pid" ] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	# A zombie still answers kill -0; the state is the field after "(comm)".
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

_kafka_mock_dead() { ! _kafka_mock_alive; }

_kafka_mock_lines() { wc -l <"$KAFKA_MOCK_DIR/out"; }

# Ready when the answer count passed $1, or the mock died (checked after).
_kafka_mock_answered() {
	[ "$(_kafka_mock_lines)" -gt "$1" ] || _kafka_mock_dead
}

# kafka_mock_start [kafka-mock options]: start the mock in the background and
# wait (bounded) for its bootstrap line.
kafka_mock_start() {
	KAFKA_MOCK_DIR="${BATS_FILE_TMPDIR:-$BATS_TMPDIR}/kafka-mock"
	rm -rf "$KAFKA_MOCK_DIR"
	mkdir -p "$KAFKA_MOCK_DIR" || return 1
	mkfifo "$KAFKA_MOCK_DIR/in" || return 1
	: >"$KAFKA_MOCK_DIR/out"
	# <> opens the FIFO read-write, so the mock holds a writer itself and
	# one command's writer closing never reads as EOF. 3>&- because bats
	# waits for every holder of its fd 3 before it reports the file done.
	kafka-mock "$@" <>"$KAFKA_MOCK_DIR/in" >"$KAFKA_MOCK_DIR/out" \
		2>"$KAFKA_MOCK_DIR/err" 3>&- &
	KAFKA_MOCK_PID=$!
	export KAFKA_MOCK_PID KAFKA_MOCK_DIR
	if ! wait_for "$KAFKA_MOCK_TIMEOUT" _kafka_mock_answered 0 ||
		[ "$(_kafka_mock_lines)" -lt 1 ]; then
		echo "kafka_mock_start: no bootstrap line from kafka-mock $*" >&2
		cat "$KAFKA_MOCK_DIR/err" >&2
		kafka_mock_stop
		return 1
	fi
	KAFKA_MOCK_BROKERS=$(head -n 1 "$KAFKA_MOCK_DIR/out")
	KAFKA_BROKERS=$KAFKA_MOCK_BROKERS
	export KAFKA_MOCK_BROKERS KAFKA_BROKERS
}

# Export KAFKA_BROKERS again after common_setup cleared it (the cluster
# kafka_start chose, when it was used).
kafka_mock_env() {
	export KAFKA_BROKERS="${KAFKA_TEST_BROKERS:-$KAFKA_MOCK_BROKERS}"
}

# kafka_mock_cmd WORD...: send one command, wait (bounded) for its answer,
# print the answer on stdout; succeed only when it starts with "ok".
kafka_mock_cmd() {
	local before answer
	if [ "${KAFKA_TIER:-mock}" = real ]; then
		echo "kafka_mock_cmd: the real tier has no mock: use kafka_topic or kafka_fault" >&2
		return 1
	fi
	if ! _kafka_mock_alive; then
		echo "kafka_mock_cmd: kafka-mock is not running" >&2
		return 1
	fi
	before=$(_kafka_mock_lines)
	# Opening a FIFO for writing blocks while nobody reads it: bound it.
	if ! timeout "$KAFKA_MOCK_TIMEOUT" sh -c 'printf "%s\n" "$1" >"$2"' _ "$*" "$KAFKA_MOCK_DIR/in"; then
		echo "kafka_mock_cmd: cannot send \"$*\"" >&2
		return 1
	fi
	if ! wait_for "$KAFKA_MOCK_TIMEOUT" _kafka_mock_answered "$before" ||
		[ "$(_kafka_mock_lines)" -le "$before" ]; then
		echo "kafka_mock_cmd: no answer to \"$*\"" >&2
		cat "$KAFKA_MOCK_DIR/err" >&2
		return 1
	fi
	answer=$(sed -n "$((before + 1))p" "$KAFKA_MOCK_DIR/out")
	printf '%s\n' "$answer"
	case $answer in
	ok | "ok "*) return 0 ;;
	*) echo "kafka_mock_cmd: $*: $answer" >&2; return 1 ;;
	esac
}

# kafka_mock_stop: quit the mock and wait (bounded) until it is gone;
# SIGTERM, then SIGKILL, if it does not go. Safe to call twice.
kafka_mock_stop() {
	[ -n "${KAFKA_MOCK_PID:-}" ] || return 0
	if _kafka_mock_alive; then
		timeout 5 sh -c 'printf "quit\n" >"$1"' _ "$KAFKA_MOCK_DIR/in" || true
		if ! wait_for "$KAFKA_MOCK_TIMEOUT" _kafka_mock_dead; then
			kill -TERM "$KAFKA_MOCK_PID" 2>/dev/null
			wait_for 5 _kafka_mock_dead || kill -KILL "$KAFKA_MOCK_PID" 2>/dev/null
		fi
	fi
	# Reap it when it is our child; harmless otherwise.
	wait "$KAFKA_MOCK_PID" 2>/dev/null || true
	unset KAFKA_MOCK_PID
}

# ---- tier-aware API: the mock, or a real broker --------------------------
#
# A bats file written against these runs on the mock by default and on a
# real Apache Kafka broker when KAFKA_TIER=real (make test-kafka sets it,
# with KAFKA_REAL_BROKERS and the SASL settings, see tests/kafka/run):
#
#   setup_file()    { kafka_start -t orders:4 -t audit:1; }
#   teardown_file() { kafka_stop; }
#   setup()         { common_setup; kafka_env; }
#   ... -b "$KAFKA_TEST_BROKERS" ...   kafka_topic later 3
#   kafka_fault down 1                 # the mock only: skips under real
#   kafka_need_mock "injects a Produce error"   # skip under real, say why
#   kafka_down; ...; kafka_up          # unreachable, then back: both tiers
#
# Under the real tier kafka_start gives the file a clean cluster, as the
# mock does: it deletes every consumer group and every non-internal topic
# left by an earlier file and creates the requested ones (waiting until each partition has a
# leader). Test files run one after the other, so fixed topic names do not
# collide. The broker belongs to the runner: kafka_stop leaves it running.

kafka_tier() { [ "${KAFKA_TIER:-mock}" = real ] && echo real || echo mock; }

_kafka_admin() {
	kafka-admin -b "$KAFKA_REAL_BROKERS" "$@"
}

# kafka_start [-b BROKERS] [-t TOPIC:PARTITIONS[:RF]]...: the kafka-mock
# options. The real tier has one broker: -b is ignored there, RF above 1 is
# created as 1.
kafka_start() {
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_start "$@"
		KAFKA_TEST_BROKERS=$KAFKA_MOCK_BROKERS
		export KAFKA_TEST_BROKERS
		return
	fi
	if [ -z "${KAFKA_REAL_BROKERS:-}" ]; then
		echo "kafka_start: KAFKA_TIER=real needs KAFKA_REAL_BROKERS (run make test-kafka)" >&2
		return 1
	fi
	local topics=() spec name parts
	while [ $# -gt 0 ]; do
		case $1 in
		-b) shift 2 ;;
		-t) topics+=("$2"); shift 2 ;;
		*) echo "kafka_start: unknown option $1" >&2; return 1 ;;
		esac
	done
	_kafka_admin reset || return 1
	for spec in "${topics[@]}"; do
		IFS=: read -r name parts _ <<<"$spec"
		_kafka_admin create "$name" "$parts" || return 1
	done
	KAFKA_TEST_BROKERS=$KAFKA_REAL_BROKERS
	KAFKA_BROKERS=$KAFKA_REAL_BROKERS
	export KAFKA_TEST_BROKERS KAFKA_BROKERS
}

# Export KAFKA_BROKERS again after common_setup cleared it.
kafka_env() {
	export KAFKA_BROKERS="$KAFKA_TEST_BROKERS"
}

kafka_stop() {
	[ "$(kafka_tier)" = mock ] && kafka_mock_stop
	return 0
}

# kafka_topic NAME PARTITIONS [RF]: create a topic on either tier.
kafka_topic() {
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_cmd topic "$@" >/dev/null
	else
		_kafka_admin create "$1" "$2"
	fi
}

# kafka_fault WORD...: a mock fault-injection command (down, up, error,
# leader, rtt); under the real tier the test is skipped, not failed.
kafka_fault() {
	if [ "$(kafka_tier)" = real ]; then
		skip "needs the mock's fault injection"
	fi
	kafka_mock_cmd "$@"
}

# kafka_need_mock REASON: skip under the real tier, saying why (a test that
# cannot be written without the mock's fault injection: errors injected
# into requests, a slow broker). Call it first, before the test does work.
kafka_need_mock() {
	if [ "$(kafka_tier)" = real ]; then
		skip "needs the mock's fault injection: $*"
	fi
}

# kafka_down / kafka_up: the test's cluster stops answering, then answers
# again, on either tier. The mock stops and starts its brokers (down -1,
# up -1). A real broker is not stopped (the next files need it): instead
# kafka_down points KAFKA_BROKERS and KAFKA_TEST_BROKERS at a loopback
# port nothing listens on (exported, so clients started from here on
# bootstrap from it), and kafka_up restores them and opens that port as a
# TCP forwarder to the broker, so that a client still trying the dead
# address gets through. Through the forwarder a client only bootstraps:
# the metadata names the broker's own listener, which it then uses. The
# forwarder ends with the test's process (or after 10 minutes).
kafka_down() {
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_cmd down -1 >/dev/null
		return
	fi
	KAFKA_DOWN_PORT=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || return 1
	KAFKA_UP_BROKERS=$KAFKA_TEST_BROKERS
	KAFKA_TEST_BROKERS=127.0.0.1:$KAFKA_DOWN_PORT
	KAFKA_BROKERS=$KAFKA_TEST_BROKERS
	export KAFKA_DOWN_PORT KAFKA_UP_BROKERS KAFKA_TEST_BROKERS KAFKA_BROKERS
}

kafka_up() {
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_cmd up -1 >/dev/null
		return
	fi
	if [ -z "${KAFKA_DOWN_PORT:-}" ]; then
		echo "kafka_up: kafka_down was not called" >&2
		return 1
	fi
	local ready="${BATS_TEST_TMPDIR:-$BATS_TMPDIR}/kafka-forwarder.$KAFKA_DOWN_PORT"
	# Taken here: inside the background job below, BASHPID is the job's.
	local parent=$BASHPID
	rm -f "$ready"
	python3 -c '
import os, socket, sys, threading, time
port, target, parent, ready = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, tport = target.rsplit(":", 1)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
srv.settimeout(0.2)
open(ready, "w").write("listening\n")
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
end = time.monotonic() + 600
while time.monotonic() < end:
    try:
        os.kill(parent, 0)
    except OSError:
        break
    try:
        c, _ = srv.accept()
    except socket.timeout:
        continue
    try:
        u = socket.create_connection((host, int(tport)), 5)
    except OSError:
        c.close()
        continue
    for a, b in ((c, u), (u, c)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
' "$KAFKA_DOWN_PORT" "${KAFKA_UP_BROKERS%%,*}" "$parent" "$ready" </dev/null >/dev/null 2>&1 3>&- &
	if ! wait_for 10 test -s "$ready"; then
		echo "kafka_up: the forwarder on 127.0.0.1:$KAFKA_DOWN_PORT did not start" >&2
		return 1
	fi
	KAFKA_TEST_BROKERS=$KAFKA_UP_BROKERS
	KAFKA_BROKERS=$KAFKA_TEST_BROKERS
	export KAFKA_TEST_BROKERS KAFKA_BROKERS
}

# kafka_need_real: skip unless the real tier runs (tests that prove what
# only a real broker can: SASL, restarts, large topics).
kafka_need_real() {
	if [ "$(kafka_tier)" != real ]; then
		skip "needs the real broker (make test-kafka)"
	fi
}
