#!/bin/sh
# consume.sh - event-consume against kcat -C reading the same topic to
# stdout, in the same run, on one mock cluster:
#   kcat -C -e -q -t T                              (prints each value)
#   event-consume -t T --from beginning --exit-eof  (decodes each message
#       into a CloudEvent and prints it as one NDJSON line)
# Two topics of N events of about 360 bytes, produced by outbox-relay from
# one outbox: binary content mode (the relay's default: value = data,
# attributes as ce_ headers) and structured (--mode structured: value = the
# event JSON). Runs alternate their order each round; every run's output is
# counted (wc -l) and must be exactly N lines, so a topic the mock trimmed,
# or a consumer that stopped early, fails the bench instead of flattering it.
# Also: event-consume --dedupe FILE (a fresh store per run), and peak RSS
# at N/10 and N events.
#   BUILD=build sh bench/consume.sh [N] [ROUNDS]      (defaults 1000000, 3)
#   KAFKA=real sh bench/consume.sh [N] [ROUNDS]       the same against a real
#       Apache Kafka broker (tests/kafka/broker.sh, one KRaft node on this
#       machine, started in the work dir and stopped at exit, failure
#       included; PARTITIONS default 16 there: it keeps every message)
# CONSUME_FLAGS adds flags to every event-consume run, to isolate a cost
# (e.g. CONSUME_FLAGS='-X fetch.wait.max.ms=10').
# Targets (DESIGN.md, issue): >= 0.8x kcat's events/s; with --dedupe
# >= 0.5x; RSS flat.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
bin="$top/$BUILD/bin"
N=${1:-1000000}
ROUNDS=${2:-3}
# Many keys, so the relay's key hashing spreads events evenly: the mock
# keeps only about 5 MB per partition and drops the oldest beyond that.
KEYS=100000
KAFKA=${KAFKA:-mock}
case $KAFKA in
mock) PARTITIONS=${PARTITIONS:-128} ;;
real) PARTITIONS=${PARTITIONS:-16} ;;
*) echo "consume.sh: KAFKA is mock or real, not $KAFKA" >&2; exit 64 ;;
esac
CONSUME_FLAGS=${CONSUME_FLAGS:-}
need="$bin/event-consume $bin/outbox-relay $bin/outbox-enqueue $top/$BUILD/tests/kafka-mock"
[ "$KAFKA" = real ] && need="$need $top/$BUILD/tests/kafka-admin"
for t in $need; do
	[ -x "$t" ] || { echo "consume.sh: build first: $t" >&2; exit 1; }
done
command -v kcat >/dev/null || { echo "consume.sh: kcat is needed (make deps)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "consume.sh: GNU time is needed (make deps)" >&2; exit 1; }
bench_name=consume
. "$top/bench/kafka.sh"
bench_workdir

bench_cluster bench-binary bench-structured bench-small

# produce TOPIC MODE DB: outbox-relay publishes every row of a copy of DB to
# TOPIC (a bindings file routes the type there) in content mode MODE.
produce() {
	printf 'producer FundsAddedEvent bench-out-0 %s mode=%s\n' "$1" "$2" >"$work/bindings"
	rm -f "$work/db" "$work/db-wal" "$work/db-shm"
	cp "$3" "$work/db"
	"$bin/outbox-relay" --once -q --db "$work/db" -b "$B" -B "$work/bindings" 2>"$work/relay.err" ||
		{ cat "$work/relay.err" >&2; exit 1; }
	left=$(sqlite3 "$work/db" "SELECT count(*) FROM outbox WHERE status != 'sent'")
	[ "$left" -eq 0 ] || { echo "consume.sh: $left rows not sent to $1" >&2; exit 1; }
}

gen "$N" "$KEYS" >"$work/events.ndjson"
size=$(($(wc -c <"$work/events.ndjson") / N))
small=$((N / 10))
head -n "$small" "$work/events.ndjson" >"$work/small.ndjson"
"$bin/outbox-enqueue" --db "$work/base.db" -q "$work/events.ndjson"
"$bin/outbox-enqueue" --db "$work/small.db" -q "$work/small.ndjson"
rm -f "$work/events.ndjson" "$work/small.ndjson"
produce bench-binary binary "$work/base.db"
produce bench-structured structured "$work/base.db"
produce bench-small binary "$work/small.db"
rm -f "$work/base.db" "$work/small.db" "$work/db" "$work/db-wal" "$work/db-shm"

# timed LABEL WANT CMD...: run CMD with its stdout counted; prints elapsed
# seconds. Fails unless CMD exits 0 and printed exactly WANT lines.
timed() {
	label=$1 want=$2
	shift 2
	rm -f "$work/dedupe" "$work/dedupe-wal" "$work/dedupe-shm"
	t0=$(now)
	lines=$({ "$@" 2>"$work/err"; echo $? >"$work/rc"; } | wc -l)
	t1=$(now)
	rc=$(cat "$work/rc")
	if [ "$rc" -ne 0 ] || [ "$lines" -ne "$want" ]; then
		echo "consume.sh: $label: exit $rc, $lines lines, wanted $want (too few partitions for the mock? KAFKA=$KAFKA PARTITIONS=$PARTITIONS)" >&2
		cat "$work/err" >&2
		exit 1
	fi
	echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }'
}

