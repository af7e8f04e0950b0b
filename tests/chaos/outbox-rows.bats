#!/usr/bin/env bats
# Rows another program wrote into the outbox that break outbox(5): the relay
# marks each one dead with its reason and keeps publishing the rest, in
# order (checked in the table with sqlite3 and in the topic with kcat).

load ../helpers/common
load ../helpers/kafka

setup_file() {
	kafka_mock_start -t rows:1 -t nulls:1
}

teardown_file() {
	kafka_mock_stop
}

setup() {
	common_setup
	kafka_mock_env
	printf 'producer chaos.Row rowProducer-out-0 rows\nproducer chaos.Null nullProducer-out-0 nulls\n' >"$T/bindings.conf"
}

# good N TYPE: a valid event with id gN, key k.
good() {
	printf '{"specversion":"1.0","id":"g%s","source":"/rows","type":"%s","partitionkey":"k","data":{"n":%s}}\n' "$1" "$2" "$1"
}

# ids TOPIC: the ce_id headers of every message in TOPIC, in offset order.
ids() {
	timeout 20 kcat -C -b "$KAFKA_BROKERS" -t "$1" -e -q -f '%h\n' |
		sed -n 's/.*ce_id=\([^,]*\).*/\1/p'
}

@test "outbox-relay --once: invalid JSON, an id or type that differs from the event, a non-CloudEvent: each dead with its reason, the rest sent in order" {
	{ good 1 chaos.Row; good 2 chaos.Row; } | outbox-enqueue -q --db "$T/o.db"
	# Another program's rows, between good ones, all with the same key.
	sqlite3 "$T/o.db" <<'SQL'
INSERT INTO outbox (id, source, type, partition_key, event) VALUES
 ('bad-json', '/rows', 'chaos.Row', 'k', '{"specversion":"1.0","id":"bad-json","source":"/rows",'),
 ('bad-id', '/rows', 'chaos.Row', 'k',
  '{"specversion":"1.0","id":"another-id","source":"/rows","type":"chaos.Row","partitionkey":"k","data":{"n":0}}'),
 ('bad-source', '/rows', 'chaos.Row', 'k',
  '{"specversion":"1.0","id":"bad-source","source":"/elsewhere","type":"chaos.Row","partitionkey":"k","data":{"n":0}}'),
 ('bad-type', '/rows', 'chaos.Row', 'k',
  '{"specversion":"1.0","id":"bad-type","source":"/rows","type":"chaos.Other","partitionkey":"k","data":{"n":0}}'),
 ('no-ce', '/rows', 'chaos.Row', 'k', '{"id":"no-ce","source":"/rows","type":"chaos.Row"}'),
 ('bad-key', '/rows', 'chaos.Row', 'k',
  '{"specversion":"1.0","id":"bad-key","source":"/rows","type":"chaos.Row","partitionkey":"other","data":{"n":0}}');
SQL
	{ good 3 chaos.Row; good 4 chaos.Row; } | outbox-enqueue -q --db "$T/o.db"
	run -65 timeout 60 outbox-relay --once --db "$T/o.db" -B "$T/bindings.conf"
	echo "$output"
	run sqlite3 -separator ' ' "$T/o.db" "SELECT id, status FROM outbox ORDER BY seq"
	assert_output "$(printf '%s\n' 'g1 sent' 'g2 sent' 'bad-json dead' 'bad-id dead' 'bad-source dead' \
		'bad-type dead' 'no-ce dead' 'bad-key dead' 'g3 sent' 'g4 sent')"
	# Each dead row says why, naming what is wrong.
	run sqlite3 -separator ' | ' "$T/o.db" "SELECT id, last_error FROM outbox WHERE status = 'dead' ORDER BY seq"
	echo "$output"
	assert_line --regexp '^bad-json \| event: .+'
	assert_line --regexp '^bad-id \| .*id.*'
	assert_line --regexp '^bad-source \| .*source.*'
	assert_line --regexp '^bad-type \| type: .+'
	assert_line --regexp '^no-ce \| event: .*specversion.*'
	assert_line --regexp '^bad-key \| partition_key: .+'
	# The topic holds the good events only, in order.
	run ids rows
	assert_output "$(printf '%s\n' g1 g2 g3 g4)"
	# Nothing left to do: a second pass sends nothing and exits 0.
	run -0 timeout 60 outbox-relay --once --db "$T/o.db" -B "$T/bindings.conf"
	run ids rows
	assert_output "$(printf '%s\n' g1 g2 g3 g4)"
}

@test "outbox-relay --once: a NULL event (a hand-made table that allows it) is dead with its reason; the rest are sent" {
	# An application whose migration forgot NOT NULL on event: every column
	# outbox(5) lists, the index, and the version the tools expect.
	sqlite3 "$T/n.db" <<'SQL'
CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL,
  type TEXT NOT NULL, subject TEXT, partition_key TEXT, event TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'dead'),
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, last_error TEXT, sent_at TEXT,
  topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER, UNIQUE (source, id));
CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 'pending';
PRAGMA user_version = 1;
SQL
	good 1 chaos.Null | outbox-enqueue -q --db "$T/n.db"
	sqlite3 "$T/n.db" "INSERT INTO outbox (id, source, type, partition_key, event) VALUES ('null-event', '/rows', 'chaos.Null', 'k', NULL)"
	good 2 chaos.Null | outbox-enqueue -q --db "$T/n.db"
	run -65 timeout 60 outbox-relay --once --db "$T/n.db" -B "$T/bindings.conf"
	run sqlite3 -separator ' | ' "$T/n.db" "SELECT id, status, ifnull(last_error, '') FROM outbox ORDER BY seq"
	assert_line --index 0 'g1 | sent | '
	assert_line --index 1 --regexp '^null-event \| dead \| event: NULL'
	assert_line --index 2 'g2 | sent | '
	run ids nulls
	assert_output "$(printf '%s\n' g1 g2)"
}
