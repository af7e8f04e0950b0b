#!/usr/bin/env bats
# Kafka-facing tools authenticate with SASL/PLAIN against the real broker's
# SASL_PLAINTEXT listener, from -X and from -F; a wrong password is exit 77
# with a clear message; no password ever reaches stdout or stderr, -v
# included. The tools: event-bindings check, outbox-relay, event-consume.
# Real tier only.

load ../helpers/common
load ../helpers/kafka
load events

setup_file() {
	kafka_need_real
	# The four topics of the built-in bindings: check finds them all.
	kafka_start -t wallet-created-events:1 -t funds-added-events:1 \
		-t funds-withdrawn-events:1 -t funds-transferred-events:1
}
teardown_file() { kafka_stop; }

WRONG=Wr0ng-pa55word-that-must-not-show

setup() {
	common_setup
	kafka_need_real
	SASL=(-b "$KAFKA_SASL_BROKERS" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN)
}

# Background relays are stopped when a test fails half-way.
teardown() {
	local p
	for p in $(cat "$T/pids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
}

# no_secret: neither password in what the last `run` printed.
no_secret() {
	[[ $output != *"$KAFKA_SASL_PASSWORD"* ]]
	[[ ${stderr:-} != *"$KAFKA_SASL_PASSWORD"* ]]
	[[ $output != *"$WRONG"* ]]
	[[ ${stderr:-} != *"$WRONG"* ]]
}

@test "sasl: event-bindings check authenticates with -X; every topic found, exit 0; -v redacts" {
	run --separate-stderr event-bindings check "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_success
	[ -z "$output$stderr" ]
	# A missing topic is found through the authenticated connection too.
	printf '%s\n' "producer A a-out-0 wallet-created-events" "consumer b-in-0 not-there g" >"$T/m.conf"
	run --separate-stderr event-bindings -B "$T/m.conf" check "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_failure 1
	assert_output not-there
	no_secret
	run --separate-stderr event-bindings -v check "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_success
	[[ $stderr == *"sasl.password=[redacted]  # -X"* ]]
	no_secret
}

@test "sasl: the credentials from -F work the same; -v shows them redacted" {
	{
		echo "bootstrap.servers=$KAFKA_SASL_BROKERS"
		echo "security.protocol=SASL_PLAINTEXT"
		echo "sasl.mechanism=PLAIN"
		echo "sasl.username=$KAFKA_SASL_USER"
		echo "sasl.password=$KAFKA_SASL_PASSWORD"
	} >"$T/client.properties"
	run --separate-stderr event-bindings -v check -F "$T/client.properties"
	assert_success
	[[ $stderr == *"sasl.password=[redacted]"* ]]
	[[ $stderr == *"sasl.username=$KAFKA_SASL_USER"* ]]
	no_secret
}

@test "sasl: a wrong password exits 77 with a clear message and never shows it" {
	for v in "" -v; do
		run --separate-stderr event-bindings $v check "${SASL[@]}" --timeout 10s \
			-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$WRONG"
		assert_failure 77
		[ -z "$output" ]
		[[ $stderr == *"event-bindings: error: Kafka at $KAFKA_SASL_BROKERS: authentication failed"* ]]
		[[ $stderr == *"Invalid username or password"* ]]
		no_secret
	done
	[[ $stderr == *"sasl.password=[redacted]"* ]]
}

@test "sasl: a wrong password from -F exits 77 too, -v included" {
	printf 'sasl.username=%s\nsasl.password=%s\n' "$KAFKA_SASL_USER" "$WRONG" >"$T/bad.properties"
	run --separate-stderr event-bindings -v check -F "$T/bad.properties" "${SASL[@]}" --timeout 10s
	assert_failure 77
	[[ $stderr == *"authentication failed"* ]]
	no_secret
}

@test "sasl: an unknown user exits 77; the SASL listener refuses a plaintext client" {
	run --separate-stderr event-bindings check "${SASL[@]}" --timeout 10s \
		-X sasl.username=mallory -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_failure 77
	no_secret
	# Without SASL settings the listener never answers metadata: unavailable.
	run --separate-stderr event-bindings check -b "$KAFKA_SASL_BROKERS" --timeout 3s
	assert_failure 69
	[ -z "$output" ]
}

# version_ge A B: version A is B or later.
version_ge() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]; }

@test "sasl: SCRAM-SHA-256 authenticates; a wrong password exits 77" {
	local v
	v=$(pkg-config --modversion rdkafka)
	# librdkafka before 2.6.1 repeats the client nonce in its SCRAM final
	# message; Kafka 4 checks it exactly (CVE-2024-56128) and refuses.
	version_ge "$v" 2.6.1 ||
		skip "librdkafka $v: its SCRAM final message is refused by Kafka 4 (fixed in librdkafka 2.6.1)"
	SASL=(-b "$KAFKA_SASL_BROKERS" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=SCRAM-SHA-256)
	run --separate-stderr event-bindings check "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_success
	run --separate-stderr event-bindings -v check "${SASL[@]}" --timeout 10s \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$WRONG"
	assert_failure 77
	no_secret
}

# ---- outbox-relay and event-consume ----------------------------------------

# enqueue N TOPIC: N pending FundsAddedEvent rows in $T/o.db, routed by
# $T/bindings.conf to TOPIC, a new topic (kafka_start here would export
# KAFKA_BROKERS, which outranks -F's bootstrap.servers).
enqueue() {
	kafka_topic "$2" 1
	bindings_to "$2"
	gen_events "$1" 5 >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
}

