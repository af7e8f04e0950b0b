#!/bin/sh
# bench/cekafka.sh - lib/cekafka encode speed (the relay's per-row work
# before librdkafka): events/s over N events, then instructions/event
# counted by callgrind over N/20 (repeatable where wall time is not).
#   sh bench/cekafka.sh [N]          (default 1000000)
# Target (DESIGN.md: relay at hundreds of thousands of rows/s): well above
# 1M events/s on one core.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${1:-1000000}
[ -f "$BUILD/liboutbox.a" ] || { echo "bench/cekafka.sh: build first (make)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -Ilib -o "$dir/cekafka_bench" bench/cekafka_bench.c \
	"$BUILD/liboutbox.a" -lpthread
"$dir/cekafka_bench" "$N" binary
"$dir/cekafka_bench" "$N" structured
if command -v valgrind >/dev/null 2>&1; then
	small=$((N / 20))
	for mode in binary structured; do
		base=$(valgrind --tool=callgrind --callgrind-out-file="$dir/cg0" \
			"$dir/cekafka_bench" 1 "$mode" 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
		total=$(valgrind --tool=callgrind --callgrind-out-file="$dir/cg" \
			"$dir/cekafka_bench" "$small" "$mode" 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
		# the event generation is counted too: see the note in RESULTS.md
		echo "callgrind $mode: $(( (total - base) / (small - 1) )) instructions/event" \
			"(whole program incl. building the events, $small events)"
	done
fi
