#!/bin/sh
# make demo: the main job end to end on the embedded sample payloads.
#   payloads -> cloudevent-wrap -> CloudEvents NDJSON -> outbox-enqueue ->
#   outbox.db (SQLite) -> event-bindings explain (where each event goes) ->
#   outbox-relay -> Kafka (librdkafka's mock cluster: the real protocol on
#   loopback, no Java) -> read back with kcat
# KAFKA=real (make demo KAFKA=real): a real Apache Kafka broker instead of
# the mock, started by tests/kafka/broker.sh (Java and Maven needed).
# It runs in a private temp directory and stops the cluster at exit.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
KAFKA=${KAFKA:-mock}
case $KAFKA in
mock | real) ;;
*) echo "demo.sh: KAFKA must be mock or real, not \"$KAFKA\"" >&2; exit 64 ;;
esac
PATH="$top/$BUILD/bin:$PATH"
PATH="$top/$BUILD/tests:$PATH"
dir=$(mktemp -d)
mock_pid=""
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
	[ -d "$dir/broker" ] && bash "$top/tests/kafka/broker.sh" stop "$dir/broker"
	rm -rf "$dir"' EXIT
cd "$dir"
say() { printf '\n== %s\n' "$*"; }

say "wrap: each sample payload becomes a CloudEvent (PII masked, key from the payload)"
p="$top/examples/payloads.ndjson"
{
	head -n 2 "$p" | cloudevent-wrap -t WalletCreatedEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId --mask /owner/email
	sed -n 3,5p "$p" | cloudevent-wrap -t FundsAddedEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId
	sed -n 6p "$p" | cloudevent-wrap -t FundsTransferredEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId
} >events.ndjson
cat events.ndjson

say "validate: every event is a valid CloudEvent 1.0"
cloudevent-wrap --validate events.ndjson >/dev/null && echo "$(wc -l <events.ndjson) events valid"

if command -v outbox-enqueue >/dev/null 2>&1; then
	say "enqueue: one transaction into outbox.db; a second run finds only duplicates"
	outbox-enqueue --db outbox.db events.ndjson
	outbox-enqueue --db outbox.db events.ndjson
	sqlite3 -header -column outbox.db \
		"SELECT seq, type, subject, partition_key, status FROM outbox ORDER BY seq"
fi

if command -v event-bindings >/dev/null 2>&1; then
	say "route: the topic and key the relay will use for each event"
	event-bindings explain events.ndjson
fi

say "unwrap: the data back out of the events"
cloudevent-wrap --unwrap events.ndjson

if command -v outbox-relay >/dev/null 2>&1 && [ "$KAFKA" = real ]; then
	say "kafka: a real Apache Kafka broker (tests/kafka/broker.sh) with the four wallet-hub topics"
	BUILD=$BUILD bash "$top/tests/kafka/broker.sh" start "$dir/broker" >/dev/null
	brokers=$(sed -n 's/^KAFKA_REAL_BROKERS=//p' "$dir/broker/env")
	for t in wallet-created-events funds-added-events funds-withdrawn-events funds-transferred-events; do
		BUILD=$BUILD bash "$top/tests/kafka/broker.sh" topic "$dir/broker" "$t" 3
	done
	echo "bootstrap: $brokers"
elif command -v outbox-relay >/dev/null 2>&1; then
	say "kafka: a mock cluster with the four wallet-hub topics"
	mkfifo mock.in
	kafka-mock -t wallet-created-events:3 -t funds-added-events:3 \
		-t funds-withdrawn-events:3 -t funds-transferred-events:3 \
		<>mock.in >mock.out 2>mock.err &
	mock_pid=$!
	i=0
	while [ ! -s mock.out ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { cat mock.err >&2; exit 1; }
		sleep 0.05
	done
	brokers=$(head -n 1 mock.out)
	echo "bootstrap: $brokers"
fi

if command -v outbox-relay >/dev/null 2>&1; then
	say "relay: publish what is due, wait for every delivery report, record where each landed"
	outbox-relay --once --db outbox.db -b "$brokers"
	sqlite3 -header -column outbox.db \
		"SELECT seq, type, status, topic, kafka_partition AS part, kafka_offset AS off FROM outbox ORDER BY seq"

	say "read back with kcat: key, CloudEvents headers (binary mode) and value"
	for t in wallet-created-events funds-added-events funds-transferred-events; do
		kcat -C -b "$brokers" -t "$t" -e -q \
			-f "$t [%p] @%o key=%k\n  headers: %h\n  value: %s\n"
	done

	say "consume back: event-consume decodes the messages into the same CloudEvents"
	event-consume -b "$brokers" --binding fundsAddedEventConsumer-in-0 --exit-eof -q >consumed.ndjson
	cat consumed.ndjson
	# The round trip is exact: what was enqueued is what comes back.
	sqlite3 outbox.db "SELECT event FROM outbox WHERE type = 'FundsAddedEvent' ORDER BY id" >sent.ndjson
	if sort consumed.ndjson | cmp -s - sent.ndjson; then
		echo "round trip: $(wc -l <consumed.ndjson) events consumed, byte for byte the enqueued ones"
	else
		echo "round trip: consumed events differ from the enqueued ones" >&2
		exit 1
	fi

	say "a handler per event, committing its offset only after it succeeded"
	event-consume -b "$brokers" -t wallet-created-events -g demo-wallets --exit-eof -q \
		--exec 'printf "handled %s (%s) from %s [%s] @%s\n" "$CE_ID" "$CE_TYPE" "$KAFKA_TOPIC" "$KAFKA_PARTITION" "$KAFKA_OFFSET"'
fi
