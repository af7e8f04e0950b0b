#!/usr/bin/env bats
# One description per option: every long option a tool's --help lists must
# appear in its man page and in its bash, zsh and fish completions, so the
# four never drift apart.
load helpers/common

setup() { common_setup; }

tools() {
	local f
	for f in "$TOP"/cmd/*.c; do basename "$f" .c; done
}

long_options_of() {
	"$1" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

@test "every tool has --help on stdout with exit 0 and its options documented everywhere" {
	local tool opt missing=""
	for tool in $(tools); do
		run "$tool" --help
		assert_success
		[ -n "$output" ]
		for opt in $(long_options_of "$tool"); do
			grep -q -- "Fl -${opt#--}\b" "$TOP/man/$tool.1" || missing="$missing $tool:man:$opt"
			grep -q -- "$opt\b" "$TOP/completions/bash/$tool" || missing="$missing $tool:bash:$opt"
			grep -q -- "$opt\b" "$TOP/completions/zsh/_$tool" || missing="$missing $tool:zsh:$opt"
			grep -q -- "-l ${opt#--}\b" "$TOP/completions/fish/$tool.fish" || missing="$missing $tool:fish:$opt"
		done
	done
	[ -z "$missing" ] || { echo "undocumented:$missing"; return 1; }
}

@test "every tool has a man page with an EXIT STATUS section listing the whole table" {
	local tool code
	for tool in $(tools); do
		grep -q '^\.Sh EXIT STATUS' "$TOP/man/$tool.1"
		for code in 0 1 64 65 66 69 70 73 74 75 77 78; do
			grep -q "^\.It $code\$" "$TOP/man/$tool.1" || { echo "$tool.1 lacks exit $code"; return 1; }
		done
	done
}

@test "every tool rejects an unknown option with exit 64 and the usage on stderr" {
	local tool
	for tool in $(tools); do
		run --separate-stderr "$tool" --no-such-option
		[ "$status" -eq 64 ] || { echo "$tool exited $status"; return 1; }
		[ -z "$output" ]
		[[ $stderr == *usage:* ]] || { echo "$tool: no usage on stderr: $stderr"; return 1; }
	done
}

@test "every tool prints its version with -V" {
	local tool
	for tool in $(tools); do
		run "$tool" -V
		assert_success
		assert_output --regexp "^$tool [0-9]+\.[0-9]+\.[0-9]+$"
	done
}

@test "bash completions load and complete long options" {
	local tool fn
	for tool in $(tools); do
		fn=$(sed -n 's/^complete .*-F \([^ ]*\) .*/\1/p' "$TOP/completions/bash/$tool")
		[ -n "$fn" ] || { echo "$tool: no complete -F line"; return 1; }
		run bash -c "source '$TOP/completions/bash/$tool' && COMP_WORDS=($tool --) && COMP_CWORD=1 && $fn && printf '%s\n' \"\${COMPREPLY[@]}\""
		assert_success
		assert_output --partial -- "--help"
	done
}

@test "make install puts binaries, man pages and completions under DESTDIR and PREFIX" {
	run make -s -C "$TOP" BUILD="${BUILD:-build}" install PREFIX=/opt/ot DESTDIR="$T/root"
	assert_success
	local tool
	for tool in $(tools); do
		[ -x "$T/root/opt/ot/bin/$tool" ]
		[ -f "$T/root/opt/ot/share/man/man1/$tool.1" ]
		[ -f "$T/root/opt/ot/share/bash-completion/completions/$tool" ]
		[ -f "$T/root/opt/ot/share/zsh/site-functions/_$tool" ]
		[ -f "$T/root/opt/ot/share/fish/vendor_completions.d/$tool.fish" ]
		"$T/root/opt/ot/bin/$tool" -V
	done
	for page in "$TOP"/man/*.5; do
		[ -f "$T/root/opt/ot/share/man/man5/$(basename "$page")" ]
	done
}

@test "every tool: a closed stdout is 74 with a message, never a silent success" {
	local tool
	for tool in $(tools); do
		run --separate-stderr bash -c "$tool --help >&-"
		[ "$status" -eq 74 ] || { echo "$tool --help >&-: $status"; return 1; }
		[[ $stderr == *"$tool: error: writing output"* ]]
		run --separate-stderr bash -c "$tool --version >&-"
		[ "$status" -eq 74 ] || { echo "$tool --version >&-: $status"; return 1; }
	done
	local ev='{"specversion":"1.0","id":"1","source":"/s","type":"WalletCreatedEvent"}'
	run --separate-stderr bash -c "echo '{\"a\":1}' | cloudevent-wrap -t T -s /s >&-"
	[ "$status" -eq 74 ]
	run --separate-stderr bash -c "echo '$ev' | cloudevent-wrap --validate >&-"
	[ "$status" -eq 74 ]
	run --separate-stderr bash -c "echo '$ev' | event-bindings explain >&-"
	[ "$status" -eq 74 ]
	[[ $stderr == *"writing output: output is closed"* ]]
	run --separate-stderr bash -c "event-bindings resolve WalletCreatedEvent >&-"
	[ "$status" -eq 74 ]
	run --separate-stderr bash -c "event-bindings list >&-"
	[ "$status" -eq 74 ]
}

@test "every tool that reads stdin: a closed stdin is 66 (input missing), not an empty input" {
	run --separate-stderr bash -c "cloudevent-wrap -t T -s /s <&-"
	[ "$status" -eq 66 ]
	[[ $stderr == *"error: standard input is closed"* ]]
	run --separate-stderr bash -c "event-bindings explain <&-"
	[ "$status" -eq 66 ]
	[[ $stderr == *"error: standard input is closed"* ]]
	run --separate-stderr bash -c "outbox-enqueue --db '$T/o.db' <&-"
	[ "$status" -eq 66 ]
	[[ $stderr == *"error: standard input is closed"* ]]
	[[ $stderr != *"enqueued 0"* ]]
	# bindings and YAML read from "-"
	run --separate-stderr bash -c "event-bindings -B - list <&-"
	[ "$status" -eq 66 ]
	[[ $stderr == *"error: standard input is closed"* ]]
	run --separate-stderr bash -c "event-bindings import spring - <&-"
	[ "$status" -eq 66 ]
	[[ $stderr == *"error: standard input is closed"* ]]
	# an open but empty stdin is still an empty input
	run --separate-stderr outbox-enqueue --db "$T/o.db" </dev/null
	assert_success
}
