#!/bin/sh
# interop-venv.sh - the Python virtual environment of tests/kafka/interop.bats:
# the official CloudEvents Python SDK and a pure-Python Kafka client, at
# pinned versions, from PyPI. Made once in a cache directory outside the
# repo and reused while its stamp (interpreter and pins) matches; prints
# the venv's python on stdout.
#
#   sh tests/kafka/interop-venv.sh
#
# Environment: INTEROP_PYTHON (default /usr/bin/python3, Debian's, with
# python3-venv from .ci/deps; else python3 on PATH), INTEROP_VENV_CACHE
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/outbox-tools), INTEROP_PIP_TIMEOUT
# (seconds for the whole install, default 600).
# Exit status: 0; 69 the venv cannot be made or a package not installed
# (a failure of the tier, never a skip); the reason is on stderr.
set -eu

# Every package pinned, dependencies too: the same code on every machine.
PINS="cloudevents==2.2.0 kafka-python==3.0.12 python-dateutil==4.0.0 tzdata==2026.6 deprecation==2.1.0 packaging==26.4"

die() {
	echo "interop-venv.sh: error: $*" >&2
	exit 69
}

if [ -n "${INTEROP_PYTHON:-}" ]; then
	py=$INTEROP_PYTHON
elif [ -x /usr/bin/python3 ]; then
	py=/usr/bin/python3
else
	py=$(command -v python3) || die "python3 not found (sh .ci/deps installs it)"
fi
pyver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || die "$py does not run"
cache=${INTEROP_VENV_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/outbox-tools}
venv=$cache/python-interop-$pyver
stamp="$py $pyver $PINS"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/complete" 2>/dev/null)" = "$stamp" ]; then
	echo "$venv/bin/python"
	exit 0
fi

mkdir -p "$cache" || die "cannot create $cache"
# One maker at a time (two test runs may start together); the second finds
# the venv complete once it gets the lock.
exec 9>"$cache/python-interop.lock" || die "cannot open $cache/python-interop.lock"
if command -v flock >/dev/null 2>&1; then
	flock -w 900 9 || die "another run holds $cache/python-interop.lock"
fi
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/complete" 2>/dev/null)" = "$stamp" ]; then
	echo "$venv/bin/python"
	exit 0
fi
log=$(mktemp "$cache/python-interop-log.XXXXXX") || die "cannot create a temp file in $cache"
trap 'rm -f "$log"' EXIT
echo "interop-venv.sh: making $venv ($py $pyver): $PINS" >&2
rm -rf "$venv"
if ! "$py" -m venv "$venv" >"$log" 2>&1; then
	cat "$log" >&2
	rm -rf "$venv"
	die "$py -m venv failed (Debian: install python3-venv, sh .ci/deps does)"
fi
# shellcheck disable=SC2086 # PINS splits into words
if ! timeout "${INTEROP_PIP_TIMEOUT:-600}" "$venv/bin/python" -m pip install -q --no-input \
	--disable-pip-version-check $PINS >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	rm -rf "$venv"
	die "pip could not install $PINS (log above)"
fi
# The modules the test imports must import.
if ! "$venv/bin/python" -c 'import cloudevents.core.bindings.kafka, cloudevents.core.formats.json, kafka' 2>"$log"; then
	cat "$log" >&2
	rm -rf "$venv"
	die "the installed packages do not import (above)"
fi
echo "$stamp" >"$venv/complete"
echo "$venv/bin/python"
