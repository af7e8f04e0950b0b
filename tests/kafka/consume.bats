#!/usr/bin/env bats
# event-consume against the real Apache Kafka broker of `make test-kafka`:
# a consumer-group rebalance between two processes (the real group
# coordinator), --exit-eof in group mode over several partitions, a topic
# far larger than the mock keeps (200k events relayed by outbox-relay, read
# back and compared by id and offset), and interop with kcat as the
# producer, in both content modes. Real tier only: skipped elsewhere.

load ../helpers/common
load ../helpers/kafka
load events

setup_file() {
	kafka_need_real
	kafka_start -t rebalance:4 -t eof:4 -t large:4 -t from-kcat:1
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_need_real
	kafka_env
}

# Background consumers are stopped when a test fails half-way.
teardown() {
	local p
	for p in $(cat "$T/pids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
}

# relay_events N KEYS TOPIC: N generated events through outbox-relay.
relay_events() {
	gen_events "$1" "$2" >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
	bindings_to "$3"
	outbox-relay --once -q --db "$T/o.db" -B "$T/bindings.conf" -b "$KAFKA_BROKERS"
	[ "$(db_count "$T/o.db" "status = 'sent'")" -eq "$1" ]
}

lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
tagged_ge() { [ "$(grep -c " $1\$" "$T/handled")" -ge "$2" ]; }
distinct_ge() { [ "$(cut -d' ' -f1 "$T/handled" | sort -u | wc -l)" -ge "$1" ]; }

@test "consume: two event-consume -g processes across a rebalance: every event handled exactly once, none skipped, each in its consumer's dedupe store" {
	local n=3000 c1 c2 rc1=0 rc2=0
	relay_events "$n" 64 rebalance
	# The handler appends "id partition offset consumer" (one short
	# O_APPEND write per event: lines never interleave).
	printf '%s\n' 'printf "%s %s %s %s\n" "$CE_ID" "$KAFKA_PARTITION" "$KAFKA_OFFSET" "$1" >>"$2"' >"$T/h.sh"
	: >"$T/handled"
	# Separate dedupe stores: they cannot hide an event handed to both
	# consumers, so a clean hand-over (offsets committed on revoke) is
	# what keeps every event to one handler run.
	event-consume -t rebalance -g rb -b "$KAFKA_BROKERS" --exec "sh $T/h.sh c1 $T/handled" \
		--dedupe "$T/d1.db" 2>"$T/c1.err" 3>&- &
	c1=$!
	echo "$c1" >>"$T/pids"
	wait_for 60 lines_ge "$T/handled" 300
	event-consume -t rebalance -g rb -b "$KAFKA_BROKERS" --exec "sh $T/h.sh c2 $T/handled" \
		--dedupe "$T/d2.db" 2>"$T/c2.err" 3>&- &
	c2=$!
	echo "$c2" >>"$T/pids"
	# The second member got partitions while the first still had work.
	wait_for 60 tagged_ge c2 1
	local c1_at_join
	c1_at_join=$(grep -c ' c1$' "$T/handled")
	[ "$c1_at_join" -lt "$n" ]
	wait_for 180 distinct_ge "$n"
	kill -TERM "$c1" "$c2"
	wait_for 60 eval "! kill -0 $c1 && ! kill -0 $c2"
	wait "$c1" || rc1=$?
	wait "$c2" || rc2=$?
	cat "$T/c1.err" "$T/c2.err" >&2
	[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
	# None skipped: every id; none handled twice: n handler runs in all.
	cut -d' ' -f1 "$T/handled" | sort >"$T/ids"
	seq -f 'ev-%08g' 1 "$n" | diff - "$T/ids"
	[ "$(wc -l <"$T/handled")" -eq "$n" ]
	# Every offset of every partition once: 0 .. end-1, no gap.
	kafka-admin -b "$KAFKA_BROKERS" offsets rebalance >"$T/offsets"
	awk 'NR == FNR { end[$1] = $3; next }
		{ seen[$2 " " $3]++ }
		END { for (p in end) for (o = 0; o < end[p]; o++) if (seen[p " " o] != 1) { print "partition " p " offset " o ": " seen[p " " o] + 0; bad = 1 }
			exit bad }' "$T/offsets" "$T/handled"
	# Both took part, and each recorded exactly what it handled.
	local h1 h2
	h1=$(grep -c ' c1$' "$T/handled")
	h2=$(grep -c ' c2$' "$T/handled")
	[ "$h1" -gt 0 ] && [ "$h2" -gt 0 ]
	grep ' c1$' "$T/handled" | cut -d' ' -f1 | sort | diff - <(sqlite3 "$T/d1.db" "SELECT id FROM handled" | sort)
	grep ' c2$' "$T/handled" | cut -d' ' -f1 | sort | diff - <(sqlite3 "$T/d2.db" "SELECT id FROM handled" | sort)
	echo "# rebalance: $n events over 4 partitions; c1 handled $c1_at_join before c2 joined, $h1 in all; c2 $h2; handled twice: $(($(wc -l <"$T/handled") - n))" >&3
	# Every offset was committed: the group has nothing left to read.
	run --separate-stderr timeout 60 event-consume -t rebalance -g rb -b "$KAFKA_BROKERS" --exit-eof
	assert_success
	assert_output ''
	[ "$stderr" = 'event-consume: consumed 0, handled 0' ]
}

# produce_to PARTITION FIRST N: N structured events (ids from FIRST+1) to
# one partition of topic eof, through kcat.
produce_to() {
	gen_events "$3" 5 "$2" |
		timeout 60 kcat -P -b "$KAFKA_BROKERS" -t eof -p "$1" -H 'content-type=application/cloudevents+json'
}

@test "consume: --exit-eof in group mode over 4 partitions (one empty) reads everything once, then only what is new, and exits each time" {
	produce_to 0 0 400
	produce_to 1 400 300
	produce_to 2 700 1
	# Partition 3 stays empty: its end is reached at once.
	run --separate-stderr timeout 60 event-consume -t eof -g eofg -b "$KAFKA_BROKERS" --exit-eof
	assert_success
	[ "$stderr" = 'event-consume: consumed 701, handled 701' ]
	printf '%s\n' "$output" | jq -r .id | sort | diff <(seq -f 'ev-%08g' 1 701) -
	# The group committed: a second run finds nothing and exits.
	run --separate-stderr timeout 60 event-consume -t eof -g eofg -b "$KAFKA_BROKERS" --exit-eof
	assert_success
	assert_output ''
	[ "$stderr" = 'event-consume: consumed 0, handled 0' ]
	# New events, one of them in the partition that was empty.
	produce_to 3 701 50
	produce_to 1 751 10
	run --separate-stderr timeout 60 event-consume -t eof -g eofg -b "$KAFKA_BROKERS" --exit-eof --with-kafka
	assert_success
	[ "$stderr" = 'event-consume: consumed 60, handled 60' ]
	printf '%s\n' "$output" | jq -r '"\(.partition) \(.offset) \(.event.id)"' | sort -k3 >"$T/new"
	{ seq 0 49 | awk '{ printf "3 %d ev-%08d\n", $1, 702 + $1 }'
	  seq 0 9 | awk '{ printf "1 %d ev-%08d\n", 300 + $1, 752 + $1 }'; } | sort -k3 | diff - "$T/new"
	# A different group starts from the beginning (its own offsets).
	run --separate-stderr timeout 60 event-consume -t eof -g other -b "$KAFKA_BROKERS" --exit-eof --from beginning
	assert_success
	[ "$stderr" = 'event-consume: consumed 761, handled 761' ]
}

@test "consume: a 200k-event topic (over 60 MB of log, beyond what the mock keeps) relayed by outbox-relay and read back whole by event-consume --exit-eof, by id, partition and offset" {
	local n=200000
	relay_events "$n" 1000 large
	kafka-admin -b "$KAFKA_BROKERS" offsets large | awk '{ s += $3 - $2 } END { print s }' | grep -qx "$n"
	local t0 t1
	t0=$(date +%s%N)
	timeout 300 event-consume -t large -g big -b "$KAFKA_BROKERS" --exit-eof --with-kafka -q >"$T/out"
	t1=$(date +%s%N)
	[ "$(wc -l <"$T/out")" -eq "$n" ]
	# partition offset id, as read, against the relay's audit columns.
	sed -E 's/^\{"topic":"large","partition":([0-9]+),"offset":([0-9]+),.*"event":\{"specversion":"1\.0","id":"([^"]+)".*/\1 \2 \3/' "$T/out" |
		sort >"$T/read"
	sqlite3 -separator ' ' "$T/o.db" "SELECT kafka_partition, kafka_offset, id FROM outbox" | sort | diff - "$T/read"
	# Each event exactly as stored (the canonical JSON of the outbox).
	sed -E 's/^.*,"event":(.*)\}$/\1/' "$T/out" | sort >"$T/events"
	sqlite3 "$T/o.db" "SELECT event FROM outbox" | sort | cmp - "$T/events"
	local bytes
	# The log segments alone (the index files are preallocated).
	bytes=$(find "$KAFKA_BROKER_DIR"/data/large-[0-3] -name '*.log' -printf '%s\n' | awk '{ s += $1 } END { print s }')
	[ "$bytes" -gt 60000000 ]
	echo "# large topic: $n events, $((bytes / 1000000)) MB on the broker, read by event-consume --exit-eof in $(((t1 - t0) / 1000000)) ms" >&3
}

@test "consume: event-consume decodes what kcat writes: binary mode (ce_ headers via -H) and structured, to the canonical event" {
	kp() { timeout 30 kcat -P -b "$KAFKA_BROKERS" -t from-kcat "$@"; }
	echo '{"walletId":"w-9","amount":"3.25"}' | kp -k w-9 -H ce_specversion=1.0 -H ce_id=kc-1 -H ce_source=/kcat \
		-H ce_type=FundsAddedEvent -H ce_time=2026-11-30T10:00:00.123456Z -H ce_subject=w-9 \
		-H content-type=application/json -H ce_partitionkey=w-9 -H ce_myext=hello \
		-H traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	printf 'hello \342\202\254' | kp -H ce_specversion=1.0 -H ce_id=kc-2 -H ce_source=/kcat -H ce_type=Note -H content-type=text/plain
	printf '\000\001\377' | kp -H ce_specversion=1.0 -H ce_id=kc-3 -H ce_source=/kcat -H ce_type=Blob \
		-H content-type=application/octet-stream
	echo '{"specversion":"1.0","id":"kc-4","source":"/kcat","type":"FundsAddedEvent","myext":"x","data":{"a":1}}' |
		kp -k k4 -H 'content-type=application/cloudevents+json; charset=UTF-8'
	echo '{"specversion":"1.0","id":"kc-5","source":"/kcat","type":"Blob","data_base64":"AAH/"}' |
		kp -H 'content-type=Application/CloudEvents+JSON'
	run --separate-stderr timeout 60 event-consume -t from-kcat -b "$KAFKA_BROKERS" --from beginning --exit-eof
	assert_success
	[ "$stderr" = 'event-consume: consumed 5, handled 5' ]
	assert_equal "${#lines[@]}" 5
	assert_equal "${lines[0]}" '{"specversion":"1.0","id":"kc-1","source":"/kcat","type":"FundsAddedEvent","subject":"w-9","time":"2026-11-30T10:00:00.123456Z","datacontenttype":"application/json","myext":"hello","partitionkey":"w-9","data":{"walletId":"w-9","amount":"3.25"}}'
	assert_equal "${lines[1]}" '{"specversion":"1.0","id":"kc-2","source":"/kcat","type":"Note","datacontenttype":"text/plain","data":"hello €"}'
	assert_equal "${lines[2]}" '{"specversion":"1.0","id":"kc-3","source":"/kcat","type":"Blob","datacontenttype":"application/octet-stream","data_base64":"AAH/"}'
	assert_equal "${lines[3]}" '{"specversion":"1.0","id":"kc-4","source":"/kcat","type":"FundsAddedEvent","myext":"x","data":{"a":1}}'
	assert_equal "${lines[4]}" '{"specversion":"1.0","id":"kc-5","source":"/kcat","type":"Blob","data_base64":"AAH/"}'
	# A handler sees the message's context: the key, and a child span of
	# the traceparent header kcat set (same trace, new parent id).
	run --separate-stderr timeout 60 event-consume -t from-kcat -b "$KAFKA_BROKERS" --from beginning -c 1 \
		--exec 'printf "%s %s %s\n" "$CE_ID" "$KAFKA_KEY" "$TRACEPARENT"'
	assert_success
	assert_output --regexp '^kc-1 w-9 00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$'
	refute_output --partial b7ad6b7169203331
}
