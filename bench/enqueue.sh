#!/bin/sh
# enqueue.sh - outbox-enqueue against a plain C insert loop (bench/ref_insert.c)
# in the same run: same events, same transaction size, same pragmas (WAL,
# synchronous=FULL), fresh on-disk files. Events about 360 bytes; ids
# UUIDv7-like (time-ordered) and random v4. Also peak RSS at 100k and 1M.
#   BUILD=build sh bench/enqueue.sh [N] [BATCH]    (defaults 1000000, 1000)
# Target (DESIGN.md): ratio >= 0.8x; RSS flat.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
tool="$top/$BUILD/bin/outbox-enqueue"
N=${1:-1000000}
BATCH=${2:-1000}
[ -x "$tool" ] || { echo "enqueue.sh: build first: $tool" >&2; exit 1; }
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/enqueue-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cc -std=c11 -O2 -o "$work/ref_insert" "$top/bench/ref_insert.c" $(pkg-config --cflags --libs sqlite3)

# gen N v7|v4 > file: events of about 360 bytes (not timed).
gen() {
	awk -v n="$1" -v kind="$2" 'BEGIN {
		srand(42); ms = 1795000000000
		for (i = 1; i <= n; i++) {
			if (kind == "v7") {
				if (i % 50 == 0) ms++
				id = sprintf("%08x-%04x-7%03x-%04x-%012x", int(ms / 65536), ms % 65536,
					i % 4096, 32768 + int(rand() * 16384), int(rand() * 281474976710656))
			} else {
				id = sprintf("%08x-%04x-4%03x-%04x-%012x", int(rand() * 4294967296),
					int(rand() * 65536), int(rand() * 4096), 32768 + int(rand() * 16384),
					int(rand() * 281474976710656))
			}
			w = sprintf("wallet-%06d", i % 100000)
			printf "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/wallet-hub/wallets\",\"type\":\"FundsAddedEvent\",\"subject\":\"%s\",\"time\":\"2026-11-27T09:51:38.%06dZ\",\"datacontenttype\":\"application/json\",\"partitionkey\":\"%s\",\"data\":{\"walletId\":\"%s\",\"amount\":\"%d.50\",\"currency\":\"EUR\",\"reference\":\"txn-%012d\"}}\n", id, w, i % 1000000, w, w, i % 1000, i
		}
	}'
}

now() { date +%s.%N; }

# timed LABEL CMD...: run on a fresh db; prints elapsed seconds.
timed() {
	rm -f "$work/db" "$work/db-wal" "$work/db-shm"
	t0=$(now)
	"$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	t1=$(now)
	echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }'
}

rate() { echo "$1 $2" | awk '{ printf "%.0f", $1 / $2 }'; }

peak_rss_kb() {
	rm -f "$work/db" "$work/db-wal" "$work/db-shm"
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1
		cat "$work/rss"
	else
		# VmHWM of the process, read just before it exits is not possible
		# from outside: fall back to polling its status while it runs.
		"$@" >/dev/null 2>&1 &
		pid=$! max=0
		while kill -0 "$pid" 2>/dev/null; do
			v=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ "${v:-0}" -gt "$max" ] && max=$v
		done
		wait "$pid"
		echo "$max"
	fi
}

echo "outbox-enqueue vs ref_insert: $N events, batch $BATCH, WAL, synchronous=FULL, $(nproc) cores"
for kind in v7 v4; do
	gen "$N" "$kind" >"$work/events.ndjson"
	size=$(wc -c <"$work/events.ndjson")
	avg=$((size / N))
	for mode in batch atomic; do
		if [ "$mode" = atomic ]; then
			[ "$kind" = v7 ] || continue # one huge random-id transaction says nothing new
			targ="" rarg=0 label="one transaction"
		else
			targ="--batch $BATCH" rarg=$BATCH label="batch $BATCH"
		fi
		# shellcheck disable=SC2086
		t_tool=$(timed "$tool" -q --db "$work/db" $targ "$work/events.ndjson")
		t_ref=$(timed "$work/ref_insert" "$work/db" "$work/events.ndjson" "$rarg")
		r_tool=$(rate "$N" "$t_tool")
		r_ref=$(rate "$N" "$t_ref")
		ratio=$(echo "$r_tool $r_ref" | awk '{ printf "%.2f", $1 / $2 }')
		printf '  %s ids, %d-byte events, %-15s outbox-enqueue %8s ev/s  ref %8s ev/s  ratio %sx\n' \
			"$kind" "$avg" "$label:" "$r_tool" "$r_ref" "$ratio"
	done
done

small=$((N / 10))
gen "$small" v7 >"$work/small.ndjson"
gen "$N" v7 >"$work/events.ndjson"
rss_small=$(peak_rss_kb "$tool" -q --db "$work/db" --batch "$BATCH" "$work/small.ndjson")
rss_big=$(peak_rss_kb "$tool" -q --db "$work/db" --batch "$BATCH" "$work/events.ndjson")
rss_atomic=$(peak_rss_kb "$tool" -q --db "$work/db" "$work/events.ndjson")
echo "  peak RSS (batch $BATCH): $small events ${rss_small} KB, $N events ${rss_big} KB; one transaction of $N: ${rss_atomic} KB"
