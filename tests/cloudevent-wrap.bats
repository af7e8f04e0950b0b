#!/usr/bin/env bats
# cloudevent-wrap: every flag, every error path and its exit status, and the
# wrap -> validate -> unwrap round trip.
load helpers/common

setup() {
	common_setup
	export CE_SOURCE=/test
}

UUID7='^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
TIME_US='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'
TP='^00-[0-9a-f]{32}-[0-9a-f]{16}-01$'

wrap() { cloudevent-wrap -t T "$@"; }

@test "--help prints the usage on stdout and exits 0" {
	run --separate-stderr cloudevent-wrap --help
	assert_success
	assert_output --partial "usage: cloudevent-wrap -t TYPE"
	assert_output --partial "--partition-key-from PTR"
	[ -z "$stderr" ]
}

@test "an unknown option and a missing argument are usage errors (64)" {
	run --separate-stderr cloudevent-wrap --bogus
	[ "$status" -eq 64 ]
	[[ $stderr == *usage:* ]]
	run --separate-stderr cloudevent-wrap -t
	[ "$status" -eq 64 ]
}

@test "--type is required, and --source or CE_SOURCE" {
	run --separate-stderr cloudevent-wrap </dev/null
	[ "$status" -eq 64 ]
	[[ $stderr == *"--type is required"* ]]
	unset CE_SOURCE
	run --separate-stderr cloudevent-wrap -t T </dev/null
	[ "$status" -eq 64 ]
	[[ $stderr == *"--source is required"* ]]
	run cloudevent-wrap -t T -s /explicit <<<'1'
	assert_success
	[ "$(jq -r .source <<<"$output")" = /explicit ]
}

@test "a JSON payload becomes a complete CloudEvent with defaults" {
	run --separate-stderr wrap <<<'{"walletId":"w-1","amount":5}'
	assert_success
	[ -z "$stderr" ]
	[ "$(jq -r .specversion <<<"$output")" = "1.0" ]
	[ "$(jq -r .type <<<"$output")" = T ]
	[ "$(jq -r .source <<<"$output")" = /test ]
	[ "$(jq -r .datacontenttype <<<"$output")" = application/json ]
	[ "$(jq -c .data <<<"$output")" = '{"walletId":"w-1","amount":5}' ]
	[[ $(jq -r .id <<<"$output") =~ $UUID7 ]]
	[[ $(jq -r .time <<<"$output") =~ $TIME_US ]]
	[[ $(jq -r .traceparent <<<"$output") =~ $TP ]]
	# attribute order is canonical
	[ "$(jq -c 'keys_unsorted' <<<"$output")" = '["specversion","id","source","type","time","datacontenttype","traceparent","data"]' ]
}

@test "ids are UUIDv7, unique and increasing; each event starts its own trace" {
	seq 1 2000 | wrap >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 2000 ]
	jq -r .id "$T/out" >"$T/ids"
	sort -c "$T/ids"
	[ "$(sort -u "$T/ids" | wc -l)" -eq 2000 ]
	[ "$(jq -r .traceparent "$T/out" | cut -d- -f2 | sort -u | wc -l)" -eq 2000 ]
}

@test "payload whitespace is compacted and blank lines are skipped" {
	printf '{ "a" : [ 1 , 2 ] ,"s":"x y" }\n\n   \n"str"\n' | wrap >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 2 ]
	run jq -c .data "$T/out"
	assert_output $'{"a":[1,2],"s":"x y"}\n"str"'
	grep -q '"data":{"a":\[1,2\],"s":"x y"}' "$T/out"
}

