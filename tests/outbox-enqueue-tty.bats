#!/usr/bin/env bats
# outbox-enqueue on a terminal: the progress line appears on stderr for a
# long input, is cleared at the end, and never appears when stderr is not a
# terminal or with -q. script(1) gives the tool a pseudo-terminal.
load helpers/common

setup() {
	common_setup
	command -v script >/dev/null || skip "script(1) not installed"
	seq 1 2048 | cloudevent-wrap -t T -s /s >"$T/chunk"
}

# run_on_tty ARGS...: outbox-enqueue ARGS on a pty reading a fifo that a
# feeder fills with copies of $T/chunk until the tool has printed a progress
# line (or 20 s passed); then input ends. Leaves the typescript in $T/tty.log.
run_on_tty() {
	mkfifo "$T/in"
	exec 5<>"$T/in"
	(script -qfec "outbox-enqueue --db '$T/db' $* '$T/in'" "$T/tty.log" </dev/null >/dev/null 2>&1
	 echo $? >"$T/rc") 5>&- &
	(while cat "$T/chunk" >&5; do :; done) 2>/dev/null &
	local feeder=$!
	wait_for 20 grep -q "events (" "$T/tty.log" || true
	kill "$feeder"
	exec 5>&-
	wait_for 20 test -s "$T/rc"
}

@test "a progress line is shown on a terminal for a long input, then cleared" {
	run_on_tty
	[ "$(cat "$T/rc")" -eq 0 ]
	grep -q $'\routbox-enqueue: [0-9]* events (' "$T/tty.log"
	grep -q $'\r\033\\[Koutbox-enqueue: enqueued 2048, duplicates [0-9]*' "$T/tty.log"
	[ "$(sqlite3 "$T/db" 'SELECT count(*) FROM outbox')" -eq 2048 ]
}

@test "no progress line with -q, nor when stderr is not a terminal" {
	cat "$T/chunk" "$T/chunk" "$T/chunk" >"$T/three"
	run --separate-stderr outbox-enqueue --db "$T/db2" "$T/three"
	assert_success
	[ "$stderr" = "outbox-enqueue: enqueued 2048, duplicates 4096" ]
	# 400,000 events: seconds of work at any speed seen here, well past
	# the one second after which the line would appear without -q.
	for i in $(seq 1 200); do cat "$T/chunk"; done >"$T/many"
	script -qfec "outbox-enqueue -q --db '$T/db3' '$T/many'" "$T/q.log" </dev/null >/dev/null
	grep -q 'COMMAND_EXIT_CODE="0"' "$T/q.log"
	! grep -q "events (" "$T/q.log"
	! grep -q "enqueued" "$T/q.log"
}
