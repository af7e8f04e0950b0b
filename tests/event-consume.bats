#!/usr/bin/env bats
# event-consume(1) against the mock cluster (make test) or a real broker
# (make test-kafka; see tests/helpers/kafka.bash). kcat is the independent peer:
# it produces the messages read here (hand-set headers, keys, partitions)
# and reads the dead-letter topics written here. outbox-relay produces the
# round-trip events. Every test uses topics of its own; every wait is
# bounded (timeout(1), wait_for).

load helpers/common
load helpers/kafka

setup_file() {
	kafka_start -b 1 -t wallet-created-events:1
}

teardown_file() {
	kafka_stop
}

setup() {
	common_setup
	kafka_env
	export T
}

teardown() {
	local p
	for p in ${KILL_AT_END:-}; do kill "$p" 2>/dev/null || true; done
	if [ -n "${SINK_PID:-}" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
}

# The mock cluster keeps a member that left a group until its session times
# out, and a new member's join waits for that: short sessions keep a second
# run of one group quick. (librdkafka 2.0.2's mock; a real broker does not.)
# A real broker refuses sessions below its group.min.session.timeout.ms
# (6 s); there the short session only serves a member killed with -9.
if [ "$(kafka_tier)" = real ]; then
	GX=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)
else
	GX=(-X session.timeout.ms=4000 -X heartbeat.interval.ms=300)
fi

# topic NAME PARTITIONS: create a topic of the test's own.
topic() {
	kafka_topic "$1" "$2"
}

# dlq_topic NAME: a dead-letter topic the test's run writes to. The mock
# creates a topic on its first use; a real broker, as in production, has
# auto.create.topics.enable=false: there it is created first.
dlq_topic() {
	[ "$(kafka_tier)" = mock ] || kafka_topic "$1" 1
}

# produce TOPIC [kcat -P options]: the messages on stdin, one per line.
produce() {
	local t=$1
	shift
	timeout 20 kcat -P -b "$KAFKA_BROKERS" -t "$t" -X message.timeout.ms=10000 "$@"
}

# bin ID [TYPE]: kcat options for a minimal binary-mode event.
bin() {
	printf '%s\n' -H ce_specversion=1.0 -H "ce_id=$1" -H ce_source=/test -H "ce_type=${2:-T}" \
		-H content-type=application/json
}

# ev ID [TYPE] [DATA]: one canonical event line.
ev() {
	printf '{"specversion":"1.0","id":"%s","source":"/test","type":"%s","datacontenttype":"application/json","data":%s}\n' \
		"$1" "${2:-T}" "${3:-{\"n\":1\}}"
}

SH=(-H 'content-type=application/cloudevents+json; charset=UTF-8')

# read_topic TOPIC [kcat -C options]: every message of TOPIC, with -f.
read_topic() {
	local t=$1
	shift
	timeout 20 kcat -C -b "$KAFKA_BROKERS" -t "$t" -o beginning -e -q "$@"
}

ec() {
	timeout 60 event-consume "$@"
}

# ---- decoding ---------------------------------------------------------

@test "decode: binary messages from kcat with hand-set headers give what cloudevent-wrap --validate prints" {
	topic dec 1
	# Java SDK: content-type only, no ce_datacontenttype.
	echo '{"walletId": "w-1",  "amount": 10}' | produce dec -H ce_specversion=1.0 -H ce_id=j1 \
		-H ce_source=/java -H ce_type=com.example.Created -H ce_time=2026-03-04T05:06:07.123456Z \
		-H content-type=application/json
	echo '{"specversion":"1.0","id":"j1","source":"/java","type":"com.example.Created","time":"2026-03-04T05:06:07.123456Z","datacontenttype":"application/json","data":{"walletId":"w-1","amount":10}}' >"$T/src"
	# JS SDK: both; ce_datacontenttype is ignored when content-type is there.
	echo '[1,2,3]' | produce dec -H ce_specversion=1.0 -H ce_id=js1 -H ce_source=/js \
		-H ce_type=T -H ce_subject=sub/1 -H content-type=application/json \
		-H ce_datacontenttype=text/plain
	echo '{"specversion":"1.0","id":"js1","source":"/js","type":"T","subject":"sub/1","datacontenttype":"application/json","data":[1,2,3]}' >>"$T/src"
	# Spring Cloud Stream's own headers are not attributes.
	echo '{"x":true}' | produce dec -H ce_specversion=1.0 -H ce_id=sp1 -H ce_source=/spring \
		-H ce_type=T -H contentType=application/json \
		-H 'spring_json_header_types={"contentType":"java.lang.String"}' \
		-H id=0b1d2c6e-aaaa-bbbb-cccc-123456789012 -H timestamp=1700000000000 \
		-H content-type=application/json
	echo '{"specversion":"1.0","id":"sp1","source":"/spring","type":"T","datacontenttype":"application/json","data":{"x":true}}' >>"$T/src"
	# Extension values arrive as text and stay strings; a key is no attribute.
	echo 'k-1:{"n":1}' | produce dec -K : -H ce_specversion=1.0 -H ce_id=x1 -H ce_source=/s \
		-H ce_type=T -H ce_count=7 -H ce_flag=true -H ce_partitionkey=k-1 \
		-H ce_dataschema=https://example.com/s.json
	echo '{"specversion":"1.0","id":"x1","source":"/s","type":"T","dataschema":"https://example.com/s.json","count":"7","flag":"true","partitionkey":"k-1","data":{"n":1}}' >>"$T/src"
	# Text under a text/ content type is a data string; UTF-8 is kept.
	echo 'héllo wörld' | produce dec -H ce_specversion=1.0 -H ce_id=t1 -H ce_source=/s \
		-H ce_type=T -H content-type=text/plain
	echo '{"specversion":"1.0","id":"t1","source":"/s","type":"T","datacontenttype":"text/plain","data":"héllo wörld"}' >>"$T/src"
	# ce_time with 0 to 9 fraction digits keeps its precision.
	local frac="" d
	for d in 0 1 2 3 4 5 6 7 8 9; do
		if [ "$d" -gt 0 ]; then frac="${frac}$d"; fi
		local tm="2026-01-02T03:04:05${frac:+.$frac}Z"
		echo '{}' | produce dec -H ce_specversion=1.0 -H "ce_id=f$d" -H ce_source=/s \
			-H ce_type=T -H "ce_time=$tm" -H content-type=application/json
		echo "{\"specversion\":\"1.0\",\"id\":\"f$d\",\"source\":\"/s\",\"type\":\"T\",\"time\":\"$tm\",\"datacontenttype\":\"application/json\",\"data\":{}}" >>"$T/src"
	done
	cloudevent-wrap --validate <"$T/src" >"$T/expected"
	[ "$(wc -l <"$T/expected")" -eq 15 ]
	run --separate-stderr ec -t dec --exit-eof -q
	assert_success
	diff -u "$T/expected" <(printf '%s\n' "$output")
}

