#!/usr/bin/env bats
# The real Apache Kafka broker of `make test-kafka` (tests/kafka/broker.sh):
# it listens on loopback only, round-trips data through kcat, keeps a topic
# larger than any test of the mock writes, and survives a restart (clean
# and kill -9) with every acknowledged message. Real tier only: skipped
# elsewhere. Every kcat is bounded by timeout(1).

load ../helpers/common
load ../helpers/kafka

setup_file() {
	kafka_need_real
	kafka_start -t rt:3 -t big:1 -t restart:1 -t crash:1
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_need_real
	kafka_env
	BROKER_SH="$TOP/tests/kafka/broker.sh"
}

produce() { timeout 60 kcat -P -b "$KAFKA_BROKERS" -X message.timeout.ms=30000 "$@"; }
consume() { timeout 60 kcat -C -b "$KAFKA_BROKERS" -o beginning -e -q "$@"; }

# listen_addrs PID: the local address:port (hex, as in /proc/net/tcp*) of
# every listening TCP socket PID holds.
listen_addrs() {
	local inodes
	inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
	awk -v list="$inodes" 'BEGIN { n = split(list, a, "\n"); for (i = 1; i <= n; i++) if (a[i] != "") want[a[i]] = 1 }
		$4 == "0A" && ($10 in want) { print $2 }' /proc/net/tcp /proc/net/tcp6
}

@test "broker: one node answers metadata; it listens on 127.0.0.1 only" {
	run timeout 20 kcat -L -b "$KAFKA_BROKERS" -m 10
	assert_success
	assert_line ' 1 brokers:'
	assert_line "  broker 1 at $KAFKA_REAL_BROKERS (controller)"
	assert_line '  topic "rt" with 3 partitions:'
	run listen_addrs "$KAFKA_BROKER_PID"
	assert_success
	# plaintext, SASL and controller listeners; 0100007F is 127.0.0.1.
	[ "${#lines[@]}" -eq 3 ]
	for a in "${lines[@]}"; do [[ $a == 0100007F:* ]]; done
}

@test "broker: auto.create.topics is off; kafka-admin creates, lists, refuses a duplicate" {
	run produce -t no-such-topic -p 0 -X message.timeout.ms=1000 <<<'lost'
	assert_failure
	assert_output --partial 'Delivery failed'
	run kafka-admin -b "$KAFKA_BROKERS" list
	assert_success
	refute_line --partial 'no-such-topic'
	assert_line 'big 1'
	assert_line 'rt 3'
	run kafka-admin -b "$KAFKA_BROKERS" create rt 3
	assert_failure 1
	assert_output --partial 'topic rt: TOPIC_ALREADY_EXISTS'
	run bash "$BROKER_SH" topic "$KAFKA_BROKER_DIR" later 2
	assert_success
	run kafka-admin -b "$KAFKA_BROKERS" offsets later
	assert_output $'0 0 0\n1 0 0'
	run kafka-admin -b "$KAFKA_BROKERS" delete later
	assert_success
	run kafka-admin -b "$KAFKA_BROKERS" delete later
	assert_failure 1
}

@test "broker: kcat round trip, keyed, over 3 partitions and over SASL/PLAIN" {
	for i in $(seq 1 300); do echo "k$((i % 7)):v$i"; done >"$T/in"
	produce -t rt -K : <"$T/in"
	consume -t rt -f '%k:%s\n' | sort >"$T/out"
	sort "$T/in" | diff - "$T/out"
	# One key always lands in one partition.
	consume -t rt -f '%k %p\n' | sort -u >"$T/kp"
	[ "$(wc -l <"$T/kp")" -eq 7 ]
	[ "$(cut -d' ' -f1 "$T/kp" | sort -u | wc -l)" -eq 7 ]
	# The same through the SASL listener.
	run timeout 60 kcat -C -b "$KAFKA_SASL_BROKERS" -X security.protocol=SASL_PLAINTEXT \
		-X sasl.mechanisms=PLAIN -X sasl.username="$KAFKA_SASL_USER" \
		-X sasl.password="$KAFKA_SASL_PASSWORD" -t rt -o beginning -e -q -f '%k:%s\n'
	assert_success
	[ "$(printf '%s\n' "$output" | sort)" = "$(cat "$T/out")" ]
}

