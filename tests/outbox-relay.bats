#!/usr/bin/env bats
# outbox-relay: outbox rows to Kafka (outbox-relay(1), outbox(5)), checked
# with kcat as the independent reader, against the mock cluster (make test)
# or a real broker (make test-kafka; see tests/helpers/kafka.bash). Every
# test has its own topic (r<N>, 3 partitions) and its own database; every
# kcat and every wait is bounded. The tests that inject produce errors or
# slow answers need the mock and are skipped on the real broker.

load helpers/common
load helpers/kafka

setup_file() {
	kafka_start -b 1
}

teardown_file() {
	kafka_stop
}

setup() {
	common_setup
	kafka_env
	DB="$T/outbox.db"
	TOPIC="r$BATS_TEST_NUMBER"
	TOPIC2="r${BATS_TEST_NUMBER}b"
	kafka_topic "$TOPIC" 3
	kafka_topic "$TOPIC2" 1
	# A and B go binary to $TOPIC, S structured to $TOPIC, C to $TOPIC2.
	cat >"$T/bindings" <<-EOF
		producer A a-out-0 $TOPIC
		producer B b-out-0 $TOPIC
		producer S s-out-0 $TOPIC mode=structured
		producer C c-out-0 $TOPIC2
	EOF
	export EVENT_BINDINGS="$T/bindings"
	PIDS=()
}

teardown() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${HOLDER:-}" ]; then
		exec 5>&- || true
		wait "$HOLDER" || true
	fi
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_cmd error Produce 0 0 >/dev/null 2>&1 || true
		kafka_mock_cmd rtt 1 0 >/dev/null 2>&1 || true
	fi
}

# gen N [TYPE] [KEYS] [PREFIX]: N events e1..eN of TYPE (default A), keys
# k0..k(KEYS-1) by id modulo KEYS (default 3; 0: no partitionkey).
gen() {
	awk -v n="$1" -v t="${2:-A}" -v k="${3:-3}" -v p="${4:-e}" 'BEGIN {
		for (i = 1; i <= n; i++) {
			key = k ? sprintf(",\"partitionkey\":\"k%d\"", i % k) : ""
			printf "{\"specversion\":\"1.0\",\"id\":\"%s%d\",\"source\":\"/s\",\"type\":\"%s\"%s,\"data\":{\"n\":%d}}\n", p, i, t, key, i
		}
	}'
}

enqueue() { outbox-enqueue -q --db "$DB" "$@"; }

# gen_oversized N: gen N A 3, except that e7 (key k1) carries 1.1 MB of
# data: over a real broker's message.max.bytes (1048588 by default), which
# refuses it for good, and under the producer's limit with
# -X message.max.bytes=2000000. Enqueue with --max-line 2M.
gen_oversized() {
	local big
	big=$(head -c 1100000 /dev/zero | tr '\0' x)
	gen 6 A 3
	echo '{"specversion":"1.0","id":"e7","source":"/s","type":"A","partitionkey":"k1","data":"'"$big"'"}'
	gen "$1" A 3 | tail -n +8
}

q() { sqlite3 -batch "$DB" "$@"; }

count_status() { q "SELECT count(*) FROM outbox WHERE status = '$1'"; }

all_sent() { [ "$(q "SELECT count(*) FROM outbox WHERE status <> 'sent'")" -eq 0 ]; }

sent_at_least() { [ "$(count_status sent)" -ge "$1" ]; }

# topic_json [TOPIC]: every message of TOPIC as kcat -J lines, sorted by
# partition then offset.
topic_json() {
	timeout 30 kcat -C -b "$KAFKA_BROKERS" -t "${1:-$TOPIC}" -o beginning -e -q -J -m 10 |
		jq -c -s 'sort_by(.partition, .offset) | .[]'
}

