#!/usr/bin/env bats
# The README's first commands on a fresh machine: `make demo` and `make test`
# must install what is missing and then build with the flags of the machine
# as it is after the install, the first time. Each test builds a copy of the
# project's tracked files (what a clone holds) with two test doubles in the
# copy: `.ci/deps` creates a marker instead of running apt-get, and the
# `pkg-config` first on PATH answers nothing (exit 1) until that marker
# exists, as on a machine where the -dev packages are not installed yet.
# A Makefile that asks pkg-config before deps ran links without the
# libraries and fails; one that ignores a failed pkg-config fails late and
# obscurely. No root, no network.

load helpers/common

setup() {
	common_setup
	REAL_PKG_CONFIG=$(command -v pkg-config)
	REPO="$T/repo"
	LOG="$T/log"
	MARKER="$T/installed"
	mkdir -p "$REPO" "$T/shim"
	# The tracked files as they are in this checkout (a clone, with the
	# changes not yet committed); no build output comes along. A release
	# tarball has no list of tracked files to copy.
	git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"
	git -C "$TOP" ls-files -z >"$T/files"
	[ -s "$T/files" ]
	(cd "$TOP" && tar --null -T "$T/files" --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$REPO"
	[ ! -e "$REPO/build" ]
	cat >"$REPO/.ci/deps" <<-EOF
		#!/bin/sh
		echo deps >>"$LOG"
		: >"$MARKER"
	EOF
	cat >"$T/shim/pkg-config" <<-EOF
		#!/bin/sh
		if [ -e "$MARKER" ]; then
			echo "answered \$*" >>"$LOG"
			exec "$REAL_PKG_CONFIG" "\$@"
		fi
		echo "nothing \$*" >>"$LOG"
		exit 1
	EOF
	chmod +x "$REPO/.ci/deps" "$T/shim/pkg-config"
}

# make as a user types it: none of the outer make's settings (this suite
# may run under `make SANITIZE=1 test`), the shim first on PATH.
fresh_make() {
	(cd "$REPO" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SANITIZE -u CFLAGS \
		PATH="$T/shim:$PATH" make "$@")
}

@test "make demo on a fresh machine: deps first, then pkg-config, then a build that links" {
	run fresh_make demo
	assert_success
	# The demo ran to its end on the binaries it built.
	assert_output --partial " events valid"
	[ -x "$REPO/build/bin/event-bindings" ]
	# deps ran once, before pkg-config was first asked, and pkg-config was
	# never asked before it (its empty answer would have been used).
	[ "$(sed -n 1p "$LOG")" = deps ]
	[ "$(grep -c '^deps$' "$LOG")" -eq 1 ]
	run grep '^nothing ' "$LOG"
	assert_failure
	grep -q '^answered --cflags rdkafka sqlite3 libcjson libcurl yaml-0.1$' "$LOG"
	grep -q '^answered --libs rdkafka sqlite3 libcjson libcurl yaml-0.1$' "$LOG"
	# Each query runs once, not once per compile command.
	[ "$(grep -c '^answered --cflags' "$LOG")" -eq 1 ]
}

@test "make -j2 test on a fresh machine: deps, a parallel build, then the suite" {
	# The suite itself is this file's caller: a double records that it ran
	# and what it found built.
	cat >"$REPO/tests/run" <<-EOF
		#!/bin/sh
		echo "run BUILD=\$BUILD \$(ls build/bin | tr '\n' ' ')" >>"$LOG"
		echo "0 passed, 0 failed"
	EOF
	run fresh_make -j2 test
	assert_success
	[ "$(sed -n 1p "$LOG")" = deps ]
	run grep '^nothing ' "$LOG"
	assert_failure
	# Every tool of cmd/ was built before the suite ran.
	local want
	want="run BUILD=build $(cd "$REPO/cmd" && ls *.c | sed 's/\.c$//' | sort | tr '\n' ' ')"
	[ "$(tail -n 1 "$LOG")" = "$want" ]
	[ -x "$REPO/build/tests/test_core" ]
	[ -x "$REPO/build/tests/fuzz_bindings-replay" ]
}

@test "make without the libraries stops before compiling and names what is missing" {
	run fresh_make all
	assert_failure 2
	assert_output --partial "pkg-config cannot find: rdkafka sqlite3 libcjson libcurl yaml-0.1. Run \`make deps\`"
	[ -z "$(find "$REPO" -name '*.o')" ]
	# Only the package that is missing is named.
	: >"$MARKER"
	cat >"$T/shim/pkg-config" <<-EOF
		#!/bin/sh
		for a in "\$@"; do [ "\$a" = yaml-0.1 ] && exit 1; done
		exec "$REAL_PKG_CONFIG" "\$@"
	EOF
	run fresh_make all
	assert_failure 2
	assert_output --partial "pkg-config cannot find: yaml-0.1. Run"
	[ -z "$(find "$REPO" -name '*.o')" ]
	# Cleaning needs no library at all.
	run fresh_make clean
	assert_success
}
