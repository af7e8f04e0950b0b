#!/usr/bin/env bats
# event-consume(1): the --dedupe store across many flushes and with a store
# written before its durability change, and the fetcher that librdkafka
# 2.0.2 would leave asleep once its queue is full. kcat produces; sqlite3
# reads the store. Every wait is bounded (timeout(1)).

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
}

SH=(-H 'content-type=application/cloudevents+json; charset=UTF-8')

topic() {
	kafka_topic "$1" "$2" >/dev/null
}

# events FIRST LAST: structured events with ids eFIRST..eLAST.
events() {
	awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"/d\",\"type\":\"T\",\"data\":%d}\n", i, i }'
}

produce() {
	local t=$1
	shift
	timeout 60 kcat -P -b "$KAFKA_BROKERS" -t "$t" -X message.timeout.ms=20000 "$@"
}

@test "--dedupe while printing: 20,000 events over many flushes, 5,000 of them twice: each printed once, each recorded once" {
	topic many 4
	# e1..e20000, then e15001..e20000 again
	{ events 1 20000; events 15001 20000; } | produce many "${SH[@]}"
	run --separate-stderr timeout 120 event-consume -t many --exit-eof --dedupe "$T/seen.db"
	assert_success
	[ "${#lines[@]}" -eq 20000 ]
	# every id once
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | sort -u | wc -l)" -eq 20000 ]
	[[ $stderr == *"duplicates skipped 5000"* ]]
	[ "$(sqlite3 "$T/seen.db" "SELECT count(*), count(DISTINCT id), min(source), max(source) FROM handled")" = "20000|20000|/d|/d" ]
	[ "$(sqlite3 "$T/seen.db" "PRAGMA journal_mode")" = wal ]
	# a second run prints nothing: all 25,000 messages are duplicates now
	run --separate-stderr timeout 120 event-consume -t many --exit-eof --dedupe "$T/seen.db"
	assert_success
	assert_output ""
	[[ $stderr == *"duplicates skipped 25000"* ]]
}

@test "--dedupe: a store written before (synchronous=FULL, same table, 4 KiB pages) keeps working" {
	topic old 1
	sqlite3 "$T/old.db" "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
		CREATE TABLE handled (source TEXT NOT NULL, id TEXT NOT NULL,
		 handled_at INTEGER NOT NULL, PRIMARY KEY (source, id)) WITHOUT ROWID;
		CREATE INDEX handled_at ON handled(handled_at);
		INSERT INTO handled VALUES ('/d', 'e2', 1);" >/dev/null
	events 1 3 | produce old "${SH[@]}"
	run --separate-stderr timeout 60 event-consume -t old --exit-eof --dedupe "$T/old.db"
	assert_success
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | tr '\n' ' ')" = "e1 e3 " ]
	[ "$(sqlite3 "$T/old.db" "SELECT id FROM handled ORDER BY id" | tr '\n' ' ')" = "e1 e2 e3 " ]
	# its pages keep the size they were created with
	[ "$(sqlite3 "$T/old.db" "PRAGMA page_size")" -eq 4096 ]
}

@test "--dedupe: a new store is keyed (id, source) in 16 KiB pages; its handled_at index comes with the first --dedupe-ttl, which forgets old records" {
	topic ttl 1
	events 1 3 | produce ttl "${SH[@]}"
	run --separate-stderr timeout 60 event-consume -t ttl --exit-eof --dedupe "$T/new.db"
	assert_success
	[ "${#lines[@]}" -eq 3 ]
	[[ $(sqlite3 "$T/new.db" "SELECT sql FROM sqlite_master WHERE name = 'handled'") == *"PRIMARY KEY (id, source)) WITHOUT ROWID" ]]
	# in 16 KiB pages (the writer's inserts cost less in fewer pages)
	[ "$(sqlite3 "$T/new.db" "PRAGMA page_size")" -eq 16384 ]
	[ "$(sqlite3 "$T/new.db" "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'handled_at'")" -eq 0 ]
	# e2 recorded long ago: a TTL of an hour forgets it, and it comes again
	sqlite3 "$T/new.db" "UPDATE handled SET handled_at = 1 WHERE id = 'e2'"
	run --separate-stderr timeout 60 event-consume -t ttl --exit-eof --dedupe "$T/new.db" --dedupe-ttl 1h
	assert_success
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id)" = e2 ]
	[[ $stderr == *"duplicates skipped 2"* ]]
	[ "$(sqlite3 "$T/new.db" "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'handled_at'")" -eq 1 ]
	[ "$(sqlite3 "$T/new.db" "SELECT count(*), min(handled_at) > 1 FROM handled")" = "3|1" ]
}

