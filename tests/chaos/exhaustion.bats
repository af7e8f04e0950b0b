#!/usr/bin/env bats
# Resource exhaustion: the outbox and the consumer's dedupe store on a full
# file system (a small tmpfs, really full, not a shim) and a read-only one.
# Each time: a clear error naming the file, the documented exit status
# (74 disk full, 73 read-only: outbox(5) EXIT STATUS), nothing half-written
# (the table holds what it held, integrity_check ok), and the work resumes
# once space is back: the next --once run finishes the job, a daemon keeps
# retrying and finishes by itself.
# Mounting needs root (or CAP_SYS_ADMIN); without it the tests skip, saying so.

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
	MOUNTED=() DAEMON=
	TOPIC=x$BATS_TEST_NUMBER
	kafka_mock_cmd topic "$TOPIC" 2 >/dev/null
	printf 'producer x.E xProducer-out-0 %s\n' "$TOPIC" >"$T/b.conf"
}

teardown() {
	[ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null
	kafka_mock_cmd rtt 1 0 >/dev/null 2>&1
	local m
	for m in "${MOUNTED[@]}"; do umount -l "$m" 2>/dev/null; done
	true
}

# small_fs DIR SIZE: a tmpfs of SIZE at DIR, or skip with the reason.
small_fs() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>"$T/mount.err"; then
		skip "cannot mount a tmpfs ($(cat "$T/mount.err")): these tests need root or CAP_SYS_ADMIN"
	fi
	MOUNTED+=("$1")
}

# fill DIR: take every free block of DIR's file system; free DIR gives
# them back.
fill() {
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true # ENOSPC ends it
	[ "$(df --output=avail -k "$1" | tail -n 1 | tr -d ' ')" -eq 0 ]
}
free_space() { rm -f "$1/filler"; }

# events FROM TO: valid events eFROM..eTO, seven keys, ~300 bytes each.
events() {
	awk -v a="$1" -v b="$2" 'BEGIN { for (i = a; i <= b; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"/x\",\"type\":\"x.E\",\"partitionkey\":\"k%d\",\"data\":{\"pad\":\"%0200d\"}}\n", i, i % 7, i }'
}

# has_open PID FILE: PID holds FILE open.
has_open() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q -- "-> $2\$"; }

rows() { sqlite3 "$1" "SELECT status, count(*) FROM outbox GROUP BY 1 ORDER BY 1" | tr '\n' ' '; }
intact() { [ "$(sqlite3 "$1" 'PRAGMA integrity_check')" = ok ]; }
# topic_ids: distinct ce_id headers in $TOPIC.
topic_ids() {
	timeout 30 kcat -C -b "$KAFKA_BROKERS" -t "$TOPIC" -e -q -f '%h\n' |
		sed -n 's/.*ce_id=\([^,]*\).*/\1/p' | sort -u | wc -l
}

@test "exhaustion: outbox-enqueue on a full file system: 74, nothing committed; once space is back it all goes in" {
	small_fs "$T/fs" 4m
	events 1 10 | outbox-enqueue -q --db "$T/fs/o.db"
	events 11 2000 >"$T/more"
	fill "$T/fs"
	run -74 outbox-enqueue --db "$T/fs/o.db" "$T/more"
	assert_output --regexp "^outbox-enqueue: error: $T/fs/o.db: .*disk full"
	free_space "$T/fs"
	intact "$T/fs/o.db"
	run rows "$T/fs/o.db"
	assert_output 'pending|10 '
	run -0 outbox-enqueue -q --db "$T/fs/o.db" "$T/more"
	run rows "$T/fs/o.db"
	assert_output 'pending|2000 '
}

@test "exhaustion: outbox-enqueue on a read-only file system: 73, nothing changed" {
	small_fs "$T/fs" 4m
	events 1 10 | outbox-enqueue -q --db "$T/fs/o.db"
	mount -o remount,ro "$T/fs"
	run -73 outbox-enqueue --db "$T/fs/o.db" <(events 11 20)
	assert_output --regexp "^outbox-enqueue: error: $T/fs/o.db: .*read-only"
	mount -o remount,rw "$T/fs"
	intact "$T/fs/o.db"
	run rows "$T/fs/o.db"
	assert_output 'pending|10 '
}

@test "exhaustion: outbox-relay --once, disk full between publishing and marking: 74, rows left pending; the next run finishes" {
	small_fs "$T/fs" 4m
	events 1 500 | outbox-enqueue -q --db "$T/fs/o.db"
	# An empty log: the marks need new blocks (a log that had grown would
	# be rewritten in place, needing none).
	sqlite3 "$T/fs/o.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	# Slow answers: the disk fills (once the relay has the file open)
	# while the delivery reports are on the way.
	kafka_mock_cmd rtt 1 1500 >/dev/null
	outbox-relay --once --db "$T/fs/o.db" -B "$T/b.conf" 2>"$T/err" &
	DAEMON=$!
	wait_for 30 has_open "$DAEMON" "$T/fs/o.db-wal"
	fill "$T/fs"
	local rc=0
	wait "$DAEMON" || rc=$?
	DAEMON=
	cat "$T/err" >&2
	[ "$rc" -eq 74 ] || [ "$rc" -eq 75 ]
	grep -Eq "error: $T/fs/o.db: .*disk (is )?full" "$T/err"
	kafka_mock_cmd rtt 1 0 >/dev/null
	free_space "$T/fs"
	intact "$T/fs/o.db"
	# Not one mark of the failed transaction made it: all still pending.
	run rows "$T/fs/o.db"
	assert_output 'pending|500 '
	run -0 outbox-relay --once -q --db "$T/fs/o.db" -B "$T/b.conf"
	run rows "$T/fs/o.db"
	assert_output 'sent|500 '
	run topic_ids
	assert_output 500
}