@test "broker: a 50 MB topic over several segments, every offset readable" {
	local n=150000
	# 150000 messages of 350 bytes: 52 MB, 4 segments of 16 MB.
	awk -v n="$n" 'BEGIN { pad = sprintf("%330s", ""); gsub(/ /, "x", pad);
		for (i = 0; i < n; i++) printf "%08d-%s-%08d\n", i, pad, i }' >"$T/in"
	[ "$(wc -c <"$T/in")" -eq $((n * 349)) ] || [ "$(wc -c <"$T/in")" -eq $((n * 350)) ]
	produce -t big -p 0 -X linger.ms=20 -X batch.num.messages=10000 <"$T/in"
	run kafka-admin -b "$KAFKA_BROKERS" offsets big
	assert_output "0 0 $n"
	consume -t big -p 0 -f '%o %s\n' >"$T/out"
	# Offsets 0..n-1 in order, each holding the line written there.
	awk -v n="$n" '{ if ($1 != NR - 1 || substr($2, 1, 8) + 0 != NR - 1) { print "bad at " NR ": " substr($0, 1, 40); exit 1 } }
		END { if (NR != n) { print NR " of " n; exit 1 } }' "$T/out"
	cut -d' ' -f2 "$T/out" | cmp - "$T/in"
	segments=$(find "$KAFKA_BROKER_DIR/data/big-0" -name '*.log' | wc -l)
	[ "$segments" -ge 3 ]
}

# restart_keeps MODE TOPIC: produce, restart (MODE "" or --kill), produce
# again; every message is there, in order, on the same bootstrap address.
restart_keeps() {
	local old_pid=$KAFKA_BROKER_PID
	seq 1 1000 | produce -t "$2" -p 0
	bash "$BROKER_SH" restart $1 "$KAFKA_BROKER_DIR" >"$T/env"
	grep -qx "KAFKA_REAL_BROKERS=$KAFKA_REAL_BROKERS" "$T/env"
	new_pid=$(sed -n 's/^KAFKA_BROKER_PID=//p' "$T/env")
	[ "$new_pid" != "$old_pid" ]
	! kill -0 "$old_pid" 2>/dev/null
	seq 1001 2000 | produce -t "$2" -p 0
	consume -t "$2" -p 0 >"$T/out"
	seq 1 2000 | diff - "$T/out"
}

@test "broker: restart mid-way (SIGTERM) keeps every message and the ports" {
	restart_keeps "" restart
}

@test "broker: kill -9 and restart keeps every acknowledged message" {
	restart_keeps --kill crash
}

@test "broker: a start that cannot listen fails loudly (69); a running dir is refused" {
	# A formatted directory whose ports the running broker holds.
	mkdir -p "$T/b2/data"
	cp "$KAFKA_BROKER_DIR"/{server.properties,ports,users} "$T/b2/"
	cp "$KAFKA_BROKER_DIR/data/meta.properties" "$T/b2/data/"
	run bash "$BROKER_SH" start "$T/b2"
	assert_failure 69
	assert_output --regexp 'broker.sh: error: port [0-9]+ is taken'
	run bash "$BROKER_SH" start "$KAFKA_BROKER_DIR"
	assert_failure 70
	assert_output --partial 'a broker already runs from'
	run bash "$BROKER_SH" frobnicate
	assert_failure 64
}

# Last: it resets the cluster under the file's own topics.
@test "broker: kafka_start leaves a clean cluster: only its topics, no consumer group" {
	seq 1 10 | produce -t rt -p 0
	timeout 60 kcat -C -G left-behind -b "$KAFKA_BROKERS" -o beginning -e -q rt >/dev/null
	run kafka-admin -b "$KAFKA_BROKERS" groups
	assert_output left-behind
	kafka_start -t fresh:2
	run kafka-admin -b "$KAFKA_BROKERS" list
	assert_output 'fresh 2'
	run kafka-admin -b "$KAFKA_BROKERS" groups
	assert_success
	assert_output ''
	run kafka-admin -b "$KAFKA_BROKERS" offsets rt
	assert_failure 1
}