@test "decode: structured messages (any member order, white space) give the canonical event; same as binary" {
	topic decs 1
	echo '{ "data": {"b": [1, 2]}, "type": "T", "id": "s1",  "source": "/s", "specversion": "1.0", "zext": "z", "aext": "a", "datacontenttype": "application/json" }' |
		produce decs "${SH[@]}"
	echo '{"data_base64":"AAEC","specversion":"1.0","id":"s2","source":"/s","type":"T","datacontenttype":"application/octet-stream"}' |
		produce decs -H 'Content-Type=APPLICATION/CLOUDEVENTS+JSON'
	# the same first event again, in binary mode
	echo '{"b":[1,2]}' | produce decs -H ce_specversion=1.0 -H ce_id=s1 -H ce_source=/s \
		-H ce_type=T -H ce_zext=z -H ce_aext=a -H content-type=application/json
	cat >"$T/src" <<-'EOF'
	{"specversion":"1.0","id":"s1","source":"/s","type":"T","datacontenttype":"application/json","aext":"a","zext":"z","data":{"b":[1,2]}}
	{"specversion":"1.0","id":"s2","source":"/s","type":"T","datacontenttype":"application/octet-stream","data_base64":"AAEC"}
	{"specversion":"1.0","id":"s1","source":"/s","type":"T","datacontenttype":"application/json","aext":"a","zext":"z","data":{"b":[1,2]}}
	EOF
	cloudevent-wrap --validate <"$T/src" >"$T/expected"
	run --separate-stderr ec -t decs --exit-eof -q
	assert_success
	diff -u "$T/expected" <(printf '%s\n' "$output")
}

# ---- round trips through outbox-relay ----------------------------------

roundtrip_events() {
	cat <<-'EOF'
	{"specversion":"1.0","id":"r1","source":"/rt","type":"RtEvent","data":{"walletId":"w-1","amount":10.5,"tags":["a","b"],"nested":{"k":null}}}
	{"specversion":"1.0","id":"r2","source":"/rt","type":"RtEvent","subject":"wallet/w-2","time":"2026-11-30T12:00:00.123456789Z","datacontenttype":"application/json","data":{"ok":true}}
	{"specversion":"1.0","id":"r3","source":"/rt","type":"RtEvent","partitionkey":"w-3","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","data":"a JSON string"}
	{"specversion":"1.0","id":"r4","source":"/rt","type":"RtEvent","datacontenttype":"text/plain","data":"plain text, UTF-8: é ü €"}
	{"specversion":"1.0","id":"r5","source":"/rt","type":"RtEvent","datacontenttype":"application/octet-stream","data_base64":"AP8Q/w=="}
	{"specversion":"1.0","id":"r6","source":"/rt","type":"RtEvent","dataschema":"https://example.com/schema","comexampleext":"some value","partitionkey":"w-3"}
	{"specversion":"1.0","id":"r7","source":"/rt","type":"RtEvent","time":"2026-11-30T12:00:00Z","data":[1,2,3]}
	EOF
}

@test "round trip: every event outbox-relay published comes back byte for byte, structured and binary" {
	topic rt-structured 3
	topic rt-binary 3
	roundtrip_events | cloudevent-wrap --validate >"$T/canonical"
	[ "$(wc -l <"$T/canonical")" -eq 7 ]
	local mode
	for mode in structured binary; do
		echo "producer RtEvent rt-out-0 rt-$mode" >"$T/$mode.conf"
		run outbox-enqueue --db "$T/$mode.db" -q "$T/canonical"
		assert_success
		run outbox-relay --once --db "$T/$mode.db" -B "$T/$mode.conf" --mode "$mode" -q
		assert_success
		# kcat sees the mode on the wire
		if [ "$mode" = binary ]; then
			read_topic rt-binary -f '%h\n' | grep -q 'ce_id=r1'
		else
			[ "$(read_topic rt-structured -f '%h\n' | grep -c 'content-type=application/cloudevents+json')" -eq 7 ]
		fi
		run --separate-stderr ec -t "rt-$mode" --exit-eof -q
		assert_success
		diff -u <(sort "$T/canonical") <(printf '%s\n' "$output" | sort)
	done
}

# ---- where to start, when to stop ---------------------------------------

@test "--exit-eof without a group reads every partition to its end and exits 0" {
	topic eof 3
	local p i
	for p in 0 1 2; do
		for i in 1 2 3; do ev "p$p-$i"; done | produce eof -p "$p" "${SH[@]}"
	done
	run --separate-stderr ec -t eof --exit-eof
	assert_success
	[ "${#lines[@]}" -eq 9 ]
	for p in 0 1 2; do
		# per partition, in offset order
		[ "$(printf '%s\n' "$output" | grep -o "\"p$p-[0-9]\"" | tr -d '"' | tr '\n' ' ')" = "p$p-1 p$p-2 p$p-3 " ]
	done
	[[ $stderr == *"consumed 9, handled 9"* ]]
	# an empty partition is no reason to wait
	topic eof-empty 2
	ev e1 | produce eof-empty -p 1 "${SH[@]}"
	run --separate-stderr ec -t eof-empty --exit-eof -q
	assert_success
	assert_output "$(ev e1)"
}

@test "--exit-eof with a group (-g) over several partitions; -c N stops after N" {
	topic eofg 3
	local p i
	for p in 0 1 2; do
		for i in 1 2 3 4; do ev "p$p-$i"; done | produce eofg -p "$p" "${SH[@]}"
	done
	run --separate-stderr ec -t eofg -g eofg-a "${GX[@]}" --exit-eof -q
	assert_success
	[ "${#lines[@]}" -eq 12 ]
	[ "$(printf '%s\n' "$output" | sort -u | wc -l)" -eq 12 ]
	topic cnt 1
	for i in 1 2 3 4 5 6 7 8 9 10; do ev "c$i"; done | produce cnt "${SH[@]}"
	run --separate-stderr ec -t cnt -c 3
	assert_success
	assert_output "$(ev c1; ev c2; ev c3)"
	[[ $stderr == *"consumed 3, handled 3"* ]]
}

@test "group commits: -g G -c 5, then -g G starts after the 5 handled" {
	topic commits 1
	local i
	for i in $(seq 1 12); do ev "g$i"; done | produce commits "${SH[@]}"
	run --separate-stderr ec -t commits -g G "${GX[@]}" -c 5 -q
	assert_success
	assert_output "$(for i in 1 2 3 4 5; do ev "g$i"; done)"
	run --separate-stderr ec -t commits -g G "${GX[@]}" --exit-eof -q
	assert_success
	assert_output "$(for i in $(seq 6 12); do ev "g$i"; done)"
	# and nothing is left for G; another group reads all
	run --separate-stderr ec -t commits -g G "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
	run --separate-stderr ec -t commits -g other "${GX[@]}" --exit-eof -q
	assert_success
	[ "${#lines[@]}" -eq 12 ]
	# --from stored is the group's default; beginning overrides it
	run --separate-stderr ec -t commits -g G "${GX[@]}" --from beginning -c 2 -q
	assert_success
	assert_output "$(ev g1; ev g2)"
}

@test "--idle-timeout stops after that long without a message" {
	topic idle 2
	ev i1 | produce idle -p 0 "${SH[@]}"
	ev i2 | produce idle -p 1 "${SH[@]}"
	local t0=$SECONDS
	run --separate-stderr ec -t idle --idle-timeout 700ms -q
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	[ $((SECONDS - t0)) -lt 20 ]
}

@test "--idle-timeout with a group counts from the assignment, not from the start (joining takes seconds)" {
	topic idleg 1
	{ ev i1; ev i2; } | produce idleg "${SH[@]}"
	# the mock, like Kafka (group.initial.rebalance.delay.ms), takes 3 s to
	# form a new group: events that are waiting must still be read
	run --separate-stderr ec -t idleg -g idleg "${GX[@]}" --idle-timeout 1500ms -q
	assert_success
	assert_output "$(ev i1; ev i2)"
}