# topic_tsv [TOPIC]: "partition<TAB>offset<TAB>key<TAB>ce_id" per message,
# in partition and offset order.
topic_tsv() {
	topic_json "$@" | jq -r '[.partition, .offset, (.key // ""),
		((.headers // []) as $h | [range(0; $h | length; 2) | select($h[.] == "ce_id") | $h[. + 1]][0]
		 // (.payload | fromjson? | .id) // "")] | @tsv'
}

topic_count() { topic_tsv "$@" | wc -l; }

# message_value PARTITION OFFSET [TOPIC]: the raw value bytes of one message.
message_value() {
	timeout 30 kcat -C -b "$KAFKA_BROKERS" -t "${3:-$TOPIC}" -p "$1" -o "$2" -c 1 -e -q -m 10 -f '%s'
}

# headers_of ID: the headers of the message with ce_id ID, "name=value" lines
# in the order they were sent.
headers_of() {
	topic_json | jq -r --arg id "$1" '(.headers // []) as $h
		| select([range(0; $h | length; 2) | select($h[.] == "ce_id" and $h[. + 1] == $id)] | length > 0)
		| range(0; $h | length; 2) | "\($h[.])=\($h[. + 1])"'
}

# The audit trail: every sent row's (partition, offset) holds a message with
# the row's id; prints the rows that do not.
audit_mismatches() {
	q "SELECT kafka_partition || char(9) || kafka_offset || char(9) || id FROM outbox
	   WHERE status = 'sent' AND topic = '${1:-$TOPIC}' ORDER BY 1" | sort >"$T/audit.db"
	topic_tsv "$@" | cut -f 1,2,4 | sort >"$T/audit.topic"
	comm -23 "$T/audit.db" "$T/audit.topic"
}

# key_order_violations [TOPIC]: for every key, the first appearances of its
# events in the topic must come in the seq order of their rows; prints the
# violations. (A key lives in one partition, so partition-then-offset order
# is each key's order.)
key_order_violations() {
	q "SELECT id || char(9) || seq FROM outbox" | sort -t "$(printf '\t')" -k1,1 >"$T/seq.db"
	topic_tsv "$@" | awk -F'\t' -v OFS='\t' '{ print $4, NR, $3 }' |
		sort -t "$(printf '\t')" -k1,1 >"$T/seq.topic"
	join -t "$(printf '\t')" "$T/seq.topic" "$T/seq.db" | sort -t "$(printf '\t')" -k2,2n |
		awk -F'\t' '{
			if (seen[$1]++) next
			if ($3 in last && $4 + 0 <= last[$3]) print "key " $3 ": " $1 " (seq " $4 ") after seq " last[$3]
			last[$3] = $4 + 0
		}'
}

# no_stranger_ids [TOPIC]: every id in the topic is a row of the table
# (a duplicate is only ever a second copy of a row's event).
stranger_ids() {
	topic_tsv "$@" | cut -f 4 | sort -u >"$T/ids.topic"
	q "SELECT id FROM outbox" | sort -u >"$T/ids.db"
	comm -23 "$T/ids.topic" "$T/ids.db"
}

dump() { q "SELECT * FROM outbox ORDER BY seq"; }

# Bounded, so that a relay that hangs fails its test instead of the suite
# (exit 124/137 then).
relay() { timeout -k 5 60 outbox-relay --db "$DB" "$@"; }

exited() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# start_http_sink [http-sink.py options]: the recording server; sets URL.
start_http_sink() {
	mkfifo "$T/hs.in"
	exec 6<>"$T/hs.in"
	python3 "$TOP/tests/helpers/http-sink.py" --port-file "$T/port" --log "$T/http.log" "$@" \
		<"$T/hs.in" >/dev/null 3>&- &
	PIDS+=("$!")
	wait_for 10 test -s "$T/port"
	URL="http://127.0.0.1:$(cat "$T/port")/events"
}

http_requests() { [ -f "$T/http.log" ] && wc -l <"$T/http.log" || echo 0; }

due_now() {
	[ "$(q "SELECT count(*) FROM outbox WHERE next_attempt_at > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')")" -eq 0 ]
}

# ---------------------------------------------------------------- options

@test "--help lists every option on stdout; run is the default command and may be named" {
	run --separate-stderr outbox-relay --help
	assert_success
	assert_line --index 0 --partial "usage: outbox-relay [run] [--once]"
	for o in --once --db --table --bindings --brokers --property --config-file --sink --url \
		--mode --batch --ordering --max-attempts --backoff --interval --drain-timeout \
		--busy-timeout --timeout --wait --quiet --verbose --version; do
		assert_output --partial -- "$o"
	done
	[ -z "$stderr" ]
	gen 2 | enqueue
	run outbox-relay run --once --db "$DB"
	assert_success
	[ "$(count_status sent)" -eq 2 ]
}

@test "usage errors exit 64 with a message and change nothing" {
	gen 1 | enqueue
	before=$(dump)
	local bad
	while IFS='|' read -r bad; do
		# shellcheck disable=SC2086
		run --separate-stderr outbox-relay --once --db "$DB" $bad
		[ "$status" -eq 64 ] || { echo "$bad: exit $status: $stderr"; return 1; }
		[[ $stderr == *usage:* ]] || { echo "$bad: no usage: $stderr"; return 1; }
		[ -z "$output" ]
	done <<-'EOF'
		--sink ftp
		--sink http
		--url http://127.0.0.1:1/
		--mode compact
		--batch 0
		--batch x
		--batch 100001
		--ordering random
		--max-attempts 0
		--max-attempts -1
		--backoff 1s
		--backoff 0,1s
		--backoff 5s,1s
		--backoff x,y
		--interval 0
		--interval soon
		--drain-timeout -1s
		--busy-timeout forever
		--timeout 10ms
		--timeout x
		--table 1bad
		--table a-b
		-X nonsense
		extra-operand
		--no-such-option
	EOF
	run --separate-stderr outbox-relay --once --db ""
	[ "$status" -eq 64 ]
	# An unknown librdkafka property is a configuration error.
	run --separate-stderr relay --once -X no.such.property=1
	[ "$status" -eq 78 ]
	[[ $stderr == *no.such.property* ]]
	[ "$(dump)" = "$before" ]
}

@test "a missing database exits 66 and creates nothing; a missing -B file exits 66" {
	run --separate-stderr relay --once --db "$T/none.db"
	[ "$status" -eq 66 ]
	[[ $stderr == *"$T/none.db"* ]]
	[ ! -e "$T/none.db" ]
	gen 1 | enqueue
	run --separate-stderr relay --once -B "$T/no-bindings"
	[ "$status" -eq 66 ]
	[[ $stderr == *no-bindings* ]]
	[ "$(count_status pending)" -eq 1 ]
}

@test "a file that is not a database exits 74; another application's database 78, untouched" {
	echo "not a database at all" >"$T/junk.db"
	run --separate-stderr relay --once --db "$T/junk.db"
	[ "$status" -eq 74 ]
	[[ $stderr == *junk.db* ]]
	[ "$(cat "$T/junk.db")" = "not a database at all" ]
	sqlite3 "$T/app.db" "CREATE TABLE accounts (id TEXT); PRAGMA user_version = 7"
	run --separate-stderr relay --once --db "$T/app.db"
	[ "$status" -eq 78 ]
	[[ $stderr == *"no outbox table"* ]]
	[ "$(sqlite3 "$T/app.db" "SELECT group_concat(name) FROM sqlite_master")" = accounts ]
}

@test "OUTBOX_DB names the database; --table another table" {
	gen 3 | OUTBOX_DB="$DB" outbox-enqueue -q
	OUTBOX_DB="$DB" run outbox-relay --once
	assert_success
	[ "$(count_status sent)" -eq 3 ]
	gen 4 A 3 t | outbox-enqueue -q --db "$DB" --table other
	run relay --once --table other
	assert_success
	[ "$(q "SELECT count(*) FROM other WHERE status = 'sent' AND topic = '$TOPIC'")" -eq 4 ]
	[ "$(topic_count)" -eq 7 ]
}

# ------------------------------------------------------------ binary mode

@test "binary mode: ce_ headers exactly, key = partitionkey, value = data, a hop traceparent" {
	tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	echo '{"specversion":"1.0","id":"h1","source":"/wallets","type":"A","subject":"w-1","time":"2026-01-02T03:04:05.5Z","datacontenttype":"application/json","dataschema":"https://x/s.json","partitionkey":"w-1","traceparent":"'$tp'","tracestate":"v=1","walletid":"w-1","amount":30,"flag":true,"data":{"walletId":"w-1","amount":30}}' |
		enqueue
	run relay --once
	assert_success
	run headers_of h1
	assert_success
	sorted=$(printf '%s\n' "${lines[@]}" | grep -v '^traceparent=' | sort)
	expected=$(sort <<-EOF
		ce_specversion=1.0
		ce_id=h1
		ce_source=/wallets
		ce_type=A
		ce_subject=w-1
		ce_time=2026-01-02T03:04:05.5Z
		content-type=application/json
		ce_dataschema=https://x/s.json
		ce_partitionkey=w-1
		ce_traceparent=$tp
		ce_tracestate=v=1
		ce_walletid=w-1
		ce_amount=30
		ce_flag=true
		tracestate=v=1
	EOF
	)
	[ "$sorted" = "$expected" ] || { diff <(echo "$expected") <(echo "$sorted"); return 1; }
	# No Content-Type, no ce- spelling, no ce_data*.
	! printf '%s\n' "${lines[@]}" | grep -q -e '^Content-Type=' -e '^ce-' -e '^ce_data=' -e '^ce_datacontenttype='
	# The hop's plain traceparent: same trace id, another span id.
	hop=$(printf '%s\n' "${lines[@]}" | sed -n 's/^traceparent=//p')
	[ "$(printf '%s\n' "$hop" | wc -l)" -eq 1 ]
	[[ $hop =~ ^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$ ]]
	[ "${hop:36:16}" != b7ad6b7169203331 ]
	[ "${hop:36:16}" != 0000000000000000 ]
	m=$(topic_json | jq -c 'select(.key == "w-1")')
	[ "$(jq -r .payload <<<"$m")" = '{"walletId":"w-1","amount":30}' ]
}

@test "binary mode: data_base64 arrives as the raw bytes, text data as text, no data as a null value" {
	printf 'a\0b\r\nc\377\n' >"$T/raw"
	b64=$(base64 -w0 <"$T/raw")
	{
		echo '{"specversion":"1.0","id":"b1","source":"/s","type":"A","partitionkey":"p1","datacontenttype":"application/octet-stream","data_base64":"'"$b64"'"}'
		echo '{"specversion":"1.0","id":"b2","source":"/s","type":"A","partitionkey":"p1","datacontenttype":"text/plain","data":"h\u00e9llo\nworld"}'
		echo '{"specversion":"1.0","id":"b3","source":"/s","type":"A","partitionkey":"p1"}'
		echo '{"specversion":"1.0","id":"b4","source":"/s","type":"A","partitionkey":"p1","data":[1,"two",null]}'
	} | enqueue
	run relay --once
	assert_success
	p=$(q "SELECT kafka_partition FROM outbox WHERE id = 'b1'")
	[ "$(q "SELECT count(DISTINCT kafka_partition) FROM outbox")" -eq 1 ]
	for id in b1 b2 b3 b4; do
		eval "o_$id=\$(q \"SELECT kafka_offset FROM outbox WHERE id = '$id'\")"
	done
	# shellcheck disable=SC2154
	message_value "$p" "$o_b1" >"$T/got"
	cmp "$T/raw" "$T/got"
	# shellcheck disable=SC2154
	[ "$(message_value "$p" "$o_b2")" = $'h\xc3\xa9llo\nworld' ]
	# shellcheck disable=SC2154
	run timeout 30 kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -p "$p" -o "$o_b3" -c 1 -e -q -f '%S|%K|%k'
	assert_output '-1|2|p1'
	# shellcheck disable=SC2154
	[ "$(message_value "$p" "$o_b4")" = '[1,"two",null]' ]
	[ "$(headers_of b1 | grep '^content-type=')" = content-type=application/octet-stream ]
	[ "$(headers_of b2 | grep '^content-type=')" = content-type=text/plain ]
	! headers_of b3 | grep -q '^content-type='
}

@test "binary mode: an event without partitionkey has no key; the key column drives nothing else" {
	gen 3 A 0 | enqueue
	run relay --once
	assert_success
	run topic_json
	[ "${#lines[@]}" -eq 3 ]
	[ "$(topic_json | jq -r '.key' | sort -u)" = null ]
}

# -------------------------------------------------------- structured mode

@test "--mode structured: the value is the stored event byte for byte" {
	{
		gen 3 A
		echo '{"specversion":"1.0","id":"s9","source":"/s","type":"A","partitionkey":"k1","data_base64":"AAEC"}'
	} | enqueue
	run relay --once --mode structured
	assert_success
	while IFS='|' read -r id p o; do
		q "SELECT event FROM outbox WHERE id = '$id'" | head -c -1 >"$T/want"
		message_value "$p" "$o" >"$T/got"
		cmp "$T/want" "$T/got" || { echo "$id differs"; return 1; }
	done < <(q "SELECT id, kafka_partition, kafka_offset FROM outbox")
	run topic_json
	[ "${#lines[@]}" -eq 4 ]
	# content-type and the hop's traceparent, no ce_ header; key kept
	[ "$(topic_json | jq -r '.headers | [range(0; length; 2) as $i | .[$i]] | join(",")' | sort -u)" = content-type,traceparent ]
	[ "$(topic_json | jq -r '.headers[1]' | sort -u)" = 'application/cloudevents+json; charset=UTF-8' ]
	[ "$(topic_json | jq -r 'select((.payload | fromjson).id == "s9") | .key')" = k1 ]
}

@test "a binding with mode=structured goes structured without --mode; --mode binary overrides it" {
	gen 2 S 1 | enqueue
	gen 1 A 1 x | enqueue
	run relay --once -B "$T/bindings"
	assert_success
	[ "$(topic_json | jq -r 'select(.headers[0] == "content-type") | .payload | fromjson | .id' | sort | tr '\n' ' ')" = "e1 e2 " ]
	[ "$(topic_json | jq -r 'select(.headers[0] == "ce_specversion") | .payload')" = '{"n":1}' ]
	gen 2 S 1 y | enqueue
	run relay --once --mode binary
	assert_success
	[ "$(headers_of y1 | grep -c '^ce_type=S$')" -eq 1 ]
}

# ----------------------------------------------------------- audit trail

@test "--once: every row sent with sent_at, topic, partition and offset matching the topic" {
	gen 60 A 7 | enqueue
	gen 5 C 2 c | enqueue
	run --separate-stderr relay --once
	assert_success
	[[ $stderr == *"sent 65"* ]]
	all_sent
	[ "$(q "SELECT count(*) FROM outbox WHERE sent_at IS NULL OR topic IS NULL OR kafka_partition IS NULL
		OR kafka_offset IS NULL OR attempts <> 1 OR last_error IS NOT NULL OR next_attempt_at IS NOT NULL")" -eq 0 ]
	[ "$(q "SELECT count(*) FROM outbox WHERE sent_at < created_at OR sent_at NOT GLOB '[0-9][0-9][0-9][0-9]-*Z'")" -eq 0 ]
	[ "$(topic_count)" -eq 60 ]
	[ "$(topic_count "$TOPIC2")" -eq 5 ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(audit_mismatches "$TOPIC2")" ]
	[ -z "$(key_order_violations)" ]
	# A second run has nothing to do.
	run --separate-stderr relay --once
	assert_success
	[[ $stderr == *"sent 0"* ]]
	[ "$(topic_count)" -eq 60 ]
}

@test "--batch 1 and --batch 7 send everything in order; -q prints nothing" {
	gen 40 A 4 | enqueue
	run --separate-stderr relay --once --batch 1 -q
	assert_success
	[ -z "$stderr" ]
	all_sent
	gen 30 A 4 f | enqueue
	run relay --once --batch 7
	assert_success
	all_sent
	[ "$(topic_count)" -eq 70 ]
	[ -z "$(audit_mismatches)" ]
}

@test "pending rows after a gap of sent ones, and every third row pending: all go, each once, in key order" {
	# The relay reads a backlog along the table, 2 x --batch seqs at a
	# time, and falls back to the pending index for gaps and sparse rows.
	gen 300 A 4 | enqueue
	q "UPDATE outbox SET status = 'sent' WHERE seq BETWEEN 21 AND 180"
	q "UPDATE outbox SET status = 'sent' WHERE seq > 200 AND seq % 3 <> 0"
	want=$(count_status pending)
	[ "$want" -eq 74 ]
	run relay --once --batch 5
	assert_success
	all_sent
	[ "$(topic_count)" -eq "$want" ]
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq "$want" ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(key_order_violations)" ]
}

@test "-F reads librdkafka properties from a file; KAFKA_BROKERS is the default; -b wins" {
	gen 2 | enqueue
	printf 'bootstrap.servers=%s\n' "$KAFKA_BROKERS" >"$T/kafka.conf"
	run env -u KAFKA_BROKERS outbox-relay --once --db "$DB" -F "$T/kafka.conf"
	assert_success
	all_sent
	gen 2 A 3 f | enqueue
	run relay --once
	assert_success
	all_sent
	gen 2 A 3 g | enqueue
	run relay --once --timeout 200ms -b 127.0.0.1:1
	[ "$status" -eq 69 ]
	run --separate-stderr env -u KAFKA_BROKERS outbox-relay --once --db "$DB" -F "$T/missing.conf"
	[ "$status" -eq 66 ]
	[ "$(count_status pending)" -eq 2 ]
}

# --------------------------------------------------------- exit statuses

@test "--once exits 69 when the broker cannot be reached, and marks nothing" {
	gen 20 | enqueue
	before=$(dump)
	run --separate-stderr relay --once -b 127.0.0.1:1 --timeout 500ms
	[ "$status" -eq 69 ]
	[[ $stderr == *127.0.0.1:1* ]]
	[ "$(dump)" = "$before" ]
	kafka_down
	run --separate-stderr relay --once --timeout 1s
	kafka_up
	[ "$status" -eq 69 ]
	[ "$(dump)" = "$before" ]
	[ "$(topic_count)" -eq 0 ]
	run relay --once
	assert_success
	all_sent
}

@test "an unbound type stays pending (exit 78, one warning per type), other types go; a bindings fix releases it" {
	gen 5 A 0 | enqueue
	gen 3 Unbound1 0 u | enqueue
	gen 4 Unbound2 0 v | enqueue
	run --separate-stderr relay --once
	[ "$status" -eq 78 ]
	[ "$(grep -c 'Unbound1' <<<"$stderr")" -eq 1 ]
	[ "$(grep -c 'Unbound2' <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"7 without a binding"* ]]
	[ "$(q "SELECT count(*) FROM outbox WHERE type LIKE 'Unbound%' AND status = 'pending' AND attempts = 0
		AND last_error IS NULL AND next_attempt_at IS NULL")" -eq 7 ]
	[ "$(q "SELECT count(*) FROM outbox WHERE type = 'A' AND status = 'sent'")" -eq 5 ]
	# Still 78 next time: nothing was given up on.
	run relay --once
	[ "$status" -eq 78 ]
	{ cat "$T/bindings"; echo "producer Unbound1 u-out-0 $TOPIC"; echo "producer Unbound2 v-out-0 $TOPIC2"; } >"$T/fixed"
	run relay --once -B "$T/fixed"
	assert_success
	all_sent
	[ "$(topic_count)" -eq 8 ]
	[ "$(topic_count "$TOPIC2")" -eq 4 ]
}

@test "an unbound row holds back the later rows of its key" {
	echo '{"specversion":"1.0","id":"u1","source":"/s","type":"Nope","partitionkey":"k1"}' | enqueue
	gen 8 A 2 | enqueue
	run --separate-stderr relay --once
	[ "$status" -eq 78 ]
	# k1 rows wait behind the unbound one; k0 rows went.
	[ "$(q "SELECT count(*) FROM outbox WHERE partition_key = 'k1' AND status = 'pending'")" -eq 5 ]
	[ "$(q "SELECT count(*) FROM outbox WHERE partition_key = 'k0' AND status = 'sent'")" -eq 4 ]
}

@test "a bindings file with an error exits 78 and marks nothing" {
	gen 2 | enqueue
	printf 'producer A a-out-0 bad/topic\n' >"$T/bad"
	run --separate-stderr relay --once -B "$T/bad"
	[ "$status" -eq 78 ]
	[[ $stderr == *"$T/bad:1"* ]]
	[ "$(count_status pending)" -eq 2 ]
}

# ------------------------------------------------------- produce errors
#
# The mock fails whole Produce requests and, unlike a real broker, does not
# check the idempotent producer's sequence numbers: a request sent after a
# failed one is appended anyway. So these tests send one message per
# request and one request at a time (batch.num.messages=1, max.in.flight=1)
# to fail exactly one row and keep the broker's side of the ordering
# contract that the relay relies on.

@test "retriable produce errors are retried by the producer: everything sent, in key order" {
	kafka_need_mock "injects retriable Produce errors (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT)"
	gen 30 A 4 | enqueue
	kafka_fault error Produce NOT_LEADER_FOR_PARTITION 3
	run relay --once
	assert_success
	all_sent
	kafka_fault error Produce REQUEST_TIMED_OUT 2
	gen 30 A 4 f | enqueue
	run relay --once
	assert_success
	all_sent
	[ -z "$(key_order_violations)" ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(stranger_ids)" ]
}

@test "a permanent produce error (INVALID_RECORD; a real broker's MSG_SIZE_TOO_LARGE) makes the row dead; the rest go later, in key order" {
	local err opts
	if [ "$(kafka_tier)" = mock ]; then
		gen 20 A 3 | enqueue
		kafka_fault error Produce INVALID_RECORD 1
		err=INVALID_RECORD
		opts=(-X batch.num.messages=1 -X max.in.flight=1)
	else
		# The broker's own refusal in the middle of the run, with the
		# producer's defaults (the broker checks the idempotent producer's
		# sequence numbers).
		gen_oversized 20 | enqueue --max-line 2M
		err=MSG_SIZE_TOO_LARGE
		opts=(-X message.max.bytes=2000000)
	fi
	run --separate-stderr relay --once "${opts[@]}"
	[ "$status" -eq 65 ] || [ "$status" -eq 75 ] || { echo "exit $status: $stderr"; dump | cut -c 1-300; return 1; }
	[ "$(count_status dead)" -eq 1 ]
	# The summary counts as left pending only what is still pending (rows
	# a replaced producer dropped went out with the next one).
	left=$(sed -n 's/.* \([0-9]*\) left pending.*/\1/p' <<<"$stderr")
	[ "${left:-0}" -eq "$(count_status pending)" ] || { echo "$stderr"; return 1; }
	run q "SELECT attempts || '|' || last_error FROM outbox WHERE status = 'dead'"
	assert_output --regexp "^1\|kafka: $err"
	dead=$(q "SELECT id FROM outbox WHERE status = 'dead'")
	[ "$(kafka_tier)" = mock ] || [ "$dead" = e7 ]
	run relay --once
	assert_success
	[ "$(count_status sent)" -eq 19 ]
	[ -z "$(key_order_violations)" ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(stranger_ids)" ]
	! topic_tsv | cut -f 4 | grep -qx "$dead"
}

@test "a failed produce reschedules the row with backoff; its key waits, other keys go; a later run sends it" {
	kafka_need_mock "fails one Produce request (TOPIC_AUTHORIZATION_FAILED) and slows the answers by 300 ms"
	gen 9 A 3 | enqueue
	kafka_fault error Produce TOPIC_AUTHORIZATION_FAILED 1
	# A slow answer, so that every row is handed over before the failure.
	kafka_fault rtt 1 300
	run --separate-stderr relay --once -X batch.num.messages=1 -X max.in.flight=1 --backoff 1m,2m
	[ "$status" -eq 75 ] || { echo "$stderr"; return 1; }
	# The one row whose request failed: attempts 1, the error, due in a minute.
	run q "SELECT seq FROM outbox WHERE attempts > 0 AND status = 'pending'"
	[ "${#lines[@]}" -eq 1 ]
	failed=$output
	run q "SELECT attempts, last_error LIKE 'kafka: TOPIC_AUTHORIZATION_FAILED%',
	       next_attempt_at > strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+50 seconds')
	       FROM outbox WHERE seq = $failed"
	assert_output '1|1|1'
	key=$(q "SELECT partition_key FROM outbox WHERE seq = $failed")
	# Not due yet: it and the later rows of its key are left alone, the rest go.
	before=$(q "SELECT * FROM outbox WHERE partition_key = '$key' AND seq >= $failed")
	run --separate-stderr relay --once
	[ "$status" -eq 75 ]
	[[ $stderr == *"held back"* ]]
	[ "$(q "SELECT * FROM outbox WHERE partition_key = '$key' AND seq >= $failed")" = "$before" ]
	[ "$(q "SELECT count(*) FROM outbox WHERE status = 'sent'")" -eq \
	  "$(q "SELECT count(*) FROM outbox WHERE partition_key <> '$key' OR seq < $failed")" ]
	held=$(q "SELECT id FROM outbox WHERE status = 'pending'")
	! topic_tsv | cut -f 4 | grep -qx -F "$held"
	# Due now (as if the backoff had passed): the whole key goes, in order.
	q "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z' WHERE seq = $failed"
	run relay --once
	assert_success
	all_sent
	[ "$(q "SELECT attempts FROM outbox WHERE seq = $failed")" -eq 2 ]
	[ -z "$(key_order_violations)" ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(stranger_ids)" ]
}

@test "--backoff 10ms,20ms: the retry is due almost at once and a later run sends it" {
	kafka_need_mock "fails one Produce request (TOPIC_AUTHORIZATION_FAILED)"
	gen 3 A 1 | enqueue
	kafka_fault error Produce TOPIC_AUTHORIZATION_FAILED 1
	run relay --once -X batch.num.messages=1 -X max.in.flight=1 --backoff 10ms,20ms
	[ "$status" -eq 75 ]
	# One key, so the first request held e1. The failure made the producer
	# fatal (gapless); --once goes on with a new producer and what is due
	# then: on a slow machine (sanitizers) e1's 10 ms have passed by then
	# and it went again within the run.
	run q "SELECT status || '|' || attempts FROM outbox WHERE id = 'e1'"
	if [ "$output" = 'sent|2' ]; then
		all_sent
		[ -z "$(key_order_violations)" ]
		return
	fi
	assert_output 'pending|1'
	# next_attempt_at is 10 to 20 ms after the failure was recorded
	run q "SELECT (julianday(next_attempt_at) - julianday('now')) * 86400000 < 25 FROM outbox WHERE id = 'e1'"
	assert_output 1
	wait_for 5 due_now
	run relay --once --backoff 10ms,20ms
	assert_success
	all_sent
	[ -z "$(key_order_violations)" ]
}

@test "--max-attempts 1: a failed produce makes the row dead at once" {
	kafka_need_mock "fails one Produce request (TOPIC_AUTHORIZATION_FAILED) and slows the answers by 300 ms"
	gen 3 A 3 | enqueue
	kafka_fault error Produce TOPIC_AUTHORIZATION_FAILED 1
	kafka_fault rtt 1 300
	run --separate-stderr relay --once -X batch.num.messages=1 -X max.in.flight=1 --max-attempts 1
	[ "$status" -eq 65 ] || [ "$status" -eq 75 ]
	# The row whose request failed is dead after its one attempt...
	run q "SELECT status, attempts, next_attempt_at IS NULL, last_error LIKE 'gave up after 1 attempts: kafka: TOPIC_AUTHORIZATION_FAILED%'
	       FROM outbox WHERE status <> 'sent' AND attempts > 0"
	assert_line 'dead|1|1|1'
	# ...and only it: the rows of other keys never failed themselves.
	[ "$(count_status dead)" -eq 1 ] || { q "SELECT id, status, last_error FROM outbox"; return 1; }
	kafka_fault rtt 1 0
	run relay --once
	assert_success
	[ "$(count_status sent)" -eq 2 ]
}

@test "a message larger than message.max.bytes is dead at once with its size; the rest go" {
	big=$(head -c 3000 /dev/zero | tr '\0' x)
	{
		gen 2 A 1
		echo '{"specversion":"1.0","id":"big","source":"/s","type":"A","partitionkey":"k9","data":"'"$big"'"}'
		gen 2 A 1 f
	} | enqueue
	run --separate-stderr relay --once -X message.max.bytes=2000
	[ "$status" -eq 65 ]
	run q "SELECT status, attempts FROM outbox WHERE id = 'big'"
	assert_output 'dead|1'
	run q "SELECT last_error FROM outbox WHERE id = 'big'"
	assert_output --regexp '[0-9]+ bytes'
	assert_output --partial 'message.max.bytes'
	[ "$(count_status sent)" -eq 4 ]
	! topic_tsv | cut -f 4 | grep -qx big
}

@test "rows that break outbox(5) are dead with the reason; the rest is published" {
	gen 3 A 1 | enqueue
	q "INSERT INTO outbox (id, source, type, partition_key, event) VALUES
		('bad1', '/s', 'A', 'k0', '{\"specversion\":\"1.0\",\"id\":\"bad1\"'),
		('bad2', '/s', 'A', 'k0', '{\"specversion\":\"1.0\",\"id\":\"bad2\",\"source\":\"/s\",\"type\":\"B\",\"partitionkey\":\"k0\"}'),
		('bad3', '/s', 'A', 'other', '{\"specversion\":\"1.0\",\"id\":\"bad3\",\"source\":\"/s\",\"type\":\"A\",\"partitionkey\":\"k0\"}'),
		('bad4', '/s', 'A', NULL, '{\"specversion\":\"1.0\",\"id\":\"bad4\",\"source\":\"/s\",\"type\":\"A\",\"partitionkey\":\"k0\"}'),
		('bad5', '/s', 'A', 'k0', '{\"specversion\":\"0.3\",\"id\":\"bad5\",\"source\":\"/s\",\"type\":\"A\",\"partitionkey\":\"k0\"}')"
	gen 3 A 1 f | enqueue
	run --separate-stderr relay --once
	[ "$status" -eq 65 ]
	run q "SELECT id || ': ' || last_error FROM outbox WHERE status = 'dead' ORDER BY seq"
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[0]} == "bad1: event: "* ]]
	[[ ${lines[1]} == "bad2: type: "* ]]
	[[ ${lines[2]} == "bad3: partition_key: "* ]]
	[[ ${lines[3]} == "bad4: partition_key: "* ]]
	[[ ${lines[4]} == "bad5: event: "*specversion* ]]
	[ "$(count_status sent)" -eq 6 ]
	[ "$(topic_count)" -eq 6 ]
	! topic_tsv | cut -f 4 | grep -q bad
}

@test "a broker error's reason reads kafka: NAME: description" {
	if [ "$(kafka_tier)" = mock ]; then
		gen 1 A 1 | enqueue
		kafka_fault error Produce INVALID_RECORD 1
		run relay --once
		[ "$status" -eq 65 ]
		run q "SELECT last_error FROM outbox WHERE id = 'e1'"
		assert_output 'kafka: INVALID_RECORD: Broker: Broker failed to validate record'
		return
	fi
	# A real broker's own refusal: a message over its message.max.bytes
	# (1048588 by default) that the producer's raised limit lets through.
	big=$(head -c 1100000 /dev/zero | tr '\0' x)
	echo '{"specversion":"1.0","id":"e1","source":"/s","type":"A","partitionkey":"k0","data":"'"$big"'"}' |
		enqueue --max-line 2M
	run relay --once -X message.max.bytes=2000000
	[ "$status" -eq 65 ]
	run q "SELECT status || '|' || last_error FROM outbox WHERE id = 'e1'"
	assert_output 'dead|kafka: MSG_SIZE_TOO_LARGE: Broker: Message size too large'
	[ "$(topic_count)" -eq 0 ]
}

@test "an empty file is not an outbox: exit 78, no table created" {
	: >"$T/empty.db"
	run --separate-stderr relay --once --db "$T/empty.db"
	[ "$status" -eq 78 ]
	[ ! -s "$T/empty.db" ] || [ -z "$(sqlite3 "$T/empty.db" "SELECT name FROM sqlite_master")" ]
}

@test "--table naming a table that does not exist exits 78 and creates nothing" {
	gen 1 | enqueue
	run --separate-stderr relay --once --table nosuch
	[ "$status" -eq 78 ]
	[[ $stderr == *nosuch* ]]
	[ -z "$(q "SELECT name FROM sqlite_master WHERE name = 'nosuch'")" ]
}

@test "a NULL event (a table without the NOT NULL) is dead with the reason" {
	q "PRAGMA user_version = 1;
	   $(outbox-enqueue --db "$T/ref.db" </dev/null && sqlite3 "$T/ref.db" .schema | sed 's/event TEXT NOT NULL/event TEXT/')"
	gen 2 A 1 | enqueue
	q "INSERT INTO outbox (id, source, type, partition_key, event) VALUES ('nul', '/s', 'A', 'k0', NULL)"
	run --separate-stderr relay --once
	[ "$status" -eq 65 ]
	run q "SELECT status || ': ' || last_error FROM outbox WHERE id = 'nul'"
	assert_output --partial 'dead: event: NULL'
	[ "$(count_status sent)" -eq 2 ]
}

@test "--ordering none publishes later rows of a key whose earlier row waits; key ordering holds them" {
	gen 6 A 2 | enqueue
	# e1 (k1) waits for a retry an hour from now.
	q "UPDATE outbox SET attempts = 1, last_error = 'x', next_attempt_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now', '+1 hour') WHERE id = 'e1'"
	run --separate-stderr relay --once
	[ "$status" -eq 75 ]
	[[ $stderr == *"2 held back"* ]]
	[ "$(q "SELECT group_concat(id) FROM outbox WHERE status = 'pending' ORDER BY seq")" = e1,e3,e5 ]
	run relay --once --ordering none
	assert_success
	[ "$(q "SELECT group_concat(id) FROM outbox WHERE status = 'pending'")" = e1 ]
	[ "$(topic_count)" -eq 5 ]
}

# ------------------------------------------------------ crash, concurrency

@test "kill -9 in the middle of a large run, then a restart: every event there, no false sent mark" {
	gen 20000 A 50 | enqueue
	# Slow enough that the kill lands mid-run: 200-message batches alone
	# went out so fast that the run could end before the kill. The mock
	# answers late; a real broker gets one request of 20 at a time.
	local slow=(-X linger.ms=20 -X batch.num.messages=20)
	if [ "$(kafka_tier)" = mock ]; then
		kafka_mock_cmd rtt 1 50
	else
		slow+=(-X max.in.flight=1)
	fi
	outbox-relay --once --db "$DB" -q "${slow[@]}" --batch 100 3>&- &
	local pid=$!
	PIDS+=("$pid")
	wait_for 60 sent_at_least 1000
	kill -KILL "$pid"
	wait "$pid" || true
	sent_before=$(count_status sent)
	[ "$sent_before" -lt 20000 ]
	# Nothing marked sent that is not in the topic.
	[ -z "$(audit_mismatches)" ]
	[ "$(kafka_tier)" = real ] || kafka_mock_cmd rtt 1 0
	run relay --once
	assert_success
	all_sent
	# Every event is there; duplicates are copies of the same id.
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq 20000 ]
	[ -z "$(stranger_ids)" ]
	[ -z "$(audit_mismatches)" ]
	[ -z "$(key_order_violations)" ]
}

@test "two relays on one table: the second exits 0 with a message; --wait waits for the first" {
	gen 50 | enqueue
	outbox-relay --db "$DB" --interval 1m 3>&- 2>"$T/first.err" &
	local first=$!
	PIDS+=("$first")
	wait_for 20 all_sent
	run --separate-stderr relay --once
	assert_success
	[[ $stderr == *"another outbox-relay is running on $DB"* ]]
	outbox-relay --db "$DB" --once --wait 3>&- 2>"$T/second.err" &
	local second=$!
	PIDS+=("$second")
	# The first is still running, so the second is still waiting: it has
	# not reported anything.
	gen 5 A 3 f | enqueue
	wait_for 10 all_sent
	! exited "$second"
	[ ! -s "$T/second.err" ]
	kill -TERM "$first"
	wait_for 10 exited "$first"
	wait "$first"
	wait_for 10 exited "$second"
	wait "$second"
	grep -q 'sent 0' "$T/second.err"
	# Each event published once.
	[ "$(topic_count)" -eq 55 ]
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq 55 ]
}

@test "two --once relays started together publish each event once" {
	gen 3000 A 20 | enqueue
	outbox-relay --db "$DB" --once -q 3>&- &
	PIDS+=("$!")
	outbox-relay --db "$DB" --once -q 3>&- &
	PIDS+=("$!")
	wait "${PIDS[0]}"
	wait "${PIDS[1]}"
	all_sent
	[ "$(topic_count)" -eq 3000 ]
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq 3000 ]
}

# --------------------------------------------------------------- run mode

@test "run mode: a row enqueued later goes out within 2 s with --interval 1m; SIGTERM exits 0" {
	gen 5 | enqueue
	outbox-relay --db "$DB" --interval 1m 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 all_sent
	gen 1 A 3 late | enqueue
	wait_for 2 all_sent
	[ "$(topic_count)" -eq 6 ]
	gen 1 A 3 later | enqueue
	wait_for 2 all_sent
	kill -TERM "$pid"
	wait_for 5 exited "$pid"
	run wait "$pid"
	assert_success
	[ -z "$(audit_mismatches)" ]
	grep -q 'sent 7' "$T/err"
}

@test "run mode: started while the broker is down, it warns, keeps trying, and sends once it is up" {
	gen 5 | enqueue
	kafka_down
	outbox-relay --db "$DB" --interval 1m --timeout 500ms 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 10 grep -q 'will keep trying' "$T/err"
	[ "$(count_status pending)" -eq 5 ]
	kafka_up
	wait_for 30 all_sent
	kill -TERM "$pid"
	wait_for 5 exited "$pid"
	run wait "$pid"
	assert_success
	[ -z "$(audit_mismatches)" ]
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq 5 ]
}