@test "--subject, --dataschema, --datacontenttype and --time set attributes" {
	run wrap --subject w-1 --dataschema https://x.test/s.json \
		--datacontenttype application/vnd.x+json --time 2026-11-27T10:00:00.5+01:00 <<<'{}'
	assert_success
	[ "$(jq -r .subject <<<"$output")" = w-1 ]
	[ "$(jq -r .dataschema <<<"$output")" = https://x.test/s.json ]
	[ "$(jq -r .datacontenttype <<<"$output")" = application/vnd.x+json ]
	# the given precision and offset are kept
	[ "$(jq -r .time <<<"$output")" = 2026-11-27T10:00:00.5+01:00 ]
}

@test "bad attribute options are usage errors (64) naming the option" {
	run --separate-stderr wrap --time lunchtime </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"--time lunchtime"* ]]
	run --separate-stderr wrap --dataschema not-a-uri </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"--dataschema"* ]]
	run --separate-stderr wrap --datacontenttype text/csv </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"not a JSON type"* ]]
	run --separate-stderr wrap --text --datacontenttype application/json </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr wrap --subject a --subject-from /a </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr wrap --text --base64 </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr wrap -s '' </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"must not be empty"* ]]
	run --separate-stderr cloudevent-wrap --validate -t T </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr cloudevent-wrap --raw </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr cloudevent-wrap --validate --unwrap </dev/null
	[ "$status" -eq 64 ]
}

@test "-e adds extensions sorted by name; names are validated" {
	run wrap -e zeta=1 -e alpha=two -e region=eu <<<'{}'
	assert_success
	[ "$(jq -c '[keys_unsorted[] | select(. == "alpha" or . == "region" or . == "zeta" or . == "traceparent")]' <<<"$output")" = '["alpha","region","traceparent","zeta"]' ]
	[ "$(jq -r .zeta <<<"$output")" = 1 ]
	for bad in Upper=1 'with-dash=1' id=1 data=1 data_base64=1 'noequals'; do
		run --separate-stderr wrap -e "$bad" </dev/null
		[ "$status" -eq 64 ] || { echo "accepted -e $bad"; return 1; }
	done
	run --separate-stderr wrap -e a=1 -e a=2 </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"given twice"* ]]
}

@test "--id-from, --subject-from and --partition-key-from read the payload" {
	run wrap --id-from /req --subject-from /w/id --partition-key-from /n <<<'{"req":"r-1","w":{"id":"w\"1"},"n":42}'
	assert_success
	[ "$(jq -r .id <<<"$output")" = r-1 ]
	[ "$(jq -r .subject <<<"$output")" = 'w"1' ]
	[ "$(jq -r .partitionkey <<<"$output")" = 42 ]
	run wrap --id-from /a~1b/0 <<<'{"a/b":["x"]}'
	assert_success
	[ "$(jq -r .id <<<"$output")" = x ]
}

@test "a pointer that misses, or hits an object or empty string, is a bad line (65)" {
	printf '{"req":"ok"}\n{"other":1}\n' >"$T/in"
	run --separate-stderr wrap --id-from /req "$T/in"
	[ "$status" -eq 65 ]
	[[ $stderr == *"$T/in:2: --id-from /req: no such value"* ]]
	[ "$(echo "$output" | jq -r .id)" = ok ]
	run --separate-stderr wrap --id-from /req <<<'{"req":{}}'
	[ "$status" -eq 65 ]; [[ $stderr == *"<stdin>:1:"*"not a string or a number"* ]]
	run --separate-stderr wrap --partition-key-from /k <<<'{"k":""}'
	[ "$status" -eq 65 ]; [[ $stderr == *"empty string"* ]]
}

@test "pointer options are checked and need JSON payloads" {
	run --separate-stderr wrap --id-from nope </dev/null
	[ "$status" -eq 64 ]; [[ $stderr == *"not a JSON Pointer"* ]]
	run --separate-stderr wrap --text --mask /a </dev/null
	[ "$status" -eq 64 ]
	run --separate-stderr wrap --partition-key-from /k -e partitionkey=x </dev/null
	[ "$status" -eq 64 ]
}

@test "--mask replaces values before the event leaves, nested and repeated" {
	run wrap --mask /owner/email --mask /owner --mask /card/0 --mask /absent --partition-key-from /id \
		<<<'{"id":"k","owner":{"email":"a@b.c","name":"N"},"card":["4111",1]}'
	assert_success
	[ "$(jq -c .data <<<"$output")" = '{"id":"k","owner":"***","card":["***",1]}' ]
	refute_output --partial a@b.c
	refute_output --partial 4111
	run wrap --mask /email --id-from /email <<<'{"email":"x@y"}'
	[ "$(jq -r .id <<<"$output")" = x@y ]
	[ "$(jq -r .data.email <<<"$output")" = '***' ]
}