# read_back N TOPIC ARGS...: event-consume with ARGS reads TOPIC to its
# end; its output is the N events enqueued, exactly.
read_back() {
	local n=$1 topic=$2
	shift 2
	run --separate-stderr timeout 60 event-consume -t "$topic" --exit-eof "$@"
	assert_success
	[ "$output" = "$(cat "$T/ev.ndjson")" ]
	[[ $stderr == *"event-consume: consumed $n, handled $n"* ]]
	no_secret
}

@test "sasl: outbox-relay and event-consume authenticate with -X; -v shows the password redacted" {
	enqueue 20 sasl-x
	run --separate-stderr outbox-relay -v --once --db "$T/o.db" -B "$T/bindings.conf" "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	assert_success
	[ -z "$output" ]
	[[ $stderr == *"sasl.password=[redacted]  # -X"* ]]
	[[ $stderr == *"outbox-relay: $T/o.db: sent 20"* ]]
	no_secret
	[ "$(db_count "$T/o.db" "status = 'sent' AND topic = 'sasl-x'")" -eq 20 ]
	read_back 20 sasl-x -v --from beginning "${SASL[@]}" -X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
	[[ $stderr == *"sasl.password=[redacted]  # -X"* ]]
	# In a group too (the group coordinator over the SASL listener).
	read_back 20 sasl-x -g sasl-readers "${SASL[@]}" -X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$KAFKA_SASL_PASSWORD"
}

@test "sasl: outbox-relay and event-consume take the credentials from -F; -v shows them redacted" {
	enqueue 20 sasl-f
	{
		echo "bootstrap.servers=$KAFKA_SASL_BROKERS"
		echo "security.protocol=SASL_PLAINTEXT"
		echo "sasl.mechanism=PLAIN"
		echo "sasl.username=$KAFKA_SASL_USER"
		echo "sasl.password=$KAFKA_SASL_PASSWORD"
	} >"$T/client.properties"
	run --separate-stderr outbox-relay -v --once --db "$T/o.db" -B "$T/bindings.conf" -F "$T/client.properties"
	assert_success
	[[ $stderr == *"sasl.password=[redacted]"* ]]
	[[ $stderr == *"sasl.username=$KAFKA_SASL_USER"* ]]
	no_secret
	[ "$(db_count "$T/o.db" "status = 'sent'")" -eq 20 ]
	read_back 20 sasl-f -v -g sasl-file -F "$T/client.properties"
	[[ $stderr == *"sasl.password=[redacted]"* ]]
}

@test "sasl: a wrong password: outbox-relay --once and event-consume exit 77 with a clear message, rows untouched, the password never shown (-v included)" {
	enqueue 5 sasl-w
	for v in "" -v; do
		run --separate-stderr outbox-relay $v --once --db "$T/o.db" -B "$T/bindings.conf" "${SASL[@]}" \
			-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$WRONG"
		assert_failure 77
		[ -z "$output" ]
		[[ $stderr == *"outbox-relay: error: Kafka at $KAFKA_SASL_BROKERS: authentication failed"* ]]
		[[ $stderr == *"Invalid username or password"* ]]
		no_secret
		# Nothing was attempted: every row pending, no attempt counted.
		[ "$(db_count "$T/o.db" "status = 'pending' AND attempts = 0 AND last_error IS NULL")" -eq 5 ]
		for g in "" "-g sasl-wrong"; do
			run --separate-stderr timeout 60 event-consume $v -t sasl-w $g --from beginning --exit-eof \
				"${SASL[@]}" -X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$WRONG"
			assert_failure 77
			[ -z "$output" ]
			[[ $stderr == *"event-consume: error: Kafka at $KAFKA_SASL_BROKERS: authentication failed"* ]]
			[[ $stderr == *"Invalid username or password"* ]]
			no_secret
		done
	done
	[[ $stderr == *"sasl.password=[redacted]"* ]]
	# The same from -F.
	printf 'sasl.username=%s\nsasl.password=%s\n' "$KAFKA_SASL_USER" "$WRONG" >"$T/bad.properties"
	run --separate-stderr outbox-relay -v --once --db "$T/o.db" -B "$T/bindings.conf" -F "$T/bad.properties" "${SASL[@]}"
	assert_failure 77
	no_secret
	run --separate-stderr timeout 60 event-consume -v -t sasl-w --exit-eof -F "$T/bad.properties" "${SASL[@]}"
	assert_failure 77
	no_secret
}

@test "sasl: outbox-relay run mode with a wrong password exits 77 and leaves every row pending, no attempt spent" {
	enqueue 2 sasl-run
	# Short timeouts: a relay that keeps going shows within the bound what
	# it does to the rows (attempts spent, then dead).
	outbox-relay run --db "$T/o.db" -B "$T/bindings.conf" "${SASL[@]}" \
		-X sasl.username="$KAFKA_SASL_USER" -X sasl.password="$WRONG" -X message.timeout.ms=2000 \
		--max-attempts 2 --backoff 1s,1s --interval 1s --drain-timeout 1s >"$T/out" 2>"$T/err" 3>&- &
	local relay=$! rc=0
	echo "$relay" >>"$T/pids"
	if ! wait_for 30 eval "! kill -0 $relay"; then
		echo "outbox-relay run still runs 30 s after the broker refused its password; rows (id|status|attempts|last_error):" >&2
		sqlite3 "$T/o.db" "SELECT id, status, attempts, last_error FROM outbox" >&2
		return 1
	fi
	wait "$relay" || rc=$?
	[ "$rc" -eq 77 ]
	[ ! -s "$T/out" ]
	grep -q "outbox-relay: error: Kafka at $KAFKA_SASL_BROKERS: authentication failed" "$T/err"
	! grep -q -e "$WRONG" -e "$KAFKA_SASL_PASSWORD" "$T/err"
	[ "$(db_count "$T/o.db" "status = 'pending' AND attempts = 0")" -eq 2 ]
}
