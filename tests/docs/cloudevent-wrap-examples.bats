#!/usr/bin/env bats
# cloudevent-wrap(1): every command of EXAMPLES runs as written, on inputs
# made to fit it, and succeeds.
load ../helpers/common

setup() { common_setup; }

@test "cloudevent-wrap(1) EXAMPLES run as written" {
	cd "$T"
	echo '{"requestId":"r-1","walletId":"w-1","owner":{"email":"a@b.c"}}' >payloads.ndjson
	cloudevent-wrap -t T -s /s <payloads.ndjson >events.ndjson
	printf 'raw\0bytes\n' >in
	n=$(man_examples "$TOP/man/cloudevent-wrap.1" .)
	[ "$n" -eq 4 ]
	for i in $(seq 1 "$n"); do
		run bash -o pipefail "ex$i"
		[ "$status" -eq 0 ] || { cat "ex$i"; echo "exit $status: $output"; return 1; }
		[ ! -e "ex$i.out" ] || [ "$output" = "$(cat "ex$i.out")" ]
	done
	[ -s good.ndjson ]
	# the first example's event carries the key it promises
	[ "$(bash ex1 | jq -r .partitionkey)" = w-1 ]
	# the mask example leaves no e-mail address behind
	! bash ex2 | grep -q a@b.c
}
