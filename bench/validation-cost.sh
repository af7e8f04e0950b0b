#!/bin/sh
# validation-cost.sh - cost of validating the outbox `event` column inside
# SQLite (CHECK json_valid, generated JSON columns) against the plain
# columns outbox(5) uses; the figure quoted in outbox(5).
#   sh bench/validation-cost.sh [N]      (default 200000 events)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -o "$work/validation_cost" "$top/bench/validation_cost.c" \
	$(pkg-config --cflags --libs sqlite3)
"$work/validation_cost" "$work" "${1:-200000}"