@test "--text wraps UTF-8 lines as strings, including empty ones; invalid UTF-8 is bad" {
	printf 'h\xc3\xa9llo "q" \\ \t\n\nlast' | wrap --text >"$T/out"
	run jq -r .data "$T/out"
	assert_output $'h\xc3\xa9llo "q" \\ \t\n\nlast'
	[ "$(jq -r .datacontenttype "$T/out" | sort -u)" = text/plain ]
	run --separate-stderr wrap --text < <(printf 'ok\nbad\xff\n')
	[ "$status" -eq 65 ]
	[[ $stderr == *"<stdin>:2: payload is not valid UTF-8 at byte 4"* ]]
}

@test "--base64 carries any bytes in data_base64" {
	printf 'a\0b\xff\n\n' | wrap --base64 >"$T/out"
	[ "$(wc -l <"$T/out")" -eq 2 ]
	[ "$(jq -r .data_base64 "$T/out" | head -1)" = "$(printf 'a\0b\xff' | base64)" ]
	[ "$(jq -r .data_base64 "$T/out" | tail -1)" = "" ]
	[ "$(jq -r .datacontenttype "$T/out" | head -1)" = application/octet-stream ]
	[ "$(jq -r 'has("data")' "$T/out" | sort -u)" = false ]
}

@test "invalid JSON payloads: fail stops at the first (65), skip reports each" {
	printf '{"a":1}\n{bad\n[1,]\n{"b":2}\n' >"$T/in"
	run --separate-stderr wrap "$T/in"
	[ "$status" -eq 65 ]
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	[[ $stderr == *"$T/in:2: payload is not valid JSON"* ]]
	[[ $stderr != *":3:"* ]]
	run --separate-stderr wrap --on-error skip "$T/in"
	[ "$status" -eq 65 ]
	[ "$(echo "$output" | jq -c .data | tr '\n' ' ')" = '{"a":1} {"b":2} ' ]
	[[ $stderr == *":2: payload is not valid JSON"* ]]
	[[ $stderr == *":3: payload is not valid JSON"* ]]
	[[ $stderr == *"2 bad lines skipped"* ]]
	run --separate-stderr wrap --on-error sometimes "$T/in"
	[ "$status" -eq 64 ]
}

@test "a line over --max-line is an error naming its number, never truncated" {
	{ echo '"short"'; printf '"%02000d"\n' 0; echo '"after"'; } >"$T/in"
	run --separate-stderr wrap --max-line 1K "$T/in"
	[ "$status" -eq 65 ]
	[[ $stderr == *"$T/in:2:"*"longer than 1024"* ]]
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	run --separate-stderr wrap --max-line 1K --on-error skip "$T/in"
	[ "$status" -eq 65 ]
	[ "$(echo "$output" | jq -r .data | tr '\n' ' ')" = 'short after ' ]
	run wrap --max-line 4K "$T/in"
	assert_success
	[ "$(echo "$output" | sed -n 2p | jq -r .data | wc -c)" -eq 2001 ]
	run --separate-stderr wrap --max-line 0 "$T/in"
	[ "$status" -eq 64 ]
	run --separate-stderr wrap --max-line lots "$T/in"
	[ "$status" -eq 64 ]
}

@test "CRLF lines and a last line without newline are read" {
	printf '{"a":1}\r\n{"b":2}' | wrap >"$T/out"
	run jq -c .data "$T/out"
	assert_output $'{"a":1}\n{"b":2}'
}

@test "several files are read in turn; errors name the file and its line" {
	echo '1' >"$T/a"; printf '2\nx\n' >"$T/b"
	run --separate-stderr wrap "$T/a" "$T/b"
	[ "$status" -eq 65 ]
	[[ $stderr == *"$T/b:2:"* ]]
	[ "$(echo "$output" | jq -r .data | tr '\n' ' ')" = '1 2 ' ]
	run wrap "$T/a" - "$T/a" <<<'9'
	[ "$(echo "$output" | jq -r .data | tr '\n' ' ')" = '1 9 1 ' ]
}