@test "--from beginning and end; --from end waits for new messages only" {
	topic from 1
	ev old1 | produce from "${SH[@]}"
	ev old2 | produce from "${SH[@]}"
	run --separate-stderr ec -t from --exit-eof --from beginning -q
	assert_success
	assert_output "$(ev old1; ev old2)"
	run --separate-stderr ec -t from --exit-eof --from end -q
	assert_success
	assert_output ""
	# keep producing until the consumer has its one new message
	event-consume -t from --from end -c 1 -q >"$T/end.out" 2>"$T/end.err" 3>&- &
	local pid=$! n=0
	KILL_AT_END=$pid
	feed_until_done() {
		n=$((n + 1))
		ev "late$n" | produce from "${SH[@]}"
		! kill -0 "$pid" 2>/dev/null
	}
	wait_for 30 feed_until_done
	wait "$pid"
	run cat "$T/end.out"
	assert_output --regexp '^\{"specversion":"1.0","id":"late[0-9]+"'
	[ "${#lines[@]}" -eq 1 ]
}

@test "--from a time: RFC 3339 or epoch milliseconds" {
	topic fromt 1
	ev old1 | produce fromt "${SH[@]}"
	local t rfc
	t=$(($(date +%s%3N) + 1))
	# the next message is stamped later than t (no fixed sleep: wait the ms out)
	wait_for 5 test "$(date +%s%3N)" -gt "$t"
	ev new1 | produce fromt "${SH[@]}"
	ev new2 | produce fromt "${SH[@]}"
	rfc=$(date -u -d "@$((t / 1000)).$(printf %03d $((t % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
	# a time after every message: nothing, and no waiting with --exit-eof
	run --separate-stderr ec -t fromt --exit-eof --from 2099-01-01T00:00:00+01:00 -q
	assert_success
	assert_output ""
	# librdkafka 2.0.2's mock cluster answers every timestamp lookup with
	# "no such offset" (kcat -o s@1 reads nothing there): the rest needs a
	# real broker
	if [ -z "$(read_topic fromt -o s@1 -f '%o\n')" ]; then
		run --separate-stderr ec -t fromt --exit-eof --from "$t" -q
		assert_success
		run --separate-stderr ec -t fromt --exit-eof --from "$rfc" -q
		assert_success
		skip "the mock cluster cannot look offsets up by time"
	fi
	run --separate-stderr ec -t fromt --exit-eof --from "$t" -q
	assert_success
	assert_output "$(ev new1; ev new2)"
	run --separate-stderr ec -t fromt --exit-eof --from "$rfc" -q
	assert_success
	assert_output "$(ev new1; ev new2)"
}

@test "--type keeps only the named types; others are skipped and counted" {
	topic types 1
	{ ev a1 A; ev b1 B; ev c1 C; ev a2 A; } | produce types "${SH[@]}"
	run --separate-stderr ec -t types --exit-eof --type A --type C
	assert_success
	assert_output "$(ev a1 A; ev c1 C; ev a2 A)"
	[[ $stderr == *"filtered out 1"* ]]
}

@test "--data-only prints each event's data: JSON compact, text and bytes as they are" {
	topic dataonly 1
	echo '{ "a" : 1 }' | produce dataonly $(bin d1)
	echo 'just text' | produce dataonly -H ce_specversion=1.0 -H ce_id=d2 -H ce_source=/s \
		-H ce_type=T -H content-type=text/plain
	echo '{"specversion":"1.0","id":"d3","source":"/s","type":"T","data_base64":"aGk="}' |
		produce dataonly "${SH[@]}"
	run --separate-stderr ec -t dataonly --exit-eof --data-only -q
	assert_success
	assert_output $'{"a":1}\njust text\nhi'
}

@test "--with-kafka wraps each event with topic, partition, offset, key and timestamp" {
	topic withk 2
	local before after
	before=$(date +%s%3N)
	echo 'key-1:{"n":1}' | produce withk -p 1 -K : $(bin w1)
	ev w2 | produce withk -p 1 "${SH[@]}"
	after=$(date +%s%3N)
	run --separate-stderr ec -t withk --exit-eof --with-kafka -q
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} =~ ^\{\"topic\":\"withk\",\"partition\":1,\"offset\":0,\"key\":\"key-1\",\"timestamp\":([0-9]+),\"event\":(.*)\}$ ]]
	[ "${BASH_REMATCH[1]}" -ge "$before" ] && [ "${BASH_REMATCH[1]}" -le "$after" ]
	[ "${BASH_REMATCH[2]}" = "$(ev w1)" ]
	[[ ${lines[1]} =~ ^\{\"topic\":\"withk\",\"partition\":1,\"offset\":1,\"key\":null,\"timestamp\":[0-9]+,\"event\":(.*)\}$ ]]
	[ "${BASH_REMATCH[1]}" = "$(ev w2)" ]
}

@test "--binding walletCreatedEventConsumer-in-0 reads its topic in group wallet-hub-consumers" {
	ev wc1 WalletCreatedEvent | produce wallet-created-events "${SH[@]}"
	ev wc2 WalletCreatedEvent | produce wallet-created-events "${SH[@]}"
	run --separate-stderr ec --binding walletCreatedEventConsumer-in-0 "${GX[@]}" --exit-eof -q
	assert_success
	assert_output "$(ev wc1 WalletCreatedEvent; ev wc2 WalletCreatedEvent)"
	# the offsets were committed for group wallet-hub-consumers
	run --separate-stderr ec -t wallet-created-events -g wallet-hub-consumers "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
	# -g wins over the binding's group
	run --separate-stderr ec --binding walletCreatedEventConsumer-in-0 -g mine "${GX[@]}" --exit-eof -q
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	run --separate-stderr ec --binding noSuchConsumer-in-0 --exit-eof
	[ "$status" -eq 78 ]
	[[ $stderr == *"no consumer binding noSuchConsumer-in-0"* ]]
}

@test "-B FILE and EVENT_BINDINGS name the table --binding reads" {
	topic shop-orders 1
	ev o1 OrderPlaced | produce shop-orders "${SH[@]}"
	echo 'consumer ordersConsumer-in-0 shop-orders shop-workers' >"$T/shop.conf"
	run --separate-stderr ec -B "$T/shop.conf" --binding ordersConsumer-in-0 "${GX[@]}" --exit-eof -q
	assert_success
	assert_output "$(ev o1 OrderPlaced)"
	# the group came from the file: its offsets are committed
	EVENT_BINDINGS="$T/shop.conf" run --separate-stderr ec --binding ordersConsumer-in-0 \
		"${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
	# the table named is the only one: no built-in fallback
	run --separate-stderr ec -B "$T/shop.conf" --binding walletCreatedEventConsumer-in-0 --exit-eof
	[ "$status" -eq 78 ]
	run --separate-stderr ec -B "$T/missing.conf" --binding ordersConsumer-in-0 --exit-eof
	[ "$status" -eq 66 ]
}

@test "-F FILE, -b and KAFKA_BROKERS in their order; -v shows the settings with secrets redacted" {
	topic conf 1
	ev c1 | produce conf "${SH[@]}"
	printf 'bootstrap.servers=%s\n' "$KAFKA_BROKERS" >"$T/good.conf"
	printf 'bootstrap.servers=127.0.0.1:1\n' >"$T/bad.conf"
	local brokers=$KAFKA_BROKERS
	unset KAFKA_BROKERS
	run --separate-stderr ec -F "$T/good.conf" -t conf --exit-eof -q
	assert_success
	assert_output "$(ev c1)"
	# the environment overrides the file, -b overrides both
	KAFKA_BROKERS=$brokers run --separate-stderr ec -F "$T/bad.conf" -t conf --exit-eof -q
	assert_success
	run --separate-stderr ec -F "$T/bad.conf" -b "$brokers" -t conf --exit-eof -q
	assert_success
	run --separate-stderr ec -F "$T/bad.conf" -t conf --exit-eof -q
	[ "$status" -eq 69 ]
	run --separate-stderr ec -F "$T/good.conf" -t conf --exit-eof -v -X sasl.password=hunter2
	assert_success
	[[ $stderr == *"bootstrap.servers=$brokers  # $T/good.conf:1"* ]]
	[[ $stderr == *"sasl.password=[redacted]"* ]]
	[[ $stderr != *hunter2* ]]
	run --separate-stderr ec -F "$T/missing.conf" -t conf --exit-eof
	[ "$status" -eq 66 ]
}

@test "-h prints the usage on stdout and exits 0; -V the version" {
	run --separate-stderr event-consume -h
	assert_success
	[[ ${lines[0]} == "usage: event-consume (-t TOPIC... | --binding NAME)"* ]]
	[ -z "$stderr" ]
	run event-consume -V
	assert_success
	assert_output --regexp '^event-consume [0-9]+\.[0-9]+\.[0-9]+$'
}

# ---- the --exec handler -------------------------------------------------

@test "--exec: the event's attributes and Kafka coordinates in the environment, the event line on stdin" {
	topic execenv 2
	cat >"$T/h.sh" <<-'EOF'
	env | grep -E '^(CE_|TRACEPARENT=|TRACESTATE=|KAFKA_|EVENT_)' | sort >"$T/env.$CE_ID"
	cat >"$T/stdin.$CE_ID"
	EOF
	echo 'wk:{"n":1}' | produce execenv -p 1 -K : -H ce_specversion=1.0 -H ce_id=x1 \
		-H ce_source=/src -H ce_type=Typ -H ce_subject=sub -H ce_time=2026-11-30T10:00:00.5Z \
		-H ce_myext=hello -H content-type=application/json \
		-H traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	echo '{"specversion":"1.0","id":"x2","source":"/src","type":"Typ","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}' |
		produce execenv -p 0 "${SH[@]}"
	CE_STALE=leak run --separate-stderr ec -t execenv --exit-eof --exec "sh $T/h.sh" -q
	assert_success
	assert_output ""
	run cat "$T/env.x1"
	assert_line CE_ID=x1
	assert_line CE_SOURCE=/src
	assert_line CE_TYPE=Typ
	assert_line CE_SPECVERSION=1.0
	assert_line CE_SUBJECT=sub
	assert_line CE_TIME=2026-11-30T10:00:00.5Z
	assert_line CE_DATACONTENTTYPE=application/json
	assert_line CE_MYEXT=hello
	assert_line KAFKA_TOPIC=execenv
	assert_line KAFKA_PARTITION=1
	assert_line KAFKA_OFFSET=0
	assert_line KAFKA_KEY=wk
	assert_line --regexp '^KAFKA_TIMESTAMP=[0-9]+$'
	assert_line EVENT_COUNT=1
	assert_line EVENT_ATTEMPT=1
	refute_line --partial CE_STALE
	# a child of the message's traceparent header: same trace, new span
	assert_line --regexp '^TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$'
	refute_line --partial 00f067aa0ba902b7
	[ "$(cat "$T/stdin.x1")" = '{"specversion":"1.0","id":"x1","source":"/src","type":"Typ","subject":"sub","time":"2026-11-30T10:00:00.5Z","datacontenttype":"application/json","myext":"hello","data":{"n":1}}' ]
	run cat "$T/env.x2"
	assert_line KAFKA_PARTITION=0
	refute_line --partial KAFKA_KEY
	# without a header: a child of the event's traceparent extension, which
	# itself is passed unchanged
	assert_line CE_TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	assert_line --regexp '^TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$'
	refute_line TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	[ "$(cat "$T/stdin.x2")" = '{"specversion":"1.0","id":"x2","source":"/src","type":"Typ","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}' ]
}

# dlq_lines TOPIC: the dead letters as "key|value|headers".
dlq_lines() {
	read_topic "$1" -f '%k|%s|%h\n'
}

@test "--exec exit 65: dead-lettered at once with the original key, value, headers and x-original-*" {
	topic ex65 1
	dlq_topic error.ex65.g65
	echo 'k9:{"n":9}' | produce ex65 -K : $(bin bad1) -H ce_myext=v
	{ ev ok1; ev ok2; } | produce ex65 "${SH[@]}"
	cat >"$T/h.sh" <<-'EOF'
	echo "$CE_ID $EVENT_ATTEMPT" >>"$T/log"
	[ "$CE_ID" != bad1 ] || exit 65
	EOF
	run --separate-stderr ec -t ex65 -g g65 "${GX[@]}" --exit-eof --exec "sh $T/h.sh" --backoff 10ms,50ms
	assert_success
	[ "$(cat "$T/log")" = $'bad1 1\nok1 1\nok2 1' ]
	[[ $stderr == *"ex65 [0] @0: dead-lettered to error.ex65.g65: handler exited with status 65"* ]]
	run dlq_lines error.ex65.g65
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == 'k9|{"n":9}|ce_specversion=1.0,ce_id=bad1,ce_source=/test,ce_type=T,content-type=application/json,ce_myext=v,'* ]]
	[[ ${lines[0]} == *",x-original-topic=ex65,x-original-partition=0,x-original-offset=0,"* ]]
	[[ ${lines[0]} == *",x-exception-message=handler exited with status 65,x-attempts=1" ]]
	# handled and dead-lettered offsets were committed
	run --separate-stderr ec -t ex65 -g g65 "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
}

@test "--exec exit 1: retried with backoff, then dead-lettered after --max-attempts (--dlq names the topic)" {
	topic ex1 1
	dlq_topic ex1-dead
	ev f1 | produce ex1 "${SH[@]}"
	ev ok1 | produce ex1 "${SH[@]}"
	cat >"$T/h.sh" <<-'EOF'
	echo "$CE_ID $EVENT_ATTEMPT" >>"$T/log"
	[ "$CE_ID" != f1 ] || exit 1
	EOF
	run --separate-stderr ec -t ex1 -g g1 "${GX[@]}" --exit-eof --exec "sh $T/h.sh" \
		--backoff 10ms,50ms --max-attempts 3 --dlq ex1-dead
	assert_success
	[ "$(cat "$T/log")" = $'f1 1\nf1 2\nf1 3\nok1 1' ]
	run dlq_lines ex1-dead
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "|$(ev f1)|content-type=application/cloudevents+json; charset=UTF-8,x-original-topic=ex1,"* ]]
	[[ ${lines[0]} == *",x-exception-message=gave up after 3 attempts: handler exited with status 1,x-attempts=3" ]]
}

