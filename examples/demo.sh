#!/bin/sh
# make demo: the main job end to end on the embedded sample payloads.
#   payloads -> cloudevent-wrap -> CloudEvents NDJSON -> outbox-enqueue ->
#   outbox.db (SQLite) -> event-bindings explain (where the relay will send
#   each event)
# Each step grows with the tools; it runs in a private temp directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
PATH="$top/$BUILD/bin:$PATH"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
say() { printf '\n== %s\n' "$*"; }

say "wrap: each sample payload becomes a CloudEvent (PII masked, key from the payload)"
p="$top/examples/payloads.ndjson"
{
	head -n 2 "$p" | cloudevent-wrap -t WalletCreatedEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId --mask /owner/email
	sed -n 3,5p "$p" | cloudevent-wrap -t FundsAddedEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId
	sed -n 6p "$p" | cloudevent-wrap -t FundsTransferredEvent -s /wallet-hub \
		--subject-from /walletId --partition-key-from /walletId
} >events.ndjson
cat events.ndjson

say "validate: every event is a valid CloudEvent 1.0"
cloudevent-wrap --validate events.ndjson >/dev/null && echo "$(wc -l <events.ndjson) events valid"

if command -v outbox-enqueue >/dev/null 2>&1; then
	say "enqueue: one transaction into outbox.db; a second run finds only duplicates"
	outbox-enqueue --db outbox.db events.ndjson
	outbox-enqueue --db outbox.db events.ndjson
	sqlite3 -header -column outbox.db \
		"SELECT seq, type, subject, partition_key, status FROM outbox ORDER BY seq"
fi

if command -v event-bindings >/dev/null 2>&1; then
	say "route: the topic and key the relay will use for each event"
	event-bindings explain events.ndjson
fi

say "unwrap: the data back out of the events"
cloudevent-wrap --unwrap events.ndjson
