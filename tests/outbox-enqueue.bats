#!/usr/bin/env bats
# outbox-enqueue: CloudEvents NDJSON into the outbox table (outbox-enqueue(1),
# outbox(5)). Every test works on real SQLite files in its own temp dir.

bats_require_minimum_version 1.5.0
load helpers/common

setup_file() {
	# The ENOSPC shim is a shared object, not a program: build it here.
	cc -shared -fPIC -O1 -o "$BATS_FILE_TMPDIR/inject_enospc.so" \
		"$BATS_TEST_DIRNAME/shim/inject_enospc.c" -ldl
}

setup() {
	common_setup
	DB="$T/outbox.db"
}

teardown() {
	# Release a lock holder a test may have left behind.
	if [ -n "${HOLDER:-}" ]; then
		exec 5>&- || true
		wait "$HOLDER" || true
	fi
	[ -z "${RO_DIR:-}" ] || rm -rf "$RO_DIR"
}

# gen_events N [PREFIX]: N valid events, ids PREFIX1..PREFIXN
gen_events() {
	awk -v n="$1" -v p="${2:-e}" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"%s%d\",\"source\":\"/wallets\",\"type\":\"FundsAddedEvent\",\"data\":{\"n\":%d}}\n", p, i, i }'
}

count() { sqlite3 "${2:-$DB}" "SELECT count(*) FROM ${1:-outbox}"; }

# hold_lock DB: another process takes the write lock; wait for its marker.
hold_lock() {
	mkfifo "$T/ctl"
	enqueue_lockhold "$1" <"$T/ctl" >"$T/holder.out" &
	HOLDER=$!
	exec 5>"$T/ctl"
	wait_for 10 grep -q locked "$T/holder.out"
}

release_lock() {
	exec 5>&-
	wait "$HOLDER"
	HOLDER=
}

@test "--help prints the synopsis on stdout and exits 0" {
	run --separate-stderr outbox-enqueue --help
	assert_success
	assert_line --index 0 --partial "usage: outbox-enqueue [--db FILE] [--table NAME] [--batch N]"
	assert_output --partial "--exec-file FILE"
	[ -z "$stderr" ]
	run outbox-enqueue -h
	assert_success
}

@test "-V and --version print the version" {
	run outbox-enqueue -V
	assert_success
	assert_output --regexp '^outbox-enqueue [0-9]+\.[0-9]+\.[0-9]+$'
	run outbox-enqueue --version
	assert_success
}

@test "a bad option is a usage error (64) with the synopsis on stderr" {
	run --separate-stderr outbox-enqueue --no-such-option
	assert_failure 64
	[ -z "$output" ]
	[[ "$stderr" == *"usage: outbox-enqueue"* ]]
	for args in "--batch 0" "--batch x" "--busy-timeout soon" "--max-line 0" "--max-line 2G" "--db="; do
		run --separate-stderr outbox-enqueue $args </dev/null
		assert_failure 64
		[[ "$stderr" == *"usage: outbox-enqueue"* ]]
	done
	[ ! -e "$DB" ]
}

