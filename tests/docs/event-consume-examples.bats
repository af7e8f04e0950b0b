#!/usr/bin/env bats
# event-consume(1): every command of EXAMPLES runs as written against the
# mock cluster (localhost:9092 and the billing URL replaced by the mock's
# and a local http-sink's) and prints what the page shows. The endless
# consumers get --exit-eof so that they end. The handler script the page
# shows is the one the worker example runs.
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
}

teardown() {
	if [ -n "${SINK_PID:-}" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
}

@test "event-consume(1) EXAMPLES run as written and print what they show" {
	cd "$T"
	n=$(man_examples "$TOP/man/event-consume.1" .)
	[ "$n" -eq 5 ]
	# The events come through the outbox, published by the relay with the
	# built-in bindings (binary mode).
	echo '{"specversion":"1.0","id":"w-1","source":"/wallet-hub","type":"WalletCreatedEvent","data":{"walletId":"w-1"}}' |
		outbox-enqueue --db outbox.db -q
	outbox-relay --once --db outbox.db -q
	run bash -o pipefail ex1
	assert_success
	assert_output "$(cat ex1.out)"
	run bash -o pipefail ex2
	assert_success
	assert_output "$(cat ex2.out)"
	# The worker: the script shown after it, and one event it refuses.
	echo '{"specversion":"1.0","id":"w-2","source":"/wallet-hub","type":"WalletCreatedEvent","data":{"owner":"x"}}' |
		outbox-enqueue --db outbox.db -q
	outbox-relay --once --db outbox.db -q
	cp ex3.out on-wallet-created.sh
	chmod +x on-wallet-created.sh
	sed -i 's/--backoff 1s,30s/& --exit-eof/' ex3
	run bash ex3
	assert_success
	[[ $(cat handled.log) =~ ^w-1\ 0@0$ ]]
	sed -i "s/localhost:9092/$KAFKA_BROKERS/" ex4
	run bash ex4
	assert_success
	[[ $output == *"ce_id=w-2"*"x-original-topic=wallet-created-events"*"x-exception-message=handler exited with status 65"* ]]
	# The HTTP forwarder, against a local sink.
	echo '{"specversion":"1.0","id":"f-1","source":"/wallet-hub","type":"FundsAddedEvent","data":{"walletId":"w-1","amount":5}}' |
		outbox-enqueue --db outbox.db -q
	outbox-relay --once --db outbox.db -q
	mkfifo sink.in
	exec 8<>sink.in
	python3 "$TOP/tests/helpers/http-sink.py" --port-file port --log http.log <sink.in >/dev/null 3>&- 8>&- &
	SINK_PID=$!
	wait_for 20 test -s port
	sed -i "s|https://billing.example/events|http://127.0.0.1:$(cat port)/events|; s/--mode structured/& --exit-eof/" ex5
	run bash ex5
	assert_success
	[ "$(wc -l <http.log)" -eq 1 ]
	grep -q '"application/cloudevents+json' http.log
	[ "$(sqlite3 billing-seen.db 'SELECT id FROM handled')" = f-1 ]
}
