#!/usr/bin/env bats
# event-bindings: list, resolve, explain, check (file and cluster), import.
bats_require_minimum_version 1.5.0
load helpers/common
load helpers/kafka

DATA="$TOP/tests/data/bindings"
SEED="$SHARED_DIR/seed/000_e66e6f1142d25c49.txt"

# One cluster for the file (the mock; the real broker under KAFKA_TIER=real,
# see tests/helpers/kafka.bash), holding three of the four default topics
# (and one more): funds-transferred-events is missing on purpose.
setup_file() {
	kafka_start -t wallet-created-events:3 -t funds-added-events:1 \
		-t funds-withdrawn-events:1 -t unrelated:1
}
teardown_file() { kafka_stop; }

setup() { common_setup; }

# The seed's Spring Cloud Stream configuration: the yaml fenced block after
# the "### Spring Cloud Stream Configuration" heading, taken whole (its
# ${KAFKA_BROKERS:...} placeholders and properties: maps included).
seed_yaml() {
	awk '/^### Spring Cloud Stream Configuration/ { h = 1; next }
	     h && /^```yaml/ { y = 1; next }
	     y && /^```/ { exit }
	     y' "$SEED"
}

defaults_tsv() {
	printf '%s\n' \
		$'producer\tWalletCreatedEvent\twalletCreatedEventProducer-out-0\twallet-created-events\t-\tbinary\tpartitionkey' \
		$'producer\tFundsAddedEvent\tfundsAddedEventProducer-out-0\tfunds-added-events\t-\tbinary\tpartitionkey' \
		$'producer\tFundsWithdrawnEvent\tfundsWithdrawnEventProducer-out-0\tfunds-withdrawn-events\t-\tbinary\tpartitionkey' \
		$'producer\tFundsTransferredEvent\tfundsTransferredEventProducer-out-0\tfunds-transferred-events\t-\tbinary\tpartitionkey' \
		$'consumer\t-\twalletCreatedEventConsumer-in-0\twallet-created-events\twallet-hub-consumers\t-\t-' \
		$'consumer\t-\tfundsAddedEventConsumer-in-0\tfunds-added-events\twallet-hub-consumers\t-\t-' \
		$'consumer\t-\tfundsWithdrawnEventConsumer-in-0\tfunds-withdrawn-events\twallet-hub-consumers\t-\t-' \
		$'consumer\t-\tfundsTransferredEventConsumer-in-0\tfunds-transferred-events\twallet-hub-consumers\t-\t-'
}

ev() { # ev ID TYPE [EXTRA-JSON-MEMBERS]
	printf '{"specversion":"1.0","id":"%s","source":"/t","type":"%s"%s}\n' "$1" "$2" "${3:+,$3}"
}

# ---- command line ----------------------------------------------------------

@test "help: usage mirrors the synopsis, on stdout, exit 0" {
	run --separate-stderr event-bindings --help
	assert_success
	[ -z "$stderr" ]
	assert_line --index 0 'usage: event-bindings [-B FILE] [-q] [-v] list [--json]'
	assert_line --partial 'event-bindings [-q] [-v] import spring FILE'
	assert_output --partial '--bindings FILE'
}

@test "usage errors exit 64 with the reason and the synopsis on stderr" {
	local args
	for args in "" "frobnicate" "list extra" "check extra" "resolve" "check --json" \
		"list --on-error skip" "import" "import kafka x.yml" "import spring" \
		"-B x import spring y.yml" "explain --on-error maybe" "explain --max-line 0" \
		"--no-such-option list" "-B - explain" "-B - explain a -"; do
		run --separate-stderr event-bindings $args
		[ "$status" -eq 64 ] || { echo "'$args' exited $status"; return 1; }
		[ -z "$output" ]
		[[ $stderr == *usage:\ event-bindings* ]] || { echo "'$args': $stderr"; return 1; }
	done
	run --separate-stderr event-bindings frobnicate
	[[ $stderr == *"error: unknown command: frobnicate"* ]]
}

@test "version" {
	run event-bindings -V
	assert_success
	assert_output --regexp '^event-bindings [0-9]+\.[0-9]+\.[0-9]+$'
}

# ---- list ------------------------------------------------------------------

@test "list: the built-in defaults, tab-separated when not a terminal" {
	run --separate-stderr event-bindings list
	assert_success
	[ -z "$stderr" ]
	[ "$output" = "$(defaults_tsv)" ]
}