@test "every long option of --help is in the man page and the three completions" {
	opts=$(outbox-enqueue --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$opts" ]
	for o in $opts; do
		n=${o#--}
		grep -qE -- "^\.(It|Op) .*Fl -${n}([^a-z-]|\$)" "$TOP/man/outbox-enqueue.1" || { echo "man: $o"; false; }
		grep -qE -- "(^|[[:space:]'(|])${o}([^a-z-]|\$)" "$TOP/completions/bash/outbox-enqueue" || { echo "bash: $o"; false; }
		grep -qE -- "[{,'*]${o}([^a-z-]|\$)" "$TOP/completions/zsh/_outbox-enqueue" || { echo "zsh: $o"; false; }
		grep -qE -- "-l ${n}([^a-z-]|\$)" "$TOP/completions/fish/outbox-enqueue.fish" || { echo "fish: $o"; false; }
	done
}

@test "events become pending rows with decoded columns and canonical JSON" {
	cat >"$T/in.ndjson" <<-'EOF'
	{"type":"WalletCreatedEvent","specversion":"1.0","id":"w\u002d1","source":"/wallets","subject":"wallet 1","partitionkey":"wallet-1","data":{ "id" : "wallet-1" }}
	{"specversion":"1.0","id":"w-2","source":"/wallets","type":"FundsAddedEvent","data_base64":"AAE="}
	EOF
	run outbox-enqueue --db "$DB" "$T/in.ndjson"
	assert_success
	assert_output "outbox-enqueue: enqueued 2, duplicates 0"
	run sqlite3 -separator '|' "$DB" "SELECT seq, id, source, type, subject, partition_key, status, attempts, next_attempt_at IS NULL, length(created_at) FROM outbox ORDER BY seq"
	assert_output - <<-'EOF'
	1|w-1|/wallets|WalletCreatedEvent|wallet 1|wallet-1|pending|0|1|27
	2|w-2|/wallets|FundsAddedEvent|||pending|0|1|27
	EOF
	run sqlite3 "$DB" "SELECT event FROM outbox WHERE seq = 1"
	assert_output '{"specversion":"1.0","id":"w\u002d1","source":"/wallets","type":"WalletCreatedEvent","subject":"wallet 1","partitionkey":"wallet-1","data":{"id":"wallet-1"}}'
	run sqlite3 "$DB" "PRAGMA user_version; PRAGMA journal_mode;"
	assert_output $'1\nwal'
}

@test "the database file is created with mode 0600" {
	gen_events 1 | outbox-enqueue -q --db "$DB"
	run stat -c %a "$DB"
	assert_output 600
}

@test "standard input by default and as -, several files in order" {
	gen_events 2 a | outbox-enqueue -q --db "$DB"
	gen_events 2 b >"$T/b.ndjson"
	gen_events 1 c | outbox-enqueue -q --db "$DB" "$T/b.ndjson" - 
	run sqlite3 "$DB" "SELECT id FROM outbox ORDER BY seq"
	assert_output $'a1\na2\nb1\nb2\nc1'
}

@test "OUTBOX_DB names the database, and ./outbox.db is the default" {
	gen_events 1 | OUTBOX_DB="$T/env.db" outbox-enqueue -q
	[ "$(count outbox "$T/env.db")" = 1 ]
	cd "$T"
	gen_events 2 | outbox-enqueue -q
	[ "$(count outbox "$T/outbox.db")" = 2 ]
	gen_events 3 | OUTBOX_DB="$T/env.db" outbox-enqueue -q --db "$T/flag.db"
	[ "$(count outbox "$T/flag.db")" = 3 ]
}

@test "re-running the same input skips and counts duplicates" {
	gen_events 3 >"$T/in"
	outbox-enqueue -q --db "$DB" "$T/in"
	gen_events 5 >"$T/in5"
	run outbox-enqueue --db "$DB" "$T/in5"
	assert_success
	assert_output "outbox-enqueue: enqueued 2, duplicates 3"
	[ "$(count)" = 5 ]
	# The same event twice within one input is a duplicate too.
	run outbox-enqueue --db "$DB" "$T/in" "$T/in"
	assert_output "outbox-enqueue: enqueued 0, duplicates 6"
	# (source, id) is the key: same id from another source is new.
	gen_events 1 | sed 's|/wallets|/other|' | outbox-enqueue -q --db "$DB"
	[ "$(count)" = 6 ]
}

@test "-q silences the summary; -v adds debug lines" {
	run outbox-enqueue -q --db "$DB" </dev/null
	assert_success
	assert_output ""
	run outbox-enqueue -v --db "$T/v.db" </dev/null
	assert_success
	assert_line --partial "debug: $T/v.db: created the outbox (schema version 1)"
	assert_line "outbox-enqueue: enqueued 0, duplicates 0"
}

@test "empty input creates the outbox and enqueues nothing" {
	run outbox-enqueue --db "$DB" </dev/null
	assert_success
	[ "$(count)" = 0 ]
	run sqlite3 "$DB" "SELECT sql FROM sqlite_master WHERE name = 'outbox_pending'"
	assert_output --partial "WHERE status = 'pending'"
}

@test "a last line without newline, CRLF line ends and blank lines are read" {
	printf '%s\r\n\n   \n%s' "$(gen_events 1 x)" "$(gen_events 1 y)" >"$T/in"
	run outbox-enqueue --db "$DB" "$T/in"
	assert_success
	assert_output "outbox-enqueue: enqueued 2, duplicates 0"
	run sqlite3 "$DB" "SELECT id FROM outbox ORDER BY seq"
	assert_output $'x1\ny1'
}

@test "invalid lines: nothing committed, 65, every bad line with FILE:LINE and the attribute" {
	{
		gen_events 1
		echo '{"specversion":"1.0","source":"/s","type":"T"}'
		gen_events 1 z
		echo '{"specversion":"1.0","id":"x","source":"/s","type":"T","time":"yesterday"}'
		echo '{"specversion":"1.0",'
		gen_events 1 w
	} >"$T/in"
	run outbox-enqueue --db "$DB" "$T/in"
	assert_failure 65
	assert_line --index 0 --regexp "^outbox-enqueue: error: $T/in:2: id: "
	assert_line --index 1 --regexp "^outbox-enqueue: error: $T/in:4: time: "
	assert_line --index 2 --regexp "^outbox-enqueue: error: $T/in:5: "
	assert_line --index 3 "outbox-enqueue: error: 3 invalid lines: nothing was committed"
	[ "${#lines[@]}" = 4 ]
	[ "$(count)" = 0 ]
}

@test "a line longer than --max-line is invalid; a larger --max-line accepts it" {
	gen_events 3 >"$T/in"
	run outbox-enqueue --db "$DB" --max-line 50 "$T/in"
	assert_failure 65
	assert_line --index 0 --partial "$T/in:1:"
	assert_line --partial "nothing was committed"
	[ "$(count)" = 0 ]
	run outbox-enqueue -q --db "$DB" --max-line 1K "$T/in"
	assert_success
	[ "$(count)" = 3 ]
}

@test "--batch commits every N events and says which lines were committed" {
	{ gen_events 5; echo 'not json'; gen_events 2 late; } >"$T/in"
	run outbox-enqueue --db "$DB" --batch 2 "$T/in"
	assert_failure 65
	assert_line --index 0 --partial "$T/in:6:"
	assert_line --index 1 "outbox-enqueue: error: lines 1-4 were committed; nothing after line 4"
	assert_line --index 2 "outbox-enqueue: enqueued 4, duplicates 0"
	[ "$(count)" = 4 ]
	# Fixed input, re-run: the committed part counts as duplicates.
	gen_events 7 | outbox-enqueue --db "$DB" --batch 2 2>"$T/err"
	run cat "$T/err"
	assert_output "outbox-enqueue: enqueued 3, duplicates 4"
}

@test "--batch over several files names the file and line of the last commit" {
	gen_events 3 a >"$T/a"
	{ gen_events 2 b; echo '{}'; } >"$T/b"
	run outbox-enqueue --db "$DB" --batch 2 "$T/a" "$T/b"
	assert_failure 65
	assert_line "outbox-enqueue: error: input up to $T/b:1 was committed; nothing after it"
	[ "$(count)" = 4 ]
	run outbox-enqueue --db "$T/none.db" --batch 2 "$T/b" </dev/null
	assert_failure 65
	assert_line "outbox-enqueue: error: lines 1-2 were committed; nothing after line 2"
}

@test "--exec commits with the events, and is rolled back with bad input" {
	sqlite3 "$DB" "CREATE TABLE wallets (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0)); INSERT INTO wallets VALUES ('w1', 100);"
	{ gen_events 1 ok; echo '{"bad":'; } >"$T/bad"
	run outbox-enqueue --db "$DB" --exec "UPDATE wallets SET balance = balance - 30 WHERE id = 'w1'" "$T/bad"
	assert_failure 65
	[ "$(sqlite3 "$DB" 'SELECT balance FROM wallets')" = 100 ]
	[ "$(count)" = 0 ]
	gen_events 1 good | outbox-enqueue -q --db "$DB" --exec "UPDATE wallets SET balance = balance - 30 WHERE id = 'w1'"
	[ "$(sqlite3 "$DB" 'SELECT balance FROM wallets')" = 70 ]
	[ "$(count)" = 1 ]
	# A failing statement (a CHECK constraint) stops everything: 65.
	run outbox-enqueue --db "$DB" --exec "UPDATE wallets SET balance = balance - 500" <(gen_events 1 no)
	assert_failure 65
	assert_line --partial "--exec: SQL: CHECK constraint failed"
	assert_line "outbox-enqueue: error: nothing was committed"
	[ "$(sqlite3 "$DB" 'SELECT balance FROM wallets')" = 70 ]
	[ "$(count)" = 1 ]
}

@test "--exec-file runs a file's SQL; --exec runs in order, and with empty input too" {
	sqlite3 "$DB" "CREATE TABLE log (msg TEXT)"
	echo "INSERT INTO log VALUES ('from file');" >"$T/tx.sql"
	outbox-enqueue -q --db "$DB" --exec "INSERT INTO log VALUES ('first')" --exec-file "$T/tx.sql" </dev/null
	run sqlite3 "$DB" "SELECT msg FROM log ORDER BY rowid"
	assert_output $'first\nfrom file'
	run outbox-enqueue --db "$DB" --exec-file "$T/missing.sql" </dev/null
	assert_failure 66
	assert_output --partial "$T/missing.sql"
}

@test "--exec may not COMMIT or ROLLBACK the outbox transaction; bad SQL is 65" {
	sqlite3 "$DB" "CREATE TABLE log (msg TEXT)"
	run outbox-enqueue --db "$DB" --exec "INSERT INTO log VALUES ('x'); COMMIT;" <(gen_events 2)
	assert_failure 65
	assert_line --partial "not allowed"
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM log')" = 0 ]
	[ "$(count)" = 0 ]
	run outbox-enqueue --db "$DB" --exec "UPDATE nosuch SET x = 1" <(gen_events 2)
	assert_failure 65
	assert_line --partial "no such table: nosuch"
}

@test "with --batch, --exec runs in the first transaction only" {
	sqlite3 "$DB" "CREATE TABLE log (msg TEXT)"
	{ gen_events 3; echo 'bad'; } >"$T/in"
	run outbox-enqueue --db "$DB" --batch 1 --exec "INSERT INTO log VALUES ('once')" "$T/in"
	assert_failure 65
	[ "$(sqlite3 "$DB" 'SELECT count(*) FROM log')" = 1 ]
	[ "$(count)" = 3 ]
}

@test "--table names the table; an injection attempt is a usage error" {
	gen_events 2 | outbox-enqueue -q --db "$DB" --table audit_out
	[ "$(count audit_out)" = 2 ]
	run sqlite3 "$DB" "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'audit%'"
	assert_output "audit_out_pending"
	# A second outbox table beside the first in the same file.
	gen_events 1 | outbox-enqueue -q --db "$DB"
	[ "$(count outbox)" = 1 ]
	for bad in 'x"; DROP TABLE audit_out; --' '1abc' 'a-b' '' "$(printf 'a%.0s' $(seq 65))"; do
		run --separate-stderr outbox-enqueue --db "$T/inj.db" --table "$bad" </dev/null
		assert_failure 64
		[[ "$stderr" == *"--table wants an identifier"* ]]
	done
	[ ! -e "$T/inj.db" ]
	[ "$(count audit_out)" = 2 ]
}

@test "a newer schema version is refused (78) and left alone" {
	gen_events 1 | outbox-enqueue -q --db "$DB"
	sqlite3 "$DB" "PRAGMA user_version = 2"
	run outbox-enqueue --db "$DB" <(gen_events 2 n)
	assert_failure 78
	assert_output "outbox-enqueue: error: $DB: outbox schema version 2 is newer than this tool supports (1)"
	[ "$(count)" = 1 ]
}

@test "an application's database with its own user_version and no outbox is refused (78)" {
	sqlite3 "$DB" "CREATE TABLE users (id INTEGER); PRAGMA user_version = 12;"
	run outbox-enqueue --db "$DB" <(gen_events 1)
	assert_failure 78
	assert_output --partial "PRAGMA user_version is 12 but there is no table \"outbox\""
	assert_output --partial "refusing to guess"
	run sqlite3 "$DB" "SELECT name FROM sqlite_master; PRAGMA user_version;"
	assert_output $'users\n12'
}

@test "an application's database at user_version 0 gets the outbox beside its tables" {
	sqlite3 "$DB" "CREATE TABLE users (id INTEGER); INSERT INTO users VALUES (7);"
	gen_events 1 | outbox-enqueue -q --db "$DB"
	[ "$(count)" = 1 ]
	[ "$(sqlite3 "$DB" 'SELECT id FROM users')" = 7 ]
}

@test "not a database: a clear message and 74, file untouched" {
	head -c 8192 /dev/urandom >"$T/junk"
	sum=$(cksum <"$T/junk")
	run outbox-enqueue --db "$T/junk" <(gen_events 1)
	assert_failure 74
	assert_output "outbox-enqueue: error: $T/junk: not an outbox database (file is not a database or is corrupt)"
	[ "$(cksum <"$T/junk")" = "$sum" ]
}

@test "a missing input file is 66 and the database is not created" {
	run outbox-enqueue --db "$DB" "$T/nope.ndjson"
	assert_failure 66
	assert_output --partial "$T/nope.ndjson: No such file or directory"
	[ ! -e "$DB" ]
}

@test "a database that cannot be created is 73" {
	run outbox-enqueue --db "$T/no/such/dir/x.db" <(gen_events 1)
	assert_failure 73
	assert_output --partial "$T/no/such/dir/x.db: cannot create the database"
}

@test "a read-only database is 73 and nothing is written" {
	RO_DIR=$(mktemp -d /tmp/outbox-enqueue-ro.XXXXXX)
	chmod 755 "$RO_DIR"
	gen_events 1 | outbox-enqueue -q --db "$RO_DIR/ro.db"
	chmod 444 "$RO_DIR/ro.db"
	gen_events 3 >"$RO_DIR/in"
	chmod 644 "$RO_DIR/in"
	# root writes to any file: run as nobody then.
	as=()
	[ "$(id -u)" != 0 ] || as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	run "${as[@]}" "$BUILD_DIR/bin/outbox-enqueue" --db "$RO_DIR/ro.db" "$RO_DIR/in"
	assert_failure 73
	assert_output "outbox-enqueue: error: $RO_DIR/ro.db: database is read-only (no write permission)"
	[ "$(count outbox "$RO_DIR/ro.db")" = 1 ]
}

@test "locked past the busy timeout: 75, nothing committed; WAL files stay 0600" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	hold_lock "$DB"
	run stat -c %a "$DB-wal" "$DB-shm"
	assert_output $'600\n600'
	gen_events 3 b >"$T/in"
	run outbox-enqueue --db "$DB" --busy-timeout 200ms "$T/in"
	assert_failure 75
	assert_line --index 0 --partial "$DB: beginning a transaction: database is locked (still busy after the 200 ms busy timeout)"
	assert_line "outbox-enqueue: error: nothing was committed"
	release_lock
	[ "$(count)" = 1 ]
	# Released: the same command succeeds.
	outbox-enqueue -q --db "$DB" --busy-timeout 0 "$T/in"
	[ "$(count)" = 4 ]
}

@test "a lock released within the busy timeout is waited for" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	hold_lock "$DB"
	# (fd 5 closed in the child: it must not keep the holder's FIFO open)
	{ gen_events 2 b | outbox-enqueue -q --db "$DB" --busy-timeout 60s; } 5>&- &
	pid=$!
	# The writer is now waiting on the lock; let go of it.
	release_lock
	wait "$pid"
	[ "$(count)" = 3 ]
}