@test "a missing input file is 66; an unreadable one is 77" {
	run --separate-stderr wrap "$T/nope"
	[ "$status" -eq 66 ]
	[[ $stderr == *"$T/nope"* ]]
	echo 1 >"$T/locked"
	chmod 000 "$T/locked"
	# root reads any file: run as nobody then.
	local as=()
	[ "$(id -u)" != 0 ] || as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	run --separate-stderr "${as[@]}" "$BUILD_DIR/bin/cloudevent-wrap" -t T -s /s "$T/locked"
	[ "$status" -eq 77 ]
	[[ $stderr == *"$T/locked"* ]]
	run --separate-stderr wrap "$T"
	[ "$status" -eq 74 ]
}

@test "a failed write is an I/O error (74); a closed pipe is a normal end" {
	run --separate-stderr bash -c 'seq 1 10 | cloudevent-wrap -t T >/dev/full'
	[ "$status" -eq 74 ]
	[[ $stderr == *"writing output"* ]]
	seq 1 300000 >"$T/in"
	stops_on_closed_pipe "$T/in" cloudevent-wrap -t T
	[ "$(jq -r .data "$T/first")" = 1 ]
	wrap <"$T/in" >"$T/events"
	stops_on_closed_pipe "$T/events" cloudevent-wrap --validate
	stops_on_closed_pipe "$T/events" cloudevent-wrap --unwrap
	[ "$(cat "$T/first")" = 1 ]
}

@test "output is flushed as soon as input pauses" {
	mkfifo "$T/in"
	exec 5<>"$T/in"
	cloudevent-wrap -t T <"$T/in" >"$T/out" 5>&- &
	local pid=$!
	echo '{"first":1}' >&5
	wait_for 10 grep -q '"first"' "$T/out"
	echo '{"second":2}' >&5
	wait_for 10 grep -q '"second"' "$T/out"
	exec 5>&-
	wait_for 10 eval "! kill -0 $pid"
	wait "$pid"
}

@test "TRACEPARENT and TRACESTATE are carried; an invalid TRACEPARENT starts new traces" {
	local tp=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	TRACEPARENT=$tp TRACESTATE=congo=t61rcWkgMzE run wrap <<<'1'
	[ "$(jq -r .traceparent <<<"$output")" = "$tp" ]
	[ "$(jq -r .tracestate <<<"$output")" = congo=t61rcWkgMzE ]
	TRACEPARENT=00-00000000000000000000000000000000-00f067aa0ba902b7-01 TRACESTATE=a=b run --separate-stderr wrap <<<'1'
	assert_success
	[[ $stderr == *"warning: TRACEPARENT is not a valid"* ]]
	[[ $(jq -r .traceparent <<<"$output") =~ $TP ]]
	[ "$(jq -r .traceparent <<<"$output")" != "$tp" ]
	[ "$(jq -r 'has("tracestate")' <<<"$output")" = false ]
	TRACEPARENT=garbage run --separate-stderr wrap -q <<<'1'
	assert_success
	[ -z "$stderr" ]
	run wrap -e traceparent=$tp <<<'1'
	[ "$(jq -r .traceparent <<<"$output")" = "$tp" ]
	run --separate-stderr wrap -e traceparent=00-bad <<<'1'
	[ "$status" -eq 64 ]
}

@test "--validate accepts every valid conformance vector and keeps every attribute" {
	jq -c '.tests[].event' "$CONFORMANCE/valid-events.json" >"$T/valid"
	run --separate-stderr cloudevent-wrap --validate "$T/valid"
	assert_success
	[ "$(echo "$output" | wc -l)" -eq "$(wc -l <"$T/valid")" ]
	# same attributes (nulls are absent), times as instants
	jq -c 'with_entries(select(.value != null)) | del(.time)' "$T/valid" >"$T/want"
	echo "$output" | jq -c 'del(.time)' >"$T/got"
	diff <(jq -S -c . "$T/want") <(jq -S -c . "$T/got")
}