@test "--dedupe in a group while printing: every committed offset's event is recorded (the writer is drained at exit)" {
	topic grp 4
	{ events 1 20000; events 19001 20000; } | produce grp "${SH[@]}"
	# 6 s: the shortest session a real broker accepts.
	local gx=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=300)
	run --separate-stderr timeout 120 event-consume -t grp -g grp "${gx[@]}" --exit-eof --dedupe "$T/g.db"
	assert_success
	[ "${#lines[@]}" -eq 20000 ]
	[[ $stderr == *"duplicates skipped 1000"* ]]
	[ "$(sqlite3 "$T/g.db" "SELECT count(*) FROM handled")" -eq 20000 ]
	# all 21,000 offsets were committed: the group reads nothing more
	run --separate-stderr timeout 120 event-consume -t grp -g grp "${gx[@]}" --exit-eof --dedupe "$T/g.db"
	assert_success
	assert_output ""
	[[ $stderr != *"duplicates skipped"* ]]
}

@test "--dedupe with a handler: the lookups' snapshot is let go before the handler runs" {
	topic snap 1
	events 1 4 | produce snap "${SH[@]}"
	# The handler writes to the store and checkpoints it with TRUNCATE,
	# which needs every reader off the WAL: it would time out (busy 1)
	# if the consumer still held its lookups' read transaction.
	cat >"$T/h.sh" <<-EOF
	cat >/dev/null
	sqlite3 -cmd ".timeout 5000" "$T/seen.db" "INSERT INTO handled VALUES ('/x', 'h\$CE_ID', 1); PRAGMA wal_checkpoint(TRUNCATE);" >>"$T/ckpt"
	EOF
	run --separate-stderr timeout 60 event-consume -t snap --exit-eof --dedupe "$T/seen.db" --exec "sh $T/h.sh"
	assert_success
	# every checkpoint ran to the end: busy flag 0
	[ "$(cut -d'|' -f1 "$T/ckpt" | sort -u)" = 0 ]
	[ "$(wc -l <"$T/ckpt")" -eq 4 ]
	[ "$(sqlite3 "$T/seen.db" "SELECT count(*) FROM handled")" -eq 8 ]
}

@test "a consumer slower than the fetcher is not left waiting on a full queue" {
	topic slow 1
	# 15 batches of 20 messages of about 70 bytes: a fetch is answered
	# with at least one batch, more than a queue of 1 KB holds.
	events 1 300 | produce slow "${SH[@]}" -X batch.num.messages=20 -X linger.ms=100
	# librdkafka 2.0.2 alone would look again only after up to a second
	# after each fetch; woken, the run takes well under the bound.
	run --separate-stderr timeout 10 event-consume -t slow --exit-eof \
		-X queued.max.messages.kbytes=1
	assert_success
	[ "${#lines[@]}" -eq 300 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | head -n 1)" = e1 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | tail -n 1)" = e300 ]
}

# keyed P FIRST LAST: structured events with ids P<FIRST>..P<LAST>.
keyed() {
	awk -v p="$1" -v a="$2" -v b="$3" 'BEGIN { for (i = a; i <= b; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"%s%d\",\"source\":\"/d\",\"type\":\"T\",\"data\":%d}\n", p, i, i }'
}

# A store holding x1..x3000 from an earlier run, and a topic of 9,000 new
# events followed by copies of those 3,000: the copies come after the
# run's filter is on (8,192 lookups), so only its scan of the store can
# have told it about them.
filter_setup() {
	topic "$1-old" 1
	topic "$1" 1
	keyed x 1 3000 | produce "$1-old" "${SH[@]}"
	{ keyed n 1 9000; keyed x 1 3000; } | produce "$1" "${SH[@]}"
	run --separate-stderr timeout 60 event-consume -t "$1-old" --exit-eof --dedupe "$T/$1.db"
	assert_success
	[ "${#lines[@]}" -eq 3000 ]
}