@test "--exec: a handler that succeeds on its 2nd attempt is handled once; its partition is held, another flows" {
	topic hold 2
	{ ev a1; ev a2; } | produce hold -p 0 "${SH[@]}"
	{ ev b1; ev b2; } | produce hold -p 1 "${SH[@]}"
	# a1 fails until b2 was handled: it can succeed only if partition 1
	# flows while a1 waits; b1 fails until a1 was tried, whatever comes first.
	cat >"$T/h.sh" <<-'EOF'
	echo "try $CE_ID $KAFKA_PARTITION" >>"$T/log"
	case $CE_ID in
	a1) [ -e "$T/b2.done" ] || exit 1 ;;
	b1) grep -q 'try a1' "$T/log" || exit 1 ;;
	esac
	echo "ok $CE_ID" >>"$T/log"
	touch "$T/$CE_ID.done"
	EOF
	run --separate-stderr ec -t hold --exit-eof --exec "sh $T/h.sh" --backoff 10ms,50ms --max-attempts 200
	assert_success
	local l
	l=$(cat "$T/log")
	[ "$(grep -c '^ok ' <<<"$l")" -eq 4 ]
	for e in a1 a2 b1 b2; do [ "$(grep -c "^ok $e\$" <<<"$l")" -eq 1 ]; done
	[ "$(grep -c '^try a1' <<<"$l")" -ge 2 ] || { echo "$l"; return 1; }
	line_of() { grep -n -m1 -- "$1" <<<"$l" | cut -d: -f1; }
	# a2 is not tried before a1 was handled; b2 not before b1
	[ "$(line_of '^try a2')" -gt "$(line_of '^ok a1')" ]
	[ "$(line_of '^try b2')" -gt "$(line_of '^ok b1')" ]
	# partition 1 was handled while a1 was held
	[ "$(line_of '^ok b2')" -lt "$(line_of '^ok a1')" ]
	[[ $stderr == *"retries "* ]]
}