@test "list: an aligned table with a header on a terminal" {
	command -v script >/dev/null || skip "no script(1)"
	run script -qec "event-bindings list" /dev/null
	assert_success
	output=${output//$'\r'/}
	mapfile -t lines <<<"$output"
	assert_line --index 0 --regexp '^KIND +TYPE +BINDING +TOPIC +GROUP +MODE +KEY$'
	assert_line --index 1 --regexp '^producer  WalletCreatedEvent     walletCreatedEventProducer-out-0     wallet-created-events     -  +binary  partitionkey$'
	assert_line --index 8 --regexp '^consumer  -  +fundsTransferredEventConsumer-in-0   funds-transferred-events  wallet-hub-consumers  -       -$'
	[ "${#lines[@]}" -eq 9 ]
}

@test "list --json: one document with producers and consumers" {
	run event-bindings list --json
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	run jq -r '.producers | map("\(.type) \(.binding) \(.topic) \(.mode) \(.key)") | .[]' <<<"$output"
	assert_success
	assert_line --index 0 'WalletCreatedEvent walletCreatedEventProducer-out-0 wallet-created-events binary partitionkey'
	assert_line --index 3 'FundsTransferredEvent fundsTransferredEventProducer-out-0 funds-transferred-events binary partitionkey'
	run sh -c 'event-bindings -j list | jq -r ".consumers[] | [.binding, .topic, .group] | @tsv"'
	assert_success
	assert_line --index 0 $'walletCreatedEventConsumer-in-0\twallet-created-events\twallet-hub-consumers'
	[ "${#lines[@]}" -eq 4 ]
}

@test "list: a file's options and shared bindings" {
	run event-bindings -B "$DATA/shop.conf" list
	assert_success
	assert_line --index 0 $'producer\tOrderPlaced\torderPlacedProducer-out-0\torders\t-\tbinary\tdata:/orderId'
	assert_line --index 1 $'producer\tOrderShipped\torderEventsProducer-out-0\torder-events\t-\tstructured\tsubject'
	assert_line --index 2 $'producer\tOrderPaid\torderEventsProducer-out-0\torder-events\t-\tbinary\tid'
	assert_line --index 3 $'producer\tAudit.v1\tauditProducer-out-0\taudit\t-\tbinary\tnone'
	assert_line --index 7 $'consumer\t-\tauditConsumer-in-0\taudit\tauditors\t-\t-'
}

# ---- where the table comes from ----------------------------------------------

@test "lookup order: --bindings, then EVENT_BINDINGS, then the defaults" {
	echo "producer A a-out-0 from-env" >"$T/env.conf"
	echo "producer A a-out-0 from-flag" >"$T/flag.conf"
	run event-bindings resolve A
	assert_failure 1
	EVENT_BINDINGS="$T/env.conf" run event-bindings resolve A
	assert_output $'A\ta-out-0\tfrom-env'
	EVENT_BINDINGS="$T/env.conf" run event-bindings --bindings "$T/flag.conf" resolve A
	assert_output $'A\ta-out-0\tfrom-flag'
	EVENT_BINDINGS="" run event-bindings resolve WalletCreatedEvent
	assert_success
	run sh -c 'echo "producer A a-out-0 from-stdin" | event-bindings -B - resolve A'
	assert_output $'A\ta-out-0\tfrom-stdin'
}

@test "missing bindings file: exit 66, never the defaults" {
	run --separate-stderr event-bindings -B "$T/nope.conf" list
	assert_failure 66
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/nope.conf: No such file or directory" ]
	EVENT_BINDINGS="$T/nope.conf" run --separate-stderr event-bindings resolve WalletCreatedEvent
	assert_failure 66
	[ "$stderr" = "event-bindings: error: $T/nope.conf (from EVENT_BINDINGS): No such file or directory" ]
}

@test "a directory as input: exit 74 (I/O error) for every input, as in every tool" {
	mkdir "$T/dir"
	run --separate-stderr event-bindings -B "$T/dir" check
	assert_failure 74
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/dir: Is a directory" ]
	EVENT_BINDINGS="$T/dir" run --separate-stderr event-bindings list
	assert_failure 74
	[ "$stderr" = "event-bindings: error: $T/dir (from EVENT_BINDINGS): Is a directory" ]
	run --separate-stderr event-bindings import spring "$T/dir"
	assert_failure 74
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/dir: Is a directory" ]
	run --separate-stderr event-bindings explain "$T/dir"
	assert_failure 74
	[ "$stderr" = "event-bindings: error: cannot open $T/dir: Is a directory" ]
	# The same rule as the other tools' inputs.
	run cloudevent-wrap -t A -s /x "$T/dir"
	assert_failure 74
}

@test "unreadable bindings file: exit 77" {
	[ "$(id -u)" -ne 0 ] || skip "root reads everything"
	echo "producer A a t" >"$T/locked.conf"
	chmod 000 "$T/locked.conf"
	run event-bindings -B "$T/locked.conf" list
	assert_failure 77
}

# ---- file errors (exit 78, FILE:LINE) ------------------------------------------

file_error() { # file_error LINE-TEXT... ; expects the message of the last line
	printf '%s\n' "$@" >"$T/b.conf"
	run --separate-stderr event-bindings -B "$T/b.conf" list
}

@test "bad line: unknown directive, wrong field count, bad option" {
	file_error "# ok" "producer A a-out-0 t" "route A t"
	assert_failure 78
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/b.conf:3: unknown directive \"route\": expected producer or consumer" ]
	file_error "producer A a-out-0"
	assert_failure 78
	[[ $stderr == *"b.conf:1: producer takes EVENT-TYPE BINDING TOPIC [mode=...] [key=...]: 2 fields given" ]]
	file_error "" "consumer a-in-0 t"
	assert_failure 78
	[[ $stderr == *"b.conf:2: consumer takes BINDING TOPIC GROUP: 2 fields given" ]]
	file_error "producer A a t mode=fast"
	assert_failure 78
	[[ $stderr == *"b.conf:1: bad mode \"fast\": expected binary or structured" ]]
	file_error "producer A a t key=partition"
	assert_failure 78
	[[ $stderr == *"b.conf:1: bad key rule \"partition\": expected partitionkey, subject, id, data:/POINTER or none" ]]
	file_error "producer A a t key=data:oops"
	assert_failure 78
	[[ $stderr == *"b.conf:1: bad key rule \"data:oops\": not a JSON Pointer (RFC 6901)" ]]
	file_error "producer A a t priority=1"
	assert_failure 78
	[[ $stderr == *"b.conf:1: unknown option \"priority\"" ]]
}

