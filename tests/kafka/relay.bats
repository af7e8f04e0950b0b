#!/usr/bin/env bats
# outbox-relay against the real Apache Kafka broker of `make test-kafka`:
# what it writes, read back by an independent client (kcat -J, decoded with
# jq), in both content modes; the audit trail (topic, partition, offset
# columns) is where kcat finds each event; the idempotent producer across a
# broker restart, clean (SIGTERM) and kill -9, in the middle of a run.
# Real tier only: skipped elsewhere. Every kcat is bounded by timeout(1).

load ../helpers/common
load ../helpers/kafka
load events

setup_file() {
	kafka_need_real
	kafka_start -t modes-binary:3 -t modes-structured:3 -t restart-term:3 -t restart-kill:3
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_need_real
	kafka_env
	BROKER_SH="$TOP/tests/kafka/broker.sh"
}

# Background relays are stopped when a test fails half-way.
teardown() {
	local p
	for p in $(cat "$T/pids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
}

# Events covering the binding's cases: JSON data with every optional
# attribute and an extension, text data without a key, an event's own
# traceparent, no data, binary data (data_base64).
special_events() {
	cat <<'EOF'
{"specversion":"1.0","id":"m-1","source":"/rt/modes","type":"FundsAddedEvent","subject":"w-1","time":"2026-11-30T10:00:00.123456Z","datacontenttype":"application/json","dataschema":"https://example.test/s.json","partitionkey":"w-1","region":"eu1","data":{"walletId":"w-1","amount":"1.50","note":"caf\u00e9 \u20ac"}}
{"specversion":"1.0","id":"m-2","source":"/rt/modes","type":"FundsAddedEvent","datacontenttype":"text/plain","data":"plain text, no key"}
{"specversion":"1.0","id":"m-3","source":"/rt/modes","type":"FundsAddedEvent","partitionkey":"w-1","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","data":{"n":3}}
{"specversion":"1.0","id":"m-4","source":"/rt/modes","type":"FundsAddedEvent","partitionkey":"w-2"}
{"specversion":"1.0","id":"m-5","source":"/rt/modes","type":"FundsAddedEvent","datacontenttype":"application/octet-stream","data_base64":"AAH/"}
EOF
}

# Every message against its outbox row, by id: the decoded event, the
# audit columns, the key, the content-type, the hop's traceparent header.
# Prints one line per mismatch.
COMPARE='
($rows | map({key: .id, value: .}) | from_entries) as $r
| $msgs[] | . as $m | $r[$m.event.id] as $row
| ($m.headers.traceparent // "") as $tp
| if $row == null then "message \($m.partition)/\($m.offset): no outbox row for \($m.event | tojson)"
  elif $mode == "binary" and ($row.event | has("data_base64")) and ($m.event | del(.data)) != ($row.event | del(.data_base64))
    then "\($row.id): kcat decodes \($m.event | tojson), the outbox holds \($row.event | tojson)"
  elif ($mode == "structured" or ($row.event | has("data_base64") | not)) and $m.event != $row.event
    then "\($row.id): kcat decodes \($m.event | tojson), the outbox holds \($row.event | tojson)"
  elif [$m.topic, $m.partition, $m.offset] != [$row.topic, $row.kafka_partition, $row.kafka_offset]
    then "\($row.id): at \([$m.topic, $m.partition, $m.offset]), the outbox says \([$row.topic, $row.kafka_partition, $row.kafka_offset])"
  elif $row.status != "sent" then "\($row.id): status \($row.status)"
  elif $m.key != ($row.event.partitionkey // null) then "\($row.id): key \($m.key)"
  elif $m.dup then "\($row.id): a header repeated: \($m.headers)"
  elif $mode == "structured" and ($m.headers["content-type"] != "application/cloudevents+json; charset=UTF-8"
      or ($m.headers | keys | any(startswith("ce_")))) then "\($row.id): structured headers \($m.headers)"
  elif $mode == "binary" and $m.headers["content-type"] != $row.event.datacontenttype
    then "\($row.id): content-type \($m.headers["content-type"])"
  elif ($tp | test("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$") | not) then "\($row.id): traceparent header \($tp)"
  elif ($row.event.traceparent != null) and ($tp[3:35] != $row.event.traceparent[3:35]
      or $tp[36:52] == $row.event.traceparent[36:52]) then "\($row.id): hop \($tp) is not a child span of \($row.event.traceparent)"
  else empty end'

# relay_mode MODE TOPIC: enqueue the special events and 300 generated ones,
# relay them once in MODE, compare what kcat reads with the outbox.
relay_mode() {
	local mode=$1 topic=$2
	{ special_events; gen_events 300 17; } >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
	bindings_to "$topic"
	run --separate-stderr outbox-relay --once --db "$T/o.db" -B "$T/bindings.conf" -b "$KAFKA_BROKERS" --mode "$mode"
	assert_success
	[ -z "$output" ]
	[ "$stderr" = "outbox-relay: $T/o.db: sent 305" ]
	[ "$(db_count "$T/o.db" "status = 'sent' AND attempts = 1")" -eq 305 ]
	outbox_rows "$T/o.db" | jq -s . >"$T/rows.json"
	kcat_decoded "$topic" | jq -s . >"$T/msgs.json"
	[ "$(jq length "$T/msgs.json")" -eq 305 ]
	run jq -r -n --slurpfile rows "$T/rows.json" --slurpfile msgs "$T/msgs.json" --arg mode "$mode" \
		'$rows[0] as $rows | $msgs[0] as $msgs | '"$COMPARE"
	assert_success
	assert_output ''
	# Each id once: 305 messages, 305 distinct ids.
	[ "$(jq -r '.[].event.id' "$T/msgs.json" | sort -u | wc -l)" -eq 305 ]
	# The generated events keep their per-key order within a partition.
	jq -r '.[] | select(.event.id | startswith("ev-")) | "\(.partition) \(.offset) \(.key) \(.event.data.seq)"' "$T/msgs.json" |
		sort -k1,1n -k2,2n | awk '{ if (($3 in last) && $4 <= last[$3]) { print "key " $3 " out of order at " $1 "/" $2; bad = 1 } last[$3] = $4 }
			END { exit bad }'
}

@test "relay: binary mode on the real broker: kcat -J decodes every event, key, ce_ headers, content-type, hop traceparent; the audit columns are where kcat finds each" {
	relay_mode binary modes-binary
	# The binary data's bytes, exactly (kcat -J cannot show them).
	read -r p o < <(sqlite3 -separator ' ' "$T/o.db" "SELECT kafka_partition, kafka_offset FROM outbox WHERE id = 'm-5'")
	run --separate-stderr sh -c "timeout 30 kcat -C -b '$KAFKA_BROKERS' -t modes-binary -p $p -o $o -c 1 -e -q -f '%s' | base64"
	assert_output 'AAH/'
}

@test "relay: structured mode on the real broker: the value is the stored event, byte for byte; kcat -J decodes it; the audit columns match" {
	relay_mode structured modes-structured
	timeout 60 kcat -C -b "$KAFKA_BROKERS" -t modes-structured -o beginning -e -q -f '%p %o %s\n' | sort >"$T/kcat"
	sqlite3 "$T/o.db" "SELECT kafka_partition || ' ' || kafka_offset || ' ' || event FROM outbox" | sort >"$T/rows"
	diff "$T/rows" "$T/kcat"
}

sent_ge() { [ "$(db_count "$T/o.db" "status = 'sent'")" -ge "$1" ]; }

# relay_across_restart KILL HOW TOPIC: 20000 pending events; outbox-relay
# (HOW: "run", or "once" with a long message.timeout.ms) starts; once some
# rows are sent the broker restarts (KILL: "" for SIGTERM, --kill for
# SIGKILL); then every row is sent, every event is in the topic exactly
# once, per-key order holds, and each row's audit columns point at it.
relay_across_restart() {
	local kill=$1 how=$2 topic=$3 n=20000 relay rc=0
	gen_events "$n" 200 >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
	bindings_to "$topic"
	# queue.buffering.max.messages=20: the producer holds at most 20
	# messages, so the relay waits for reports every 20 events and the run
	# takes seconds (unthrottled, 20000 take half a second here), and the
	# restart lands in its middle. The long message.timeout.ms keeps
	# messages queued while the broker is away.
	local args=(--db "$T/o.db" -B "$T/bindings.conf" -b "$KAFKA_BROKERS"
		-X queue.buffering.max.messages=20 -X message.timeout.ms=180000)
	local t0 t1 t2 t3
	t0=$(date +%s%N)
	if [ "$how" = run ]; then
		outbox-relay run "${args[@]}" --interval 1s >"$T/relay.out" 2>"$T/relay.err" 3>&- &
	else
		outbox-relay --once "${args[@]}" >"$T/relay.out" 2>"$T/relay.err" 3>&- &
	fi
	relay=$!
	echo "$relay" >>"$T/pids"
	wait_for 60 sent_ge 1000
	local before
	before=$(db_count "$T/o.db" "status = 'sent'")
	t1=$(date +%s%N)
	bash "$BROKER_SH" restart $kill "$KAFKA_BROKER_DIR" >"$T/env"
	t2=$(date +%s%N)
	grep -qx "KAFKA_REAL_BROKERS=$KAFKA_REAL_BROKERS" "$T/env"
	local at_up
	at_up=$(db_count "$T/o.db" "status = 'sent'")
	# The restart hit the middle of the run, not its end.
	if [ "$at_up" -ge "$n" ]; then
		echo "every row was sent before the broker came back: the restart proved nothing" >&2
		return 1
	fi
	wait_for 180 sent_ge "$n"
	t3=$(date +%s%N)
	if [ "$how" = run ]; then kill -TERM "$relay"; fi
	wait_for 60 eval "! kill -0 $relay"
	wait "$relay" || rc=$?
	cat "$T/relay.err" >&2
	[ "$rc" -eq 0 ]
	[ ! -s "$T/relay.out" ]
	# Every row sent, none dead or pending.
	[ "$(db_count "$T/o.db" "status = 'sent'")" -eq "$n" ]
	# Every event in the topic, and how many copies.
	kcat_ids "$topic" >"$T/kcat"
	local total distinct dups
	total=$(wc -l <"$T/kcat")
	distinct=$(cut -d' ' -f4 "$T/kcat" | sort -u | wc -l)
	dups=$((total - distinct))
	seq -f 'ev-%08g' 1 "$n" >"$T/want"
	cut -d' ' -f4 "$T/kcat" | sort -u | diff "$T/want" -
	# Per key, the sequence numbers rise along the partition (no gap fills
	# out of order, no reordering across the retries).
	awk '{ s = substr($4, 4) + 0; if (($3 in last) && s <= last[$3]) { print "key " $3 " out of order at " $1 "/" $2; bad = 1 } last[$3] = s }
		END { exit bad }' "$T/kcat"
	# The audit trail: each row names the partition and offset holding it.
	sqlite3 "$T/o.db" "SELECT kafka_partition, kafka_offset, id FROM outbox WHERE topic = '$topic'" |
		tr '|' ' ' | sort -k1,1n -k2,2n >"$T/audit"
	cut -d' ' -f1,2,4 "$T/kcat" | diff "$T/audit" -
	local max_attempts
	max_attempts=$(sqlite3 "$T/o.db" "SELECT max(attempts) FROM outbox")
	echo "# restart${kill:+ $kill} under outbox-relay ${how}: $n events; $before sent when the restart began," \
		"$at_up when the broker was back ($(((t2 - t1) / 1000000)) ms later); all sent $(((t3 - t0) / 1000000)) ms after the start;" \
		"$total messages, $dups duplicates; max attempts $max_attempts" >&3
	# The idempotent producer retried across the restart without writing
	# any message twice (at-least-once would allow same-id duplicates).
	[ "$dups" -eq 0 ]
}

@test "relay: run mode across a broker restart (SIGTERM): every row sent, every event once, in key order, audit exact" {
	relay_across_restart "" run restart-term
}

@test "relay: --once across a broker kill -9 and restart: every row sent, every event once, in key order, audit exact" {
	relay_across_restart --kill once restart-kill
}

@test "relay: a topic missing on the broker (auto-create off): rows rescheduled (75), last_error legible, nothing marked sent" {
	gen_events 2 2 >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
	bindings_to no-such-topic
	run --separate-stderr outbox-relay --once --db "$T/o.db" -B "$T/bindings.conf" -b "$KAFKA_BROKERS" \
		-X message.timeout.ms=2000
	assert_failure 75
	[ -z "$output" ]
	[ "$stderr" = "outbox-relay: $T/o.db: sent 0, 2 rescheduled" ]
	run sqlite3 "$T/o.db" "SELECT DISTINCT status || '|' || attempts || '|' || last_error FROM outbox"
	assert_output 'pending|1|kafka: _MSG_TIMED_OUT: Local: Message timed out'
}

@test "relay: make demo KAFKA=real: the demo on its own real broker, every event relayed and read back, the broker stopped at the end" {
	mkdir "$T/tmp"
	# The demo's private directory, and its broker's, inside $T/tmp.
	run env TMPDIR="$T/tmp" KAFKA=real BUILD="${BUILD:-build}" sh "$TOP/examples/demo.sh"
	assert_success
	assert_line '== kafka: a real Apache Kafka broker (tests/kafka/broker.sh) with the four wallet-hub topics'
	assert_line 'outbox-relay: outbox.db: sent 6'
	[ "$(printf '%s\n' "$output" | grep -c '^  headers: ce_specversion=1.0,ce_id=')" -eq 6 ]
	bootstrap=$(printf '%s\n' "$output" | sed -n 's/^bootstrap: //p')
	[ -n "$bootstrap" ] && [ "$bootstrap" != "$KAFKA_REAL_BROKERS" ]
	# Stopped and cleaned up: no process of its broker, no directory left.
	! pgrep -f "$T/tmp" >/dev/null
	[ -z "$(ls -A "$T/tmp")" ]
}