@test "--handler-timeout kills a slow handler and retries it" {
	topic slow 1
	ev s1 | produce slow "${SH[@]}"
	cat >"$T/h.sh" <<-'EOF'
	echo "try $EVENT_ATTEMPT" >>"$T/log"
	if [ ! -e "$T/slowed" ]; then
		touch "$T/slowed"
		echo $$ >"$T/slowpid"
		sleep 8 </dev/null >/dev/null 2>&1
		echo late >>"$T/log"
	fi
	echo ok >>"$T/log"
	EOF
	local t0=$SECONDS
	run --separate-stderr ec -t slow --exit-eof --exec "sh $T/h.sh" --handler-timeout 300ms --backoff 10ms,50ms
	assert_success
	# the slow run and what it started are gone before the retry
	[ $((SECONDS - t0)) -lt 6 ]
	[ "$(cat "$T/log")" = $'try 1\ntry 2\nok' ]
	# Dead: gone, or a zombie (the inner sh, orphaned when its parent was
	# killed, waits for a reaper; this machine's PID 1 reaps late). A
	# SIGKILL takes effect when the process next runs: a bounded wait.
	wait_for 5 dead "$(cat "$T/slowpid")"
}

# dead PID: no such process, or a zombie.
dead() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

@test "--batch N hands up to N events to one handler run on one stdin" {
	topic batch 1
	local i
	for i in 1 2 3 4 5 6 7; do ev "b$i"; done | produce batch "${SH[@]}"
	cat >"$T/h.sh" <<-'EOF'
	n=$(wc -l)
	echo "$EVENT_COUNT $n $CE_ID" >>"$T/log"
	EOF
	run --separate-stderr ec -t batch --exit-eof --exec "sh $T/h.sh" --batch 3
	assert_success
	run cat "$T/log"
	# the first event's attributes in the environment, all of them on stdin
	assert_line --index 0 '3 3 b1'
	local total=0 c n id
	while read -r c n id; do
		[ "$c" = "$n" ] && [ "$c" -le 3 ]
		total=$((total + c))
	done <"$T/log"
	[ "$total" -eq 7 ]
}

@test "--exec: a key that is not text comes as KAFKA_KEY_BASE64; --with-kafka gives key null and key_base64" {
	topic binkey 1
	printf '\xff\xfe:{"a":1}\n' | produce binkey -K : $(bin k1)
	run --separate-stderr ec -t binkey --exit-eof -q --exec 'env | grep ^KAFKA_KEY'
	assert_success
	assert_output 'KAFKA_KEY_BASE64=//4='
	run --separate-stderr ec -t binkey --exit-eof -q --with-kafka
	assert_success
	[[ $output == '{"topic":"binkey","partition":0,"offset":0,"key":null,"key_base64":"//4=","timestamp":'* ]]
}

@test "--exec: TRACESTATE is the message's tracestate header, never the consumer's own" {
	topic tstate 1
	echo '{}' | produce tstate $(bin t1) \
		-H traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
		-H tracestate=vendor=abc
	TRACESTATE=stale=1 run --separate-stderr ec -t tstate --exit-eof -q --exec 'env | grep ^TRACE'
	assert_success
	assert_line --regexp '^TRACEPARENT=00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$'
	refute_line TRACESTATE=stale=1
	assert_line TRACESTATE=vendor=abc
}

@test "two members of one group share the partitions: no event is lost across a rebalance" {
	topic rebal 4
	local p i
	for p in 0 1 2 3; do
		for i in $(seq 1 10); do ev "p$p-$i"; done | produce rebal -p "$p" "${SH[@]}"
	done
	# a slow handler, so that the second member joins while the first works
	local h="echo \$CE_ID >>$T/handled-\$WHO; sleep 0.25"
	WHO=a event-consume -t rebal -g rebal "${GX[@]}" --idle-timeout 6s --exec "$h" \
		2>"$T/err-a" 3>&- &
	local a=$!
	KILL_AT_END=$a
	wait_for 30 test -s "$T/handled-a"
	WHO=b run --separate-stderr ec -t rebal -g rebal "${GX[@]}" --idle-timeout 6s --exec "$h"
	assert_success
	local rc=0
	wait "$a" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$T/err-a"; return 1; }
	# both took part and nothing was lost
	[ -s "$T/handled-b" ]
	[ "$(cat "$T/handled-a" "$T/handled-b" | sort -u | wc -l)" -eq 40 ]
	# Handled offsets are committed before partitions go: an event comes
	# twice only when the broker refused that commit (the mock cluster
	# answers REBALANCE_IN_PROGRESS to commits during a rebalance; Kafka
	# takes them from the current generation), and then the refusal is said
	if [ -n "$(cat "$T/handled-a" "$T/handled-b" | sort | uniq -d)" ]; then
		grep -q 'committing offsets: Broker: Group rebalance in progress' "$T/err-a"
	fi
}

@test "--dedupe FILE that cannot be created is 73; one that is not a database is 74" {
	topic ddfail 1
	ev d1 | produce ddfail "${SH[@]}"
	run --separate-stderr ec -t ddfail --exit-eof --dedupe "$T/no/such/dir/seen.db"
	[ "$status" -eq 73 ]
	[[ $stderr == *"$T/no/such/dir/seen.db"* ]]
	assert_output ""
	echo 'not a database' >"$T/text"
	run --separate-stderr ec -t ddfail --exit-eof --dedupe "$T/text"
	[ "$status" -eq 74 ]
	[[ $stderr == *"not a database"* ]]
	assert_output ""
}

@test "--batch: a failed batch is retried whole, then handled; -c N waits for the retry" {
	topic batchr 1
	local i
	for i in 1 2 3 4 5 6; do ev "b$i"; done | produce batchr "${SH[@]}"
	# the first run of each batch fails, the second succeeds
	cat >"$T/h.sh" <<-'EOF'
	ids=$(jq -r .id | tr '\n' ' ')
	echo "$EVENT_ATTEMPT $ids" >>"$T/log"
	[ "$EVENT_ATTEMPT" -gt 1 ]
	EOF
	run --separate-stderr ec -t batchr --exit-eof --exec "sh $T/h.sh" --batch 3 --backoff 10ms,50ms
	assert_success
	[ "$(cat "$T/log")" = $'1 b1 b2 b3 \n2 b1 b2 b3 \n1 b4 b5 b6 \n2 b4 b5 b6 ' ]
	[[ $stderr == *"consumed 6, handled 6"* ]]
	# -c 1: the run ends only once its event was handled
	rm "$T/log"
	run --separate-stderr ec -t batchr -c 1 --exec "sh $T/h.sh" --backoff 10ms,50ms -q
	assert_success
	[ "$(cat "$T/log")" = $'1 b1 \n2 b1 ' ]
}

