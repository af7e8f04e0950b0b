#!/usr/bin/env bats
# Messages a hostile producer can put on a topic, produced with kcat and
# read by event-consume -g with an --exec handler. For each: it is handled
# or dead-lettered (error.TOPIC.GROUP, with the reason and the original
# partition/offset) or reported on stderr with topic [partition] @offset;
# the consumer never crashes and never stops (events produced after it, on
# its partition and on another, are handled); the group's committed offset never passes an unhandled event
# (a restarted group reads nothing that was already dealt with).

load ../helpers/common
load ../helpers/kafka

setup_file() {
	kafka_mock_start -b 1
}

teardown_file() {
	kafka_mock_stop
}

setup() {
	common_setup
	kafka_mock_env
	# A topic and a group of its own per test.
	TOPIC=h$BATS_TEST_NUMBER G=g$BATS_TEST_NUMBER
	kafka_mock_cmd topic "$TOPIC" 2 >/dev/null
	kafka_mock_cmd topic "error.$TOPIC.$G" 1 >/dev/null
	printf '{"n":1}' >"$T/small"
	HANDLER="cat >/dev/null; printf '%s %s %s %s\\n' \"\$CE_ID\" \"\$KAFKA_OFFSET\" \"\$EVENT_ATTEMPT\" \"\$TRACEPARENT\" >>'$T/handled'"
	CONSUMER=
	# The mock's group coordinator lets a new member in only once the last
	# one's session expired (45 s by default), even after a clean close.
	GROUPX=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
}

teardown() {
	[ -n "$CONSUMER" ] && kill -KILL "$CONSUMER" 2>/dev/null
	# What the consumer said, for a failure's report (repeats folded).
	[ -e "$T/err" ] && grep -v CONFWARN "$T/err" | cut -c1-300 | uniq -c | tail -n 8 >&2
	true
}

# produce [kcat -P options] [FILE]: one message to $TOPIC partition 0 (or
# as -p says) per FILE (or per stdin line); kcat may send up to 20 MB.
produce() {
	timeout 30 kcat -P -b "$KAFKA_BROKERS" -t "$TOPIC" -p 0 -X message.max.bytes=20000000 "$@"
}

# event ID [more kcat options] FILE: a binary-mode CloudEvent with id ID.
event() {
	local id=$1
	shift
	produce -H ce_specversion=1.0 -H "ce_id=$id" -H ce_source=/hostile -H ce_type=t \
		-H content-type=application/json "$@"
}

start_consumer() {
	event-consume -t "$TOPIC" -g "$G" "${GROUPX[@]}" --exec "$HANDLER" --backoff 100ms,200ms --max-attempts 2 \
		>"$T/out" 2>"$T/err" 3>&- &
	CONSUMER=$!
}

handled() { grep -q "^$1 " "$T/handled" 2>/dev/null; }
# dealt_with OFFSET: handled, or dead-lettered, or reported, with its offset.
dealt_with() {
	grep -q "^[^ ]* $1 " "$T/handled" 2>/dev/null ||
		grep -q "$TOPIC \[0\] @$1: " "$T/err"
}

# The dead letters: "x-original-offset x-exception-message" per line.
dead_letters() {
	timeout 30 kcat -C -b "$KAFKA_BROKERS" -t "error.$TOPIC.$G" -e -q -f '%h\n' |
		awk -F, '{ o = ""; w = ""
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^x-original-offset=/) o = substr($i, 19)
				if ($i ~ /^x-exception-message=/) w = substr($i, 21)
			}
			print o " " w }'
}

# finish [other]: the consumer must still take new events (on partition 1,
# and on partition 0 unless "other"), stop on SIGTERM with 0 or 75 (never a
# crash), and have committed past everything dealt with: a restarted group
# reads nothing again.
finish() {
	local rc
	event sentinel1 -p 1 "$T/small"
	wait_for 30 handled sentinel1
	if [ "${1:-}" != other ]; then
		event sentinel0 "$T/small"
		wait_for 30 handled sentinel0
	fi
	kill -TERM "$CONSUMER"
	rc=0
	wait "$CONSUMER" || rc=$?
	CONSUMER=
	echo "stopped with $rc" >&2
	[ "$rc" -eq 0 ] || [ "$rc" -eq 75 ]
	run -0 timeout 60 event-consume -q -t "$TOPIC" -g "$G" "${GROUPX[@]}" --exit-eof
	assert_output ''
}