@test "run mode: a rescheduled row is retried when its backoff is due" {
	kafka_need_mock "fails one Produce request (TOPIC_AUTHORIZATION_FAILED)"
	gen 4 A 1 | enqueue
	kafka_fault error Produce TOPIC_AUTHORIZATION_FAILED 1
	outbox-relay --db "$DB" --interval 1m --backoff 200ms,300ms -X batch.num.messages=1 -X max.in.flight=1 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 all_sent
	[ "$(q "SELECT attempts FROM outbox WHERE id = 'e1'")" -eq 2 ]
	kill -TERM "$pid"
	wait_for 5 exited "$pid"
	run wait "$pid"
	assert_success
	[ -z "$(key_order_violations)" ]
}

@test "run mode: after a producer restart (a fatal error), SIGTERM with everything recorded exits 0" {
	local opts
	# One failed request: a fatal producer error; the rows in flight behind
	# it come back unsent and the relay opens a new producer.
	if [ "$(kafka_tier)" = mock ]; then
		gen 20 A 3 | enqueue
		kafka_fault error Produce INVALID_RECORD 1
		opts=(-X batch.num.messages=1)
	else
		# The broker refuses e7 for good (MSG_SIZE_TOO_LARGE).
		gen_oversized 20 | enqueue --max-line 2M
		opts=(-X message.max.bytes=2000000)
	fi
	outbox-relay --db "$DB" --interval 1m "${opts[@]}" 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	none_pending() { [ "$(count_status pending)" -eq 0 ]; }
	wait_for 20 none_pending
	[ "$(count_status dead)" -eq 1 ]
	[ "$(kafka_tier)" = mock ] || grep -q 'reconnecting with a new producer' "$T/err"
	kill -TERM "$pid"
	wait_for 5 exited "$pid"
	run wait "$pid"
	[ "$status" -eq 0 ] || { cat "$T/err"; echo "exit $status"; return 1; }
}