@test "exhaustion: outbox-relay run keeps retrying on a full disk and finishes by itself once space is back" {
	small_fs "$T/fs" 4m
	events 1 500 | outbox-enqueue -q --db "$T/fs/o.db"
	sqlite3 "$T/fs/o.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
	kafka_mock_cmd rtt 1 1500 >/dev/null
	outbox-relay run --db "$T/fs/o.db" -B "$T/b.conf" --interval 200ms 2>"$T/err" &
	DAEMON=$!
	wait_for 30 has_open "$DAEMON" "$T/fs/o.db-wal"
	fill "$T/fs"
	# It says why, and says it again: it is retrying, not gone.
	retried() { [ "$(grep -Ec 'disk (is )?full.*will retry' "$T/err")" -ge 2 ]; }
	wait_for 30 retried
	kill -0 "$DAEMON"
	kafka_mock_cmd rtt 1 0 >/dev/null
	free_space "$T/fs"
	all_sent() { [ "$(sqlite3 "$T/fs/o.db" "SELECT count(*) FROM outbox WHERE status = 'sent'")" = 500 ]; }
	wait_for 30 all_sent
	intact "$T/fs/o.db"
	kill -TERM "$DAEMON"
	local rc=0
	wait "$DAEMON" || rc=$?
	DAEMON=
	grep -v 'will retry' "$T/err" | uniq -c >&2
	# Stopped with nothing pending: nothing to report.
	[ "$rc" -eq 0 ]
}

@test "exhaustion: event-consume --dedupe on a full disk: 74 naming the store, nothing taken, the store intact; all resumes once space is back" {
	small_fs "$T/fs" 1m
	kafka_mock_cmd topic "error.$TOPIC.g" 1 >/dev/null
	events 1 20 | sed 's/"source":"\/x"/"source":"\/d"/' |
		outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	local args=(-t "$TOPIC" -g g -X session.timeout.ms=6000 --dedupe "$T/fs/d.db"
		--exec "cat >/dev/null; echo \"\$CE_ID\" >>'$T/handled'")
	run -0 timeout 60 event-consume -q "${args[@]}" --exit-eof
	[ "$(sqlite3 "$T/fs/d.db" 'SELECT count(*) FROM handled')" = 20 ]
	fill "$T/fs"
	events 21 40 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	run timeout 60 event-consume "${args[@]}" --exit-eof
	echo "event-consume with its dedupe store on a full disk exited $status" >&2
	# SQLite words ENOSPC on the shared-memory file as an I/O error.
	assert_output --regexp "error: $T/fs/d.db: .*(disk full|disk I/O error)"
	# 74, the I/O status, before a message was taken.
	[ "$status" -eq 74 ]
	refute_output --partial 'handled 1'
	[ "$(wc -l <"$T/handled")" -eq 20 ]
	free_space "$T/fs"
	intact "$T/fs/d.db"
	# What it recorded before stays recorded, nothing half-written.
	run sqlite3 "$T/fs/d.db" "SELECT count(*) FROM handled WHERE id IN ('e1', 'e20')"
	assert_output 2
	events 41 50 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	run -0 timeout 60 event-consume -q "${args[@]}" --exit-eof
	run sqlite3 "$T/fs/d.db" "SELECT count(*) FROM handled WHERE id IN ('e21', 'e40', 'e41', 'e50')"
	assert_output 4
	[ "$(sort -u "$T/handled" | wc -l)" -eq 50 ]
	[ "$(wc -l <"$T/handled")" -eq 50 ]
}

@test "exhaustion: event-consume --dedupe on a read-only file system: 73 before reading anything" {
	small_fs "$T/fs" 1m
	mount -o remount,ro "$T/fs"
	events 1 3 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	run -73 timeout 60 event-consume -t "$TOPIC" -g g --dedupe "$T/fs/d.db" --exec 'cat >/dev/null' --exit-eof
	assert_output --partial "$T/fs/d.db"
	assert_output --partial 'Read-only file system'
}

# The metrics files: secondary to the events. On a full or read-only file
# system the events still go out and are recorded; the file keeps its last
# complete contents (written beside it, then renamed), no temporary is
# left behind, --once ends with the file's status (74 full, 73 read-only)
# naming it, a daemon warns once and writes it again by itself.

# no_temporaries DIR: only the files the test put there.
no_temporaries() { [ -z "$(find "$1" -name '.*.prom.*')" ]; }

