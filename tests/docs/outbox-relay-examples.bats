#!/usr/bin/env bats
# outbox-relay(1): every command of EXAMPLES runs as written (the broker
# address replaced by the mock cluster's, the webhook's port by the local
# recording server's) and prints what the page shows.
load ../helpers/common
load ../helpers/kafka

setup_file() {
	kafka_mock_start -t wallet-created-events:1 -t funds-added-events:1 \
		-t funds-withdrawn-events:1 -t funds-transferred-events:1
}
teardown_file() { kafka_mock_stop; }

setup() {
	common_setup
	kafka_mock_env
	SINK=
}

teardown() {
	[ -z "$SINK" ] || { kill "$SINK" 2>/dev/null; wait "$SINK" 2>/dev/null || true; }
}

ev() {
	printf '{"specversion":"1.0","id":"%s","source":"/wallet-hub","type":"%s","partitionkey":"w-1","data":{"walletId":"w-1"}}\n' "$1" "$2"
}

@test "outbox-relay(1) EXAMPLES run as written and print what they show" {
	cd "$T"
	{ ev w-1 WalletCreatedEvent; ev f-1 FundsAddedEvent; ev f-2 FundsAddedEvent; } |
		outbox-enqueue -q --db wallet.db
	ev x-1 FundsWithdrawnEvent | outbox-enqueue -q --db later.db
	ev h-1 FundsTransferredEvent | outbox-enqueue -q --db hook.db
	mkfifo hs.in
	exec 6<>hs.in
	python3 "$TOP/tests/helpers/http-sink.py" --port-file port --log http.log <hs.in >/dev/null 3>&- &
	SINK=$!
	wait_for 10 test -s port
	# stuck.db: one event the endpoint refuses for good (422), so dead.
	ev d-1 FundsAddedEvent | outbox-enqueue -q --db stuck.db
	run outbox-relay --once -q --db stuck.db --sink http --url "http://127.0.0.1:$(cat port)/refuse?status=422"
	[ "$status" -eq 65 ]
	[ "$(sqlite3 stuck.db "SELECT status FROM outbox")" = dead ]
	n=$(man_examples "$TOP/man/outbox-relay.1" .)
	[ "$n" -eq 8 ]
	sed -i "s/kafka1:9092/$KAFKA_BROKERS/" ex1
	sed -i "s/127.0.0.1:8080/127.0.0.1:$(cat port)/" ex4
	for i in $(seq 1 "$n"); do
		run bash -o pipefail "ex$i"
		[ "$status" -eq 0 ] || { cat "ex$i"; echo "exit $status: $output"; return 1; }
		[ ! -e "ex$i.out" ] || [ "$output" = "$(cat "ex$i.out")" ] ||
			{ echo "ex$i printed: $output"; return 1; }
	done
	[ -e ex1.out ] && [ -e ex2.out ] && [ -e ex3.out ] && [ -e ex4.out ]
	[ -e ex6.out ] && [ -e ex7.out ] && [ -e ex8.out ]
	# What the examples claim happened did happen.
	[ "$(timeout 20 kcat -C -b "$KAFKA_BROKERS" -t funds-added-events -e -q -m 10 -f '%k\n' | wc -l)" -eq 2 ]
	[ "$(sqlite3 later.db "SELECT status FROM outbox")" = sent ]
	[ "$(jq -r 'select(.path == "/events") | .headers[] | select(.[0] | ascii_downcase == "ce-id") | .[1]' http.log)" = h-1 ]
	# The dry run changed nothing: the row is still dead, its attempt kept.
	[ "$(sqlite3 stuck.db "SELECT status, attempts FROM outbox")" = "dead|1" ]
	exec 6>&-
}