@test "SIGTERM with reports outstanding: nothing unacknowledged is marked sent (--drain-timeout)" {
	kafka_need_mock "delays the broker's answers by 5 s so that reports are outstanding at SIGTERM"
	gen 3 | enqueue
	outbox-relay --db "$DB" --interval 1m --drain-timeout 300ms -v -X debug=msg 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 all_sent
	c0=$(grep -c 'Produce MessageSet' "$T/err")
	kafka_fault rtt 1 5000
	gen 20 A 3 slow | enqueue
	# The produce request is on its way; its answer takes 5 s.
	produced_more() { [ "$(grep -c 'Produce MessageSet' "$T/err")" -gt "$c0" ]; }
	wait_for 10 produced_more
	kill -TERM "$pid"
	wait_for 3 exited "$pid"
	run wait "$pid"
	kafka_fault rtt 1 0
	# The drain was cut short: 75, and no sent mark without a report.
	[ "$status" -eq 75 ]
	[ "$(q "SELECT count(*) FROM outbox WHERE id LIKE 'slow%' AND attempts = 0 AND status = 'pending'")" -eq 20 ]
	run relay --once
	assert_success
	all_sent
	[ -z "$(audit_mismatches)" ]
	[ -z "$(stranger_ids)" ]
}

@test "SIGTERM while reports arrive within --drain-timeout: they are recorded, exit 0" {
	kafka_need_mock "delays the broker's answers by 1 s so that reports arrive during the drain"
	gen 3 | enqueue
	outbox-relay --db "$DB" --interval 1m --drain-timeout 10s -v -X debug=msg 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	wait_for 20 all_sent
	c0=$(grep -c 'Produce MessageSet' "$T/err")
	kafka_fault rtt 1 1000
	gen 20 A 3 slow | enqueue
	produced_more() { [ "$(grep -c 'Produce MessageSet' "$T/err")" -gt "$c0" ]; }
	wait_for 10 produced_more
	kill -TERM "$pid"
	wait_for 8 exited "$pid"
	run wait "$pid"
	kafka_fault rtt 1 0
	assert_success
	all_sent
	[ -z "$(audit_mismatches)" ]
}

