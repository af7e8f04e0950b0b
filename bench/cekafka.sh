#!/bin/sh
# bench/cekafka.sh - lib/cekafka encode speed (the relay's per-row work
# before librdkafka): events/s over N events, then instructions/event
# inside cekafka_encode + cekafka_hop_headers counted by callgrind over
# N/20 (repeatable where wall time is not).
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
		# only what runs inside the two calls is counted
		total=$(valgrind --tool=callgrind --callgrind-out-file="$dir/cg" \
			--toggle-collect=cekafka_encode --toggle-collect=cekafka_hop_headers \
			"$dir/cekafka_bench" "$small" "$mode" 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
		echo "callgrind $mode: $((total / small)) instructions/event" \
			"(cekafka_encode + cekafka_hop_headers, $small events)"
	done
fi
