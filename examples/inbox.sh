#!/bin/sh
# inbox.sh - an exactly-once inbox from the shell.
#
#   event-consume -g GROUP --batch 100 \
#       --exec 'outbox-enqueue --db inbox.db --table inbox -q'
#
# event-consume delivers at least once: it commits a batch's offsets only
# after its handler exited 0, so after a crash (of the consumer, the
# handler or the machine) the batch comes again. The handler here stores
# the batch in an outbox(5)-shaped table, in one transaction, and that
# table is UNIQUE(source, id): a batch that comes again is skipped row by
# row. So every event is in the inbox exactly once, however often it was
# delivered. The application then works through the inbox's rows in its own
# transactions, at its own pace.
#
# This script runs the whole path on librdkafka's mock cluster:
#   N events -> outbox.db -> outbox-relay -> Kafka -> event-consume ->
#   inbox.db; then it delivers every event a second time (a new group, from
#   the beginning: what a crash before any commit would do) and shows the
#   inbox unchanged. tests/examples-inbox.bats runs it, and also kills the
#   consumer in the middle of a batch.
#   BUILD=build sh examples/inbox.sh [N]        (default 1000)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
PATH="$top/$BUILD/bin:$top/$BUILD/tests:$PATH"
N=${1:-1000}
dir=$(mktemp -d)
mock_pid=""
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir"
say() { printf '\n== %s\n' "$*"; }

say "kafka: a mock cluster with the topic funds-added-events (4 partitions)"
mkfifo mock.in
# <> on the FIFO: the mock holds a writer itself, so it never reads EOF.
kafka-mock -t funds-added-events:4 <>mock.in >mock.out 2>mock.err &
mock_pid=$!
i=0
while [ ! -s mock.out ]; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || { cat mock.err >&2; exit 1; }
	sleep 0.05
done
brokers=$(head -n 1 mock.out)

say "produce: $N events into an outbox, relayed to Kafka"
seq "$N" | awk '{ printf "{\"walletId\":\"w-%d\",\"amount\":%d}\n", $1 % 10, $1 }' |
	cloudevent-wrap -t FundsAddedEvent -s /wallet-hub --partition-key-from /walletId |
	outbox-enqueue --db outbox.db -q
outbox-relay --once --db outbox.db -b "$brokers"

# The handler: one outbox-enqueue per batch, the batch on its stdin.
handler='outbox-enqueue --db inbox.db --table inbox -q'

say "consume: group wallet-inbox, 100 events per handler run, into inbox.db"
event-consume -b "$brokers" -t funds-added-events -g wallet-inbox --exit-eof \
	--batch 100 --exec "$handler"
sqlite3 inbox.db "SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct ids' FROM inbox"

say "re-deliver: every event again (another group, from the beginning)"
event-consume -b "$brokers" -t funds-added-events -g wallet-inbox-again --from beginning \
	--exit-eof --batch 100 --exec "$handler"
sqlite3 inbox.db "SELECT count(*) || ' rows, ' || count(DISTINCT id) || ' distinct ids' FROM inbox"

say "the inbox against the outbox: every event once, none missing"
sqlite3 inbox.db "ATTACH 'outbox.db' AS o;
	SELECT (SELECT count(*) FROM o.outbox WHERE (source, id) NOT IN (SELECT source, id FROM inbox))
	       || ' missing, ' ||
	       (SELECT count(*) FROM inbox WHERE (source, id) NOT IN (SELECT source, id FROM o.outbox))
	       || ' unexpected'"

# The inbox keeps outbox(5)'s status column: here 'sent' marks a row the
# application has processed.
say "the application's side: work through the inbox in its own transactions"
sqlite3 inbox.db "BEGIN;
	SELECT json_extract(event, '\$.data.walletId') AS wallet, sum(json_extract(event, '\$.data.amount'))
	  FROM inbox WHERE status = 'pending' GROUP BY wallet ORDER BY wallet LIMIT 3;
	UPDATE inbox SET status = 'sent' WHERE status = 'pending';
	COMMIT;"
