#!/usr/bin/env bats
# Interop with the official CloudEvents Python SDK (cloudevents 2.x, its
# Kafka binding cloudevents.core.bindings.kafka and JSON format, over the
# pure-Python client kafka-python) on the real broker of `make test-kafka`,
# both ways and in both content modes:
#   outbox-relay publishes, the SDK decodes: every attribute, extension and
#   the data equal the outbox row's stored event (tests/kafka/interop.py
#   relayed, which reads the SQLite file itself);
#   the SDK produces, event-consume decodes: the same events, compared as
#   JSON in one canonical form.
# The venv (tests/kafka/interop-venv.sh) is made once in a cache outside the
# repo; a failure to make it fails the file, it never skips. Real tier only.

load ../helpers/common
load ../helpers/kafka
load events

setup_file() {
	kafka_need_real
	kafka_start -t relay-binary:3 -t relay-structured:3 -t sdk-binary:3 -t sdk-structured:3
	# Made here, once for the file; its failure fails every test below.
	local t0 t1
	t0=$(date +%s%N)
	INTEROP_PY=$(sh "$BATS_TEST_DIRNAME/interop-venv.sh") || return 1
	t1=$(date +%s%N)
	echo "# interop venv ready in $(((t1 - t0) / 1000000)) ms: $INTEROP_PY" >&3
	export INTEROP_PY
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_need_real
	kafka_env
	INTEROP="$TOP/tests/kafka/interop.py"
}

# Events for the SDK to read: every optional attribute; extensions that are
# strings, an integer and a boolean (binary mode carries them as text); an
# event's own traceparent; times with 3, 6 and 9 fraction digits, none, and
# an offset; an event without time; JSON data (with escapes and non-ASCII),
# a JSON string under no content type, text data, binary data that is not
# UTF-8, no data. Then 300 generated events over 17 keys.
relay_events() {
	cat <<'EOF'
{"specversion":"1.0","id":"r-1","source":"/interop/relay","type":"FundsAddedEvent","subject":"w-1","time":"2026-11-30T10:00:00.123456Z","datacontenttype":"application/json","dataschema":"https://example.test/s.json","partitionkey":"w-1","region":"eu1","priority":7,"audited":true,"data":{"walletId":"w-1","amount":"1.50","note":"caf\u00e9 \u20ac \/ \"q\"","n":[1,2.5,null,false]}}
{"specversion":"1.0","id":"r-2","source":"/interop/relay","type":"FundsAddedEvent","time":"2026-11-30T10:00:00.5+02:00","datacontenttype":"text/plain; charset=utf-8","data":"plain text, no key: caf\u00e9"}
{"specversion":"1.0","id":"r-3","source":"/interop/relay","type":"FundsAddedEvent","time":"2026-11-30T10:00:00.123456789Z","partitionkey":"w-1","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","data":{"n":3}}
{"specversion":"1.0","id":"r-4","source":"/interop/relay","type":"FundsAddedEvent","partitionkey":"w-2"}
{"specversion":"1.0","id":"r-5","source":"/interop/relay","type":"FundsAddedEvent","time":"2026-11-30T10:00:00Z","datacontenttype":"application/octet-stream","data_base64":"AAH+/yBub3QgVVRGLTg="}
{"specversion":"1.0","id":"r-6","source":"/interop/relay","type":"FundsAddedEvent","time":"2026-11-30T10:00:00.120Z","data":"a JSON string, no content type"}
EOF
	gen_events 300 17
}

# sdk_reads_relay MODE TOPIC: the events above through outbox-enqueue and
# one outbox-relay pass in MODE; the SDK decodes the topic and matches
# every message to its outbox row.
sdk_reads_relay() {
	local mode=$1 topic=$2
	relay_events >"$T/ev.ndjson"
	outbox-enqueue -q --db "$T/o.db" "$T/ev.ndjson"
	bindings_to "$topic"
	run --separate-stderr outbox-relay --once --db "$T/o.db" -B "$T/bindings.conf" -b "$KAFKA_BROKERS" --mode "$mode"
	assert_success
	[ "$stderr" = "outbox-relay: $T/o.db: sent 306" ]
	run --separate-stderr "$INTEROP_PY" "$INTEROP" relayed -b "$KAFKA_BROKERS" -t "$topic" --mode "$mode" --db "$T/o.db"
	echo "$stderr" >&2
	assert_success
	assert_output ''
	local b=0 st=0
	if [ "$mode" = binary ]; then b=306; else st=306; fi
	[ "$stderr" = "interop.py: $topic: 306 messages decoded by cloudevents 2.2.0 (binary $b, structured $st), 306 outbox rows, 0 mismatches" ]
}

@test "interop: outbox-relay binary mode -> the CloudEvents Python SDK decodes every event as stored: attributes, extensions (as text), data, key, audit columns" {
	sdk_reads_relay binary relay-binary
}

@test "interop: outbox-relay structured mode -> the CloudEvents Python SDK decodes every event as stored: attributes, typed extensions, data, key, audit columns" {
	sdk_reads_relay structured relay-structured
}

# consume_sdk MODE TOPIC: the SDK produces its events in MODE; event-consume
# reads the topic from the beginning and must print the same events.
consume_sdk() {
	local mode=$1 topic=$2
	run --separate-stderr "$INTEROP_PY" "$INTEROP" produce -b "$KAFKA_BROKERS" -t "$topic" --mode "$mode" -o "$T/expected.ndjson"
	echo "$stderr" >&2
	assert_success
	[ "$(wc -l <"$T/expected.ndjson")" -eq 205 ]
	run --separate-stderr timeout 120 event-consume -t "$topic" -b "$KAFKA_BROKERS" --from beginning --exit-eof
	echo "$stderr" >&2
	assert_success
	printf '%s\n' "$output" >"$T/got.ndjson"
	[ "$(wc -l <"$T/got.ndjson")" -eq 205 ]
	"$INTEROP_PY" "$INTEROP" canon <"$T/expected.ndjson" | sort >"$T/want.canon"
	"$INTEROP_PY" "$INTEROP" canon <"$T/got.ndjson" | sort >"$T/got.canon"
	diff "$T/want.canon" "$T/got.canon"
}

@test "interop: the CloudEvents Python SDK produces binary mode -> event-consume decodes the same events (extensions, text and binary data, times with fraction digits)" {
	consume_sdk binary sdk-binary
	# Spot checks, independent of the SDK's own JSON writer.
	grep -Fx '{"specversion":"1.0","id":"py-3","source":"/interop/python","type":"BlobEvent","time":"2026-11-30T10:00:00.250000+02:00","datacontenttype":"application/octet-stream","partitionkey":"w-2","data_base64":"AAH+/yBub3QgVVRGLTg="}' "$T/got.ndjson"
	grep -F '"id":"py-1"' "$T/got.ndjson" | grep -F '"time":"2026-11-30T10:00:00.123456Z"' | grep -F '"priority":"7"'
	grep -F '"id":"py-2"' "$T/got.ndjson" | grep -F '"data":"plain text, no key: caf'
}

@test "interop: the CloudEvents Python SDK produces structured mode -> event-consume decodes the same events (typed extensions, text and binary data, times with fraction digits)" {
	consume_sdk structured sdk-structured
	grep -F '"id":"py-3"' "$T/got.ndjson" | grep -F '"data_base64":"AAH+/yBub3QgVVRGLTg="'
	grep -F '"id":"py-1"' "$T/got.ndjson" | grep -F '"time":"2026-11-30T10:00:00.123456Z"' | grep -F '"priority":7'
}