@test "disk full (ENOSPC injected): 74, nothing committed" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	gen_events 3000 b >"$T/in"
	run env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$BATS_FILE_TMPDIR/inject_enospc.so" INJECT_ENOSPC_SUFFIX=-wal \
		INJECT_ENOSPC_AFTER=100000 outbox-enqueue --db "$DB" "$T/in"
	assert_failure 74
	assert_line --index 0 --partial "$DB: committing: disk full"
	assert_line "outbox-enqueue: error: nothing was committed"
	[ "$(count)" = 1 ]
	sqlite3 "$DB" "PRAGMA integrity_check" | grep -qx ok
}

@test "disk full with --batch: earlier batches stay, the message says which" {
	gen_events 3000 b >"$T/in"
	run env ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$BATS_FILE_TMPDIR/inject_enospc.so" INJECT_ENOSPC_SUFFIX=-wal \
		INJECT_ENOSPC_AFTER=300000 outbox-enqueue --db "$DB" --batch 500 "$T/in"
	assert_failure 74
	assert_line --partial "disk full"
	assert_line --regexp "^outbox-enqueue: error: lines 1-([0-9]+) were committed; nothing after line \\1$"
	n=$(printf '%s\n' "$output" | sed -n 's/.*lines 1-\([0-9]*\) were committed.*/\1/p')
	[ "$n" -gt 0 ] && [ "$n" -lt 3000 ]
	[ "$(count)" = "$n" ]
}

