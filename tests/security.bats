#!/usr/bin/env bats
# Security properties across the tools (issue 11): no SQL built from
# input, secrets never shown, event data kept out of errors and logs,
# files created private. Each test runs the tools the way a user would and
# then searches everything they left: standard output and error, the
# databases, the metrics files, the topics, the handler's environment.

load helpers/common
load helpers/kafka

setup_file() {
	kafka_start -t sec:2 -t error.sec.g:2 -t bad:1 -t bad-dlq:1
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_env
	printf 'producer x.E xProducer-out-0 sec\n' >"$T/b.conf"
}

# events FROM TO [DATA]: valid events eFROM..eTO of type x.E, three keys.
events() {
	awk -v a="$1" -v b="$2" -v d="${3:-plain}" 'BEGIN { for (i = a; i <= b; i++)
		printf "{\"specversion\":\"1.0\",\"id\":\"e%d\",\"source\":\"/s\",\"type\":\"x.E\",\"partitionkey\":\"k%d\",\"data\":{\"v\":\"%s\"}}\n", i, i % 3, d }'
}

dump() { sqlite3 "$1" .dump | sha256sum; }

@test "no SQL is built from input: injection text in every option that reaches SQL is refused or taken literally; the database is unchanged" {
	events 1 6 | outbox-enqueue -q --db "$T/o.db"
	# Some sent, one dead: every status has rows an injection could reach.
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf"
	events 7 9 | outbox-enqueue -q --db "$T/o.db"
	sqlite3 "$T/o.db" "UPDATE outbox SET status = 'dead', last_error = 'x' WHERE id = 'e7'"
	local before
	before=$(dump "$T/o.db")
	# The filters work (so an empty answer below means something).
	run -0 outbox-relay list --db "$T/o.db" --status any --type x.E
	[ "${#lines[@]}" -eq 9 ]
	local inj
	for inj in "x.E' OR '1'='1" "x.E\" OR 1=1 --" "'; DROP TABLE outbox; --" "e1' OR 1=1 --"; do
		for opt in --type --source --id; do
			run -0 outbox-relay list --db "$T/o.db" --status any "$opt" "$inj"
			assert_output ''
		done
		run -0 outbox-relay requeue --db "$T/o.db" --status any --type "$inj"
		run -0 outbox-relay requeue --db "$T/o.db" --dead --source "$inj"
		# An id that matches no row is the documented 1, naming it.
		run -1 outbox-relay requeue --db "$T/o.db" --status any --id "$inj"
		assert_output --partial "matched no row (first: $inj)"
		for opt in --since --limit --status; do
			run -64 outbox-relay list --db "$T/o.db" "$opt" "$inj"
		done
		run -64 outbox-relay requeue --db "$T/o.db" --dead --since "$inj"
		run -64 outbox-relay purge --db "$T/o.db" --sent-before "$inj"
		run -64 outbox-relay purge --db "$T/o.db" --dead-before "$inj"
		run -64 outbox-relay status --db "$T/o.db" --max-age "$inj"
		for cmd in status list run; do
			run -64 outbox-relay $cmd --db "$T/o.db" --table "$inj"
		done
		run -64 outbox-relay requeue --db "$T/o.db" --table "$inj" --dead
		run -64 outbox-relay purge --db "$T/o.db" --table "$inj" --sent-before 1d
		run -64 outbox-enqueue --db "$T/o.db" --table "$inj" </dev/null
	done
	[ "$(dump "$T/o.db")" = "$before" ]
	run sqlite3 "$T/o.db" "SELECT status, count(*) FROM outbox GROUP BY 1 ORDER BY 1"
	assert_output $'dead|1\npending|2\nsent|6'
}

