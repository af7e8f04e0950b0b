#!/bin/sh
# bench/wrap.sh - cloudevent-wrap against jq doing the same wrap, one run.
#   sh bench/wrap.sh [LINES]        (default 1000000)
# Prints events/s for both, the ratio (target: >= 10x), and the peak RSS of
# cloudevent-wrap at LINES/10 and LINES (target: flat).
# The jq reference builds the same envelope (specversion, id, source, type,
# time, datacontenttype, data); jq has no UUID generator, so its id is the
# line number: the reference does slightly less work than the tool.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${1:-1000000}
WRAP=$BUILD/bin/cloudevent-wrap
[ -x "$WRAP" ] || { echo "bench/wrap.sh: build first (make)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# ~150-byte payloads, so events are ~360 bytes as in DESIGN.md.
gen() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "{\"walletId\":\"w-%08d\",\"amount\":%d.%02d,\"currency\":\"EUR\",\"reference\":\"ref-%012d\",\"note\":\"top-up via card ending 4242\"}\n", i % 50000, i % 1000, i % 100, i }'
}
gen "$N" >"$dir/in"
gen $((N / 10)) >"$dir/in10"

. bench/measure.sh
m() { measure "$1" "$2"; }

tool=$(m "$WRAP -t FundsAddedEvent -s /wallet-hub" "$dir/in")
jqref=$(m "jq -c --arg s /wallet-hub --arg t FundsAddedEvent '{specversion:\"1.0\", id:(input_line_number|tostring), source:\$s, type:\$t, time:(now|todate), datacontenttype:\"application/json\", data:.}'" "$dir/in")
small=$(m "$WRAP -t FundsAddedEvent -s /wallet-hub" "$dir/in10")

set -- $tool; t_tool=$1; rss_big=$2
set -- $jqref; t_jq=$1
set -- $small; rss_small=$2
awk -v n="$N" -v tt="$t_tool" -v tj="$t_jq" -v rs="$rss_small" -v rb="$rss_big" 'BEGIN {
	printf "cloudevent-wrap  %d lines  %.2f s  %.0f events/s\n", n, tt, n / tt
	printf "jq -c reference  %d lines  %.2f s  %.0f events/s\n", n, tj, n / tj
	printf "ratio            %.1fx (target >= 10x)\n", tj / tt
	printf "peak RSS         %d KiB at %d lines, %d KiB at %d lines\n", rs, n / 10, rb, n
}'
