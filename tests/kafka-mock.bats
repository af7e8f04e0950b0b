#!/usr/bin/env bats
# The mock-cluster helper the Kafka-facing tests stand on, checked against
# an independent client (kcat). Every kcat is bounded by timeout(1) and -m.

load helpers/common
load helpers/kafka

setup_file() {
	kafka_mock_start -b 3 -t orders:4 -t audit:1:3
}

teardown_file() {
	kafka_mock_stop
}

setup() {
	common_setup
	kafka_mock_env
}

# exited PID: true once PID is gone or a zombie.
exited() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# broker_addr ID: the address kcat reports for broker ID.
broker_addr() {
	timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10 |
		sed -n "s/^  broker $1 at \([^ ]*\).*/\1/p"
}

@test "kafka-mock: prints the bootstrap list first and on request" {
	[[ $KAFKA_BROKERS =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$ ]]
	run kafka_mock_cmd bootstraps
	assert_success
	assert_output "ok $KAFKA_BROKERS"
}

@test "kafka-mock: kcat -L sees the brokers and the topics with their partition counts" {
	run timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10
	assert_success
	assert_line ' 3 brokers:'
	assert_line '  topic "orders" with 4 partitions:'
	assert_line '  topic "audit" with 1 partitions:'
}

@test "kafka-mock: topic command creates a topic; a duplicate answers error" {
	run kafka_mock_cmd topic later 3
	assert_success
	assert_output ok
	run timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10 -t later
	assert_success
	assert_line '  topic "later" with 3 partitions:'
	run kafka_mock_cmd topic later 3
	assert_failure
	assert_output --partial 'error: topic later: TOPIC_ALREADY_EXISTS'
}

@test "kafka-mock: kcat -P writes, kcat -C -e reads the same messages back" {
	printf 'k1:one\nk2:two\nk3:three\n' |
		timeout 20 kcat -P -b "$KAFKA_BROKERS" -t orders -p 2 -K : -X message.timeout.ms=10000
	run timeout 20 kcat -C -b "$KAFKA_BROKERS" -t orders -p 2 -o beginning -e -q -m 10 -f '%k=%s@%o\n'
	assert_success
	assert_output $'k1=one@0\nk2=two@1\nk3=three@2'
}

@test "kafka-mock: a broker that is down refuses metadata; up restores it" {
	addr=$(broker_addr 2)
	[ -n "$addr" ]
	other=$(broker_addr 1)
	kafka_mock_cmd down 2
	run timeout 20 kcat -L -b "$addr" -m 2
	assert_failure
	assert_output --partial 'Failed to acquire metadata'
	# The other brokers keep answering.
	run timeout 20 kcat -L -b "$other" -m 10
	assert_success
	kafka_mock_cmd up 2
	run timeout 20 kcat -L -b "$addr" -m 10
	assert_success
	assert_line --partial "broker 2 at $addr"
}

@test "kafka-mock: error command fails the next request of that ApiKey, then clears" {
	run kafka_mock_cmd error Produce TOPIC_AUTHORIZATION_FAILED 1
	assert_success
	assert_output ok
	run timeout 20 kcat -P -b "$KAFKA_BROKERS" -t audit -p 0 -X message.timeout.ms=10000 <<<'refused'
	assert_failure
	assert_output --partial 'Topic authorization failed'
	run timeout 20 kcat -P -b "$KAFKA_BROKERS" -t audit -p 0 -X message.timeout.ms=10000 <<<'accepted'
	assert_success
	# Names and numbers are both accepted, for keys and for codes.
	run kafka_mock_cmd error 1 REQUEST_TIMED_OUT 2
	assert_output ok
	run kafka_mock_cmd error FindCoordinator 15
	assert_output ok
	run kafka_mock_cmd error JoinGroup _TRANSPORT
	assert_output ok
}

@test "kafka-mock: leader and rtt commands take effect" {
	kafka_mock_cmd leader orders 0 3
	run timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10 -t orders
	assert_success
	assert_line --partial 'partition 0, leader 3,'
	run kafka_mock_cmd rtt 1 5
	assert_success
	run kafka_mock_cmd rtt 1 0
	assert_success
}

@test "kafka-mock: bad commands answer error and the mock keeps serving" {
	run kafka_mock_cmd frobnicate
	assert_failure
	assert_output --partial 'error: unknown command'
	run kafka_mock_cmd down 9
	assert_failure
	assert_output --partial 'error: no broker "9"'
	run kafka_mock_cmd error NoSuchApi NOT_LEADER_FOR_PARTITION
	assert_output --partial 'error: unknown ApiKey'
	run kafka_mock_cmd error Produce NO_SUCH_ERROR
	assert_output --partial 'error: unknown error code'
	run kafka_mock_cmd topic t 0
	assert_output --partial 'error: topic t: bad partition count'
	run kafka_mock_cmd rtt 1
	assert_output --partial 'error: unknown command or wrong arguments'
	run kafka_mock_cmd bootstraps
	assert_success
	assert_output "ok $KAFKA_BROKERS"
}

@test "kafka-mock: EOF on stdin ends it with status 0; --port-file holds the list" {
	run timeout 20 kafka-mock -t x:2 --port-file "$T/ports" </dev/null
	assert_success
	assert_output "$(cat "$T/ports")"
	[[ $output =~ ^127\.0\.0\.1:[0-9]+$ ]]
}

@test "kafka-mock: SIGTERM ends it with status 0" {
	mkfifo "$T/in"
	kafka-mock <>"$T/in" >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	wait_for 20 grep -q . "$T/out"
	kill -TERM "$pid"
	wait_for 20 exited "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 0 ]
}

@test "kafka-mock: usage errors exit 64" {
	run timeout 20 kafka-mock -b 0 </dev/null
	assert_failure 64
	run timeout 20 kafka-mock -t nopartitions </dev/null
	assert_failure 64
	run timeout 20 kafka-mock -t x:1:2 </dev/null
	assert_failure 64
	assert_output --partial 'bad replication factor'
	run timeout 20 kafka-mock stray </dev/null
	assert_failure 64
}

@test "kafka.bash tier helpers reach the mock: kafka_topic creates, kafka_fault injects" {
	[ "$(kafka_tier)" = mock ]
	kafka_topic tiered 2
	run timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10 -t tiered
	assert_line '  topic "tiered" with 2 partitions:'
	run kafka_topic tiered 2
	assert_failure
	run kafka_fault bootstraps
	assert_success
	assert_output "ok $KAFKA_BROKERS"
}

# Last: it stops the file's mock; teardown_file's second stop is a no-op.
@test "kafka-mock: kafka_mock_stop leaves no process behind" {
	pid=$KAFKA_MOCK_PID
	kill -0 "$pid"
	kafka_mock_stop
	exited "$pid"
	run timeout 20 kcat -L -b "$KAFKA_MOCK_BROKERS" -m 1
	assert_failure
}