@test "the application enqueues (20 runs of 100 events) while the relay runs: no lock error, all sent" {
	outbox-enqueue --db "$DB" </dev/null
	outbox-relay --db "$DB" --interval 1m 3>&- 2>"$T/err" &
	local pid=$!
	PIDS+=("$pid")
	local i
	for i in $(seq 1 20); do
		gen 100 A 7 "r${i}x" | outbox-enqueue --db "$DB" 2>"$T/enq.err" ||
			{ cat "$T/enq.err"; return 1; }
		! grep -qi lock "$T/enq.err"
	done
	wait_for 30 all_sent
	[ "$(count_status sent)" -eq 2000 ]
	kill -TERM "$pid"
	wait_for 5 exited "$pid"
	wait "$pid"
	[ "$(topic_tsv | cut -f 4 | sort -u | wc -l)" -eq 2000 ]
	[ -z "$(audit_mismatches)" ]
	! grep -qi -e error -e warning "$T/err"
}

@test "--busy-timeout: outcomes that cannot be recorded leave the rows pending (exit 75); a rerun marks them" {
	gen 5 | enqueue
	mkfifo "$T/ctl"
	enqueue_lockhold "$DB" <"$T/ctl" >"$T/holder.out" &
	HOLDER=$!
	exec 5>"$T/ctl"
	wait_for 10 grep -q locked "$T/holder.out"
	run --separate-stderr relay --once --busy-timeout 200ms
	exec 5>&-
	wait "$HOLDER"
	HOLDER=
	[ "$status" -eq 75 ]
	[ "$(count_status pending)" -eq 5 ]
	# They were published: the next run republishes (same ids) and marks them.
	run relay --once
	assert_success
	all_sent
	[ -z "$(audit_mismatches)" ]
	[ -z "$(stranger_ids)" ]
}