@test "bad names: topic and binding" {
	file_error "producer A a-out-0 orders/eu"
	assert_failure 78
	[[ $stderr == *"b.conf:1: invalid topic name \"orders/eu\": Kafka allows 1 to 249 of [a-zA-Z0-9._-], not \".\" or \"..\"" ]]
	file_error "consumer a-in-0 .. g"
	assert_failure 78
	file_error "producer A a\$b t"
	assert_failure 78
	[[ $stderr == *"b.conf:1: invalid binding name \"a\$b\": use 1 to 255 of [A-Za-z0-9._-]" ]]
	file_error "producer A a-out-0 $(printf 't%.0s' $(seq 250))"
	assert_failure 78
}

@test "duplicate event type, duplicate binding, binding reused with another topic" {
	file_error "producer A a-out-0 t" "producer B b-out-0 t" "producer A c-out-0 u"
	assert_failure 78
	[[ $stderr == *"b.conf:3: duplicate event type A (first bound at line 1)" ]]
	file_error "consumer c-in-0 t g" "producer A c-in-0 t"
	assert_failure 78
	[[ $stderr == *"b.conf:2: duplicate binding name c-in-0 (first defined as a consumer at line 1)" ]]
	file_error "producer A a-out-0 t" "producer B a-out-0 u"
	assert_failure 78
	[[ $stderr == *"b.conf:2: binding a-out-0 already sends to topic t (line 1), not u" ]]
}

@test "check: clean file exits 0 silently; warnings do not fail" {
	run --separate-stderr event-bindings check
	assert_success
	[ -z "$output$stderr" ]
	run --separate-stderr event-bindings -B "$DATA/shop.conf" check
	assert_success
	[ -z "$output$stderr" ]
	printf '%s\n' "producer A a-out-0 orders.eu" "producer B b-out-0 orders_eu" "consumer c-in-0 orders.eu g" >"$T/w.conf"
	run --separate-stderr event-bindings -B "$T/w.conf" check
	assert_success
	[ -z "$output" ]
	[[ $stderr == *"warning: $T/w.conf:2: topics orders.eu (line 1) and orders_eu collide in Kafka metric names"* ]]
	[[ $stderr == *"warning: $T/w.conf:2: topic orders_eu has no consumer binding"* ]]
	run --separate-stderr event-bindings -q -B "$T/w.conf" check
	assert_success
	[ -z "$stderr" ]
}

@test "check: every error with its line, exit 78" {
	printf '%s\n' "# header" "producer A a-out-0 t" "bogus" "producer A b-out-0 t" "consumer x-in-0 t" \
		"producer C c-out-0 t key=data:x" >"$T/bad.conf"
	run --separate-stderr event-bindings -B "$T/bad.conf" check
	assert_failure 78
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/bad.conf:3: unknown directive \"bogus\": expected producer or consumer
event-bindings: error: $T/bad.conf:4: duplicate event type A (first bound at line 1)
event-bindings: error: $T/bad.conf:5: consumer takes BINDING TOPIC GROUP: 2 fields given
event-bindings: error: $T/bad.conf:6: bad key rule \"data:x\": not a JSON Pointer (RFC 6901)" ] ||
	[ "$stderr" = "event-bindings: error: $T/bad.conf:3: unknown directive \"bogus\": expected producer or consumer
event-bindings: error: $T/bad.conf:4: duplicate event type A (first bound at line 2)
event-bindings: error: $T/bad.conf:5: consumer takes BINDING TOPIC GROUP: 2 fields given
event-bindings: error: $T/bad.conf:6: bad key rule \"data:x\": not a JSON Pointer (RFC 6901)" ]
	run event-bindings -B "$T/nope" check
	assert_failure 66
}

