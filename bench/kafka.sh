# bench/kafka.sh - sourced by bench/relay.sh and bench/consume.sh: their
# work directory, their events, and the cluster they both run against.
# Needs top, BUILD, KAFKA (mock|real), PARTITIONS and bench_name set.

# bench_workdir: a work directory removed at exit, with the mock cluster
# or the broker stopped first (failure and interruption included).
bench_workdir() {
	work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/$bench_name-bench.XXXXXX")
	mock_pid="" broker_dir=""
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM
}
bench_cleanup() {
	[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null
	# The broker goes before its directory does.
	if [ -n "$broker_dir" ] && ! bash "$top/tests/kafka/broker.sh" stop "$broker_dir"; then
		echo "$bench_name.sh: warning: could not stop the broker of $broker_dir" >&2
	fi
	rm -rf "$work"
}

# gen N KEYS: events of about 360 bytes, UUIDv7-like ids, KEYS partition keys.
gen() {
	awk -v n="$1" -v keys="$2" 'BEGIN {
		srand(42); ms = 1795000000000
		for (i = 1; i <= n; i++) {
			if (i % 50 == 0) ms++
			id = sprintf("%08x-%04x-7%03x-%04x-%012x", int(ms / 65536), ms % 65536,
				i % 4096, 32768 + int(rand() * 16384), int(rand() * 281474976710656))
			w = sprintf("wallet-%06d", i % keys)
			printf "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/wallet-hub/wallets\",\"type\":\"FundsAddedEvent\",\"subject\":\"%s\",\"time\":\"2026-11-27T09:51:38.%06dZ\",\"datacontenttype\":\"application/json\",\"partitionkey\":\"%s\",\"data\":{\"walletId\":\"%s\",\"amount\":\"%d.50\",\"currency\":\"EUR\",\"reference\":\"txn-%012d\"}}\n", id, w, i % 1000000, w, w, i % 1000, i
		}
	}'
}

now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{ printf "%.3f", $2 - $1 }'; }
rate() { echo "$1 $2" | awk '{ printf "%.0f", $1 / $2 }'; }

# bench_cluster TOPIC...: start the cluster KAFKA names with these topics
# of PARTITIONS partitions; sets B (bootstrap servers) and cluster (its
# description for the report).
bench_cluster() {
	if [ "$KAFKA" = real ]; then
		# broker.sh fetches Kafka once (cached), waits (bounded) until the
		# broker answers metadata, and says why on stderr when it cannot.
		broker_dir=$work/broker
		_t0=$(now)
		BUILD=$BUILD bash "$top/tests/kafka/broker.sh" start "$broker_dir" >"$work/broker.env" ||
			{ echo "$bench_name.sh: the Kafka broker did not start (above)" >&2; exit 1; }
		B=$(sed -n 's/^KAFKA_REAL_BROKERS=//p' "$work/broker.env")
		for _t in "$@"; do
			"$top/$BUILD/tests/kafka-admin" -b "$B" create "$_t" "$PARTITIONS" >/dev/null
		done
		cluster="real Apache Kafka ${KAFKA_VERSION:-4.4.0} broker on this machine, up in $(elapsed "$_t0" "$(now)") s ($PARTITIONS partitions)"
		return
	fi
	# The mock keeps a few MB per partition: enough partitions keep every
	# message. <> on a FIFO: the mock holds a writer itself, so it never
	# reads EOF.
	mkfifo "$work/mock.in"
	_topics=""
	for _t in "$@"; do _topics="$_topics -t $_t:$PARTITIONS"; done
	# shellcheck disable=SC2086 # topic names are plain words
	"$top/$BUILD/tests/kafka-mock" $_topics <>"$work/mock.in" >"$work/mock.out" 2>"$work/mock.err" &
	mock_pid=$!
	_i=0
	while [ ! -s "$work/mock.out" ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 200 ] || { echo "$bench_name.sh: kafka-mock did not start" >&2; cat "$work/mock.err" >&2; exit 1; }
		sleep 0.05
	done
	B=$(head -n 1 "$work/mock.out")
	cluster="mock cluster ($PARTITIONS partitions)"
}