@test "a write transaction refused midway: the earlier ones stay recorded and counted, the rest pending" {
	# Enough rows for several write transactions (at most ~4096 marks each),
	# to the one-partition topic: its delivery reports come in seq order,
	# so each transaction holds a stretch of consecutive seqs. (Over three
	# partitions a late report of a low seq can share seq 9000's
	# transaction, and the assertion on the first 2000 below would hold
	# only by timing.)
	gen 10000 C 50 | enqueue
	# An application's trigger refuses to let seq 9000 become sent.
	q "CREATE TRIGGER refuse BEFORE UPDATE OF status ON outbox
	   WHEN NEW.seq = 9000 AND NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'refused'); END"
	run --separate-stderr relay --once
	[ "$status" -ne 0 ]
	[[ $stderr == *"recording outcomes: refused"* ]]
	sent=$(count_status sent)
	# What the relay reports is what was committed, no more, no less.
	[[ $stderr == *"sent $sent"* ]]
	[ "$sent" -ge 2000 ]
	[ "$(q "SELECT status FROM outbox WHERE seq = 9000")" = pending ]
	[ "$(count_status pending)" -eq $((10000 - sent)) ]
	# The transaction holding seq 9000 covers at most ~6144 seqs: the first
	# 2000 were in earlier ones, committed.
	[ "$(q "SELECT count(*) FROM outbox WHERE seq <= 2000 AND status <> 'sent'")" -eq 0 ]
	[ -z "$(audit_mismatches "$TOPIC2")" ]
	[ "$(q "SELECT count(*) FROM outbox WHERE status = 'sent' AND (attempts <> 1 OR sent_at IS NULL)")" -eq 0 ]
	# The rest was published; a rerun republishes it (same ids) and marks it.
	q "DROP TRIGGER refuse"
	run relay --once
	assert_success
	all_sent
	[ -z "$(audit_mismatches "$TOPIC2")" ]
	[ -z "$(stranger_ids "$TOPIC2")" ]
	[ "$(q "SELECT count(*) FROM outbox WHERE attempts <> 1")" -eq 0 ]
}

