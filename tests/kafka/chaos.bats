#!/usr/bin/env bats
# "Nothing lost, end to end" on the real Apache Kafka broker of
# `make test-kafka`: tests/chaos/pipeline.sh in its real-broker mode
# (KAFKA_TIER=real, exported by tests/kafka/run). The same run as
# `make test-chaos` - cloudevent-wrap, outbox-enqueue beside a lock holder,
# outbox-relay run SIGKILLed 10 times, event-consume -g --dedupe --exec
# SIGKILLed 5 times with a failing handler and poison events - except that
# the broker process itself is SIGKILLed twice at seeded moments and
# restarted (tests/kafka/broker.sh kill / start) where the mock takes its
# brokers down, and the mock's injected produce errors are skipped. Every
# check of pipeline.sh applies; it prints the figures (shown here as TAP
# comments) and fails on any violation. CHAOS_SEED=N replays a schedule.
# Real tier only: skipped elsewhere.
#
# Size: the full 50,000 events (CHAOS_EVENTS overrides), as in
# `make test-chaos`: 72-102 s a run here, broker restarts included, against
# 69 s for 20,000 - the consumer's five restarts, each waiting out a
# 6-second session, dominate and do not shrink with the event count, and
# fewer events push the two broker kills past the enqueue phase. The
# tier's 10-minute budget holds it (the whole tier: 3 min 37-45 s here
# with it); see the README, "Nothing lost".

load ../helpers/common
load ../helpers/kafka

setup_file() {
	kafka_need_real
	kafka_start
}
teardown_file() { kafka_stop; }

setup() {
	common_setup
	kafka_need_real
	kafka_env
}

@test "chaos: the whole pipeline on the real broker, the broker SIGKILLed twice and restarted mid-run: nothing lost, no false sent mark, duplicates only same-id, every event handled once or dead-lettered, per-key order" {
	local n=${CHAOS_EVENTS:-50000} limit=${CHAOS_TIME_LIMIT:-290}
	# Bounded: pipeline.sh gives up past its own time limit; timeout(1)
	# stops it a little later if it ever hangs (SIGTERM: its cleanup
	# restarts the broker if the broker was down).
	run env CHAOS_EVENTS="$n" CHAOS_TIME_LIMIT="$limit" \
		timeout --kill-after=20 "$((limit + 60))" bash "$TOP/tests/chaos/pipeline.sh" 3>&-
	# The seed, the faults as they happened and the figures, in the tier's
	# output whatever the outcome.
	printf '%s\n' "$output" | grep -E '^(chaos: seed|chaos: \[ *[0-9]+s\] (broker|real broker|faults|consumer: run [0-9]+ waits)|events |chaos: [0-9]+ of|chaos: ok)' |
		sed 's/^/# /' >&3
	assert_success
	assert_line --regexp '^chaos: ok \(seed [0-9]+\)$'
	assert_line --regexp "^events $n, in topic $n distinct \\([0-9]+ duplicates(, all same-id)?\\), handled [0-9]+ \\($n - [0-9]+\\), dead-lettered [0-9]+ .*, lost 0\$"
	assert_line --regexp "^chaos: $n of $n outbox rows marked sent, each found at its recorded partition/offset; "
	# The broker really went down twice and came back each time.
	[ "$(printf '%s\n' "$output" | grep -cE '^chaos: \[ *[0-9]+s\] broker: SIGKILL [0-9]+ of 2 after chunk')" -eq 2 ]
	[ "$(printf '%s\n' "$output" | grep -cE '^chaos: \[ *[0-9]+s\] broker: back [0-9]+ ms after its restart began')" -eq 2 ]
	# And it is up for the files after this one.
	run kafka-admin -b "$KAFKA_REAL_BROKERS" list
	assert_success
}