@test "--dedupe: the in-memory filter reads the store's keys in, and the copies of an earlier run's events are still skipped" {
	filter_setup flt
	# 100 more copies with their members in another order, behind a
	# data object whose own "id" and "source" come first (the key guessed
	# before the decode is the wrong one for these)
	awk 'BEGIN { for (i = 1; i <= 100; i++)
		printf "{\"data\":{\"id\":\"q%d\",\"source\":\"/d\"},\"type\":\"T\",\"source\":\"/d\",\"id\":\"x%d\",\"specversion\":\"1.0\"}\n", i, i }' |
		produce flt "${SH[@]}"
	run --separate-stderr timeout 60 event-consume -t flt --exit-eof --dedupe "$T/flt.db" -v
	assert_success
	[ "${#lines[@]}" -eq 9000 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r .id | sort -u | grep -c '^n')" -eq 9000 ]
	[[ $stderr == *"in-memory filter on, with the store's 3000 keys"* ]]
	[[ $stderr == *"duplicates skipped 3100"* ]]
	[ "$(sqlite3 "$T/flt.db" "SELECT count(*) FROM handled")" -eq 12000 ]
}

@test "--dedupe: no in-memory filter while another event-consume uses the store; copies still skipped" {
	filter_setup shr
	topic shr-idle 1
	# Another consumer on the same store, waiting on an empty topic.
	event-consume -t shr-idle --dedupe "$T/shr.db" --idle-timeout 60s >/dev/null 2>"$T/other.err" &
	local other=$!
	# Its shared hold on the store shows in /proc/locks (OFD, READ).
	local inode i=0
	inode=$(stat -c %i "$T/shr.db")
	until grep -q "OFDLCK *ADVISORY *READ .*:$inode " /proc/locks; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { kill "$other"; cat "$T/other.err"; false; }
		sleep 0.05
	done
	run --separate-stderr timeout 60 event-consume -t shr --exit-eof --dedupe "$T/shr.db" -v
	kill "$other"
	wait "$other" || true
	assert_success
	[ "${#lines[@]}" -eq 9000 ]
	[[ $stderr == *"no in-memory filter: another process uses the store"* ]]
	[[ $stderr != *"in-memory filter on"* ]]
	[[ $stderr == *"duplicates skipped 3000"* ]]
}

# binary FILE PREFIX FIRST LAST: an outbox in FILE holding events
# PREFIXFIRST..PREFIXLAST (type B), published by outbox-relay in binary
# mode (ce_ headers, the value the data) to the topic of $T/bin.conf.
binary() {
	keyed "$2" "$3" "$4" | sed 's/"type":"T"/"type":"B"/' >"$T/$1.ndjson"
	run outbox-enqueue --db "$T/$1.db" -q "$T/$1.ndjson"
	assert_success
	run outbox-relay --once --db "$T/$1.db" -B "$T/bin.conf" -q
	assert_success
}

@test "--dedupe, binary messages: copies of an earlier run's events (filter on) and of this run's are skipped; every new event printed once" {
	topic bin-old 1
	topic bin 1
	echo "producer B bin-out-0 bin-old" >"$T/bin.conf"
	binary old x 1 3000
	run --separate-stderr timeout 60 event-consume -t bin-old --exit-eof --dedupe "$T/bin-store.db"
	assert_success
	[ "${#lines[@]}" -eq 3000 ]
	# n1..n9000 and copies of x1..x3000, then copies of n1..n500 (a
	# second outbox holding them again): all binary on the wire
	echo "producer B bin-out-0 bin" >"$T/bin.conf"
	binary new n 1 9000
	binary copies x 1 3000
	binary again n 1 500
	[ "$(timeout 60 kcat -C -b "$KAFKA_BROKERS" -t bin -e -q -f '%h\n' | grep -c 'ce_id=[nx][0-9]')" -eq 12500 ]
	run --separate-stderr timeout 60 event-consume -t bin --exit-eof --dedupe "$T/bin-store.db" -v
	assert_success
	[[ $stderr == *"in-memory filter on, with the store's 3000 keys"* ]]
	[[ $stderr == *"duplicates skipped 3500"* ]]
	[ "${#lines[@]}" -eq 9000 ]
	[ "$(printf '%s\n' "${lines[@]}" | jq -r 'select(.source == "/d" and .type == "B") | .id' | sort -u | grep -c '^n')" -eq 9000 ]
	[ "$(sqlite3 "$T/bin-store.db" "SELECT count(*), count(DISTINCT id) FROM handled")" = "12000|12000" ]
}