@test "SIGTERM in the default mode rolls back everything and exits 75" {
	mkfifo "$T/in"
	outbox-enqueue --db "$DB" "$T/in" 2>"$T/err" &
	pid=$!
	exec 4>"$T/in"
	gen_events 3 >&4
	# The first event opens the write transaction: wait until it holds the lock.
	wait_for 10 locked_now "$DB"
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 4>&-
	[ "$rc" = 75 ]
	run cat "$T/err"
	assert_output "outbox-enqueue: error: interrupted: nothing was committed"
	[ "$(count)" = 0 ]
}

@test "SIGTERM with --batch keeps what was read (committed when input paused) and exits 75" {
	mkfifo "$T/in"
	outbox-enqueue --db "$DB" --batch 1000 "$T/in" 2>"$T/err" &
	pid=$!
	exec 4>"$T/in"
	gen_events 3 >&4
	# Input pauses: the open batch is committed without waiting for 1000.
	wait_for 10 count_is 3
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 4>&-
	[ "$rc" = 75 ]
	run cat "$T/err"
	assert_line "outbox-enqueue: error: interrupted: lines 1-3 were committed; nothing after line 3"
	assert_line "outbox-enqueue: enqueued 3, duplicates 0"
	[ "$(count)" = 3 ]
}

# locked_now DB: true while another connection holds the write lock.
locked_now() {
	! sqlite3 "$1" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1
}