# ------------------------------------------------------------ other sinks

@test "--sink stdout: NDJSON lines equal to the stored events, rows marked sent" {
	gen 10 A 3 | enqueue
	echo '{"specversion":"1.0","id":"x1","source":"/s","type":"S","data_base64":"AAE="}' | enqueue
	run --separate-stderr relay --once --sink stdout
	assert_success
	[ "$output" = "$(q "SELECT event FROM outbox ORDER BY seq")" ]
	all_sent
	[ "$(q "SELECT count(*) FROM outbox WHERE topic IS NOT NULL OR kafka_offset IS NOT NULL")" -eq 0 ]
	[ "$(topic_count)" -eq 0 ]
}

@test "--sink stdout to a full disk exits 74 and leaves the rows pending" {
	gen 3 | enqueue
	run --separate-stderr sh -c 'timeout -k 5 20 outbox-relay --db "$1" --once --sink stdout >/dev/full' _ "$DB"
	[ "$status" -eq 74 ]
	[[ $stderr == *"standard output"* ]]
	[ "$(count_status pending)" -eq 3 ]
}

@test "--sink stdout | head -n 1: the reader goes away, the rows not written stay pending" {
	gen 20000 A 3 | enqueue
	# Bounded: a relay that does not notice the reader has gone must not
	# hang the suite.
	bash -c 'timeout -k 5 20 outbox-relay --db "$1" --once --sink stdout 2>"$2"; echo $? >"$3"' _ \
		"$DB" "$T/err" "$T/rc" | head -n 1 >"$T/first"
	[ "$(jq -r .id "$T/first")" = e1 ]
	[ "$(cat "$T/rc")" -eq 75 ]
	sent=$(count_status sent)
	[ "$sent" -ge 1 ]
	[ "$(count_status pending)" -gt 0 ]
	# The sent rows are a prefix in seq order.
	[ "$(q "SELECT max(seq) FROM outbox WHERE status = 'sent'")" -lt "$(q "SELECT min(seq) FROM outbox WHERE status = 'pending'")" ]
	grep -q 'went away' "$T/err"
}