@test "a password given with -X or -F never appears: not on stderr (-v), stdout, status, list, metrics, the databases, the topics or a handler's environment" {
	local pw="Pw-$RANDOM-$RANDOM-s3cret" xpw="Xpw-$RANDOM-$RANDOM-s3cret"
	printf 'sasl.username=alice\nsasl.password=%s\n' "$pw" >"$T/k.conf"
	chmod 600 "$T/k.conf"
	# A plaintext listener: the credentials are configured, not used.
	local kx=(-F "$T/k.conf" -X "ssl.key.password=$xpw")
	events 1 5 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -v -v --db "$T/o.db" -B "$T/b.conf" "${kx[@]}" \
		--metrics-file "$T/r.prom" >"$T/out" 2>&1
	outbox-relay status --db "$T/o.db" >>"$T/out" 2>&1
	outbox-relay status --json --db "$T/o.db" >>"$T/out" 2>&1
	outbox-relay status --prometheus --db "$T/o.db" >>"$T/out" 2>&1
	outbox-relay list --status any --db "$T/o.db" >>"$T/out" 2>&1
	# A handler that fails for good: the event goes to the dead-letter topic.
	timeout 60 event-consume -v -v -t sec -g g "${kx[@]}" -X session.timeout.ms=6000 --exit-eof \
		--dedupe "$T/d.db" --metrics-file "$T/c.prom" \
		--exec "env >>'$T/env'; cat >/dev/null; [ \"\$CE_ID\" != e3 ] || exit 65" >>"$T/out" 2>&1 || true
	read_dlq() { timeout 20 kcat -C -b "$KAFKA_BROKERS" -t error.sec.g -o beginning -e -q -J; }
	wait_for 20 test -n "$(read_dlq)"
	read_dlq >"$T/dlq"
	grep -q 'x-original-offset' "$T/dlq"
	# What the run printed shows the settings, redacted.
	grep -q 'sasl.password.*redacted' "$T/out"
	grep -q 'CE_ID=e1' "$T/env"
	local f
	for f in "$T/out" "$T/env" "$T/dlq" "$T/r.prom" "$T/c.prom" "$T/o.db" "$T/d.db"; do
		[ -s "$f" ]
		run grep -ac -e "$pw" -e "$xpw" "$f"
		[ "$output" = 0 ] || { echo "a password in $f" >&2; false; }
	done
}

@test "event data stays out of errors, reasons and dead-letter headers unless -v asks" {
	local secret="Private-$RANDOM-data"
	# A row whose event is broken (its id differs from the row's): dead.
	events 1 2 "$secret" | outbox-enqueue -q --db "$T/o.db"
	sqlite3 "$T/o.db" "UPDATE outbox SET id = 'other' WHERE id = 'e1'"
	run -65 outbox-relay --once --db "$T/o.db" -B "$T/b.conf"
	assert_output --partial 'dead'
	refute_output --partial "$secret"
	run sqlite3 "$T/o.db" "SELECT last_error FROM outbox WHERE status = 'dead'"
	[ -n "$output" ]
	refute_output --partial "$secret"
	# Undecodable messages: a structured one that is not JSON, a binary one
	# without ce_type. Without a group each is reported, the data is not.
	printf '%s is not JSON\n' "$secret" | kcat -P -b "$KAFKA_BROKERS" -t bad \
		-H 'content-type=application/cloudevents+json'
	printf '{"v":"%s"}\n' "$secret" | kcat -P -b "$KAFKA_BROKERS" -t bad \
		-H ce_specversion=1.0 -H ce_id=b1 -H ce_source=/s -H content-type=application/json
	run -65 --separate-stderr timeout 60 event-consume -t bad --from beginning --exit-eof
	[ "$(grep -Ec 'error: bad \[0\] @[01]: not a valid CloudEvent' <<<"$stderr")" -eq 2 ]
	[[ "$stderr" != *"$secret"* ]]
	# With a group they are dead-lettered: the reason goes in a header,
	# the data only in the value (as it came).
	run -0 timeout 60 event-consume -t bad -g g2 -X session.timeout.ms=6000 --exit-eof --dlq bad-dlq
	refute_output --partial "$secret"
	run -0 timeout 20 kcat -C -b "$KAFKA_BROKERS" -t bad-dlq -o beginning -e -q -f '%h\n'
	[ "${#lines[@]}" -eq 2 ]
	assert_output --partial 'x-exception-message=invalid JSON at byte 1'
	assert_output --partial 'x-exception-message=ce_type: required header missing'
	refute_output --partial "$secret"
}

@test "files the tools create are 0600 whatever the umask: outbox, its WAL, dedupe store, metrics files" {
	umask 022
	events 1 3 | outbox-enqueue -q --db "$T/o.db"
	outbox-relay --once -q --db "$T/o.db" -B "$T/b.conf" --metrics-file "$T/r.prom"
	timeout 60 event-consume -q -t sec --from beginning --exit-eof --dedupe "$T/d.db" \
		--metrics-file "$T/c.prom" >/dev/null
	local f
	for f in o.db r.prom d.db c.prom; do
		[ "$(stat -c %a "$T/$f")" = 600 ] || { ls -l "$T" >&2; false; }
	done
	for f in "$T"/*-wal "$T"/*-shm; do
		[ -e "$f" ] || continue
		[ "$(stat -c %a "$f")" = 600 ] || { ls -l "$T" >&2; false; }
	done
}