count_is() { [ "$(count 2>/dev/null)" = "$1" ]; }

@test "outbox(5) examples: schema script and a plain-SQL transaction are accepted" {
	sqlite3 "$DB" <"$TOP/examples/outbox-schema.sql" >/dev/null
	sqlite3 "$DB" "CREATE TABLE wallets (id TEXT PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0)); INSERT INTO wallets VALUES ('w-1', 100), ('w-2', 0);"
	sqlite3 "$DB" <"$TOP/examples/wallet-transfer.sql"
	run sqlite3 "$DB" "SELECT group_concat(balance) FROM wallets ORDER BY id"
	assert_output "75,25"
	# The row keeps the rules of outbox(5): canonical event, matching columns.
	sqlite3 "$DB" "SELECT event FROM outbox" >"$T/ev"
	cloudevent-wrap --validate "$T/ev" | cmp - "$T/ev"
	run sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE id = json_extract(event, '$.id') AND source = json_extract(event, '$.source') AND type = json_extract(event, '$.type') AND length(created_at) = 27"
	assert_output 1
	# The tools take the hand-made outbox as theirs: the event is a duplicate.
	run outbox-enqueue --db "$DB" "$T/ev"
	assert_success
	assert_output "outbox-enqueue: enqueued 0, duplicates 1"
}

@test "examples/wallet: the balance and its event commit together or not at all" {
	run wallet_example "$DB" w-1 100
	assert_success
	assert_output --regexp '^[0-9a-f-]{36} w-1 balance 100$'
	run wallet_example "$DB" w-1 -150
	assert_failure 65
	assert_output --partial "CHECK constraint failed"
	run wallet_example "$DB" w-1 -30
	assert_success
	run sqlite3 -separator '|' "$DB" "SELECT balance FROM wallets; SELECT type, partition_key, json_extract(event, '$.data.amount') FROM outbox ORDER BY seq"
	assert_output $'70\nFundsAddedEvent|w-1|100\nFundsWithdrawnEvent|w-1|30'
}

wallet_example() { "$BUILD_DIR/examples/wallet" "$@"; }

# Multi-row inserts (outbox_append's deferred appends) must not show: the
# counts, the order and the transaction edges are the same for any number
# of events around a group size (up to 32 rows a statement).

@test "event counts around the multi-row group size: every row once, in input order" {
	for n in 1 15 16 17 31 32 33 64 65 100; do
		for args in "" "--batch 1" "--batch 7" "--batch 32" "--batch 1000"; do
			rm -f "$DB" "$DB-wal" "$DB-shm"
			gen_events "$n" >"$T/in"
			run outbox-enqueue --db "$DB" $args "$T/in"
			assert_success
			assert_output "outbox-enqueue: enqueued $n, duplicates 0"
			[ "$(count)" = "$n" ] || { echo "n=$n args=$args: $(count)"; false; }
			[ "$(sqlite3 "$DB" "SELECT count(*) FROM outbox WHERE seq != CAST(substr(id, 2) AS INTEGER)")" = 0 ]
		done
	done
}

@test "duplicates inside one group and against committed rows are counted exactly" {
	gen_events 10 >"$T/first"
	outbox-enqueue -q --db "$DB" "$T/first"
	{ gen_events 5 a; gen_events 3; gen_events 2 a; gen_events 40 b; gen_events 1 b; } >"$T/in"
	for args in "" "--batch 4" "--batch 33"; do
		rm -f "$T/x.db" "$T/x.db-wal" "$T/x.db-shm"
		cp "$DB" "$T/x.db"
		run outbox-enqueue --db "$T/x.db" $args "$T/in"
		assert_success
		assert_output "outbox-enqueue: enqueued 45, duplicates 6"
		[ "$(count outbox "$T/x.db")" = 55 ]
		run outbox-enqueue --db "$T/x.db" $args "$T/in"
		assert_output "outbox-enqueue: enqueued 0, duplicates 51"
	done
}

