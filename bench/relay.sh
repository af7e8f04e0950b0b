#!/bin/sh
# relay.sh - outbox-relay against the pipeline a shell user would write, in
# the same run, on fresh copies of one database, to the same mock cluster:
#   sqlite3 (partition_key TAB event of pending rows, in seq order)
#     | kcat -P -K TAB (acks=all, idempotent, waits for delivery reports)
#   then one bulk UPDATE ... SET status = 'sent'   (fast, but unsafe: a
#   failed delivery would still be marked sent, and nothing records where
#   an event landed)
# Also: peak RSS at N/10 and N events, one relay pass with 1M sent rows in
# the table against an empty history, and run-mode latency (commit to
# recorded delivery) for events arriving one at a time.
#   BUILD=build sh bench/relay.sh [N] [ROUNDS]      (defaults 1000000, 2)
#   KAFKA=real sh bench/relay.sh [N] [ROUNDS]       the same against a real
#       Apache Kafka broker (tests/kafka/broker.sh, one KRaft node on this
#       machine, started in the work dir and stopped at exit, failure
#       included; PARTITIONS default 16 there: it keeps every message)
# Targets (issue 8): structured >= 1.0x the pipeline, binary >= 0.8x; RSS
# flat; history cost <= 1.2x; run-mode p99 < 50 ms.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
bin="$top/$BUILD/bin"
N=${1:-1000000}
ROUNDS=${2:-2}
KEYS=1000
KAFKA=${KAFKA:-mock}
case $KAFKA in
mock) PARTITIONS=${PARTITIONS:-128} ;;
real) PARTITIONS=${PARTITIONS:-16} ;;
*) echo "relay.sh: KAFKA is mock or real, not $KAFKA" >&2; exit 64 ;;
esac
need="$bin/outbox-relay $bin/outbox-enqueue $top/$BUILD/tests/kafka-mock"
[ "$KAFKA" = real ] && need="$need $top/$BUILD/tests/kafka-admin"
for t in $need; do
	[ -x "$t" ] || { echo "relay.sh: build first: $t" >&2; exit 1; }
done
command -v kcat >/dev/null || { echo "relay.sh: kcat is needed (make deps)" >&2; exit 1; }
bench_name=relay
. "$top/bench/kafka.sh"
bench_workdir

# A fresh copy of a database, flushed to disk before the run: otherwise
# the first fsync of the run (a checkpoint, for the relay and the
# pipeline alike) pays for writing back the whole copy, hundreds of MB
# with a history table, and the bench measures cp, not the tool.
fresh() {
	rm -f "$work/db" "$work/db-wal" "$work/db-shm"
	cp "$1" "$work/db"
	sync "$work/db"
}

bench_cluster funds-added-events
KCAT_X="-X acks=all -X enable.idempotence=true"

gen "$N" "$KEYS" >"$work/events.ndjson"
"$bin/outbox-enqueue" --db "$work/base.db" -q "$work/events.ndjson"
size=$(($(wc -c <"$work/events.ndjson") / N))

run_ref() {
	fresh "$work/base.db"
	t0=$(now)
	sqlite3 "$work/db" "SELECT partition_key || char(9) || event FROM outbox WHERE status = 'pending' ORDER BY seq" |
		kcat -P -b "$B" -t funds-added-events -K "$(printf '\t')" $KCAT_X 2>"$work/kcat.err" ||
		{ cat "$work/kcat.err" >&2; exit 1; }
	sqlite3 "$work/db" "UPDATE outbox SET status = 'sent' WHERE status = 'pending'"
	t1=$(now)
	elapsed "$t0" "$t1"
}

run_relay() {
	fresh "$work/base.db"
	t0=$(now)
	"$bin/outbox-relay" --once -q --db "$work/db" -b "$B" --mode "$1" 2>"$work/relay.err" ||
		{ cat "$work/relay.err" >&2; exit 1; }
	t1=$(now)
	left=$(sqlite3 "$work/db" "SELECT count(*) FROM outbox WHERE status != 'sent'")
	[ "$left" -eq 0 ] || { echo "relay.sh: $left rows not sent" >&2; exit 1; }
	elapsed "$t0" "$t1"
}

echo "outbox-relay vs sqlite3 | kcat -P + bulk UPDATE: $N events of $size bytes, $KEYS keys, $cluster, $(nproc) cores"
ref_all="" st_all="" bin_all=""
r=1
while [ "$r" -le "$ROUNDS" ]; do
	# Alternate the order so drift on a shared machine hits all alike.
	if [ $((r % 2)) -eq 1 ]; then
		tr=$(run_ref); ts=$(run_relay structured); tb=$(run_relay binary)
	else
		tb=$(run_relay binary); ts=$(run_relay structured); tr=$(run_ref)
	fi
	printf 'round %d: pipeline %s s (%s ev/s), relay structured %s s (%s ev/s, %sx), binary %s s (%s ev/s, %sx)\n' \
		"$r" "$tr" "$(rate "$N" "$tr")" "$ts" "$(rate "$N" "$ts")" \
		"$(echo "$tr $ts" | awk '{ printf "%.2f", $1 / $2 }')" "$tb" "$(rate "$N" "$tb")" \
		"$(echo "$tr $tb" | awk '{ printf "%.2f", $1 / $2 }')"
	ref_all="$ref_all $tr" st_all="$st_all $ts" bin_all="$bin_all $tb"
	r=$((r + 1))