@test "--sink http: binary mode, ce- headers and the data as the body; structured by binding" {
	start_http_sink
	tp=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	echo '{"specversion":"1.0","id":"h1","source":"/s","type":"A","partitionkey":"k1","traceparent":"'$tp'","datacontenttype":"application/json","data":{"a":1}}' | enqueue
	echo '{"specversion":"1.0","id":"h2","source":"/s","type":"S","data":"x"}' | enqueue
	run relay --once --sink http --url "$URL"
	assert_success
	all_sent
	[ "$(wc -l <"$T/http.log")" -eq 2 ]
	r1=$(sed -n 1p "$T/http.log")
	hdr() { jq -r --arg n "$2" '.headers[] | select(.[0] | ascii_downcase == $n) | .[1]' <<<"$1"; }
	[ "$(jq -r .method <<<"$r1")" = POST ]
	[ "$(jq -r .path <<<"$r1")" = /events ]
	[ "$(hdr "$r1" ce-id)" = h1 ]
	[ "$(hdr "$r1" ce-type)" = A ]
	[ "$(hdr "$r1" ce-source)" = /s ]
	[ "$(hdr "$r1" ce-specversion)" = 1.0 ]
	[ "$(hdr "$r1" ce-partitionkey)" = k1 ]
	[ "$(hdr "$r1" ce-traceparent)" = "$tp" ]
	[ "$(hdr "$r1" content-type)" = application/json ]
	hop=$(hdr "$r1" traceparent)
	[[ $hop =~ ^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$ ]]
	[ "$(jq -r .body_b64 <<<"$r1" | base64 -d)" = '{"a":1}' ]
	r2=$(sed -n 2p "$T/http.log")
	[[ $(hdr "$r2" content-type) == application/cloudevents+json* ]]
	[ "$(jq -r .body_b64 <<<"$r2" | base64 -d)" = "$(q "SELECT event FROM outbox WHERE id = 'h2'")" ]
}

@test "--sink http: 503 is retried with backoff, 400 is dead" {
	start_http_sink --statuses 503,200,400
	gen 1 A 1 | enqueue
	run relay --once --sink http --url "$URL" --backoff 10ms,20ms
	[ "$status" -eq 75 ]
	run q "SELECT status, attempts, last_error LIKE '%503%' FROM outbox"
	assert_output 'pending|1|1'
	wait_for 5 due_now
	run relay --once --sink http --url "$URL"
	assert_success
	all_sent
	gen 1 A 1 d | enqueue
	run relay --once --sink http --url "$URL"
	[ "$status" -eq 65 ]
	run q "SELECT status, last_error LIKE '%400%' FROM outbox WHERE id = 'd1'"
	assert_output 'dead|1'
	[ "$(http_requests)" -eq 3 ]
}

@test "--sink http: 401 stops the run with 77 and leaves the row pending" {
	start_http_sink --statuses 401
	gen 2 A 1 | enqueue
	run --separate-stderr relay --once --sink http --url "$URL"
	[ "$status" -eq 77 ]
	[[ $stderr == *401* || $stderr == *authentication* ]]
	run q "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 0 AND last_error IS NULL"
	assert_output 2
	[ "$(http_requests)" -eq 1 ]
}

@test "--sink http: a 503 holds back the later rows of its key, other keys go; data_base64 is the raw body" {
	start_http_sink --statuses 503
	printf 'a\0b\r\n\377' >"$T/raw"
	gen 3 A 1 | enqueue
	echo '{"specversion":"1.0","id":"x1","source":"/s","type":"A","partitionkey":"other","datacontenttype":"application/octet-stream","data_base64":"'"$(base64 -w0 <"$T/raw")"'"}' | enqueue
	run --separate-stderr relay --once --sink http --url "$URL" --backoff 10ms,20ms
	[ "$status" -eq 75 ]
	[[ $stderr == *"2 held back"* ]]
	# e1 was tried (503), e2 and e3 never left; x1 went.
	[ "$(jq -r '.headers[] | select(.[0] | ascii_downcase == "ce-id") | .[1]' "$T/http.log" | tr '\n' ' ')" = "e1 x1 " ]
	[ "$(q "SELECT group_concat(id) FROM outbox WHERE status = 'pending'")" = e1,e2,e3 ]
	jq -r 'select(.headers[] | .[0] | ascii_downcase == "ce-id") | select([.headers[] | select(.[1] == "x1")] | length > 0) | .body_b64' "$T/http.log" |
		base64 -d >"$T/body"
	cmp "$T/raw" "$T/body"
	wait_for 5 due_now
	run relay --once --sink http --url "$URL"
	assert_success
	all_sent
	[ "$(jq -r '.headers[] | select(.[0] | ascii_downcase == "ce-id") | .[1]' "$T/http.log" | tr '\n' ' ')" = "e1 x1 e1 e2 e3 " ]
}

@test "--sink http with nothing listening: rows rescheduled, exit 75" {
	gen 2 A 1 | enqueue
	run relay --once --sink http --url http://127.0.0.1:1/ --timeout 1s
	[ "$status" -eq 75 ]
	[ "$(q "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts = 1")" -ge 1 ]
	[ "$(count_status sent)" -eq 0 ]
}

# ------------------------------------------------------------- secrets

@test "-v shows the configuration but never a sasl.password given with -X" {
	gen 1 | enqueue
	run --separate-stderr relay --once -v -b 127.0.0.1:1 --timeout 200ms \
		-X security.protocol=sasl_plaintext -X sasl.mechanisms=PLAIN -X sasl.username=u \
		-X sasl.password=Sup3rS3cret
	[ "$status" -eq 69 ]
	[[ $stderr == *sasl.password* ]]
	[[ $stderr != *Sup3rS3cret* ]]
	[[ $output != *Sup3rS3cret* ]]
}