@test "--type with a handler: other types never reach it and are not retried or dead-lettered" {
	topic typex 1
	{ ev a1 A; ev b1 B; ev a2 A; } | produce typex "${SH[@]}"
	run --separate-stderr ec -t typex -g typex "${GX[@]}" --exit-eof --type A --exec "echo \$CE_ID"
	assert_success
	assert_output $'a1\na2'
	[[ $stderr == *"filtered out 1"* ]]
	run --separate-stderr ec -t typex -g typex "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
}

# ---- dedupe and crashes --------------------------------------------------

@test "--dedupe: an event delivered twice is handled once and counted" {
	topic dup 1
	{ ev d1; ev d2; ev d1; } | produce dup "${SH[@]}"
	run --separate-stderr ec -t dup --exit-eof --dedupe "$T/seen.db" --exec "cat >>$T/handled"
	assert_success
	[ "$(cat "$T/handled")" = "$(ev d1; ev d2)" ]
	[[ $stderr == *"duplicates skipped 1"* ]]
	[ "$(stat -c %a "$T/seen.db")" = 600 ]
	# the store outlives the run: printing skips them too
	run --separate-stderr ec -t dup --exit-eof --dedupe "$T/seen.db"
	assert_success
	assert_output ""
	[[ $stderr == *"duplicates skipped 3"* ]]
	# a TTL that keeps them
	run --separate-stderr ec -t dup --exit-eof --dedupe "$T/seen.db" --dedupe-ttl 60m -q
	assert_success
	assert_output ""
}

@test "--dedupe while printing: a duplicate read in the same fetch is printed once" {
	topic dup2 1
	{ ev d1; ev d2; ev d1; } | produce dup2 "${SH[@]}"
	run --separate-stderr ec -t dup2 --exit-eof --dedupe "$T/new.db"
	assert_success
	assert_output "$(ev d1; ev d2)"
	[[ $stderr == *"duplicates skipped 1"* ]]
}

# crash_run TAG N [options]: run a group consumer over topic crash-TAG whose
# handler blocks on event e2 the first time; kill -9 the consumer then, and
# run it again until N events were handled. (Not --exit-eof: the killed
# member keeps its partition until its session times out, and a consumer
# assigned nothing is at its end at once.)
crash_run() {
	local tag=$1 n=$2
	shift 2
	cat >"$T/h-$tag.sh" <<-'EOF'
	echo "start $CE_ID" >>"$T/log-$TAG"
	if [ "$CE_ID" = e2 ] && [ ! -e "$T/blocked-$TAG" ]; then
		echo $$ >"$T/hpid-$TAG"
		: >"$T/blocked-$TAG"
		exec sleep 30 </dev/null >/dev/null 2>&1
	fi
	echo "done $CE_ID" >>"$T/log-$TAG"
	EOF
	# event-consume itself in the background (not under timeout(1)), so that
	# kill -9 reaches it; teardown ends it if the test fails first
	TAG=$tag event-consume -t "crash-$tag" -g "crash-$tag" "${GX[@]}" -X auto.commit.interval.ms=600000 \
		--exec "sh $T/h-$tag.sh" "$@" >/dev/null 2>"$T/err-$tag" 3>&- &
	local pid=$!
	KILL_AT_END="$KILL_AT_END $pid"
	wait_for 30 test -s "$T/hpid-$tag"
	kill -9 "$pid"
	wait "$pid" || true
	kill "$(cat "$T/hpid-$tag")"
	TAG=$tag run --separate-stderr ec -t "crash-$tag" -g "crash-$tag" "${GX[@]}" -c "$n" \
		--exec "sh $T/h-$tag.sh" "$@"
}

@test "kill -9 while a handler runs: the event is handled again (at least once); with --dedupe a finished one is skipped" {
	KILL_AT_END=""
	topic crash-plain 1
	topic crash-dedupe 1
	{ ev e1; ev e2; ev e3; } | produce crash-plain "${SH[@]}"
	{ ev e1; ev e2; ev e3; } | produce crash-dedupe "${SH[@]}"
	crash_run plain 3
	assert_success
	# e1 finished before the kill but its offset was not committed yet
	[ "$(cat "$T/log-plain")" = $'start e1\ndone e1\nstart e2\nstart e1\ndone e1\nstart e2\ndone e2\nstart e3\ndone e3' ]
	crash_run dedupe 2 --dedupe "$T/dd.db"
	assert_success
	[ "$(cat "$T/log-dedupe")" = $'start e1\ndone e1\nstart e2\nstart e2\ndone e2\nstart e3\ndone e3' ]
	[[ $stderr == *"duplicates skipped 1"* ]]
}

# ---- bad input -----------------------------------------------------------

# produce_bad TOPIC: good, 4 bad kinds, good, big valid, good.
produce_bad() {
	ev good1 | produce "$1" "${SH[@]}"
	produce "$1" -K : $(bin u1) -H $'ce_subject=bad\xff\xfeutf8' <<<'ku:{}'
	echo '{}' | produce "$1" -H ce_specversion=1.0 -H ce_id=m1 -H ce_source=/s
	echo 'this is not JSON' | produce "$1" "${SH[@]}"
	echo 'plain bytes, no headers' | produce "$1"
	ev good2 | produce "$1" "${SH[@]}"
}

@test "bad input with a group: each bad message is dead-lettered as it was and later events are handled" {
	topic badg 1
	dlq_topic error.badg.badg
	produce_bad badg
	run --separate-stderr ec -t badg -g badg "${GX[@]}" --exit-eof
	assert_success
	assert_output "$(ev good1; ev good2)"
	# in offset order (the dead-letter topic may have several partitions)
	run bash -c "$(declare -f read_topic dlq_lines); dlq_lines error.badg.badg | sort -t, -k1,1 | awk -F'x-original-offset=' '{ split(\$2, a, \",\"); print a[1] \"\t\" \$0 }' | sort -n | cut -f2-"
	[ "${#lines[@]}" -eq 4 ]
	[[ ${lines[0]} == "ku|{}|"*"x-original-offset=1,"*"x-exception-message="*ce_subject* ]]
	[[ ${lines[1]} == "|{}|ce_specversion=1.0,ce_id=m1,ce_source=/s,x-original-topic=badg,"*"x-original-offset=2,"*ce_type* ]]
	[[ ${lines[2]} == "|this is not JSON|"*"x-original-offset=3,"* ]]
	[[ ${lines[3]} == "|plain bytes, no headers|x-original-topic=badg,x-original-partition=0,x-original-offset=4,"* ]]
	# the original header bytes are kept (kcat shows them as they are)
	read_topic error.badg.badg -c 1 -f '%h' | grep -q $'ce_subject=bad\xff\xfeutf8'
	# everything was committed
	run --separate-stderr ec -t badg -g badg "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
}