@test "hostile: a ce_ header that is not UTF-8 is dead-lettered with its reason and offset" {
	event bad-utf8 -H $'ce_subject=\xff\xfe' "$T/small"
	start_consumer
	wait_for 30 dealt_with 0
	run dead_letters
	assert_output --regexp '^0 ce_subject: .*UTF-8'
	finish
}

@test "hostile: two ce_id headers are dead-lettered with their reason" {
	event one -H ce_id=two "$T/small"
	start_consumer
	wait_for 30 dealt_with 0
	run dead_letters
	assert_output --regexp '^0 ce_id: .*twice'
	finish
}

@test "hostile: a binary-mode message without ce_type is dead-lettered with its reason" {
	produce -H ce_specversion=1.0 -H ce_id=no-type -H ce_source=/hostile "$T/small"
	start_consumer
	wait_for 30 dealt_with 0
	run dead_letters
	assert_output --regexp '^0 ce_type: .*missing'
	finish
}

@test "hostile: structured content-type with a value that is not JSON is dead-lettered" {
	printf 'not json at all' >"$T/v"
	produce -H 'content-type=application/cloudevents+json; charset=UTF-8' "$T/v"
	start_consumer
	wait_for 30 dealt_with 0
	run dead_letters
	assert_output --regexp '^0 .*JSON'
	finish
}

@test "hostile: a garbage traceparent header: the event is handled in a new, valid trace" {
	event bad-tp -H traceparent=garbage-00-zz "$T/small"
	start_consumer
	wait_for 30 handled bad-tp
	run grep '^bad-tp ' "$T/handled"
	assert_output --regexp '^bad-tp 0 1 00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
	finish
}

@test "hostile: a 1 MB key: the event is handled, or dead-lettered, or reported; the consumer goes on" {
	{ head -c 1048576 /dev/zero | tr '\0' k; printf '\t{"n":2}\n'; } | event big-key -K $'\t'
	start_consumer
	wait_for 30 dealt_with 0
	finish
}

@test "hostile: a 10 MB value (a valid event) is handled; the consumer goes on" {
	{ printf '"'; head -c 10000000 /dev/zero | tr '\0' a; printf '"'; } >"$T/big"
	event big-value "$T/big"
	start_consumer
	wait_for 30 dealt_with 0
	# Not on its partition: the mock keeps a partition's log under 5 MB and
	# a message appended after this one makes it lose its offsets.
	finish other
}

@test "hostile: a 10 MB value that is not a CloudEvent is dead-lettered or reported; the consumer goes on" {
	head -c 10000000 /dev/zero | tr '\0' b >"$T/big"
	produce "$T/big"
	start_consumer
	wait_for 30 dealt_with 0
	finish other
}

@test "hostile: an event still failing when the consumer stops is not committed past: 75, and the next run gets it again" {
	event e1 "$T/small"
	event e2 "$T/small"
	event e3 "$T/small"
	# e2 fails (exit 1: retry) for as long as this consumer runs.
	HANDLER="cat >/dev/null; echo \"\$CE_ID \$EVENT_ATTEMPT\" >>'$T/tries'; [ \"\$CE_ID\" != e2 ] || exit 1; $HANDLER"
	event-consume -t "$TOPIC" -g "$G" "${GROUPX[@]}" --exec "$HANDLER" --backoff 100ms,200ms \
		--max-attempts 1000 >"$T/out" 2>"$T/err" 3>&- &
	CONSUMER=$!
	tried_twice() { grep -q '^e2 2$' "$T/tries"; }
	wait_for 30 tried_twice
	kill -TERM "$CONSUMER"
	local rc=0
	wait "$CONSUMER" || rc=$?
	CONSUMER=
	echo "event-consume stopped by SIGTERM with e2 held exited $rc" >&2
	run cat "$T/handled"
	assert_output --regexp '^e1 0 1 '
	# The next run of the group starts at e2, not after it.
	rm -f "$T/handled"
	run -0 timeout 60 event-consume -q -t "$TOPIC" -g "$G" "${GROUPX[@]}" --exit-eof \
		--exec "cat >/dev/null; echo \"\$CE_ID\" >>'$T/handled'"
	run cat "$T/handled"
	assert_output "$(printf '%s\n' e2 e3)"
	# Documented (consume.h): 75, stopped with events still waiting for a retry.
	[ "$rc" -eq 75 ]
}