@test "a bad event in the middle of a group: nothing of it committed, with or without --batch" {
	{ gen_events 20; echo '{"specversion":"1.0","id":"x","source":"/s"}'; gen_events 20 z; } >"$T/in"
	run outbox-enqueue --db "$DB" "$T/in"
	assert_failure 65
	assert_line "outbox-enqueue: error: 1 invalid line: nothing was committed"
	[ "$(count)" = 0 ]
	run outbox-enqueue --db "$DB" --batch 100 "$T/in"
	assert_failure 65
	assert_line "outbox-enqueue: error: nothing was committed"
	[ "$(count)" = 0 ]
	# A batch boundary inside: the batches before the bad line stay.
	run outbox-enqueue --db "$DB" --batch 8 "$T/in"
	assert_failure 65
	assert_line "outbox-enqueue: error: lines 1-16 were committed; nothing after line 16"
	assert_line "outbox-enqueue: enqueued 16, duplicates 0"
	[ "$(count)" = 16 ]
}

@test "arbitrary bytes as input: exit 65, nothing committed, never a crash" {
	head -c 200000 /dev/urandom >"$T/noise"
	gen_events 50 >"$T/mixed"
	cat "$T/noise" >>"$T/mixed"
	gen_events 50 late >>"$T/mixed"
	for f in "$T/noise" "$T/mixed"; do
		run outbox-enqueue --db "$DB" "$f"
		[ "$status" -eq 65 ] || { echo "$f: exit $status: $output"; return 1; }
		[ "$(count 2>/dev/null || echo 0)" = 0 ]
	done
	run outbox-enqueue --db "$DB" --batch 10 "$T/mixed"
	[ "$status" -eq 65 ]
	[ "$(count)" = 50 ]
}

# --- issue 7: defects found by the hostile review -------------------------

# sleeping PID: true while PID sleeps in nanosleep (a lock wait's slice).
sleeping() { case $(cat "/proc/$1/wchan" 2>/dev/null) in *nanosleep*) true ;; *) false ;; esac; }

# cpu_ticks_over PID N: true once PID has used more than N clock ticks of
# user time (it is busy in a statement, not still starting up).
cpu_ticks_over() { [ "$(awk '{ print $14 }' "/proc/$1/stat" 2>/dev/null || echo 0)" -gt "$2" ]; }

# gone PID: true once PID has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

@test "a database name that keeps nothing (:memory:, empty, file: URIs) is a usage error (64)" {
	mkdir "$T/w" && cd "$T/w"
	for db in ":memory:" "file:x?mode=memory" "file:$T/w/u.db" "file::memory:?cache=shared"; do
		run --separate-stderr outbox-enqueue --db "$db" <(gen_events 1)
		assert_failure 64
		[[ "$stderr" == *"--db: "* ]]
		[[ "$stderr" == *"usage: outbox-enqueue"* ]]
	done
	run --separate-stderr env OUTBOX_DB=:memory: outbox-enqueue <(gen_events 1)
	assert_failure 64
	[[ "$stderr" == *"OUTBOX_DB: :memory: is an in-memory database, lost at exit"* ]]
	run --separate-stderr outbox-enqueue --db "file:$T/w/u.db" <(gen_events 1)
	[[ "$stderr" == *"SQLite URIs are not accepted"*"./file:$T/w/u.db for a file of that name"* ]]
	# Nothing was created, under any name.
	run ls -A "$T/w"
	assert_output ""
	# A file whose name starts with "file:" is still reachable as a path.
	gen_events 1 | outbox-enqueue -q --db "./file:plain.db"
	[ "$(count outbox "$T/w/file:plain.db")" = 1 ]
}

@test "a refused file is left byte for byte as it was (no WAL switch, no header write)" {
	E='{"specversion":"1.0","id":"1","source":"/s","type":"T"}'
	# Another application's database: user_version set, no outbox table.
	sqlite3 "$T/app.db" 'CREATE TABLE t(x); PRAGMA user_version=7'
	cp "$T/app.db" "$T/app.orig"
	run outbox-enqueue --db "$T/app.db" <<<"$E"
	assert_failure 78
	cmp "$T/app.orig" "$T/app.db"
	# A newer schema version.
	gen_events 1 | outbox-enqueue -q --db "$DB"
	sqlite3 "$DB" "PRAGMA journal_mode=DELETE; PRAGMA user_version = 2" >/dev/null
	cp "$DB" "$T/newer.orig"
	run outbox-enqueue --db "$DB" <<<"$E"
	assert_failure 78
	cmp "$T/newer.orig" "$DB"
	# A table of the right columns without UNIQUE (source, id).
	sqlite3 "$T/nokey.db" "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL, subject TEXT, partition_key TEXT, event TEXT NOT NULL, created_at TEXT, status TEXT, attempts INTEGER, next_attempt_at TEXT, last_error TEXT, sent_at TEXT, topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER); PRAGMA user_version = 1"
	cp "$T/nokey.db" "$T/nokey.orig"
	run outbox-enqueue --db "$T/nokey.db" <<<"$E"
	assert_failure 78
	cmp "$T/nokey.orig" "$T/nokey.db"
	[ ! -e "$T/app.db-wal" ] && [ ! -e "$DB-wal" ] && [ ! -e "$T/nokey.db-wal" ]
}

