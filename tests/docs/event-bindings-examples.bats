#!/usr/bin/env bats
# event-bindings(1): every command of EXAMPLES runs as written (the broker
# address replaced by the mock cluster's) and prints what the page shows.
load ../helpers/common
load ../helpers/kafka

SEED="$SHARED_DIR/seed/000_e66e6f1142d25c49.txt"

setup_file() {
	kafka_mock_start -t wallet-created-events:1 -t funds-added-events:1 \
		-t funds-withdrawn-events:1 -t funds-transferred-events:1
}
teardown_file() { kafka_mock_stop; }

setup() {
	common_setup
	kafka_mock_env
}

@test "event-bindings(1) EXAMPLES run as written and print what they show" {
	cd "$T"
	awk '/^### Spring Cloud Stream Configuration/ { h = 1; next }
	     h && /^```yaml/ { y = 1; next }
	     y && /^```/ { exit }
	     y' "$SEED" >application.yml
	echo '{"walletId":"w-9"}' >payload.ndjson
	n=$(man_examples "$TOP/man/event-bindings.1" .)
	[ "$n" -eq 5 ]
	sed -i "s/kafka1:9092/$KAFKA_BROKERS/" ex4
	for i in $(seq 1 "$n"); do
		run bash -o pipefail "ex$i"
		[ "$status" -eq 0 ] || { cat "ex$i"; echo "exit $status: $output"; return 1; }
		[ ! -e "ex$i.out" ] || [ "$output" = "$(cat "ex$i.out")" ] ||
			{ echo "ex$i printed: $output"; return 1; }
	done
	[ -e ex1.out ]
	run bash ex2
	assert_output $'wallet-created-events\nfunds-added-events\nfunds-withdrawn-events\nfunds-transferred-events'
	run bash ex5
	assert_output $'WalletCreatedEvent\twalletCreatedEventProducer-out-0\twallet-created-events\tw-9'
}