@test "bad input without a group: each is reported with topic, partition and offset; good ones printed; exit 65" {
	topic badn 1
	produce_bad badn
	run --separate-stderr ec -t badn --exit-eof
	[ "$status" -eq 65 ]
	assert_output "$(ev good1; ev good2)"
	[[ $stderr == *"badn [0] @1: not a valid CloudEvent: "*ce_subject* ]]
	[[ $stderr == *"badn [0] @2: not a valid CloudEvent: "*ce_type* ]]
	[[ $stderr == *"badn [0] @3: not a valid CloudEvent: "* ]]
	[[ $stderr == *"badn [0] @4: not a valid CloudEvent: not a CloudEvent"* ]]
	# no invalid byte reaches the terminal
	[[ $stderr != *$'\xff'* ]]
}

@test "an error message never comes out empty (exit 65 without a group)" {
	topic badmsg 1
	echo 'not an event' | produce badmsg
	run --separate-stderr ec -t badmsg --exit-eof
	[ "$status" -eq 65 ]
	# every error line says something
	! grep -qx 'event-consume: error: *' <<<"$stderr"
}

# (The mock cluster keeps about 5 MB per partition: a big message is kept
# only while it is its partition's last one.) The mock takes 10 MB; a real
# broker takes at most its message.max.bytes (1048588 by default, as in
# production) per batch: there the messages are 1040000 bytes, under the
# broker's limit and still over the dead-letter producer's default
# message.max.bytes (1000000).
@test "a 10 MB event (1 MB on a real broker) is printed whole; a big undecodable one is dead-lettered whole (-X message.max.bytes)" {
	local big=$((10 * 1024 * 1024))
	[ "$(kafka_tier)" = mock ] || big=1040000
	topic big 2
	python3 -c 'import sys; sys.stdout.write("{\"blob\":\"" + "x" * int(sys.argv[1]) + "\"}")' "$big" >"$T/big.json"
	timeout 60 kcat -P -b "$KAFKA_BROKERS" -t big -p 0 -X message.max.bytes=20000000 $(bin big1) "$T/big.json"
	ev after | produce big -p 1 "${SH[@]}"
	ec -t big --exit-eof --data-only -q >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 2 ]
	grep -qxF '{"n":1}' "$T/out"
	grep -xF -f "$T/big.json" "$T/out" | cmp - <(cat "$T/big.json"; echo)
	topic bigbad 2
	dlq_topic error.bigbad.bigbad
	head -c "$big" /dev/zero | tr '\0' y >"$T/bigbad"
	timeout 60 kcat -P -b "$KAFKA_BROKERS" -t bigbad -p 0 -X message.max.bytes=20000000 "$T/bigbad"
	ev after | produce bigbad -p 1 "${SH[@]}"
	# Too large for the dead-letter producer's limit: dead-lettered without
	# its value (the record of what failed, and where, is kept), the run
	# goes on and the good event of the other partition is handled.
	run --separate-stderr ec -t bigbad -g bigbad "${GX[@]}" --exit-eof -q
	assert_success
	[ "$output" = "$(ev after)" ]
	read_topic error.bigbad.bigbad -f '%S|%h\n' >"$T/dead"
	# a null value (kcat's %S prints -1), the size it had in a header
	grep -q "^-1|.*x-original-offset=0.*x-original-value-omitted=$big" "$T/dead"
	# With a limit that fits, the dead letter carries the whole value.
	topic bigbad2 2
	dlq_topic error.bigbad2.bigbad2
	timeout 60 kcat -P -b "$KAFKA_BROKERS" -t bigbad2 -p 0 -X message.max.bytes=20000000 "$T/bigbad"
	run --separate-stderr ec -t bigbad2 -g bigbad2 "${GX[@]}" --exit-eof -q -X message.max.bytes=20000000
	assert_success
	read_topic error.bigbad2.bigbad2 -X fetch.message.max.bytes=20000000 -f '%s' >"$T/dead2"
	cmp "$T/dead2" "$T/bigbad"
}

@test "dead-lettering with consumer -X properties writes no librdkafka noise on stderr" {
	topic noise 1
	dlq_topic error.noise.noise
	echo 'not an event' | produce noise
	run --separate-stderr ec -t noise -g noise "${GX[@]}" --exit-eof -q
	assert_success
	[ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
}

# ---- --post ----------------------------------------------------------------

# sink_start [http-sink options]: the recording HTTP server; URL in $URL.
sink_start() {
	mkfifo "$T/sink.in"
	exec 8<>"$T/sink.in"
	python3 "$TOP/tests/helpers/http-sink.py" --port-file "$T/port" --log "$T/http.log" "$@" \
		<"$T/sink.in" >/dev/null 2>"$T/sink.err" 3>&- 8>&- &
	SINK_PID=$!
	wait_for 20 test -s "$T/port"
	URL="http://127.0.0.1:$(cat "$T/port")/events"
}

# http_field N PYTHON-EXPR: a field of request N (1-based) of the sink's log.
http_req() {
	python3 - "$T/http.log" "$1" "$2" <<-'EOF'
	import base64, json, sys
	rec = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]) - 1]
	h = {k.lower(): v for k, v in rec["headers"]}
	body = base64.b64decode(rec["body_b64"]).decode("utf-8", "replace")
	print(eval(sys.argv[3]))
	EOF
}

@test "--post: binary mode with ce- headers by default; structured with --mode structured" {
	topic post 1
	echo '{"walletId":"w 1"}' | produce post -H ce_specversion=1.0 -H ce_id=p1 -H ce_source=/s \
		-H ce_type=T -H 'ce_subject=a b%c' -H content-type=application/json
	sink_start
	run --separate-stderr ec -t post --exit-eof --post "$URL"
	assert_success
	assert_output ""
	[ "$(http_req 1 'rec["method"]')" = POST ]
	[ "$(http_req 1 'h["ce-id"]')" = p1 ]
	[ "$(http_req 1 'h["ce-specversion"]')" = 1.0 ]
	[ "$(http_req 1 'h["ce-source"]')" = /s ]
	[ "$(http_req 1 'h["ce-type"]')" = T ]
	[ "$(http_req 1 'h["ce-subject"]')" = 'a%20b%25c' ]
	[ "$(http_req 1 'h["content-type"]')" = application/json ]
	[[ $(http_req 1 'h["traceparent"]') =~ ^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$ ]]
	[ "$(http_req 1 'body')" = '{"walletId":"w 1"}' ]
	run --separate-stderr ec -t post --exit-eof --post "$URL" --mode structured
	assert_success
	[[ $(http_req 2 'h["content-type"]') == application/cloudevents+json* ]]
	[ "$(http_req 2 'body')" = '{"specversion":"1.0","id":"p1","source":"/s","type":"T","subject":"a b%c","datacontenttype":"application/json","data":{"walletId":"w 1"}}' ]
}