@test "eight processes at once on a database that does not exist yet: all succeed (20 rounds)" {
	for i in 1 2 3 4 5 6 7 8; do gen_events 3 "p${i}x" >"$T/in$i"; done
	for round in $(seq 20); do
		rm -f "$DB" "$DB-wal" "$DB-shm"
		pids=()
		# Inputs ready in files: the eight start as close together as a shell can.
		for i in 1 2 3 4 5 6 7 8; do
			outbox-enqueue -q --db "$DB" "$T/in$i" 2>>"$T/err" &
			pids+=($!)
		done
		failed=0
		for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
		[ "$failed" = 0 ] || { echo "round $round: $failed failed"; cat "$T/err"; false; }
		[ "$(count)" = 24 ] || { echo "round $round: $(count) rows"; false; }
		[ "$(sqlite3 "$DB" 'PRAGMA journal_mode; PRAGMA user_version')" = $'wal\n1' ]
	done
	[ ! -s "$T/err" ]
}

@test "SIGTERM while waiting for the lock: rolled back, 75 at once" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	hold_lock "$DB"
	gen_events 3 b >"$T/in"
	outbox-enqueue --db "$DB" --busy-timeout 1m "$T/in" 2>"$T/err" 5>&- &
	pid=$!
	# It has read the input and sleeps between lock attempts.
	wait_for 10 sleeping "$pid"
	kill -TERM "$pid"
	wait_for 5 gone "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 75 ]
	run cat "$T/err"
	assert_line --index 0 "outbox-enqueue: error: $DB: beginning a transaction: interrupted while waiting for the lock"
	assert_line --index 1 "outbox-enqueue: error: interrupted: nothing was committed"
	release_lock
	[ "$(count)" = 1 ]
}

@test "SIGTERM during a long --exec statement: rolled back, 75 at once" {
	sqlite3 "$DB" "CREATE TABLE log (msg TEXT)"
	gen_events 2 >"$T/in"
	long="INSERT INTO log VALUES ('before'); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"
	for input in "$T/in" /dev/null; do
		outbox-enqueue --db "$DB" --exec "$long" "$input" 2>"$T/err" &
		pid=$!
		# 0.5 s of CPU: well inside the statement (start-up takes ms).
		wait_for 30 cpu_ticks_over "$pid" 50
		kill -TERM "$pid"
		wait_for 5 gone "$pid"
		rc=0
		wait "$pid" || rc=$?
		[ "$rc" = 75 ] || { echo "$input: exit $rc"; cat "$T/err"; false; }
		run cat "$T/err"
		assert_line --index 0 "outbox-enqueue: error: --exec: $DB: SQL: interrupted"
		assert_line "outbox-enqueue: error: interrupted: nothing was committed"
		[ "$(count)" = 0 ]
		[ "$(sqlite3 "$DB" 'SELECT count(*) FROM log')" = 0 ]
	done
}

@test "--exec SQL that cannot run inside the transaction is the caller's error (65), not 'locked'" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	for try in 1 2; do
		run outbox-enqueue --db "$DB" --exec "PRAGMA wal_checkpoint" <(gen_events 1 b)
		assert_failure 65
		assert_line --index 0 --partial "--exec: SQL: database table is locked: this SQL cannot run inside the outbox transaction"
		refute_output --partial "busy timeout"
		[ "$(count)" = 1 ]
	done
	# Real contention on a file the SQL attaches is still 75 after the wait.
	sqlite3 "$T/other.db" "CREATE TABLE t (x)"
	hold_lock "$T/other.db"
	run outbox-enqueue --db "$DB" --busy-timeout 200ms --exec "ATTACH '$T/other.db' AS o; INSERT INTO o.t VALUES (1)" <(gen_events 1 c) 5>&-
	assert_failure 75
	assert_line --index 0 --partial "database is locked (still busy after the 200 ms busy timeout)"
	release_lock
	[ "$(count)" = 1 ]
}

@test "a table without UNIQUE (source, id) is 78; a reserved sqlite_ name is a usage error" {
	sqlite3 "$DB" "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL, subject TEXT, partition_key TEXT, event TEXT NOT NULL, created_at TEXT, status TEXT, attempts INTEGER, next_attempt_at TEXT, last_error TEXT, sent_at TEXT, topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER); PRAGMA user_version = 1"
	run outbox-enqueue --db "$DB" <(gen_events 1)
	assert_failure 78
	assert_output "outbox-enqueue: error: $DB: table \"outbox\" has no UNIQUE (source, id) constraint: not an outbox table (enqueueing would not be idempotent; see outbox(5))"
	# A unique index on (id, source), or one that is partial, is not the key either way round.
	sqlite3 "$DB" "CREATE UNIQUE INDEX k ON outbox(source, id) WHERE status = 'pending'"
	run outbox-enqueue --db "$DB" <(gen_events 1)
	assert_failure 78
	# The same key made by a plain unique index, in either column order, is accepted.
	sqlite3 "$DB" "DROP INDEX k; CREATE UNIQUE INDEX k ON outbox(id, source); CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 'pending'"
	run outbox-enqueue --db "$DB" <(gen_events 2; gen_events 1)
	assert_success
	assert_output "outbox-enqueue: enqueued 2, duplicates 1"
	for name in sqlite_x SQLITE_outbox Sqlite_; do
		run --separate-stderr outbox-enqueue --db "$T/r.db" --table "$name" <(gen_events 1)
		assert_failure 64
		[[ "$stderr" == *"--table: names starting with sqlite_ are reserved for SQLite's own tables: $name"* ]]
	done
	[ ! -e "$T/r.db" ]
	# sqlitex (no underscore) is an ordinary name.
	gen_events 1 | outbox-enqueue -q --db "$T/r.db" --table sqlitex
	[ "$(count sqlitex "$T/r.db")" = 1 ]
}