@test "exhaustion: outbox-relay --once with its metrics file on a full disk: every row sent, 74 naming the file, the old file unchanged" {
	small_fs "$T/fs" 1m
	events 1 10 | outbox-enqueue -q --db "$T/o.db"
	run -0 outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf" --metrics-file "$T/fs/r.prom"
	grep -q '^outbox_relay_events_published_total{.*} 10$' "$T/fs/r.prom"
	cp "$T/fs/r.prom" "$T/before.prom"
	fill "$T/fs"
	events 11 20 | outbox-enqueue -q --db "$T/o.db"
	run -74 outbox-relay --once --db "$T/o.db" -B "$T/b.conf" --metrics-file "$T/fs/r.prom"
	assert_output --partial "error: $T/fs/r.prom: cannot write: No space left on device"
	refute_output --partial 'will retry'
	run rows "$T/o.db"
	assert_output 'sent|20 '
	cmp "$T/before.prom" "$T/fs/r.prom"
	no_temporaries "$T/fs"
	free_space "$T/fs"
	events 21 25 | outbox-enqueue -q --db "$T/o.db"
	run -0 outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf" --metrics-file "$T/fs/r.prom"
	grep -q '^outbox_relay_events_published_total{.*} 5$' "$T/fs/r.prom"
	grep -q '^outbox_relay_outbox_pending{.*} 0$' "$T/fs/r.prom"
	[ "$(stat -c %a "$T/fs/r.prom")" = 600 ]
}

@test "exhaustion: outbox-relay run with its metrics file on a full disk warns once, keeps publishing, and writes the file once space is back" {
	small_fs "$T/fs" 1m
	fill "$T/fs"
	events 1 10 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay run --db "$T/o.db" -B "$T/b.conf" --interval 100ms --metrics-file "$T/fs/r.prom" 2>"$T/err" &
	DAEMON=$!
	sent() { [ "$(sqlite3 "$T/o.db" "SELECT count(*) FROM outbox WHERE status = 'sent'")" = "$1" ]; }
	wait_for 30 sent 10
	warned() { grep -q "warning: $T/fs/r.prom: cannot write: No space left on device.*will retry" "$T/err"; }
	wait_for 30 warned
	events 11 20 | outbox-enqueue -q --db "$T/o.db"
	wait_for 30 sent 20
	# Several passes failed to write it; it said so once.
	[ "$(grep -c 'r.prom' "$T/err")" -eq 1 ]
	[ ! -e "$T/fs/r.prom" ]
	free_space "$T/fs"
	written() { grep -qs '^outbox_relay_events_published_total{.*} 20$' "$T/fs/r.prom"; }
	wait_for 30 written
	no_temporaries "$T/fs"
	kill -TERM "$DAEMON"
	local rc=0
	wait "$DAEMON" || rc=$?
	DAEMON=
	[ "$rc" -eq 0 ]
}

@test "exhaustion: metrics files on a read-only file system: the events go, then 73 naming the file" {
	small_fs "$T/fs" 1m
	mount -o remount,ro "$T/fs"
	events 1 5 | outbox-enqueue -q --db "$T/o.db"
	run -73 outbox-relay --once --db "$T/o.db" -B "$T/b.conf" --metrics-file "$T/fs/r.prom"
	assert_output --partial "error: $T/fs/r.prom: cannot create a temporary file beside it: Read-only file system"
	run rows "$T/o.db"
	assert_output 'sent|5 '
	run -73 timeout 60 event-consume -t "$TOPIC" --from beginning --exit-eof --metrics-file "$T/fs/c.prom"
	assert_output --partial "error: $T/fs/c.prom: cannot create a temporary file beside it: Read-only file system"
	[ "$(grep -c '"specversion"' <<<"$output")" -eq 5 ]
}

@test "exhaustion: event-consume with its metrics file on a full disk: events handled and committed, 74 naming the file; the next run writes it" {
	small_fs "$T/fs" 1m
	kafka_mock_cmd topic "error.$TOPIC.g" 1 >/dev/null
	events 1 10 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	local args=(-t "$TOPIC" -g g -X session.timeout.ms=6000 --metrics-file "$T/fs/c.prom"
		--exec "cat >/dev/null; echo \"\$CE_ID\" >>'$T/handled'")
	run -0 timeout 60 event-consume -q "${args[@]}" --exit-eof
	grep -q '^event_consume_handled_total{.*} 10$' "$T/fs/c.prom"
	cp "$T/fs/c.prom" "$T/before.prom"
	fill "$T/fs"
	events 11 20 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	run -74 timeout 60 event-consume "${args[@]}" --exit-eof
	assert_output --partial "error: $T/fs/c.prom: cannot write: No space left on device"
	[ "$(wc -l <"$T/handled")" -eq 20 ]
	cmp "$T/before.prom" "$T/fs/c.prom"
	no_temporaries "$T/fs"
	free_space "$T/fs"
	# The offsets were committed: the next run has nothing to handle again.
	run -0 timeout 60 event-consume -q "${args[@]}" --exit-eof
	[ "$(wc -l <"$T/handled")" -eq 20 ]
	[ -s "$T/fs/c.prom" ]
	no_temporaries "$T/fs"
}
