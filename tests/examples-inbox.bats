#!/usr/bin/env bats
# The exactly-once inbox of examples/inbox.sh and README.md:
#   event-consume -g G --batch 100 --exec 'outbox-enqueue --db inbox.db --table inbox -q'
# The consumer is killed -9 in the middle of a batch (its handler too),
# restarted, and the inbox must hold each produced event exactly once while
# the group's committed offsets reach the end of the topic.

load helpers/common
load helpers/kafka

N=1000

setup_file() {
	kafka_mock_start -t inbox-before:4 -t inbox-after:4
}

teardown_file() {
	kafka_mock_stop
}

setup() {
	common_setup
	kafka_mock_env
	# A dead member leaves the group after its session timeout: keep it short
	# so the restarted consumer gets the partitions soon.
	CONSUMER_X=(-X session.timeout.ms=3000 -X heartbeat.interval.ms=500)
}

teardown() {
	[ -n "${consumer_pid:-}" ] && kill -9 "$consumer_pid" 2>/dev/null
	[ -s "$T/handler.pid" ] && kill -9 "$(cat "$T/handler.pid")" 2>/dev/null
	return 0
}

# produce TOPIC: N events through an outbox and outbox-relay into TOPIC.
produce() {
	printf 'producer FundsAddedEvent inbox-out-0 %s\n' "$1" >"$T/bindings"
	seq "$N" | awk '{ printf "{\"walletId\":\"w-%d\",\"amount\":%d}\n", $1 % 10, $1 }' |
		cloudevent-wrap -t FundsAddedEvent -s /wallet-hub --partition-key-from /walletId |
		outbox-enqueue --db "$T/outbox.db" -q
	outbox-relay --once -q --db "$T/outbox.db" -B "$T/bindings"
	[ "$(sqlite3 "$T/outbox.db" "SELECT count(*) FROM outbox WHERE status = 'sent'")" -eq "$N" ]
	# An independent reader sees all of them in the topic.
	[ "$(timeout 60 kcat -C -b "$KAFKA_BROKERS" -t "$1" -e -q | wc -l)" -eq "$N" ]
}

# The handler: each run counts itself, logs the batch it got, and stores it
# in the inbox with outbox-enqueue. On run CRASH_RUN it writes its pid and
# blocks on a FIFO nobody opens, before storing (CRASH_AT=before) or after
# (CRASH_AT=after): the test then kills the consumer and the handler.
write_handler() {
	mkfifo "$T/hold"
	echo 0 >"$T/runs"
	cat >"$T/handler" <<-'EOF'
		#!/bin/sh
		set -u
		n=$(($(cat "$INBOX_DIR/runs") + 1))
		echo "$n" >"$INBOX_DIR/runs"
		hold() { echo $$ >"$INBOX_DIR/handler.pid.tmp"; mv "$INBOX_DIR/handler.pid.tmp" "$INBOX_DIR/handler.pid"; read -r _ <"$INBOX_DIR/hold"; }
		[ "$n" -eq "$CRASH_RUN" ] && [ "$CRASH_AT" = before ] && hold
		tee -a "$INBOX_DIR/received" | outbox-enqueue --db "$INBOX_DIR/inbox.db" --table inbox -q || exit $?
		[ "$n" -eq "$CRASH_RUN" ] && [ "$CRASH_AT" = after ] && hold
		exit 0
	EOF
	chmod +x "$T/handler"
	export INBOX_DIR=$T
}

# inbox_holds_every_event_once: N rows, N distinct ids, the ids produced.
inbox_holds_every_event_once() {
	run sqlite3 "$T/inbox.db" "SELECT count(*) || ' ' || count(DISTINCT source || ' ' || id) FROM inbox"
	assert_success
	assert_output "$N $N"
	sqlite3 "$T/outbox.db" "SELECT source, id FROM outbox ORDER BY source, id" >"$T/want"
	sqlite3 "$T/inbox.db" "SELECT source, id FROM inbox ORDER BY source, id" >"$T/got"
	run diff "$T/want" "$T/got"
	assert_success
	# Every row is the event that was produced, byte for byte.
	sqlite3 "$T/outbox.db" "SELECT event FROM outbox ORDER BY id" >"$T/want-events"
	sqlite3 "$T/inbox.db" "SELECT event FROM inbox ORDER BY id" >"$T/got-events"
	run diff "$T/want-events" "$T/got-events"
	assert_success
}

# offsets_committed_to_end TOPIC GROUP: the group resumes with nothing left
# to read (a partition without a committed offset would start over).
offsets_committed_to_end() {
	run --separate-stderr timeout 120 event-consume -t "$1" -g "$2" --from stored --exit-eof \
		"${CONSUMER_X[@]}"
	assert_success
	assert_output ""
	[[ "$stderr" == *"consumed 0, handled 0"* ]]
}

# crash_and_restart TOPIC WHEN: run the consumer, kill it -9 while the
# handler's third run holds a batch, restart it to the end.
crash_and_restart() {
	local topic=$1 when=$2 group=inbox-$2
	produce "$topic"
	write_handler
	CRASH_RUN=3 CRASH_AT=$when event-consume -t "$topic" -g "$group" --batch 100 \
		--exec "$T/handler" "${CONSUMER_X[@]}" 2>"$T/first.err" 3>&- &
	consumer_pid=$!
	wait_for 60 test -s "$T/handler.pid"
	kill -9 "$consumer_pid"
	kill -9 "$(cat "$T/handler.pid")"
	wait "$consumer_pid" || true
	consumer_pid=""
	# The crash came in the middle: part of the events are in, not all.
	stored=$(sqlite3 "$T/inbox.db" "SELECT count(*) FROM inbox")
	[ "$stored" -gt 0 ]
	[ "$stored" -lt "$N" ]

	CRASH_RUN=0 CRASH_AT=none run --separate-stderr timeout 120 event-consume -t "$topic" \
		-g "$group" --batch 100 --exec "$T/handler" --exit-eof "${CONSUMER_X[@]}"
	assert_success
	assert_output ""
	inbox_holds_every_event_once
	offsets_committed_to_end "$topic" "$group"
}

@test "inbox: killed -9 before the handler stored its batch, restarted: every event exactly once" {
	crash_and_restart inbox-before before
	# Nothing was lost: the batch the crash interrupted came again.
	[ "$(wc -l <"$T/received")" -ge "$N" ]
}

@test "inbox: killed -9 after the handler stored its batch, before the commit: the re-delivery is a no-op" {
	crash_and_restart inbox-after after
	# The stored batch was delivered again (its offsets were never
	# committed) and outbox-enqueue skipped it: more deliveries than rows.
	[ "$(wc -l <"$T/received")" -gt "$N" ]
}

@test "examples/inbox.sh: the inbox holds every event once, also after a second delivery of all" {
	run --separate-stderr sh "$TOP/examples/inbox.sh" 300
	assert_success
	[ "$(grep -c '^300 rows, 300 distinct ids$' <<<"$output")" -eq 2 ]
	assert_line "0 missing, 0 unexpected"
}