run_kcat() { timed "kcat -C $1" "$N" kcat -C -e -q -b "$B" -t "$1"; }
# shellcheck disable=SC2086 # CONSUME_FLAGS splits into words
run_tool() { timed "event-consume $1" "$N" "$bin/event-consume" -q -b "$B" -t "$1" --from beginning --exit-eof $CONSUME_FLAGS; }
# shellcheck disable=SC2086
run_dedupe() {
	timed "event-consume --dedupe $1" "$N" "$bin/event-consume" -q -b "$B" -t "$1" --from beginning \
		--exit-eof --dedupe "$work/dedupe" $CONSUME_FLAGS
}

echo "event-consume${CONSUME_FLAGS:+ $CONSUME_FLAGS} vs kcat -C -e -q, to stdout: $N events of $size bytes (as NDJSON), $KEYS keys, $cluster, $(nproc) cores, $ROUNDS rounds"
for mode in binary structured; do
	eval "k_$mode='' t_$mode='' d_$mode=''"
done
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for mode in binary structured; do
		topic=bench-$mode
		# Alternate the order so drift on a shared machine hits all alike.
		if [ $((r % 2)) -eq 1 ]; then
			tk=$(run_kcat "$topic"); tt=$(run_tool "$topic"); td=$(run_dedupe "$topic")
		else
			td=$(run_dedupe "$topic"); tt=$(run_tool "$topic"); tk=$(run_kcat "$topic")
		fi
		printf 'round %d %-10s kcat %6.3f s (%7s ev/s)  event-consume %6.3f s (%7s ev/s, %sx)  --dedupe %6.3f s (%7s ev/s, %sx)\n' \
			"$r" "$mode:" "$tk" "$(rate "$N" "$tk")" "$tt" "$(rate "$N" "$tt")" \
			"$(echo "$tk $tt" | awk '{ printf "%.2f", $1 / $2 }')" "$td" "$(rate "$N" "$td")" \
			"$(echo "$tk $td" | awk '{ printf "%.2f", $1 / $2 }')"
		eval "k_$mode=\"\$k_$mode $tk\" t_$mode=\"\$t_$mode $tt\" d_$mode=\"\$d_$mode $td\""
	done
	r=$((r + 1))
done

# stats SECONDS...: "median min max" of the events/s those times give.
stats() {
	for s in "$@"; do rate "$N" "$s"; echo; done | sort -n |
		awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.0f %.0f %.0f", m, v[1], v[NR] }'
}
for mode in binary structured; do
	eval "set -- \$k_$mode"; set -- $(stats "$@"); km=$1 kmin=$2 kmax=$3
	eval "set -- \$t_$mode"; set -- $(stats "$@"); tm=$1 tmin=$2 tmax=$3
	eval "set -- \$d_$mode"; set -- $(stats "$@"); dm=$1 dmin=$2 dmax=$3
	printf 'median %-10s kcat %s ev/s (%s-%s), event-consume %s ev/s (%s-%s): %sx (target 0.8x), --dedupe %s ev/s (%s-%s): %sx (target 0.5x)\n' \
		"$mode:" "$km" "$kmin" "$kmax" "$tm" "$tmin" "$tmax" \
		"$(echo "$tm $km" | awk '{ printf "%.2f", $1 / $2 }')" "$dm" "$dmin" "$dmax" \
		"$(echo "$dm $km" | awk '{ printf "%.2f", $1 / $2 }')"
done

# Peak RSS: N/10 against N events (binary mode), and kcat's for scale.
peak_rss() {
	/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	cat "$work/rss"
}
# shellcheck disable=SC2086
rs=$(peak_rss "$bin/event-consume" -q -b "$B" -t bench-small --from beginning --exit-eof $CONSUME_FLAGS)
# shellcheck disable=SC2086
rb=$(peak_rss "$bin/event-consume" -q -b "$B" -t bench-binary --from beginning --exit-eof $CONSUME_FLAGS)
rm -f "$work/dedupe" "$work/dedupe-wal" "$work/dedupe-shm"
# shellcheck disable=SC2086
rd=$(peak_rss "$bin/event-consume" -q -b "$B" -t bench-binary --from beginning --exit-eof \
	--dedupe "$work/dedupe" $CONSUME_FLAGS)
ks=$(peak_rss kcat -C -e -q -b "$B" -t bench-small)
kb=$(peak_rss kcat -C -e -q -b "$B" -t bench-binary)
echo "peak RSS: event-consume $rs KiB at $small events, $rb KiB at $N ($rd KiB with --dedupe); kcat $ks KiB, $kb KiB"