@test "--post: 503 then 200 is retried and handled; 400 is dead-lettered; 401 stops with 77" {
	topic post2 1
	ev q1 | produce post2 "${SH[@]}"
	sink_start --statuses 503,503,200
	run --separate-stderr ec -t post2 -g post2 "${GX[@]}" --exit-eof --post "$URL" --backoff 10ms,50ms
	assert_success
	[ "$(wc -l <"$T/http.log")" -eq 3 ]
	[ "$(http_req 3 'rec["status"]')" = 200 ]
	[[ $stderr == *"retries 2"* ]]
	topic post3 1
	dlq_topic error.post3.post3
	{ ev q2; ev q3; } | produce post3 "${SH[@]}"
	run --separate-stderr ec -t post3 -g post3 "${GX[@]}" --exit-eof --post "$URL?status=400"
	assert_success
	run dlq_lines error.post3.post3
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == *"x-original-offset=0,"*"x-exception-message="*400* ]]
	topic post4 1
	{ ev q4; ev q5; } | produce post4 "${SH[@]}"
	run --separate-stderr ec -t post4 -g post4 "${GX[@]}" --exit-eof --post "$URL?status=401"
	[ "$status" -eq 77 ]
	# stopped at the first: nothing committed, nothing dead-lettered
	[ "$(grep -c 'status=401' "$T/http.log")" -eq 1 ]
	run read_topic error.post4.post4
	[ -z "$output" ] || [[ $output == *"Unknown topic"* ]] || [[ $output == *"UNKNOWN_TOPIC"* ]]
	run --separate-stderr ec -t post4 -g post4 "${GX[@]}" --exit-eof -q
	assert_success
	assert_output "$(ev q4; ev q5)"
}

@test "--post: a redirect (the URL needs fixing) stops with 78; no event is dead-lettered" {
	topic post5 1
	{ ev r1; ev r2; } | produce post5 "${SH[@]}"
	sink_start
	run --separate-stderr ec -t post5 -g post5 "${GX[@]}" --exit-eof --post "$URL?status=301"
	[ "$status" -eq 78 ] || { echo "exit $status: $stderr"; return 1; }
	[ "$(grep -c 'status=301' "$T/http.log")" -eq 1 ]
	run read_topic error.post5.post5 -f '%s\n'
	refute_output --partial r1
}

# ---- signals, output -------------------------------------------------------

# lines_in FILE N: FILE has N non-empty lines.
lines_in() {
	[ "$(grep -c . "$1")" -eq "$2" ]
}

@test "SIGTERM: what was handled is committed, exit 0" {
	topic sig 1
	{ ev s1; ev s2; } | produce sig "${SH[@]}"
	event-consume -t sig -g sig "${GX[@]}" >"$T/out" 2>"$T/err" 3>&- &
	local pid=$!
	KILL_AT_END=$pid
	wait_for 30 lines_in "$T/out" 2
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(cat "$T/out")" = "$(ev s1; ev s2)" ]
	run --separate-stderr ec -t sig -g sig "${GX[@]}" --exit-eof -q
	assert_success
	assert_output ""
}

# term_while_held [options]: start a consumer whose handler always fails
# with a long backoff, SIGTERM it once the handler ran; exit status in $rc.
term_while_held() {
	event-consume -t "$@" --exec "echo try >>$T/tries; exit 1" --backoff 1m,1m \
		>"$T/out" 2>"$T/err" 3>&- &
	local pid=$!
	KILL_AT_END=$pid
	wait_for 30 test -s "$T/tries"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
}

@test "SIGTERM with an event waiting for its retry exits 75 and commits nothing for it" {
	topic held 1
	ev h1 | produce held "${SH[@]}"
	term_while_held held
	[ "$rc" -eq 75 ] || { cat "$T/err"; return 1; }
	rm -f "$T/tries"
	term_while_held held -g held "${GX[@]}"
	[ "$rc" -eq 75 ] || { echo "with a group: exit $rc"; cat "$T/err"; return 1; }
	run --separate-stderr ec -t held -g held "${GX[@]}" --exit-eof -q
	assert_success
	assert_output "$(ev h1)"
}

@test "--no-dlq: a dead event is reported with its coordinates, the run goes on and exits 65" {
	topic nodlq 1
	{ ev n1; ev n2; } | produce nodlq "${SH[@]}"
	run --separate-stderr ec -t nodlq -g nodlq "${GX[@]}" --exit-eof --no-dlq \
		--exec "[ \$CE_ID != n1 ] || exit 65; echo \$CE_ID"
	[ "$status" -eq 65 ]
	assert_output n2
	[[ $stderr == *"nodlq [0] @0: handler exited with status 65 (no dead-letter topic: skipped)"* ]]
	run read_topic error.nodlq.nodlq -f '%s\n'
	refute_output --partial n1
}

@test "--dlq without a group dead-letters too (and the run exits 0)" {
	topic dlqng 1
	dlq_topic dlqng-dead
	{ ev x1; ev x2; } | produce dlqng "${SH[@]}"
	echo 'no event' | produce dlqng
	run --separate-stderr ec -t dlqng --exit-eof --dlq dlqng-dead --exec "[ \$CE_ID != x1 ] || exit 65"
	assert_success
	run read_topic dlqng-dead -f '%s|%h\n'
	[ "${#lines[@]}" -eq 2 ]
	assert_output --partial "$(ev x1)|content-type=application/cloudevents+json; charset=UTF-8,x-original-topic=dlqng,x-original-partition=0,x-original-offset=0,"
	assert_output --partial "no event|x-original-topic=dlqng,x-original-partition=0,x-original-offset=2,"
}

@test "a closed standard output is 74; a pipe closed by its reader is a normal end (0)" {
	topic outp 1
	{ ev o1; ev o2; } | produce outp "${SH[@]}"
	run --separate-stderr bash -c "event-consume -t outp --exit-eof >&-"
	[ "$status" -eq 74 ]
	[[ $stderr == *"event-consume: error: "*"output"* ]]
	run bash -c "event-consume -t outp --exit-eof -q | head -n 1; exit \${PIPESTATUS[0]}"
	assert_success
	assert_output "$(ev o1)"
}

# ---- failures and usage ----------------------------------------------------

@test "a broker that is unreachable exits 69; an unknown topic 78" {
	run --separate-stderr ec -b 127.0.0.1:1 -t anything --exit-eof
	[ "$status" -eq 69 ]
	[[ $stderr == *"127.0.0.1:1"* ]]
	run --separate-stderr ec -t no-such-topic --exit-eof
	[ "$status" -eq 78 ]
	[[ $stderr == *"no-such-topic"* ]]
	assert_output ""
}

@test "usage errors exit 64 with the reason and the usage on stderr" {
	local args
	while IFS= read -r args; do
		eval "set -- $args"
		run --separate-stderr event-consume "$@"
		[ "$status" -eq 64 ] || { echo "event-consume $args: exit $status"; return 1; }
		[[ $stderr == *"usage: event-consume"* ]] || { echo "$args: $stderr"; return 1; }
		[ -z "$output" ]
	done <<-'EOF'
	
	-t 'bad topic!'
	-t t -g ''
	-t t --from yesterday
	-t t --from 2026-13-01T00:00:00Z
	-t t -c 0
	-t t -c -1
	-t t -c x
	-t t --idle-timeout 0
	-t t --idle-timeout soon
	-t t --type ''
	-t t --exec ''
	-t t --post ''
	-t t --mode binary
	-t t --post http://x --mode json
	-t t --exec true --post http://x
	-t t --exec true --data-only
	-t t --post http://x --with-kafka
	-t t --batch 2
	-t t --exec true --batch 0
	-t t --exec true --batch 100001
	-t t --exec true --handler-timeout 0
	-t t --exec true --max-attempts 0
	-t t --exec true --backoff 1s
	-t t --exec true --backoff 0,1s
	-t t --exec true --backoff 2s,1s
	-t t --dlq 'no good'
	-t t -g g --dlq d --no-dlq
	-t t --dedupe ''
	-t t --dedupe-ttl 1h
	-t t --dedupe f --dedupe-ttl 0
	-t t --from stored
	-t t extra-operand
	-t t -X nonsense
	EOF
}