@test "rows the table's own trigger drops (RAISE(IGNORE)) are counted as ignored, not duplicates" {
	gen_events 2 keep | outbox-enqueue -q --db "$DB"
	sqlite3 "$DB" "CREATE TRIGGER skip_drop BEFORE INSERT ON outbox WHEN NEW.id LIKE 'drop%' BEGIN SELECT RAISE(IGNORE); END"
	# keep1 is a real duplicate; drop1..drop40 are dropped by the trigger,
	# spread over more than one multi-row statement; new1..new5 go in.
	{ gen_events 1 keep; gen_events 40 drop; gen_events 5 new; gen_events 1 new; } >"$T/in"
	for args in "" "--batch 1" "--batch 7"; do
		rm -f "$T/x.db" "$T/x.db-wal" "$T/x.db-shm"
		cp "$DB" "$T/x.db"
		run outbox-enqueue --db "$T/x.db" $args "$T/in"
		assert_success
		assert_output "outbox-enqueue: enqueued 5, duplicates 2, ignored 40"
		[ "$(count outbox "$T/x.db")" = 7 ]
	done
}

@test "--exec-file - reads the SQL from standard input; the events then come from files" {
	sqlite3 "$DB" "CREATE TABLE log (msg TEXT)"
	gen_events 2 >"$T/in"
	echo "INSERT INTO log VALUES ('from stdin');" | outbox-enqueue -q --db "$DB" --exec-file - "$T/in"
	[ "$(sqlite3 "$DB" 'SELECT msg FROM log')" = "from stdin" ]
	[ "$(count)" = 2 ]
	for args in "--exec-file -" "--exec-file - -" "--exec-file - $T/in -" "--exec-file - --exec-file - $T/in"; do
		run --separate-stderr outbox-enqueue --db "$T/n.db" $args <<<"SELECT 1;"
		assert_failure 64
		[[ "$stderr" == *"--exec-file - "* ]]
	done
	[ ! -e "$T/n.db" ]
}

@test "a directory as input, --exec-file or --db: 74 (the rule for opening inputs), nothing created" {
	mkdir "$T/dir"
	run outbox-enqueue --db "$DB" "$T/dir"
	assert_failure 74
	assert_output "outbox-enqueue: error: $T/dir: Is a directory"
	run outbox-enqueue --db "$DB" --exec-file "$T/dir" <(gen_events 1)
	assert_failure 74
	assert_output "outbox-enqueue: error: $T/dir: Is a directory"
	[ ! -e "$DB" ]
	run outbox-enqueue --db "$T/dir" <(gen_events 1)
	assert_failure 74
	assert_output "outbox-enqueue: error: $T/dir: Is a directory: not a database file"
	# Other non-regular files are no database either.
	run outbox-enqueue --db /dev/null <(gen_events 1)
	assert_failure 74
	assert_output "outbox-enqueue: error: /dev/null: not a regular file: not a database file"
}

# waiting_on_input PID: true while PID blocks reading a pipe (or polls it).
waiting_on_input() { case $(cat "/proc/$1/wchan" 2>/dev/null) in *pipe*|*poll*) true ;; *) false ;; esac; }

@test "SIGTERM while --exec-file waits on a FIFO that never ends: 75 at once, nothing committed" {
	mkfifo "$T/sql"
	# Held open for writing (and reading), never written: no end of file.
	exec 4<>"$T/sql"
	gen_events 2 >"$T/in"
	outbox-enqueue --db "$DB" --exec-file "$T/sql" "$T/in" 2>"$T/err" 4>&- &
	pid=$!
	wait_for 10 waiting_on_input "$pid"
	kill -TERM "$pid"
	wait_for 5 gone "$pid"
	rc=0
	wait "$pid" || rc=$?
	exec 4>&-
	[ "$rc" = 75 ]
	run cat "$T/err"
	assert_line --index 0 "outbox-enqueue: error: $T/sql: interrupted while reading"
	assert_line "outbox-enqueue: error: interrupted: nothing was committed"
	[ "$(count)" = 0 ]
}

@test "a constraint or trigger the application added refuses rows: 78 with SQLite's reason, nothing committed" {
	gen_events 1 a | outbox-enqueue -q --db "$DB"
	sqlite3 "$DB" "CREATE TRIGGER no_x BEFORE INSERT ON outbox WHEN NEW.id LIKE 'x%' BEGIN SELECT RAISE(ABORT, 'no x events here'); END"
	for args in "" "--batch 1"; do
		run outbox-enqueue --db "$DB" $args <(gen_events 3 b; gen_events 1 x)
		assert_failure 78
		assert_line --index 0 "outbox-enqueue: error: $DB: table \"outbox\" refused the row: no x events here (a constraint or trigger the application added; see outbox(5))"
	done
	[ "$(count)" = 4 ] # --batch 1 kept b1..b3
	sqlite3 "$DB" "DROP TRIGGER no_x; DELETE FROM outbox WHERE id LIKE 'b%'; ALTER TABLE outbox ADD COLUMN tenant TEXT CHECK (tenant IS NOT NULL OR id = 'a1')"
	run outbox-enqueue --db "$DB" <(gen_events 2 c)
	assert_failure 78
	assert_line --index 0 --partial "refused the row: CHECK constraint failed: tenant"
	assert_line "outbox-enqueue: error: nothing was committed"
	[ "$(count)" = 1 ]
}