@test "--validate rejects every invalid conformance vector with 65" {
	local n=0 ev
	while IFS= read -r ev; do
		n=$((n + 1))
		run --separate-stderr cloudevent-wrap --validate <<<"$ev"
		[ "$status" -eq 65 ] || { echo "accepted: $ev"; return 1; }
		[[ $stderr == *"<stdin>:1: "* ]]
	done < <(jq -c '.tests[].event' "$CONFORMANCE/invalid-events.json")
	[ "$n" -gt 10 ]
}

@test "--validate writes the canonical order and names the attribute at fault" {
	run cloudevent-wrap --validate <<<'{"data":{"x" : 1},"zz":"1","type":"t","aa":true,"id":"1","source":"s","specversion":"1.0","subject":null}'
	assert_success
	assert_output '{"specversion":"1.0","id":"1","source":"s","type":"t","aa":true,"zz":"1","data":{"x":1}}'
	run --separate-stderr cloudevent-wrap --validate <<<'{"specversion":"1.0","id":"1","source":"s","type":"t","time":"yesterday"}'
	[ "$status" -eq 65 ]
	[[ $stderr == *"<stdin>:1: time: "* ]]
	run --separate-stderr cloudevent-wrap --validate <<<'not json'
	[ "$status" -eq 65 ]
}

@test "--unwrap prints data per kind; --raw decodes data_base64; no data is an empty line" {
	{
		echo '{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"a":[1, 2]}}'
		echo '{"specversion":"1.0","id":"2","source":"s","type":"t","datacontenttype":"text/plain","data":"line \"q\""}'
		echo '{"specversion":"1.0","id":"3","source":"s","type":"t","data_base64":"aGk="}'
		echo '{"specversion":"1.0","id":"4","source":"s","type":"t"}'
	} >"$T/in"
	cloudevent-wrap --unwrap "$T/in" >"$T/out"
	printf '{"a":[1,2]}\nline "q"\naGk=\n\n' | cmp - "$T/out"
	cloudevent-wrap --unwrap --raw "$T/in" >"$T/out"
	printf '{"a":[1,2]}\nline "q"\nhi\n\n' | cmp - "$T/out"
}

@test "round trip wrap -> validate -> unwrap returns the payloads byte for byte" {
	printf '{"a":1,"s":"\\u00e9\\n"}\n[1,2.5e3,null,true]\n"x"\n' >"$T/json"
	wrap <"$T/json" | cloudevent-wrap --validate | cloudevent-wrap --unwrap >"$T/json.back"
	cmp "$T/json" "$T/json.back"
	printf 'plain text\n\ttabs and "quotes" \\ \xe2\x82\xac\n\n' >"$T/text"
	wrap --text <"$T/text" | cloudevent-wrap --validate | cloudevent-wrap --unwrap >"$T/text.back"
	cmp "$T/text" "$T/text.back"
	head -c 3000 /dev/urandom | tr -d '\n\r' | fold -w 100 >"$T/bin"
	echo >>"$T/bin"
	wrap --base64 <"$T/bin" | cloudevent-wrap --validate | cloudevent-wrap --unwrap --raw >"$T/bin.back"
	cmp "$T/bin" "$T/bin.back"
}

@test "arbitrary bytes never crash it" {
	head -c 200000 /dev/urandom >"$T/noise"
	for mode in "" --text --base64; do
		run wrap $mode --on-error skip "$T/noise"
		[ "$status" -eq 0 -o "$status" -eq 65 ] || { echo "wrap $mode: $status"; return 1; }
	done
	for mode in --validate --unwrap; do
		run cloudevent-wrap $mode --on-error skip "$T/noise"
		[ "$status" -eq 65 ] || { echo "$mode: $status"; return 1; }
	done
}

@test "-v and -q change only stderr, never the events" {
	run --separate-stderr wrap -v --time 2026-01-01T00:00:00Z --id-from /i <<<'{"i":"x"}'
	assert_success
	local verbose=$output
	run --separate-stderr wrap -q --time 2026-01-01T00:00:00Z --id-from /i <<<'{"i":"x"}'
	assert_success
	[ -z "$stderr" ]
	# the traceparent differs per run (new root each time); all else is equal
	[ "$(jq -c 'del(.traceparent)' <<<"$verbose")" = "$(jq -c 'del(.traceparent)' <<<"$output")" ]
	[ "$(jq -r .id <<<"$output")" = x ]
}