done
median() { echo "$@" | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mr=$(median $ref_all) ms=$(median $st_all) mb=$(median $bin_all)
printf 'median: structured %sx, binary %sx of the pipeline (targets 1.0x, 0.8x)\n' \
	"$(echo "$mr $ms" | awk '{ printf "%.2f", $1 / $2 }')" "$(echo "$mr $mb" | awk '{ printf "%.2f", $1 / $2 }')"

# Peak RSS: N/10 against N pending rows.
small=$((N / 10))
head -n "$small" "$work/events.ndjson" >"$work/small.ndjson"
"$bin/outbox-enqueue" --db "$work/small.db" -q "$work/small.ndjson"
fresh "$work/small.db"
/usr/bin/time -f %M -o "$work/rss" "$bin/outbox-relay" --once -q --db "$work/db" -b "$B" 2>/dev/null
rss_small=$(cat "$work/rss")
fresh "$work/base.db"
/usr/bin/time -f %M -o "$work/rss" "$bin/outbox-relay" --once -q --db "$work/db" -b "$B" 2>/dev/null
rss_big=$(cat "$work/rss")
echo "peak RSS: $rss_small KiB at $small events, $rss_big KiB at $N events"

# History: 10,000 pending rows behind N sent rows, against the same 10,000
# alone.
P=10000
gen $((N + P)) "$KEYS" | tail -n "$P" >"$work/tail.ndjson"
"$bin/outbox-enqueue" --db "$work/tail.db" -q "$work/tail.ndjson"
fresh "$work/base.db"
sqlite3 "$work/db" "UPDATE outbox SET status = 'sent'"
"$bin/outbox-enqueue" --db "$work/db" -q "$work/tail.ndjson"
cp "$work/db" "$work/hist.db"
hist_all="" empty_all="" hpass_all="" epass_all=""
# pass_of: the relay's own time for its pass (read, publish, record), from -v.
pass_of() { sed -n 's/.*pass 1: read and handed over in \([0-9.]*\) s, last reports \([0-9.]*\) s, recorded \([0-9.]*\) s.*/\1 \2 \3/p' "$1" | awk '{ printf "%.3f", $1 + $2 + $3 }'; }
for r in 1 2 3; do
	fresh "$work/hist.db"
	t0=$(now); "$bin/outbox-relay" --once -v --db "$work/db" -b "$B" 2>"$work/hist.err"; t1=$(now)
	hist_all="$hist_all $(elapsed "$t0" "$t1")" hpass_all="$hpass_all $(pass_of "$work/hist.err")"
	fresh "$work/tail.db"
	t0=$(now); "$bin/outbox-relay" --once -v --db "$work/db" -b "$B" 2>"$work/tail.err"; t1=$(now)
	empty_all="$empty_all $(elapsed "$t0" "$t1")" epass_all="$epass_all $(pass_of "$work/tail.err")"
done
mh=$(median $hist_all) me=$(median $empty_all) mhp=$(median $hpass_all) mep=$(median $epass_all)
echo "history: $P pending rows behind $N sent rows: the pass $mhp s, alone $mep s (median of 3): $(echo "$mhp $mep" | awk '{ printf "%.2f", $1 / $2 }')x (target <= 1.2x); whole process $mh s vs $me s"

# Latency in run mode: events committed one at a time by outbox-enqueue;
# measured from the moment its commit returned (the process exited) to
# sent_at, which the relay records after the delivery report.
L=${LATENCY_EVENTS:-1000}
rm -f "$work/lat.db"*
head -n 1 "$work/events.ndjson" | "$bin/outbox-enqueue" --db "$work/lat.db" -q
sqlite3 "$work/lat.db" "DELETE FROM outbox"
"$bin/outbox-relay" -q --db "$work/lat.db" -b "$B" --interval 1m 2>"$work/relay.err" &
relay_pid=$!
: >"$work/committed"
head -n "$L" "$work/tail.ndjson" | while IFS= read -r line; do
	printf '%s\n' "$line" | "$bin/outbox-enqueue" --db "$work/lat.db" -q
	printf '%s %s\n' "$(printf '%s' "$line" | sed 's/.*"id":"\([^"]*\)".*/\1/')" "$(date +%s.%N)" >>"$work/committed"
done
i=0
while [ "$(sqlite3 "$work/lat.db" "SELECT count(*) FROM outbox WHERE status = 'sent'")" -lt "$L" ]; do
	i=$((i + 1))
	[ "$i" -lt 600 ] || { echo "relay.sh: run mode did not send everything" >&2; kill "$relay_pid"; exit 1; }
	sleep 0.05
done
kill -TERM "$relay_pid"
wait "$relay_pid" || true
sqlite3 -separator ' ' "$work/lat.db" "SELECT id, printf('%.6f', (julianday(sent_at) - 2440587.5) * 86400.0) FROM outbox" >"$work/sent"
awk 'NR == FNR { c[$1] = $2; next } ($1 in c) { print ($2 - c[$1]) * 1000 }' "$work/committed" "$work/sent" | sort -n |
	awk '{ v[NR] = $1 } END { printf "run-mode latency, %d events one at a time, commit to recorded delivery: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 50 ms)\n", NR, v[int(NR * 0.5)], v[int(NR * 0.99)], v[NR] }'