@test "comments, blank lines, CRLF, tabs and a last line without newline" {
	printf '# c\r\n\r\n\tproducer\tA\ta-out-0\tt  # trailing\r\nconsumer c-in-0 t g' >"$T/crlf.conf"
	run event-bindings -B "$T/crlf.conf" list
	assert_success
	assert_output $'producer\tA\ta-out-0\tt\t-\tbinary\tpartitionkey\nconsumer\t-\tc-in-0\tt\tg\t-\t-'
}

# ---- resolve -----------------------------------------------------------------

@test "resolve: one line per known type" {
	run --separate-stderr event-bindings resolve FundsAddedEvent WalletCreatedEvent
	assert_success
	[ -z "$stderr" ]
	assert_output $'FundsAddedEvent\tfundsAddedEventProducer-out-0\tfunds-added-events\nWalletCreatedEvent\twalletCreatedEventProducer-out-0\twallet-created-events'
}

@test "resolve: an unknown type prints nothing for it and exits 1 at the end" {
	run --separate-stderr event-bindings resolve NoSuchEvent FundsWithdrawnEvent walletCreatedEvent
	assert_failure 1
	assert_output $'FundsWithdrawnEvent\tfundsWithdrawnEventProducer-out-0\tfunds-withdrawn-events'
	[ "$stderr" = "event-bindings: warning: no binding for event type NoSuchEvent
event-bindings: warning: no binding for event type walletCreatedEvent" ]
	run --separate-stderr event-bindings -q resolve NoSuchEvent
	assert_failure 1
	[ -z "$output$stderr" ]
}

@test "resolve --json" {
	run event-bindings -B "$DATA/shop.conf" resolve --json OrderShipped
	assert_success
	assert_output '{"type":"OrderShipped","binding":"orderEventsProducer-out-0","topic":"order-events","mode":"structured","key":"subject"}'
}

# ---- explain -----------------------------------------------------------------

@test "explain: type, binding, topic and key per event, every key rule" {
	run --separate-stderr event-bindings -B "$DATA/shop.conf" explain "$DATA/events.ndjson"
	assert_success
	[ -z "$stderr" ]
	assert_output "$(printf '%s\n' \
		$'OrderPlaced\torderPlacedProducer-out-0\torders\to-1' \
		$'OrderShipped\torderEventsProducer-out-0\torder-events\torder/1' \
		$'OrderPaid\torderEventsProducer-out-0\torder-events\te3' \
		$'Audit.v1\tauditProducer-out-0\taudit\t-' \
		$'Ping\tpingProducer-out-0\tping\tp-7' \
		$'Ping\tpingProducer-out-0\tping\t-' \
		$'OrderPlaced\torderPlacedProducer-out-0\torders\ttab\\there\\\\ and\\nnewline' \
		$'OrderPlaced\torderPlacedProducer-out-0\torders\t42' \
		$'OrderPlaced\torderPlacedProducer-out-0\torders\t-')"
}

@test "explain --json: exact keys, null for none" {
	run event-bindings -B "$DATA/shop.conf" explain --json "$DATA/events.ndjson"
	assert_success
	assert_line --index 3 '{"type":"Audit.v1","binding":"auditProducer-out-0","topic":"audit","mode":"binary","key":null}'
	assert_line --index 6 '{"type":"OrderPlaced","binding":"orderPlacedProducer-out-0","topic":"orders","mode":"binary","key":"tab\there\\ and\nnewline"}'
	run sh -c "event-bindings -B '$DATA/shop.conf' explain --json '$DATA/events.ndjson' | jq -r .key | sed -n 7p"
	assert_output $'tab\there\\ and'
}

@test "explain: defaults, partitionkey, stdin" {
	run sh -c "{ $(declare -f ev); ev 1 WalletCreatedEvent '\"partitionkey\":\"w-1\"'; ev 2 FundsTransferredEvent; } | event-bindings explain"
	assert_success
	assert_output $'WalletCreatedEvent\twalletCreatedEventProducer-out-0\twallet-created-events\tw-1\nFundsTransferredEvent\tfundsTransferredEventProducer-out-0\tfunds-transferred-events\t-'
}

@test "explain: an unbound type is shown with - and a warning, exit 1" {
	{ ev 1 Unknown; ev 2 FundsAddedEvent; } >"$T/in.ndjson"
	run --separate-stderr event-bindings explain "$T/in.ndjson"
	assert_failure 1
	assert_output $'Unknown\t-\t-\t-\nFundsAddedEvent\tfundsAddedEventProducer-out-0\tfunds-added-events\t-'
	[ "$stderr" = "event-bindings: warning: $T/in.ndjson:1: no binding for event type Unknown" ]
	run --separate-stderr event-bindings --json explain "$T/in.ndjson"
	assert_failure 1
	assert_line --index 0 '{"type":"Unknown","binding":null,"topic":null,"mode":null,"key":null}'
}

@test "explain: an invalid line is FILE:LINE, exit 65; --on-error skip goes on" {
	{ ev 1 FundsAddedEvent; echo '{"specversion":"1.0","id":"2","source":"/t"}'; echo 'not json'; ev 4 FundsAddedEvent; } >"$T/in.ndjson"
	run --separate-stderr event-bindings explain "$T/in.ndjson"
	assert_failure 65
	assert_output $'FundsAddedEvent\tfundsAddedEventProducer-out-0\tfunds-added-events\t-'
	[[ $stderr == "event-bindings: error: $T/in.ndjson:2: type: "* ]]
	run --separate-stderr event-bindings explain --on-error=skip "$T/in.ndjson"
	assert_failure 65
	[ "${#lines[@]}" -eq 2 ]
	[[ $stderr == *"$T/in.ndjson:2: type: "* ]]
	[[ $stderr == *"$T/in.ndjson:3: "* ]]
	[[ $stderr == *"warning: 2 bad lines skipped" ]]
}

@test "explain: a missing input file exits 66; several files in turn" {
	ev 1 FundsAddedEvent >"$T/a.ndjson"
	ev 2 WalletCreatedEvent >"$T/b.ndjson"
	run event-bindings explain "$T/a.ndjson" "$T/b.ndjson"
	assert_success
	[ "${#lines[@]}" -eq 2 ]
	run --separate-stderr event-bindings explain "$T/a.ndjson" "$T/missing.ndjson"
	assert_failure 66
	[[ $stderr == *"missing.ndjson"* ]]
}

@test "explain: --max-line bounds a line, reported not truncated" {
	ev 1 FundsAddedEvent >"$T/a.ndjson"
	run --separate-stderr event-bindings explain --max-line 40 "$T/a.ndjson"
	assert_failure 65
	[ -z "$output" ]
	[[ $stderr == *"$T/a.ndjson:1:"* ]]
}

# ---- import spring -------------------------------------------------------------

@test "import spring: the seed's own configuration gives exactly the built-in defaults" {
	seed_yaml >"$T/application.yml"
	grep -q '^spring:' "$T/application.yml"
	grep -q 'brokers: ${KAFKA_BROKERS:localhost:9092}' "$T/application.yml"
	run --separate-stderr event-bindings import spring "$T/application.yml"
	assert_success
	[ -z "$stderr" ]
	assert_line "# line 9: event type WalletCreatedEvent derived from function walletCreatedEventProducer"
	assert_line "producer WalletCreatedEvent walletCreatedEventProducer-out-0 wallet-created-events"
	assert_line "consumer fundsTransferredEventConsumer-in-0 funds-transferred-events wallet-hub-consumers"
	event-bindings import spring "$T/application.yml" >"$T/imported.conf"
	run sh -c "event-bindings import spring '$T/application.yml' | event-bindings --bindings /dev/stdin list --json"
	assert_success
	[ "$output" = "$(event-bindings list --json)" ]
	run event-bindings -B "$T/imported.conf" list
	[ "$output" = "$(defaults_tsv)" ]
	run event-bindings -B "$T/imported.conf" check
	assert_success
}

@test "import spring: dotted keys, placeholders, structured mode, skipped bindings" {
	cat >"$T/app.yml" <<'EOF'
spring.cloud.stream.bindings.orderPlacedProducer-out-0.destination: ${ORDERS_TOPIC:orders}
spring:
  cloud:
    stream:
      bindings:
        orderPlacedProducer-out-0:
          content-type: application/cloudevents+json
        orderConsumer-in-0: { destination: orders, group: shop }
        anonymousConsumer-in-0:
          destination: orders
        errorChannel:
          destination: errors
EOF
	run --separate-stderr event-bindings import spring "$T/app.yml"
	assert_success
	assert_line "# line 1: destination orders is the default of \${ORDERS_TOPIC:orders}"
	assert_line "producer OrderPlaced orderPlacedProducer-out-0 orders mode=structured"
	assert_line "consumer orderConsumer-in-0 orders shop"
	assert_line "# line 9: anonymousConsumer-in-0 skipped: no group"
	[[ $stderr == *"warning: $T/app.yml:9: binding anonymousConsumer-in-0 has no group (Spring would use an anonymous one): skipped"* ]]
	[[ $stderr == *"warning: $T/app.yml:11: binding errorChannel is neither NAME-out-N nor NAME-in-N: skipped"* ]]
}

@test "import spring: merge keys bring in what they hold; the mapping's own keys win" {
	# Spring Boot's loader applies YAML merge keys: a content type or a
	# destination that comes through "<<" is part of the binding.
	cat >"$T/application.yml" <<'EOF'
kafka-defaults: &cloudevents
  content-type: application/cloudevents+json
  destination: default-topic
consumer-defaults: &consumers
  group: wallet-hub-consumers
  consumer:
    max-attempts: 3
spring:
  cloud:
    stream:
      bindings:
        walletCreatedEventProducer-out-0:
          <<: *cloudevents
          destination: wallet-created-events
        fundsAddedEventProducer-out-0:
          destination: funds-added-events
          <<: [{content-type: application/json}, *cloudevents]
        fundsWithdrawnEventProducer-out-0:
          <<: *cloudevents
        walletCreatedEventConsumer-in-0:
          <<: [{destination: wallet-created-events}, *consumers]
        fundsAddedEventConsumer-in-0:
          <<: *consumers
          group: audit
          destination: funds-added-events
EOF
	run --separate-stderr event-bindings import spring "$T/application.yml"
	assert_success
	[ -z "$stderr" ]
	# Own destination over the merged one, merged content type kept;
	# the earlier mapping of a list wins (application/json: binary);
	# a binding made only of a merge; a destination that only a merge
	# gives; own group over the merged one.
	assert_output "# bindings imported from $T/application.yml (Spring Cloud Stream)
# line 12: event type WalletCreatedEvent derived from function walletCreatedEventProducer
producer WalletCreatedEvent walletCreatedEventProducer-out-0 wallet-created-events mode=structured
# line 15: event type FundsAddedEvent derived from function fundsAddedEventProducer
producer FundsAddedEvent fundsAddedEventProducer-out-0 funds-added-events
# line 18: event type FundsWithdrawnEvent derived from function fundsWithdrawnEventProducer
producer FundsWithdrawnEvent fundsWithdrawnEventProducer-out-0 default-topic mode=structured
consumer walletCreatedEventConsumer-in-0 wallet-created-events wallet-hub-consumers
consumer fundsAddedEventConsumer-in-0 funds-added-events audit"
	event-bindings import spring "$T/application.yml" >"$T/imported.conf"
	run event-bindings -B "$T/imported.conf" list --json
	assert_success
	assert_output --partial '"mode":"structured"'
}

@test "import spring: merges at every level, nested merges, shallow replacement" {
	# A whole binding set merged in at the bindings level and at the root;
	# a merged mapping's own keys win over what it merges itself; a key the
	# mapping sets replaces the merged value whole (no deep merge).
	cat >"$T/app.yml" <<'EOF'
base: &base
  destination: base-topic
  content-type: application/cloudevents+json
derived: &derived
  <<: *base
  destination: derived-topic
common-bindings: &common
  aProducer-out-0: *derived
  b-in-0: {destination: b-topic, group: g1}
root: &root
  spring.cloud.stream.bindings.c-in-0: {destination: c-topic, group: g2}
<<: *root
spring:
  cloud:
    stream:
      bindings:
        <<: *common
        b-in-0: {destination: own-b}
        '<<': {destination: quoted-is-a-name}
EOF
	run --separate-stderr event-bindings import spring "$T/app.yml"
	assert_failure 65
	# The quoted '<<' is an ordinary key, so a binding named "<<".
	[ "$stderr" = "event-bindings: error: $T/app.yml:19: binding name \"<<\" is not usable: use 1 to 255 of [A-Za-z0-9._-]" ]
	sed -i '$d' "$T/app.yml"
	run --separate-stderr event-bindings import spring "$T/app.yml"
	assert_success
	assert_line "producer A aProducer-out-0 derived-topic mode=structured"
	assert_line "consumer c-in-0 c-topic g2"
	# b-in-0 is replaced whole: its merged group is gone, so it is skipped.
	assert_line "# line 18: b-in-0 skipped: no group"
	refute_output --partial "b-topic"
}

@test "import spring: control bytes in the file name cannot add a line to the output" {
	local f=$'app\nproducer Evil evil-out-0 evil-topic\e[31m.yml'
	printf 'spring.cloud.stream.bindings.aProducer-out-0.destination: t\n' >"$T/$f"
	run --separate-stderr event-bindings import spring "$T/$f"
	assert_success
	assert_output "# bindings imported from $T/app\\x0aproducer Evil evil-out-0 evil-topic\\x1b[31m.yml (Spring Cloud Stream)
# line 1: event type A derived from function aProducer
producer A aProducer-out-0 t"
}

@test "import spring: bad merges are 65 with the line; merge bombs and cycles are bounded" {
	printf 'spring.cloud.stream.bindings.x-out-0:\n  destination: t\n  <<: [{a: b}, 3]\n' >"$T/scalar.yml"
	run --separate-stderr event-bindings import spring "$T/scalar.yml"
	assert_failure 65
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/scalar.yml:3: << (merge) takes a mapping or a list of mappings" ]
	printf 'a: &a\n  <<: [*a, *a]\n  destination: t\nspring.cloud.stream.bindings.x-out-0:\n  <<: *a\n' >"$T/cycle.yml"
	run --separate-stderr event-bindings import spring "$T/cycle.yml"
	assert_failure 65
	[ "$stderr" = "event-bindings: error: $T/cycle.yml:1: merge keys nested deeper than 64 levels (a mapping merging itself?)" ]
	# Ten mappings merged ten times over, seven levels deep: 10^7 keys
	# to look at, stopped by the node budget.
	{
		echo 'a: &a {k0: x, k1: x, k2: x, k3: x, k4: x, k5: x, k6: x, k7: x, k8: x, k9: x}'
		p=a
		for n in b c d e f g h; do
			echo "$n: &$n {<<: [*$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p, *$p]}"
			p=$n
		done
		echo 'spring: {cloud: {stream: {bindings: {x-out-0: {<<: *h, destination: t}}}}}'
	} >"$T/bomb.yml"
	run --separate-stderr event-bindings import spring "$T/bomb.yml"
	assert_failure 65
	[[ $stderr == "event-bindings: error: $T/bomb.yml:"*": more than 1000000 nodes (alias expansion?)" ]]
}

@test "import spring: errors name the YAML line, exit 65; missing file 66" {
	printf 'spring:\n  cloud:\n    stream:\n      bindings:\n        fooProducer-out-0:\n          content-type: application/json\n' >"$T/nodest.yml"
	run --separate-stderr event-bindings import spring "$T/nodest.yml"
	assert_failure 65
	[ -z "$output" ]
	[ "$stderr" = "event-bindings: error: $T/nodest.yml:5: binding fooProducer-out-0 has no destination" ]
	printf 'spring:\n  cloud:\n    stream:\n      bindings:\n        foo-in-0:\n          group: g\n          destination: "a topic"\n' >"$T/badtopic.yml"
	run --separate-stderr event-bindings import spring "$T/badtopic.yml"
	assert_failure 65
	[ "$stderr" = "event-bindings: error: $T/badtopic.yml:7: destination \"a topic\" of binding foo-in-0 is not a valid Kafka topic name" ]
	printf 'spring:\n  cloud:\n  stream: [\n' >"$T/broken.yml"
	run --separate-stderr event-bindings import spring "$T/broken.yml"
	assert_failure 65
	[[ $stderr == "event-bindings: error: $T/broken.yml:4: invalid YAML: "* ]]
	printf 'server:\n  port: 8080\n' >"$T/none.yml"
	run --separate-stderr event-bindings import spring "$T/none.yml"
	assert_failure 65
	[ "$stderr" = "event-bindings: error: $T/none.yml: no bindings under spring.cloud.stream.bindings" ]
	run --separate-stderr event-bindings import spring "$T/missing.yml"
	assert_failure 66
	[ "$stderr" = "event-bindings: error: $T/missing.yml: No such file or directory" ]
}

# ---- output ------------------------------------------------------------------

@test "man page: the resolve example prints what it says" {
	# The lines after "$ event-bindings resolve ..." up to .Ed are its output.
	local cmd want
	cmd=$(sed -n 's/^\$ \(event-bindings resolve .*\)$/\1/p' "$TOP/man/event-bindings.1")
	want=$(awk '/^\$ event-bindings resolve / { on = 1; next } on && /^\.Ed/ { exit } on' "$TOP/man/event-bindings.1")
	[ -n "$cmd" ] && [ -n "$want" ]
	run $cmd
	assert_success
	[ "$output" = "$want" ]
}

@test "a write error is reported (exit 74); a closed pipe is a normal end" {
	[ -w /dev/full ] || skip "no /dev/full"
	run --separate-stderr sh -c 'event-bindings list >/dev/full'
	assert_failure 74
	[[ $stderr == *"error: writing output: No space left on device" ]]
	run sh -c 'event-bindings list | head -n 1'
	assert_success
}

@test "explain stops reading when the reader of its output goes away" {
	seq 1 200000 | cloudevent-wrap -t WalletCreatedEvent -s /w >"$T/events"
	stops_on_closed_pipe "$T/events" event-bindings explain
	[[ $(cat "$T/first") == WalletCreatedEvent$'\t'* ]]
}

# ---- check against a cluster ----------------------------------------------------

@test "check -b: a missing topic is printed and named with its line, exit 1" {
	run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS"
	assert_failure 1
	assert_output "funds-transferred-events"
	[ "$stderr" = "event-bindings: error: (built-in):5: topic funds-transferred-events (binding fundsTransferredEventProducer-out-0) does not exist on the cluster" ]
	printf '%s\n' "producer A a-out-0 nope-1" "consumer b-in-0 nope-2 g" "consumer c-in-0 nope-1 g" \
		"consumer d-in-0 unrelated g" >"$T/m.conf"
	run --separate-stderr event-bindings -B "$T/m.conf" check -b "$KAFKA_TEST_BROKERS"
	assert_failure 1
	assert_output $'nope-1\nnope-2'
	[[ $stderr == *"$T/m.conf:1: topic nope-1 (binding a-out-0) does not exist on the cluster"* ]]
	[[ $stderr == *"$T/m.conf:2: topic nope-2 (binding b-in-0) does not exist on the cluster"* ]]
}

@test "check -b: every topic present, exit 0; the check never creates topics" {
	printf '%s\n' "producer A a-out-0 wallet-created-events" "producer B b-out-0 funds-added-events" \
		"consumer c-in-0 funds-withdrawn-events g" "consumer d-in-0 wallet-created-events g" >"$T/ok.conf"
	run --separate-stderr event-bindings -B "$T/ok.conf" -q check -b "$KAFKA_TEST_BROKERS"
	assert_success
	[ -z "$output$stderr" ]
	# Asking twice still finds the default file's topic missing.
	run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS"
	assert_failure 1
	run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS"
	assert_failure 1
	assert_output "funds-transferred-events"
}

@test "check: brokers from -X, -F and KAFKA_BROKERS; no cluster option means no cluster" {
	KAFKA_BROKERS=127.0.0.1:1 run --separate-stderr event-bindings check
	assert_success
	run --separate-stderr event-bindings check -X "bootstrap.servers=$KAFKA_TEST_BROKERS"
	assert_failure 1
	assert_output "funds-transferred-events"
	printf '# client settings\nbootstrap.servers=%s\nclient.id=event-bindings-test\n' "$KAFKA_TEST_BROKERS" >"$T/client.properties"
	run --separate-stderr event-bindings check -F "$T/client.properties"
	assert_failure 1
	assert_output "funds-transferred-events"
	# KAFKA_BROKERS beats the file, -b beats KAFKA_BROKERS.
	printf 'bootstrap.servers=127.0.0.1:1\n' >"$T/wrong.properties"
	KAFKA_BROKERS=$KAFKA_TEST_BROKERS run --separate-stderr event-bindings check -F "$T/wrong.properties"
	assert_failure 1
	KAFKA_BROKERS=127.0.0.1:1 run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS" --timeout 5s
	assert_failure 1
	assert_output "funds-transferred-events"
}

@test "check: a -F file with a secret that others may read gets a warning, never the secret" {
	printf 'bootstrap.servers=%s\nsasl.password=hunter2-secret\n' "$KAFKA_TEST_BROKERS" >"$T/client.properties"
	chmod 644 "$T/client.properties"
	run --separate-stderr event-bindings check -F "$T/client.properties"
	assert_failure 1
	[[ $stderr == *"client.properties: holds sasl.password but others may read it (mode 644): chmod 600 it"* ]]
	[[ $stderr != *hunter2* ]]
	chmod 600 "$T/client.properties"
	run --separate-stderr event-bindings check -F "$T/client.properties"
	assert_failure 1
	[[ $stderr != *"others may read"* ]]
	# without a secret in it, a readable file is fine
	printf 'bootstrap.servers=%s\n' "$KAFKA_TEST_BROKERS" >"$T/plain.properties"
	chmod 644 "$T/plain.properties"
	run --separate-stderr event-bindings check -F "$T/plain.properties"
	assert_failure 1
	[[ $stderr != *"others may read"* ]]
}

@test "check: Kafka option errors" {
	run --separate-stderr event-bindings check -X no-equals-sign
	assert_failure 64
	run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS" -X no.such.property=1
	assert_failure 78
	[[ $stderr == *no.such.property* ]]
	run --separate-stderr event-bindings check -F "$T/absent.properties"
	assert_failure 66
	run --separate-stderr event-bindings list -b "$KAFKA_TEST_BROKERS"
	assert_failure 64
	run --separate-stderr event-bindings check --timeout 5s
	assert_failure 64
	run --separate-stderr event-bindings check -b 127.0.0.1:1 --timeout 1
	assert_failure 69
	run --separate-stderr event-bindings check -b x --timeout 10ms
	assert_failure 64
	# A bad bindings file fails before any connection is tried.
	echo "bogus" >"$T/bad.conf"
	run --separate-stderr event-bindings -B "$T/bad.conf" check -b 127.0.0.1:1
	assert_failure 78
}

@test "check: an unreachable cluster exits 69 within the timeout" {
	local start end
	start=$(date +%s)
	run --separate-stderr timeout 30 event-bindings check -b 127.0.0.1:1 --timeout 5s
	end=$(date +%s)
	assert_failure 69
	[ -z "$output" ]
	[[ $stderr == *127.0.0.1:1* ]]
	[ $((end - start)) -le 7 ]
}

@test "check: a cluster that stops answering exits 69 within the timeout" {
	kafka_down
	local start end
	start=$(date +%s)
	run --separate-stderr timeout 30 event-bindings check -b "$KAFKA_TEST_BROKERS" --timeout 2s
	end=$(date +%s)
	kafka_up
	assert_failure 69
	[ $((end - start)) -le 5 ]
	run --separate-stderr event-bindings check -b "$KAFKA_TEST_BROKERS"
	assert_failure 1
}

@test "arbitrary bytes never crash it: as events 65, as a bindings file 78, as YAML 65" {
	head -c 100000 /dev/urandom >"$T/noise"
	run event-bindings explain --on-error skip "$T/noise"
	[ "$status" -eq 65 ]
	run event-bindings -B "$T/noise" check
	[ "$status" -eq 78 ]
	run event-bindings import spring "$T/noise"
	[ "$status" -eq 65 ]
}
