#!/usr/bin/env bats
# outbox-enqueue(1): every command of EXAMPLES runs as written and prints
# what the page shows, on inputs made to fit it. The one endless example
# (tail -F) runs with cat in its place so that it ends.
load ../helpers/common

setup() { common_setup; }

@test "outbox-enqueue(1) EXAMPLES run as written and print what they show" {
	cd "$T"
	seq 1 120 | sed 's/.*/{"walletId":"w-1","amount":&}/' >payloads.ndjson
	echo '{"walletId":"w-1","amount":30}' >withdrawal.json
	seq 1 5 | cloudevent-wrap -t T -s /s >events.ndjson
	n=$(man_examples "$TOP/man/outbox-enqueue.1" .)
	[ "$n" -eq 4 ]
	run bash -o pipefail ex1
	assert_success
	assert_output "$(cat ex1.out)"
	sqlite3 wallet.db "CREATE TABLE wallets (id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
		INSERT INTO wallets VALUES ('w-1', 100)"
	run bash -o pipefail ex2
	assert_success
	[ "$(sqlite3 wallet.db "SELECT balance FROM wallets")" = 70 ]
	[ "$(sqlite3 wallet.db "SELECT count(*) FROM outbox")" = 121 ]
	sed -i 's/tail -F/cat/' ex3
	run bash -o pipefail ex3
	assert_success
	run bash ex4
	assert_success
	assert_output 5
}
